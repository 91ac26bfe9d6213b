"""StartRefresh and the watching state machine, end to end on the emulation.

Every test asserts AWS state: instance image ids, refresh statuses, launch template versions and
the outcome published on the notifications topic.
"""

from __future__ import annotations

from typing import Any

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.logic.plan import plan_deployment
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.models.deploy import DeployMessage
from asg_refresh.models.plan import DeployPlan
from asg_refresh.settings import Settings
from asg_refresh_local.clock import CLOCK
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.samples import SAMPLE_ALARM, SAMPLE_GROUP, SAMPLE_IMAGE_ID, load_event
from tests.integration.conftest import outcomes


def deploy(app: LocalApp, image_id: str, groups: list[str], **extra: Any) -> dict[str, Any]:
    return app.invoke("StartRefreshFunction", {"image_id": image_id, "groups": groups, **extra})


def test_happy_path_replaces_every_instance_and_reports_success(app: LocalApp, fleet: Fleet) -> None:
    # Given an opted-in group of four instances on the old image
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)

    # When a deploy of the new image is requested directly
    answer = deploy(app, new, ["web"], preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 60})

    # Then the envelope names the refresh, and the watcher sees it through to Successful
    assert answer["success"] is True, answer
    started = answer["data"]["refreshes"][0]
    assert started["group"] == "web"
    assert started["launch_template_version"] == 2
    execution = app.wait_for_execution(started["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert fleet.instance_images("web") == [new] * 4
    assert [r["Status"] for r in fleet.refreshes("web")] == ["Successful"]
    versions = fleet.launch_template_versions("web")
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions] == [old, new]
    (outcome,) = outcomes(app)
    assert outcome["status"] == "Successful"
    assert outcome["succeeded"] is True
    assert outcome["refresh_id"] == started["refresh_id"]


def test_desired_configuration_is_a_numbered_version_with_full_preferences(
    app: LocalApp, fleet: Fleet
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    preferences = {
        "MinHealthyPercentage": 50,
        "MaxHealthyPercentage": 150,
        "InstanceWarmup": 30,
        "CheckpointPercentages": [50, 100],
        "CheckpointDelay": 120,
        "BakeTime": 60,
        "SkipMatching": True,
        "AutoRollback": True,
        "ScaleInProtectedInstances": "Refresh",
        "StandbyInstances": "Ignore",
    }
    answer = deploy(app, new, ["web"], preferences=preferences)
    assert answer["success"] is True, answer

    (refresh,) = fleet.refreshes("web")
    assert refresh["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "2"
    for key, value in preferences.items():
        assert refresh["Preferences"][key] == value, key
    app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    assert fleet.instance_images("web") == [new] * 2


def test_mixed_instances_policy_group_keeps_its_overrides(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("mixed", old, size=2, mixed_instance_types=["t3.micro", "t3.small"])

    answer = deploy(app, new, ["mixed"])

    assert answer["success"] is True, answer
    (refresh,) = fleet.refreshes("mixed")
    policy = refresh["DesiredConfiguration"]["MixedInstancesPolicy"]
    assert policy["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"] == "2"
    assert [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]] == ["t3.micro", "t3.small"]
    app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    assert fleet.instance_images("mixed") == [new] * 2


def test_alarm_at_a_checkpoint_rolls_the_refresh_back(app: LocalApp, fleet: Fleet, emulation: Any) -> None:
    # Given a group guarded by an alarm, and a refresh that pauses at 50 %
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx")
    fleet.group("web", old, size=4, alarms=["web-5xx"])

    # The alarm fires as soon as the refresh reaches its checkpoint
    def fire_at_checkpoint(now: Any) -> None:
        if any(sample.get("event") == "checkpoint" for sample in emulation.timeline("web")):
            fleet.set_alarm("web-5xx", "ALARM", "5xx rate above 5 %")

    CLOCK.add_listener(fire_at_checkpoint)
    try:
        # Native AlarmSpecification is switched off so that the watcher's gate is what acts.
        answer = deploy(
            app,
            new,
            ["web"],
            preferences={
                "MinHealthyPercentage": 50,
                "InstanceWarmup": 60,
                "CheckpointPercentages": [50],
                "CheckpointDelay": 3600,
                "AlarmSpecification": {"Alarms": []},
            },
        )
        execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    finally:
        CLOCK.remove_listener(fire_at_checkpoint)

    # Then the watcher rolled it back, every instance is on the old image again, and it says why
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RefreshRollbackSuccessful"
    assert fleet.refreshes("web")[0]["Status"] == "RollbackSuccessful"
    assert fleet.instance_images("web") == [old] * 4
    (outcome,) = outcomes(app)
    assert outcome["requested"] == "rollback"
    assert outcome["failed_gate"]["evidence"][0] == {
        "name": "web-5xx",
        "state": "ALARM",
        "reason": "5xx rate above 5 %",
    }


def test_failed_refresh_is_rolled_back_and_reported(app: LocalApp, fleet: Fleet, emulation: Any) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=3)
    emulation.faults.unhealthy_new_instances("web")

    answer = deploy(app, new, ["web"], preferences={"InstanceWarmup": 60})
    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])

    assert execution["status"] == "FAILED"
    assert fleet.refreshes("web")[0]["Status"] == "RollbackSuccessful"
    assert fleet.instance_images("web") == [old] * 3
    (outcome,) = outcomes(app)
    assert outcome["status"] == "RollbackSuccessful"
    assert outcome["succeeded"] is False


