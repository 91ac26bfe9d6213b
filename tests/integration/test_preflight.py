"""Pre-flight checks on the emulation, both ways: a group that would fail is refused with the
check's code before anything is created (no launch template version, no refresh, no watcher),
and ``plan`` lists every check with its verdict and evidence. Every read is answered from moto's
state (DescribeImages' Architecture, DescribeInstanceTypes, the group, its template versions)."""

from __future__ import annotations

from typing import Any

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.logic.plan import plan_deployment
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.models.deploy import DeployMessage
from asg_refresh.models.plan import DeployPlan
from asg_refresh.settings import Settings
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

FAST = {"MinHealthyPercentage": 50, "InstanceWarmup": 30}


def deploy(
    app: LocalApp, image_id: str, groups: list[str], preferences: dict[str, Any] | None = None
) -> dict[str, Any]:
    message = {"image_id": image_id, "groups": groups, "preferences": preferences or FAST}
    return app.invoke("StartRefreshFunction", message)


def plan(image_id: str, groups: list[str], preferences: dict[str, Any] | None = None) -> DeployPlan:
    message = DeployMessage.model_validate(
        {"image_id": image_id, "groups": groups, "preferences": preferences or FAST}
    )
    return plan_deployment(
        request_from_message(message, "plan", "deploy"), AwsGateway("us-east-1"), Settings()
    )


def verdicts(shown: DeployPlan, group: str) -> dict[str, tuple[str, str]]:
    (report,) = [r for r in shown.preflight if r.group == group]
    return {check.name: (check.verdict, check.evidence) for check in report.checks}


def nothing_created(app: LocalApp, fleet: Fleet, group: str) -> None:
    assert len(fleet.launch_template_versions(group)) == 1
    assert fleet.refreshes(group) == []
    assert (
        app.client("stepfunctions").list_executions(
            stateMachineArn=app.outputs["WatchRefreshStateMachineArn"]
        )["executions"]
        == []
    )


def test_a_group_passing_every_check_starts_and_the_plan_says_why(app: LocalApp, fleet: Fleet) -> None:
    # Given an x86_64 image for a t3.micro group pinned to version 1, with room to spare
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)

    # Then the plan lists the four checks, each passing with its evidence
    shown = verdicts(plan(new, ["web"]), "web")
    assert {name: verdict for name, (verdict, _) in shown.items()} == {
        "architecture": "pass",
        "headroom": "pass",
        "rollback": "pass",
        "launch_template_not_shared": "pass",
        "subnet_addresses": "pass",
    }
    assert shown["architecture"][1] == f"{new} is x86_64, which t3.micro support(s)"
    assert "version 1" in shown["rollback"][1]

    # And the deploy starts as before
    answer = deploy(app, new, ["web"])
    assert answer["success"] is True, answer
    assert [r["group"] for r in answer["data"]["refreshes"]] == ["web"]


def test_an_arm64_image_for_x86_instance_types_is_refused_before_anything_is_created(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a t3.micro group (x86_64 only) and an arm64 image
    old, arm = fleet.image("golden-1"), fleet.image("golden-arm", architecture="arm64")
    fleet.group("web", old, size=2)

    # When it is deployed, it is refused with the check's code, and nothing is created
    answer = deploy(app, arm, ["web"])
    assert answer["success"] is False
    assert answer["error"]["code"] == "ARCHITECTURE_MISMATCH", answer
    assert "t3.micro supports x86_64 only" in answer["error"]["message"]
    nothing_created(app, fleet, "web")

    # And the plan shows the failing check and skips the group with the same code
    shown = plan(arm, ["web"])
    assert [(s.group, s.code) for s in shown.skipped] == [("web", "ARCHITECTURE_MISMATCH")]
    verdict, evidence = verdicts(shown, "web")["architecture"]
    assert verdict == "fail"
    assert evidence == f"{arm} is arm64; t3.micro supports x86_64 only"


def test_every_override_of_a_mixed_instances_policy_is_checked(app: LocalApp, fleet: Fleet) -> None:
    # Given a mixed group whose overrides are t3.micro (x86_64) and m7g.large (Graviton, arm64)
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("spot", old, size=2, mixed_instance_types=["t3.micro", "m7g.large"])

    answer = deploy(app, new, ["spot"])

    assert answer["error"]["code"] == "ARCHITECTURE_MISMATCH", answer
    assert "m7g.large supports arm64 only" in answer["error"]["message"]
    assert "t3.micro" not in answer["error"]["message"]
    nothing_created(app, fleet, "spot")


def test_max_size_below_launch_before_terminate_is_refused(app: LocalApp, fleet: Fleet) -> None:
    # Given 4 instances, MaxHealthyPercentage 150 (up to 6 at once) and MaxSize 5
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4, max_size=5)
    preferences = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150, "InstanceWarmup": 30}

    answer = deploy(app, new, ["web"], preferences)

    assert answer["error"]["code"] == "INSUFFICIENT_HEADROOM", answer
    assert "up to 6 instances in the group, over MaxSize 5" in answer["error"]["message"]
    nothing_created(app, fleet, "web")
    verdict, evidence = verdicts(plan(new, ["web"], preferences), "web")["headroom"]
    assert verdict == "fail"
    assert "raise MaxSize to 6" in evidence

    # With MaxSize 6 the same deploy passes the check and starts
    app.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName="web", MaxSize=6)
    assert verdicts(plan(new, ["web"], preferences), "web")["headroom"][0] == "pass"
    assert deploy(app, new, ["web"], preferences)["success"] is True


