"""Pre-flight checks on records and the in-memory ports: each check both ways, in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from asg_refresh.dal.aws import group_record
from asg_refresh.dal.records import Image, TemplateVersion
from asg_refresh.errors import ArchitectureMismatchError
from asg_refresh.logic import preflight
from asg_refresh.logic.start_refresh import start_deployment
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.models.preferences import RefreshPreferences
from asg_refresh.models.results import SkippedGroup
from asg_refresh.settings import Settings
from tests.fakes import FakeAws

OLD, NEW = "ami-00000000000000001", "ami-00000000000000002"
X86 = Image(id=NEW, state="available", owner_id="123456789012", architecture="x86_64")
ARM = Image(id=NEW, state="available", owner_id="123456789012", architecture="arm64")
SUPPORTED = {"t3.micro": ("x86_64",), "m7g.large": ("arm64",)}


def group(version: str = "1", desired: int = 4, max_size: int = 8, **extra: Any) -> Any:
    return group_record(
        {
            "AutoScalingGroupName": "web",
            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": version},
            "DesiredCapacity": desired,
            "MinSize": 0,
            "MaxSize": max_size,
            "Tags": [{"Key": "asg-refresh:enabled", "Value": "true"}],
            **extra,
        }
    )


def mixed(*overrides: dict[str, Any]) -> Any:
    spec = {"LaunchTemplateId": "lt-1", "Version": "1"}
    policy = {"LaunchTemplate": {"LaunchTemplateSpecification": spec, "Overrides": list(overrides)}}
    return group_record(
        {"AutoScalingGroupName": "web", "MixedInstancesPolicy": policy, "DesiredCapacity": 2, "MaxSize": 4}
    )


def current(image: str = OLD, instance_type: str | None = "t3.micro", **extra: Any) -> TemplateVersion:
    return TemplateVersion(
        template_id="lt-1", version=1, image_id=image, instance_type=instance_type, **extra
    )


def prefs(**fields: Any) -> RefreshPreferences:
    return RefreshPreferences.model_validate(fields)


# --- architecture -----------------------------------------------------------------------------
def test_the_architecture_passes_when_every_type_supports_it() -> None:
    check = preflight.architecture_check(NEW, X86, group(), current(), SUPPORTED)
    assert (check.verdict, check.evidence) == ("pass", f"{NEW} is x86_64, which t3.micro support(s)")


def test_an_arm64_image_fails_on_an_x86_type() -> None:
    check = preflight.architecture_check(NEW, ARM, group(), current(), SUPPORTED)
    assert (check.verdict, check.code) == ("fail", "ARCHITECTURE_MISMATCH")
    assert check.evidence == f"{NEW} is arm64; t3.micro supports x86_64 only"


def test_overrides_replace_the_templates_type_and_each_is_checked() -> None:
    spot = mixed({"InstanceType": "m7g.large"}, {"InstanceType": "t3.micro"})
    check = preflight.architecture_check(NEW, X86, spot, current(instance_type="m5.large"), SUPPORTED)
    assert check.verdict == "fail"
    assert check.evidence == f"{NEW} is x86_64; m7g.large supports arm64 only"


def test_instance_requirements_and_unknown_types_are_unknown_not_passed() -> None:
    by_attributes = mixed({"InstanceRequirements": {"VCpuCount": {"Min": 2}}}, {"InstanceType": "t3.micro"})
    check = preflight.architecture_check(NEW, X86, by_attributes, current(), SUPPORTED)
    assert check.verdict == "unknown"
    assert "1 choice(s) by InstanceRequirements are not resolved" in check.evidence
    odd = preflight.architecture_check(NEW, X86, group(), current(instance_type="zz.large"), SUPPORTED)
    assert (odd.verdict, "zz.large is not an instance type EC2 knows" in odd.evidence) == ("unknown", True)


def test_a_failing_type_outweighs_an_unresolved_one() -> None:
    both = mixed({"InstanceRequirements": {"VCpuCount": {"Min": 2}}}, {"InstanceType": "t3.micro"})
    assert preflight.architecture_check(NEW, ARM, both, current(), SUPPORTED).verdict == "fail"


def test_an_image_without_architecture_is_unknown() -> None:
    image = X86.model_copy(update={"architecture": None})
    check = preflight.architecture_check(NEW, image, group(), current(), {})
    assert check.verdict == "unknown"


# --- headroom ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("desired", "max_size", "fields", "verdict", "said"),
    [
        # launch-before-terminate: floor(4 x 150 %) = 6 must fit MaxSize
        (4, 5, {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150}, "fail", "over MaxSize 5"),
        (4, 6, {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150}, "pass", "2 launched first"),
        # floor, as AWS rounds the bound: 3 x 150 % = 4.5 -> 4 fits MaxSize 4
        (3, 4, {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150}, "pass", "1 launched first"),
        # nothing may be terminated first, nothing launched above MaxSize: no instance replaceable
        (2, 2, {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 100}, "fail", "no instance can be"),
        (2, 3, {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 100}, "pass", "launching it first"),
        # terminate-first with none to spare: AWS replaces one at a time (its documented 100 % case)
        (4, 8, {}, "pass", "terminating it first (3 in service meanwhile)"),
        (4, 8, {"MinHealthyPercentage": 50}, "pass", "2 terminated first"),
        (0, 0, {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}, "pass", "nothing to replace"),
    ],
)
def test_headroom(desired: int, max_size: int, fields: dict[str, int], verdict: str, said: str) -> None:
    check = preflight.headroom_check(group(desired=desired, max_size=max_size), prefs(**fields))
    assert check.verdict == verdict, check.evidence
    assert said in check.evidence
    assert check.code == "INSUFFICIENT_HEADROOM"


# --- rollback ---------------------------------------------------------------------------------
def test_rollback_passes_on_a_numbered_version_naming_an_ami() -> None:
    check = preflight.rollback_check(group("1"), current())
    assert check.verdict == "pass"


def test_rollback_fails_on_an_image_from_an_ssm_parameter() -> None:
    check = preflight.rollback_check(group("1"), current(image="resolve:ssm:/golden/ami"))
    assert (check.verdict, check.code) == ("fail", "ROLLBACK_IMPOSSIBLE")
    assert "resolve:ssm:/golden/ami, not an AMI id" in check.evidence


@pytest.mark.parametrize("version", ["$Latest", "$Default"])
def test_rollback_is_unknown_on_a_floating_version(version: str) -> None:
    check = preflight.rollback_check(group(version), current())
    assert check.verdict == "unknown"
    assert f"AWS's rollback refuses a group on {version}" in check.evidence


# --- subnet addresses -------------------------------------------------------------------------
def in_subnets(desired: int = 4, max_size: int = 8, live: int | None = None) -> Any:
    instances = [
        {"InstanceId": f"i-{n}", "LifecycleState": "InService", "HealthStatus": "Healthy"}
        for n in range(desired if live is None else live)
    ]
    return group(
        desired=desired, max_size=max_size, VPCZoneIdentifier="subnet-a,subnet-b", Instances=instances
    )


def test_launch_before_terminate_needs_free_addresses_for_the_extra_instances() -> None:
    # 4 x 200 % = 8: 4 launched above the desired capacity, 3 addresses free
    fields = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}
    check = preflight.subnet_check(in_subnets(), prefs(**fields), {"subnet-a": 1, "subnet-b": 2})
    assert (check.verdict, check.code) == ("fail", "SUBNET_ADDRESSES_EXHAUSTED")
    assert "up to 4 instance(s) above the desired capacity" in check.evidence
    assert "3 free address(es) (subnet-a 1, subnet-b 2)" in check.evidence
    assert (
        preflight.subnet_check(in_subnets(), prefs(**fields), {"subnet-a": 1, "subnet-b": 3}).verdict
        == "pass"
    )


def test_instances_already_running_above_the_desired_capacity_hold_their_addresses() -> None:
    # A refresh under way (6 of 8 running): a redelivered deploy needs 2 more addresses, not 4
    fields = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}
    check = preflight.subnet_check(in_subnets(live=6), prefs(**fields), {"subnet-a": 2, "subnet-b": 0})
    assert check.verdict == "pass", check.evidence
    assert "up to 4 instance(s) launched first, 2 more than run now" in check.evidence


def test_one_at_a_time_launching_first_needs_one_address() -> None:
    fields = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 100}
    none_free = preflight.subnet_check(in_subnets(4, 5), prefs(**fields), {"subnet-a": 0, "subnet-b": 0})
    assert none_free.verdict == "fail"
    assert "up to 1 instance(s)" in none_free.evidence


def test_terminate_first_needs_no_free_address() -> None:
    check = preflight.subnet_check(
        in_subnets(), prefs(MinHealthyPercentage=50), {"subnet-a": 0, "subnet-b": 0}
    )
    assert check.verdict == "pass"
    assert check.evidence.startswith("terminate-first")


def test_unknown_subnets_are_unknown() -> None:
    check = preflight.subnet_check(in_subnets(), prefs(), {"subnet-a": 10})
    assert (check.verdict, check.evidence) == ("unknown", "DescribeSubnets does not know subnet-b")
    assert preflight.subnet_check(group(), prefs(), {}).verdict == "unknown"


# --- screen: the reads, and the refusal -------------------------------------------------------
@pytest.fixture
def aws() -> FakeAws:
    fake = FakeAws()
    fake.groups["web"] = group()
    fake.templates["lt-1"] = {1: OLD}
    fake.template_instance_types["lt-1"] = "t3.micro"
    fake.images[NEW] = X86
    fake.launch_template_tags["lt-1"] = {"asg-refresh:enabled": "true"}
    return fake


def test_screen_passes_a_sound_group_and_reports_every_check(aws: FakeAws) -> None:
    passed, refused, reports = preflight.screen([group()], [], NEW, prefs(), aws)
    assert [g.name for g in passed] == ["web"]
    assert refused == []
    assert [(c.name, c.verdict) for c in reports[0].checks] == [
        ("architecture", "pass"),
        ("headroom", "pass"),
        ("rollback", "pass"),
        ("launch_template_not_shared", "pass"),
        ("subnet_addresses", "unknown"),
    ]


def test_screen_refuses_with_the_first_failing_checks_code(aws: FakeAws) -> None:
    aws.images[NEW] = ARM
    passed, refused, _ = preflight.screen([group(max_size=4)], [], NEW, prefs(), aws)
    assert passed == []
    assert [(r.group, r.code) for r in refused] == [("web", "ARCHITECTURE_MISMATCH")]
    assert refused[0].reason.startswith("pre-flight failed: architecture: ")


def test_screen_shows_select_groups_shared_refusal_as_a_check(aws: FakeAws) -> None:
    shared = SkippedGroup(group="api", code="SHARED_LAUNCH_TEMPLATE", reason="legacy follows $Latest")
    _, _, reports = preflight.screen([], [shared], NEW, prefs(), aws)
    [(check)] = reports[0].checks
    assert (reports[0].group, check.name, check.verdict, check.evidence) == (
        "api",
        "launch_template_not_shared",
        "fail",
        "legacy follows $Latest",
    )


def test_a_start_refused_by_pre_flight_creates_nothing(aws: FakeAws) -> None:
    # Given an arm64 image for the t3.micro group
    aws.images[NEW] = ARM
    request = DeployRequest(
        deployment_id="d-1", trigger="deploy", image=ImageSource(image_id=NEW), groups=["web"]
    )

    settings = Settings(state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:w")

    with pytest.raises(ArchitectureMismatchError):
        start_deployment(request, aws, settings, now=datetime(2026, 12, 3, tzinfo=UTC))

    assert aws.created_versions == []
    assert aws.describe_refreshes("web") == []
    assert aws.started_executions == []