def test_rollback_impossible_so_the_refresh_is_cancelled(app: LocalApp, fleet: Fleet, emulation: Any) -> None:
    # Given a group that follows $Latest (so AWS cannot roll it back) and an alarm already firing
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx", state="ALARM")
    fleet.group("web", old, size=4, alarms=["web-5xx"], version="$Latest")

    answer = deploy(
        app,
        new,
        ["web"],
        preferences={
            "MinHealthyPercentage": 50,
            "InstanceWarmup": 60,
            "AutoRollback": False,
            "AlarmSpecification": {"Alarms": []},
        },
    )
    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RefreshCancelled"
    assert fleet.refreshes("web")[0]["Status"] == "Cancelled"
    history = [
        e.get("stateEnteredEventDetails", {}).get("name") for e in app.history(execution["executionArn"])
    ]
    assert "Roll back the refresh" in history
    assert "Cancel the refresh" in history


def test_the_same_event_twice_starts_one_refresh_and_one_watcher(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)

    first = deploy(app, new, ["web"], deployment_id="release-42")
    second = deploy(app, new, ["web"], deployment_id="release-42")

    # The second delivery gets the first one's result back (idempotency) and changes nothing.
    assert first["success"] is True
    assert second == first
    assert len(fleet.refreshes("web")) == 1
    assert len(fleet.launch_template_versions("web")) == 2
    assert len(app.executions("WatchRefreshStateMachine")) == 1
    app.wait_for_execution(first["data"]["refreshes"][0]["execution_arn"])


def test_another_deployment_of_the_running_image_attaches_to_its_refresh(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)

    first = deploy(app, new, ["web"], deployment_id="release-42")
    retry = deploy(app, new, ["web"], deployment_id="release-42-retry")

    assert retry["data"]["refreshes"][0]["attached"] is True
    assert retry["data"]["refreshes"][0]["refresh_id"] == first["data"]["refreshes"][0]["refresh_id"]
    assert len(fleet.refreshes("web")) == 1
    assert len(fleet.launch_template_versions("web")) == 2
    assert len(app.executions("WatchRefreshStateMachine")) == 1
    app.wait_for_execution(first["data"]["refreshes"][0]["execution_arn"])

    # Once done, a later deployment of the same image finds the group up to date and changes nothing.
    later = deploy(app, new, ["web"], deployment_id="release-43")
    assert later["success"] is True
    assert later["data"]["skipped"][0]["code"] == "ALREADY_UP_TO_DATE"
    assert len(fleet.refreshes("web")) == 1


def test_refresh_towards_another_image_is_refused_under_the_reject_policy(
    app: LocalApp, fleet: Fleet
) -> None:
    old, new, other = fleet.image("golden-1"), fleet.image("golden-2"), fleet.image("golden-3")
    fleet.group("web", old, size=2)
    assert deploy(app, new, ["web"])["success"]

    # (the default policy, queue, is in test_supersede.py)
    answer = deploy(app, other, ["web"], supersede="reject")

    assert answer == {"success": False, "error": answer["error"]}
    assert answer["error"]["code"] == "REFRESH_IN_PROGRESS"
    assert len(fleet.launch_template_versions("web")) == 2  # nothing half-started