def test_no_replaceable_instance_is_refused(app: LocalApp, fleet: Fleet) -> None:
    # Given MinHealthyPercentage 100 with MaxHealthyPercentage 100 and a group at its MaxSize
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2, max_size=2)
    preferences = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 100}

    answer = deploy(app, new, ["web"], preferences)

    assert answer["error"]["code"] == "INSUFFICIENT_HEADROOM", answer
    assert "no instance can be terminated first" in answer["error"]["message"]
    nothing_created(app, fleet, "web")


def test_a_version_launching_an_ssm_parameter_cannot_be_rolled_back_so_it_is_refused(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a group pinned to version 2 of its template, whose ImageId is an SSM parameter
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    created = fleet.group("web", old, size=2)
    ec2 = app.client("ec2")
    ec2.create_launch_template_version(
        LaunchTemplateId=created["launch_template_id"],
        SourceVersion="1",
        LaunchTemplateData={"ImageId": "resolve:ssm:/golden/ami"},
    )
    app.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": created["launch_template_id"], "Version": "2"},
    )

    answer = deploy(app, new, ["web"])

    assert answer["error"]["code"] == "ROLLBACK_IMPOSSIBLE", answer
    assert "resolve:ssm:/golden/ami, not an AMI id" in answer["error"]["message"]
    assert len(fleet.launch_template_versions("web")) == 2
    assert fleet.refreshes("web") == []


def test_a_group_on_latest_is_unknown_for_rollback_and_still_starts(app: LocalApp, fleet: Fleet) -> None:
    # Given a group that follows $Latest: the restore can pin version 1, AWS's rollback cannot
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2, version="$Latest")

    verdict, evidence = verdicts(plan(new, ["web"]), "web")["rollback"]

    assert verdict == "unknown"
    assert "pin the group to version 1" in evidence
    assert deploy(app, new, ["web"])["success"] is True


def test_one_failing_group_is_skipped_while_the_others_start(app: LocalApp, fleet: Fleet) -> None:
    old, arm = fleet.image("golden-1"), fleet.image("golden-arm", architecture="arm64")
    fleet.group("x86", old, size=2)
    fleet.group("graviton", old, size=2, instance_type="m7g.large")

    answer = deploy(app, arm, ["x86", "graviton"])

    assert answer["success"] is True, answer
    assert [r["group"] for r in answer["data"]["refreshes"]] == ["graviton"]
    assert [(s["group"], s["code"]) for s in answer["data"]["skipped"]] == [("x86", "ARCHITECTURE_MISMATCH")]
    assert len(fleet.launch_template_versions("x86")) == 1


def test_the_plan_shows_a_shared_launch_template_as_a_failed_check(fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=1)
    fleet.group("legacy", old, size=1, opted_in=False, shares="web", version="$Latest")

    shown = plan(new, ["web"])

    verdict, evidence = verdicts(shown, "web")["launch_template_not_shared"]
    assert verdict == "fail"
    assert "legacy ($Latest, not opted in)" in evidence
    assert [(s.group, s.code) for s in shown.skipped] == [("web", "SHARED_LAUNCH_TEMPLATE")]


def test_a_subnet_without_free_addresses_for_launch_before_terminate_is_refused(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given 6 instances in a /28 subnet (16 addresses, AWS keeps 5: 11 usable, 5 left free)
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    ec2 = app.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    small = ec2.create_subnet(VpcId=vpc, CidrBlock="172.31.200.0/28")["Subnet"]["SubnetId"]
    fleet.group("web", old, size=6, subnet_id=small)
    free = ec2.describe_subnets(SubnetIds=[small])["Subnets"][0]["AvailableIpAddressCount"]
    assert free == 5
    # MaxHealthyPercentage 200 launches all 6 replacements before terminating the old ones
    preferences = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "InstanceWarmup": 30}

    answer = deploy(app, new, ["web"], preferences)

    assert answer["error"]["code"] == "SUBNET_ADDRESSES_EXHAUSTED", answer
    assert (
        "up to 6 instance(s) above the desired capacity, 6 more than run now, but the group's subnets "
        "have 5 free" in (answer["error"]["message"])
    )
    nothing_created(app, fleet, "web")

    # Terminate-first needs none: the same group with MaxHealthyPercentage unset passes the check
    shown = verdicts(plan(new, ["web"], {"MinHealthyPercentage": 50}), "web")
    assert shown["subnet_addresses"][0] == "pass"
    assert deploy(app, new, ["web"], {"MinHealthyPercentage": 50, "InstanceWarmup": 30})["success"] is True
