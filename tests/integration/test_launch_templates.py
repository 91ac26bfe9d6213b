"""Launch templates: opted in like groups, and never versioned under another group's feet.

A new version becomes its template's $Latest at once: a group following $Latest (or $Default) of a
template shared with a deployed group would move onto the new AMI with no refresh and no gate.
Every test asserts AWS state (versions, refreshes, instance images), not only the answer.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.logic import parallel
from asg_refresh.logic.plan import dry_run, plan_deployment
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.models.deploy import DeployMessage
from asg_refresh.models.rollout import RolloutMessage
from asg_refresh.settings import Settings
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

FAST = {"MinHealthyPercentage": 50, "InstanceWarmup": 30}


def deploy(app: LocalApp, image_id: str, groups: list[str]) -> dict[str, Any]:
    return app.invoke("StartRefreshFunction", {"image_id": image_id, "groups": groups, "preferences": FAST})


def plan(image_id: str, groups: list[str]) -> Any:
    message = DeployMessage.model_validate({"image_id": image_id, "groups": groups})
    return plan_deployment(
        request_from_message(message, "plan", "deploy"), AwsGateway("us-east-1"), Settings()
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every AWS call the product makes (handlers run in this process), by service.operation."""
    counted: Counter[str] = Counter()
    original = AwsGateway.call

    def counting(self: AwsGateway, service: str, operation: str, **params: Any) -> Any:
        counted[f"{service}.{operation}"] += 1
        return original(self, service, operation, **params)

    monkeypatch.setattr(AwsGateway, "call", counting)
    return counted