def test_unknown_and_not_opted_in_groups_are_refused(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("private", old, size=1, opted_in=False)

    unknown = deploy(app, new, ["nope"])
    private = deploy(app, new, ["private"])

    assert unknown["success"] is False
    assert unknown["error"]["code"] == "GROUP_NOT_FOUND"
    assert private["success"] is False
    assert private["error"]["code"] == "GROUP_NOT_OPTED_IN"
    assert "asg-refresh:enabled" in private["error"]["message"]
    assert fleet.refreshes("private") == []
    assert len(fleet.launch_template_versions("private")) == 1


def test_opted_in_groups_proceed_while_the_others_are_reported(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1)
    fleet.group("private", old, size=1, opted_in=False)

    answer = deploy(app, new, ["web", "private", "nope"])

    assert answer["success"] is True
    assert [r["group"] for r in answer["data"]["refreshes"]] == ["web"]
    assert {s["group"]: s["code"] for s in answer["data"]["skipped"]} == {
        "private": "GROUP_NOT_OPTED_IN",
        "nope": "GROUP_NOT_FOUND",
    }


def test_bad_missing_or_foreign_images_are_rejected(app: LocalApp, fleet: Fleet) -> None:
    old = fleet.image("golden-1")
    fleet.group("web", old, size=1)

    missing = deploy(app, "ami-0123456789abcdef0", ["web"])
    foreign = deploy(app, fleet.foreign_image(), ["web"])
    malformed = app.invoke("StartRefreshFunction", {"image_id": "not-an-ami", "groups": ["web"]})

    assert missing["error"]["code"] == "IMAGE_REJECTED"
    assert "does not exist" in missing["error"]["message"]
    assert foreign["error"]["code"] == "IMAGE_REJECTED"
    assert "not an allowed owner" in foreign["error"]["message"]
    assert malformed["error"]["code"] == "VALIDATION_ERROR"
    assert fleet.refreshes("web") == []


def test_invalid_preferences_are_a_validation_error(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1)

    answer = app.invoke("StartRefreshFunction", load_event("malformed_deploy_direct"))
    gap = deploy(app, new, ["web"], preferences={"MinHealthyPercentage": 10, "MaxHealthyPercentage": 200})

    assert answer["success"] is False
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    assert gap["error"]["code"] == "VALIDATION_ERROR"
    assert "at most 100" in gap["error"]["message"]
    assert fleet.refreshes("web") == []


def test_sample_direct_event_starts_a_refresh(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group(SAMPLE_GROUP, old, size=2)

    answer = app.invoke("StartRefreshFunction", load_event("deploy_direct", {SAMPLE_IMAGE_ID: new}))

    assert answer["success"] is True
    assert answer["data"]["id"] == "manual-2026-11-23-1"
    assert answer["data"]["created_at"]
    assert fleet.refreshes(SAMPLE_GROUP)[0]["Status"] in {"Pending", "InProgress"}
    assert SAMPLE_ALARM  # the sample's alarm name is used by the trigger tests


def _cancel_half_way(app: LocalApp, fleet: Fleet, new: str) -> None:
    """A refresh of web onto ``new`` started by hand and cancelled at its 50 % checkpoint: the
    launch template still names the old image, half the instances run the new one."""
    template = fleet.launch_template_versions("web")[0]
    created = app.client("ec2").create_launch_template_version(
        LaunchTemplateId=template["LaunchTemplateId"], SourceVersion="1", LaunchTemplateData={"ImageId": new}
    )["LaunchTemplateVersion"]
    autoscaling = app.client("autoscaling")
    autoscaling.start_instance_refresh(
        AutoScalingGroupName="web",
        DesiredConfiguration={
            "LaunchTemplate": {
                "LaunchTemplateId": template["LaunchTemplateId"],
                "Version": str(created["VersionNumber"]),
            }
        },
        Preferences={
            "MinHealthyPercentage": 50,
            "InstanceWarmup": 0,
            "CheckpointPercentages": [50],
            "CheckpointDelay": 3600,
        },
    )
    for _ in range(100):
        if fleet.refreshes("web")[0].get("PercentageComplete", 0) >= 50:
            break
        CLOCK.advance(10)
    autoscaling.cancel_instance_refresh(AutoScalingGroupName="web")
    CLOCK.advance(60)
    assert fleet.refreshes("web")[0]["Status"] == "Cancelled"


def test_a_group_half_on_another_image_is_put_back_though_its_template_names_the_image(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a group whose refresh onto a new image was cancelled half-way
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)
    _cancel_half_way(app, fleet, new)
    assert sorted(fleet.instance_images("web")) == sorted([new, new, old, old])
    kept = set(_instance_ids(fleet, "web", old))
    # (the dry run says the same: two to replace, two to keep)
    (planned,) = _plan(old, ["web"]).groups
    assert sorted(i.action for i in planned.instances) == ["keep", "keep", "replace", "replace"]
    assert planned.to_replace == 2

    # When the old image is deployed, to bring those instances back
    answer = deploy(app, old, ["web"], preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0})

    # Then it is not "already up to date": a refresh towards the version the group runs, with
    # SkipMatching, replaces only the instances on the other image
    assert answer["success"] is True, answer
    (started,) = answer["data"]["refreshes"]
    assert started["launch_template_version"] == 1
    refresh = fleet.refreshes("web")[0]
    assert refresh["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "1"
    assert refresh["Preferences"]["SkipMatching"] is True
    assert app.wait_for_execution(started["execution_arn"])["status"] == "SUCCEEDED"
    assert fleet.instance_images("web") == [old] * 4
    assert kept <= set(_instance_ids(fleet, "web", old))
    assert len(fleet.launch_template_versions("web")) == 2  # no version made for it

    # And once every instance runs it, the same deploy is up to date
    again = deploy(app, old, ["web"])
    assert again["success"] is True, again
    assert [s["code"] for s in again["data"]["skipped"]] == ["ALREADY_UP_TO_DATE"]


def _plan(image_id: str, groups: list[str]) -> DeployPlan:
    message = DeployMessage.model_validate({"image_id": image_id, "groups": groups})
    request = request_from_message(message, "plan", "deploy")
    return plan_deployment(request, AwsGateway("us-east-1"), Settings())


def _instance_ids(fleet: Fleet, group: str, image_id: str) -> list[str]:
    described = fleet.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    ids = [i["InstanceId"] for i in described["AutoScalingGroups"][0]["Instances"]]
    reservations = fleet.client("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return [i["InstanceId"] for r in reservations for i in r["Instances"] if i["ImageId"] == image_id]
