"""The launch template rules (opted in; nobody else floats on it) and the image parameter rules,
on plain records: no AWS."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from asg_refresh.dal.aws import group_record
from asg_refresh.errors import ImageRejectedError
from asg_refresh.logic import launch_templates as rules
from asg_refresh.logic.images import image_id_in, parameter_allowed
from asg_refresh.models.resources import LaunchTemplateRecord, ParameterRecord
from asg_refresh.settings import Settings

OPT_IN = ("asg-refresh:enabled", "true")
WEB = LaunchTemplateRecord(id="lt-0aaa", name="web-lt", tags={"asg-refresh:enabled": "true"})
API = LaunchTemplateRecord(id="lt-0bbb", name="api-lt", tags={"asg-refresh:enabled": "true"})


def group(name: str, spec: dict[str, Any], *, opted_in: bool = True, mixed: bool = False) -> dict[str, Any]:
    tags = [{"Key": OPT_IN[0], "Value": OPT_IN[1]}] if opted_in else []
    if mixed:
        policy = {"LaunchTemplate": {"LaunchTemplateSpecification": spec, "Overrides": []}}
        return {"AutoScalingGroupName": name, "MixedInstancesPolicy": policy, "Tags": tags}
    return {"AutoScalingGroupName": name, "LaunchTemplate": spec, "Tags": tags}


def launch_template_refusals(
    targets: list[dict[str, Any]],
    fleet: list[dict[str, Any]],
    templates: list[LaunchTemplateRecord],
    opt_in: tuple[str, str],
    **options: Any,
) -> dict[str, Any]:
    """The rule on the groups as records, made from their AWS answers as dal/aws.py makes them."""
    records = [group_record(g) for g in targets], [group_record(g) for g in fleet]
    return rules.launch_template_refusals(*records, templates, opt_in, **options)


def templates_to_describe(groups: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    return rules.templates_to_describe([group_record(g) for g in groups])


def by_id(template: LaunchTemplateRecord, version: str | None) -> dict[str, Any]:
    return {"LaunchTemplateId": template.id} | ({"Version": version} if version else {})


def by_name(template: LaunchTemplateRecord, version: str | None) -> dict[str, Any]:
    return {"LaunchTemplateName": template.name} | ({"Version": version} if version else {})


def refusals(targets: list[dict[str, Any]], others: list[dict[str, Any]], **options: Any) -> dict[str, str]:
    fleet = targets + others
    refused = launch_template_refusals(targets, fleet, [WEB, API], OPT_IN, **options)
    return {name: skipped.code for name, skipped in refused.items()}


@pytest.mark.parametrize("refer", [by_id, by_name])
@pytest.mark.parametrize("version", ["$Latest", "$Default", None])
def test_a_follower_by_id_or_name_on_a_floating_version_refuses_the_group(
    refer: Any, version: str | None
) -> None:
    web = group("web", by_id(WEB, "1"))
    legacy = group("legacy", refer(WEB, version), opted_in=False)

    refused = launch_template_refusals([web], [web, legacy], [WEB, API], OPT_IN)

    assert refused["web"].code == "SHARED_LAUNCH_TEMPLATE"
    assert f"legacy ({version or '$Default'}, not opted in)" in refused["web"].reason


def test_the_deployed_group_may_itself_refer_by_name() -> None:
    web = group("web", by_name(WEB, "3"))
    legacy = group("legacy", by_id(WEB, "$Latest"), opted_in=False)

    assert refusals([web], [legacy]) == {"web": "SHARED_LAUNCH_TEMPLATE"}
    assert templates_to_describe([web, group("api", by_id(API, "1"))]) == (["lt-0bbb"], ["web-lt"])


def test_numbered_versions_and_other_templates_are_safe() -> None:
    web = group("web", by_id(WEB, "1"))
    pinned = group("pinned", by_id(WEB, "7"), opted_in=False)
    elsewhere = group("elsewhere", by_id(API, "$Latest"), opted_in=False)

    assert refusals([web], [pinned, elsewhere]) == {}


def test_followers_in_mixed_instances_policies_and_overrides_count() -> None:
    web = group("web", by_id(WEB, "1"))
    spot = group("spot", by_name(WEB, "$Latest"), opted_in=False, mixed=True)
    override = group("override", by_id(API, "1"), opted_in=False, mixed=True)
    override["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"] = [
        {"InstanceType": "m5.large", "LaunchTemplateSpecification": by_id(WEB, "$Latest")}
    ]

    refused = launch_template_refusals([web], [web, spot, override], [WEB, API], OPT_IN)

    assert "spot ($Latest, not opted in)" in refused["web"].reason
    assert "override ($Latest, not opted in)" in refused["web"].reason


def test_opted_in_followers_are_fine_inside_the_deployment_only() -> None:
    web = group("web", by_id(WEB, "1"))
    batch = group("batch", by_id(WEB, "$Latest"))

    assert refusals([web, batch], []) == {}
    assert refusals([web], [batch]) == {"web": "SHARED_LAUNCH_TEMPLATE"}
    # A rollout starts its groups one by one: inside the rollout is not inside the deployment
    assert refusals([web, batch], [], each_group_alone=True) == {"web": "SHARED_LAUNCH_TEMPLATE"}


def test_refusing_one_group_takes_it_out_of_the_deployment_for_the_others() -> None:
    # batch runs api-lt, but one of its overrides follows $Latest of web-lt, which web deploys
    web = group("web", by_id(WEB, "1"))
    batch = group("batch", by_id(API, "1"), mixed=True)
    batch["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"] = [
        {"InstanceType": "m5.large", "LaunchTemplateSpecification": by_id(WEB, "$Latest")}
    ]
    untagged_api = LaunchTemplateRecord(id=API.id, name=API.name, tags={})
    api_legacy = group("api-legacy", by_id(API, "$Latest"), opted_in=False)

    # Both deployed: batch is inside the deployment, so web may go
    assert refusals([web, batch], []) == {}
    # batch refused (its own template is not opted in): now it is outside, and web is refused
    refused = launch_template_refusals([web, batch], [web, batch], [WEB, untagged_api], OPT_IN)
    assert {name: s.code for name, s in refused.items()} == {
        "batch": "LAUNCH_TEMPLATE_NOT_OPTED_IN",
        "web": "SHARED_LAUNCH_TEMPLATE",
    }
    assert "batch ($Latest, not in this deployment)" in refused["web"].reason
    # The same when batch is refused because its own template is shared
    assert refusals([web, batch], [api_legacy]) == {
        "batch": "SHARED_LAUNCH_TEMPLATE",
        "web": "SHARED_LAUNCH_TEMPLATE",
    }


def test_the_launch_template_must_carry_the_opt_in_tag() -> None:
    web = group("web", by_id(WEB, "1"))
    other_value = LaunchTemplateRecord(id=WEB.id, name=WEB.name, tags={"asg-refresh:enabled": "false"})

    (refused,) = launch_template_refusals([web], [web], [other_value], OPT_IN).values()

    assert refused.code == "LAUNCH_TEMPLATE_NOT_OPTED_IN"
    assert "web-lt (lt-0aaa)" in refused.reason
    assert "asg-refresh:enabled=true" in refused.reason
    missing = launch_template_refusals([web], [web], [], OPT_IN)
    assert missing["web"].code == "NO_LAUNCH_TEMPLATE"


def test_a_long_list_of_followers_is_cut() -> None:
    web = group("web", by_id(WEB, "1"))
    followers = [group(f"legacy-{n:02d}", by_id(WEB, "$Latest"), opted_in=False) for n in range(30)]

    reason = launch_template_refusals([web], [web, *followers], [WEB], OPT_IN)["web"].reason

    assert "legacy-09" in reason
    assert "legacy-10" not in reason
    assert "and 20 more" in reason
    assert len(reason) < 1000


# --- Image parameters -------------------------------------------------------------------------
def test_only_the_prefix_and_the_golden_parameters_may_be_read() -> None:
    settings = Settings.from_env(
        {"ALLOWED_IMAGE_PARAMETER_PREFIX": "/images/", "GOLDEN_AMI_PARAMETER_NAMES": "/org/golden, /org/base"}
    )
    assert settings.allowed_image_parameter_prefix == "/images/"
    assert settings.golden_ami_parameter_names == ["/org/golden", "/org/base"]
    assert parameter_allowed("/images/web", "deploy", settings)
    assert parameter_allowed("/org/base", "deploy", settings)
    assert not parameter_allowed("/org/golden-other", "deploy", settings)
    assert not parameter_allowed("/asg-refresh/web", "deploy", settings)
    assert not parameter_allowed("/images/../secrets/db", "deploy", settings)
    # A Parameter Store Change event only ever names a golden parameter (the rule's filter)
    assert parameter_allowed("/elsewhere/golden", "ssm-parameter", settings)


def test_the_default_prefix_matches_the_template() -> None:
    settings = Settings.from_env({})
    assert settings.allowed_image_parameter_prefix == "/asg-refresh/"
    assert parameter_allowed("/asg-refresh/golden-ami", "deploy", settings)
    assert not parameter_allowed("/team-b/db-password", "deploy", settings)


@pytest.mark.parametrize(
    ("record", "says"),
    [
        (None, "does not exist"),
        (ParameterRecord(name="p", type="SecureString"), "SecureString, not a plain AMI parameter"),
        (ParameterRecord(name="p", type="String", value=SecretStr("hunter2-x")), "(Type String) does not"),
        (
            ParameterRecord(name="p", type="StringList", value=SecretStr("ami-0123456789abcdef0")),
            "(Type StringList) does not",
        ),
        (
            ParameterRecord(name="p", type="String", value=SecretStr("ami-0123456789abcdef0 and more")),
            "does not",
        ),
    ],
)
def test_what_is_not_an_ami_id_is_refused_without_its_value(
    record: ParameterRecord | None, says: str
) -> None:
    with pytest.raises(ImageRejectedError) as refused:
        image_id_in(record, "p")

    assert says in refused.value.message
    assert "hunter2" not in refused.value.message
    assert "ami-0123456789abcdef0" not in refused.value.message
    assert "hunter2" not in repr(record)


def test_an_ami_id_is_read_from_a_string() -> None:
    record = ParameterRecord(name="p", type="String", value=SecretStr(" ami-0123456789abcdef0\n"))
    assert image_id_in(record, "p") == "ami-0123456789abcdef0"