# --- Shared launch templates ------------------------------------------------------------------
def test_a_group_not_opted_in_on_latest_of_the_template_refuses_the_deploy(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given web (opted in, pinned to version 1) and legacy (not opted in) on $Latest of web's template
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    fleet.group("legacy", old, size=1, opted_in=False, shares="web", version="$Latest")

    # When web is deployed
    answer = deploy(app, new, ["web"])

    # Then it is refused, naming legacy, and nothing was created or started
    assert answer["success"] is False, answer
    assert answer["error"]["code"] == "SHARED_LAUNCH_TEMPLATE"
    message = answer["error"]["message"]
    assert "legacy ($Latest, not opted in)" in message
    assert "web-lt" in message
    assert "numbered version" in message
    assert len(fleet.launch_template_versions("web")) == 1
    assert fleet.refreshes("web") == []
    # And the plan shows the same refusal
    shown = plan(new, ["web"])
    assert shown.groups == []
    assert [(s.group, s.code) for s in shown.skipped] == [("web", "SHARED_LAUNCH_TEMPLATE")]
    assert "legacy ($Latest, not opted in)" in shown.skipped[0].reason


def test_followers_are_found_by_name_by_default_and_in_mixed_instances_policies(
    app: LocalApp, fleet: Fleet
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1)
    fleet.group("by-name", old, size=1, opted_in=False, shares="web", version="$Default", by_name=True)
    fleet.group(
        "spot",
        old,
        size=1,
        opted_in=False,
        shares="web",
        version="$Latest",
        mixed_instance_types=["t3.micro"],
    )

    answer = deploy(app, new, ["web"])

    assert answer["error"]["code"] == "SHARED_LAUNCH_TEMPLATE", answer
    assert "by-name ($Default, not opted in)" in answer["error"]["message"]
    assert "spot ($Latest, not opted in)" in answer["error"]["message"]
    assert len(fleet.launch_template_versions("web")) == 1


def test_an_opted_in_group_outside_the_deployment_on_latest_refuses_it_inside_it_does_not(
    app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given web on version 1 and batch, opted in too, on $Latest of the same template
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    fleet.group("batch", old, size=2, shares="web", version="$Latest")

    # When web alone is deployed, it is refused: batch would move unwatched
    alone = deploy(app, new, ["web"])
    assert alone["error"]["code"] == "SHARED_LAUNCH_TEMPLATE", alone
    assert "batch ($Latest, not in this deployment)" in alone["error"]["message"]
    assert len(fleet.launch_template_versions("web")) == 1

    # When both are deployed, both are refreshed: batch's version was read before web's new one
    # existed, so batch is not taken as already up to date with its instances left behind (one
    # group at a time, so that web's version surely exists when batch comes)
    monkeypatch.setattr(parallel, "PARALLEL_GROUPS", 1)
    both = deploy(app, new, ["web", "batch"])
    assert both["success"] is True, both
    assert sorted(r["group"] for r in both["data"]["refreshes"]) == ["batch", "web"]
    for refresh in both["data"]["refreshes"]:
        assert app.wait_for_execution(refresh["execution_arn"])["status"] == "SUCCEEDED"
    assert fleet.instance_images("web") == [new] * 2
    assert fleet.instance_images("batch") == [new] * 2


def test_a_group_pinned_to_a_numbered_version_is_safe_to_share(app: LocalApp, fleet: Fleet) -> None:
    # Given legacy (not opted in) pinned to version 1 of web's template
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    fleet.group("legacy", old, size=1, opted_in=False, shares="web", version="1")

    # When web is deployed, it is refreshed
    answer = deploy(app, new, ["web"])
    assert answer["success"] is True, answer
    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert fleet.instance_images("web") == [new] * 2

    # And legacy still launches the old image from version 1
    autoscaling = app.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName="legacy", DesiredCapacity=2)
    (described,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["legacy"])[
        "AutoScalingGroups"
    ]
    assert described["LaunchTemplate"]["Version"] == "1"
    assert fleet.instance_images("legacy") == [old] * 2


def test_one_scan_of_the_groups_and_one_read_of_the_templates_per_invocation(
    app: LocalApp, fleet: Fleet, calls: Counter[str]
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    for name in ("web-1", "web-2", "web-3"):
        fleet.group(name, old, size=1)
    fleet.group("other", old, size=1, opted_in=False)
    calls.clear()

    answer = deploy(app, new, ["web-1", "web-2", "web-3"])

    assert answer["success"] is True, answer
    assert calls["autoscaling.describe_auto_scaling_groups"] == 1
    assert calls["ec2.describe_launch_templates"] == 1


# --- Launch templates opted in ------------------------------------------------------------------
def test_a_launch_template_without_the_opt_in_tag_is_refused_before_any_write(
    app: LocalApp, fleet: Fleet, calls: Counter[str]
) -> None:
    # Given an opted-in group whose launch template lacks the opt-in tag
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1, template_opted_in=False)
    calls.clear()

    # When it is deployed
    answer = deploy(app, new, ["web"])

    # Then it is refused with the template and the tag to add, before any launch template write
    assert answer["success"] is False, answer
    assert answer["error"]["code"] == "LAUNCH_TEMPLATE_NOT_OPTED_IN"
    assert "web-lt" in answer["error"]["message"]
    assert "asg-refresh:enabled=true" in answer["error"]["message"]
    assert calls["ec2.create_launch_template_version"] == 0
    assert len(fleet.launch_template_versions("web")) == 1
    assert fleet.refreshes("web") == []
    # And the plan says the same
    shown = plan(new, ["web"])
    assert [(s.group, s.code) for s in shown.skipped] == [("web", "LAUNCH_TEMPLATE_NOT_OPTED_IN")]


def test_an_automatic_trigger_skips_groups_whose_template_is_not_opted_in(
    app: LocalApp, fleet: Fleet
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1)
    fleet.group("untagged", old, size=1, template_opted_in=False)
    app.client("ssm").put_parameter(Name="/asg-refresh/golden-ami", Value=new, Type="String")

    answer = app.invoke(
        "StartRefreshFunction",
        {
            "version": "0",
            "id": "parameter-change-1",
            "detail-type": "Parameter Store Change",
            "source": "aws.ssm",
            "account": "123456789012",
            "time": "2026-11-23T09:20:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"operation": "Update", "name": "/asg-refresh/golden-ami", "type": "String"},
        },
    )

    assert answer["success"] is True, answer
    assert [r["group"] for r in answer["data"]["refreshes"]] == ["web"]
    assert {s["group"]: s["code"] for s in answer["data"]["skipped"]} == {
        "untagged": "LAUNCH_TEMPLATE_NOT_OPTED_IN"
    }
    assert len(fleet.launch_template_versions("untagged")) == 1


def test_the_wave_path_refuses_it_too(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1, template_opted_in=False)
    fleet.group("api", old, size=1)
    fleet.group("api-batch", old, size=1, opted_in=False, shares="api", version="$Latest")
    fleet.group("ok", old, size=1)
    message = {"image_id": new, "groups": ["web", "api", "ok"], "preferences": FAST}

    # The rollout's dry run and planner skip both, with the codes StartRefresh would answer
    rollout = RolloutMessage.model_validate(message)
    shown = dry_run(rollout, AwsGateway("us-east-1"), Settings())
    assert {(s.group, s.code) for s in shown.skipped} == {
        ("web", "LAUNCH_TEMPLATE_NOT_OPTED_IN"),
        ("api", "SHARED_LAUNCH_TEMPLATE"),
    }
    assert [group.group for group in shown.groups] == ["ok"]
    assert [wave.groups for wave in shown.waves] == [["ok"]]

    # And a wave item naming one of them is refused, not started
    for group, code in (("web", "LAUNCH_TEMPLATE_NOT_OPTED_IN"), ("api", "SHARED_LAUNCH_TEMPLATE")):
        item = {"rollout_id": "r1", "wave": 0, "index": 0, "group": group, "message": message}
        started = app.invoke("StartWaveGroupFunction", item)
        assert (started["status"], started["code"]) == ("failed", code), started
        assert len(fleet.launch_template_versions(group)) == 1
        assert fleet.refreshes(group) == []
