"""The registry of patches onto moto: a moved target fails loudly, and every patch stays in place."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from asg_refresh_local import moto_patches
from asg_refresh_local.harness import install_all


@pytest.fixture
def fake_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("asg_refresh_fake_dependency")

    class Thing:
        def method(self) -> str:
            return "original"

    Thing.__module__ = module.__name__
    module.Thing = Thing  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_every_patch_is_registered_in_place_after_installing() -> None:
    install_all()

    patches = moto_patches.registry()
    assert len(patches) >= 50
    assert all(p.why and p.owner.startswith("asg_refresh_local") for p in patches)
    assert moto_patches.verify() == []  # the pinned moto, every patch in place
    targets = {p.target for p in patches}
    assert "moto.core.responses:BaseResponse.call_action" in targets
    assert "moto.autoscaling.responses:AutoScalingResponse.start_instance_refresh" in targets


def test_a_patch_onto_a_moved_target_fails_loudly(fake_module: types.ModuleType) -> None:
    with pytest.raises(moto_patches.PatchTargetMissing, match="renamed"):
        moto_patches.patch(
            f"{fake_module.__name__}:Thing.renamed", lambda self: "x", kind="wrap", why="t", owner="tests"
        )
    with pytest.raises(moto_patches.PatchTargetMissing, match="module"):
        moto_patches.patch(
            "asg_refresh_no_such_module:Thing.method", None, kind="wrap", why="t", owner="tests"
        )


def test_adding_what_the_dependency_now_has_fails_loudly(fake_module: types.ModuleType) -> None:
    with pytest.raises(moto_patches.PatchTargetMissing, match="now has"):
        moto_patches.patch(
            f"{fake_module.__name__}:Thing.method", lambda self: "x", kind="add", why="t", owner="tests"
        )


def test_a_patch_undone_behind_the_registrys_back_is_reported(fake_module: types.ModuleType) -> None:
    target = f"{fake_module.__name__}:Thing.method"
    before = moto_patches.patch(target, lambda self: "patched", kind="replace", why="t", owner="tests")
    assert fake_module.Thing().method() == "patched"
    try:
        fake_module.Thing.method = before
        with pytest.raises(moto_patches.PatchNotApplied, match="method"):
            moto_patches.verify()
    finally:
        moto_patches._REGISTRY.pop(target)


def test_launch_templates_asked_for_by_id_or_name_all_come_back() -> None:
    import boto3
    from moto import mock_aws

    install_all()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ids = [
            ec2.create_launch_template(
                LaunchTemplateName=f"tpl-{n}", LaunchTemplateData={"ImageId": "ami-1"}
            )["LaunchTemplate"]["LaunchTemplateId"]
            for n in range(30)
        ]

        assert len(ec2.describe_launch_templates(LaunchTemplateIds=ids)["LaunchTemplates"]) == 30
        names = [f"tpl-{n}" for n in range(20)]
        assert len(ec2.describe_launch_templates(LaunchTemplateNames=names)["LaunchTemplates"]) == 20


def test_every_templates_latest_and_default_versions_on_an_image_are_described_in_pages() -> None:
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    install_all()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        for n in range(5):
            ec2.create_launch_template(
                LaunchTemplateName=f"tpl-{n}", LaunchTemplateData={"ImageId": "ami-old"}
            )
        for n in range(3):  # $Latest of three templates moves to the new image; $Default stays
            ec2.create_launch_template_version(
                LaunchTemplateName=f"tpl-{n}", SourceVersion="1", LaunchTemplateData={"ImageId": "ami-new"}
            )
        on_new = [{"Name": "image-id", "Values": ["ami-new"]}]

        first = ec2.describe_launch_template_versions(
            Versions=["$Latest", "$Default"], Filters=on_new, MaxResults=2
        )
        rest = ec2.describe_launch_template_versions(
            Versions=["$Latest", "$Default"], Filters=on_new, MaxResults=2, NextToken=first["NextToken"]
        )

        found = first["LaunchTemplateVersions"] + rest["LaunchTemplateVersions"]
        assert sorted((v["LaunchTemplateName"], v["VersionNumber"]) for v in found) == [
            ("tpl-0", 2),
            ("tpl-1", 2),
            ("tpl-2", 2),
        ]
        assert "NextToken" not in rest
        defaults = ec2.describe_launch_template_versions(
            Versions=["$Default"], Filters=[{"Name": "image-id", "Values": ["ami-old"]}]
        )["LaunchTemplateVersions"]
        assert len(defaults) == 5
        # one template's versions are filtered too
        one = ec2.describe_launch_template_versions(
            LaunchTemplateName="tpl-0", Versions=["1", "2"], Filters=on_new
        )
        assert [v["VersionNumber"] for v in one["LaunchTemplateVersions"]] == [2]
        # numbers need a template, as AWS says
        with pytest.raises(ClientError) as refused:
            ec2.describe_launch_template_versions(Versions=["$Latest", "2"])
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
        with pytest.raises(ClientError) as missing:
            ec2.describe_launch_template_versions()
        assert missing.value.response["Error"]["Code"] == "MissingParameter"
        with pytest.raises(ClientError) as too_many:
            ec2.describe_launch_template_versions(Versions=["$Latest"], MaxResults=201)
        assert too_many.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_latest_is_the_highest_version_not_deleted() -> None:
    import boto3
    from moto import mock_aws

    install_all()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ec2.create_launch_template(LaunchTemplateName="tpl", LaunchTemplateData={"ImageId": "ami-1"})
        for image in ("ami-2", "ami-3"):
            ec2.create_launch_template_version(
                LaunchTemplateName="tpl", LaunchTemplateData={"ImageId": image}
            )
        ec2.delete_launch_template_versions(LaunchTemplateName="tpl", Versions=["3"])

        [template] = ec2.describe_launch_templates(LaunchTemplateNames=["tpl"])["LaunchTemplates"]
        [latest] = ec2.describe_launch_template_versions(LaunchTemplateName="tpl", Versions=["$Latest"])[
            "LaunchTemplateVersions"
        ]
        everywhere = ec2.describe_launch_template_versions(Versions=["$Latest"])["LaunchTemplateVersions"]

        assert template["LatestVersionNumber"] == latest["VersionNumber"] == 2
        assert [(v["VersionNumber"], v["LaunchTemplateData"]["ImageId"]) for v in everywhere] == [
            (2, "ami-2")
        ]
