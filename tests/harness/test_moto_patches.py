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
