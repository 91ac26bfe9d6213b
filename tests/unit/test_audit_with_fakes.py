"""What starting a deployment leaves in the audit trail, on the in-memory ports (tests/fakes):
the deployment and its refreshes, a deployment queued behind another image and drained, a
rollout's group. Logic takes the audit as a port (dal/ports.py's ``DeploymentAudit``)."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from asg_refresh.dal import ports
from asg_refresh.dal.aws import group_record
from asg_refresh.dal.records import Image
from asg_refresh.errors import RefreshConflictError
from asg_refresh.logic.rollout import start_wave_item
from asg_refresh.logic.start_refresh import start_and_record
from asg_refresh.logic.supersede import start_queued
from asg_refresh.models.deploy import DeployRequest, ImageSource, SupersedePolicy
from asg_refresh.models.queue import QueueDrain
from asg_refresh.models.resources import LaunchTemplateRecord
from asg_refresh.models.rollout import RolloutMessage, WaveItem
from asg_refresh.settings import Settings
from tests.fakes import FakeAudit, FakeAws

OLD, NEW, OTHER = "ami-00000000000000001", "ami-00000000000000002", "ami-00000000000000003"
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:watch"
SETTINGS = Settings(state_machine_arn=MACHINE)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OPTED_IN = {"asg-refresh:enabled": "true"}


@pytest.fixture
def aws() -> FakeAws:
    fake = FakeAws()
    fake.groups["web"] = group_record(
        {
            "AutoScalingGroupName": "web",
            "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "$Latest"},
            "Tags": [{"Key": key, "Value": value} for key, value in OPTED_IN.items()],
        }
    )
    fake.templates["lt-1"] = {1: OLD}
    fake.template_records.append(LaunchTemplateRecord(id="lt-1", name="web", tags=OPTED_IN))
    for image in (NEW, OTHER):
        fake.images[image] = Image(id=image, state="available", owner_id=fake.account_id())
    return fake


@pytest.fixture
def audit() -> FakeAudit:
    return FakeAudit()


def request(deployment_id: str, supersede: SupersedePolicy | None = None) -> DeployRequest:
    return DeployRequest(
        deployment_id=deployment_id,
        trigger="deploy",
        image=ImageSource(image_id=NEW),
        groups=["web"],
        supersede=supersede,
    )


def refreshing_elsewhere(aws: FakeAws) -> str:
    """Another deployment's refresh of ``web``, towards another image, still running."""
    aws.templates["lt-1"][2] = OTHER
    desired = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "2"}}
    return aws.add_refresh("web", DesiredConfiguration=desired, Preferences={})


def test_a_deployment_is_recorded_with_its_refresh_left_for_the_reconciler(
    aws: FakeAws, audit: FakeAudit
) -> None:
    result = start_and_record(request("d-1"), aws, SETTINGS, NOW, audit)

    [started] = result.refreshes
    assert audit.deployments["d-1"]["groups"] == ["web"]
    assert audit.deployments["d-1"]["request"]["image"] == {"image_id": NEW}
    item = audit.refresh(started.refresh_id)
    assert item is not None
    assert (item["deployment_id"], item["launch_template_version"], item["status"]) == ("d-1", 2, "Started")
    # Unfinished until its watcher reports: the reconciler looks after it meanwhile.
    assert audit.unfinished_refreshes() == [item]


def test_without_an_audit_trail_nothing_waits_and_a_busy_group_is_refused(aws: FakeAws) -> None:
    refreshing_elsewhere(aws)

    with pytest.raises(RefreshConflictError):
        start_and_record(request("d-1"), aws, SETTINGS, NOW, None)

    # The start went first and was refused: the version made for it is gone again
    assert aws.deleted_versions == [(t, v) for t, v, _ in aws.created_versions]


def test_a_deployment_queued_behind_another_image_is_recorded_then_started_when_that_ends(
    aws: FakeAws, audit: FakeAudit
) -> None:
    ahead = refreshing_elsewhere(aws)

    result = start_and_record(request("d-2"), aws, SETTINGS, NOW, audit)

    [queued] = result.queued
    assert (queued.group, queued.policy, queued.behind_refresh_id) == ("web", "queue", ahead)
    assert result.refreshes == []
    assert audit.deployments["d-2"]["queued"] == [queued.model_dump()]
    [waiting] = audit.queued_for("web")
    assert (waiting.image_id, waiting.request.groups, waiting.behind_refresh_id) == (NEW, ["web"], ahead)
    # nothing of it is left while the refresh ahead runs (its version went with the refused start)
    assert aws.deleted_versions == [(t, v) for t, v, _ in aws.created_versions]

    aws.refreshes["web"][0]["Status"] = "Successful"
    drained = start_queued(
        QueueDrain(group="web", refresh_id=ahead, status="Successful"),
        aws,
        audit,
        lambda waited: start_and_record(waited, aws, SETTINGS, NOW, audit),
    )

    [started] = drained.started
    pinned = waiting.request.deployment_id
    assert audit.queue_status[pinned] == ("Started", f"refresh {started.refresh_id}")
    assert audit.queued_for("web") == []
    assert audit.deployments[pinned]["groups"] == ["web"]
    assert audit.refresh(started.refresh_id)["deployment_id"] == pinned  # type: ignore[index]
    assert aws.created_versions[-1] == ("lt-1", 4, NEW)  # the refused start's 3 is not reused
    assert aws.templates["lt-1"][4] == NEW


class CancelsAtOnce(FakeAws):
    """A cancel that has ended by the time the deployment looks again (a small group)."""

    def cancel_refresh(self, group: str) -> str:
        refresh_id = super().cancel_refresh(group)
        self.refreshes[group][0]["Status"] = "Cancelled"
        return refresh_id


def test_a_replacing_deployment_whose_cancel_already_ended_starts_at_once_and_both_are_recorded(
    aws: FakeAws, audit: FakeAudit
) -> None:
    fast = CancelsAtOnce(
        groups=aws.groups, templates=aws.templates, template_records=aws.template_records, images=aws.images
    )
    ahead = refreshing_elsewhere(fast)

    result = start_and_record(request("d-3", supersede="replace"), fast, SETTINGS, NOW, audit)

    assert fast.cancelled == ["web"]
    assert [q.behind_refresh_id for q in result.queued] == [ahead]
    [(pinned, (status, reason))] = audit.queue_status.items()
    assert status == "Started"
    assert set(audit.deployments) == {"d-3", pinned}
    [started] = [item for item in audit.refreshes.values() if item["deployment_id"] == pinned]
    assert reason == f"refresh {started['refresh_id']}"
    assert fast.refreshes["web"][0]["InstanceRefreshId"] == started["refresh_id"]


def wave_item(index: int = 0) -> WaveItem:
    message = RolloutMessage.model_validate({"image_id": NEW})
    return WaveItem(rollout_id="ro-1", wave=1, index=index, group="web", message=message)


def test_a_rollouts_group_is_recorded_under_its_wave(aws: FakeAws, audit: FakeAudit) -> None:
    started = start_wave_item(wave_item(index=4), aws, SETTINGS, NOW, audit)

    assert (started.status, started.previous_image_id) == ("started", OLD)
    assert audit.deployments["ro-1.1.4"]["groups"] == ["web"]
    assert started.refresh_id is not None
    assert audit.refresh(started.refresh_id)["deployment_id"] == "ro-1.1.4"  # type: ignore[index]


def test_a_rollouts_busy_group_fails_its_wave_instead_of_waiting(aws: FakeAws, audit: FakeAudit) -> None:
    refreshing_elsewhere(aws)

    started = start_wave_item(wave_item(), aws, SETTINGS, NOW, audit)

    assert (started.status, started.code) == ("failed", RefreshConflictError.code)
    assert audit.queued == {}
    assert audit.deployments == {}


def public_methods(cls: type) -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(member).parameters)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("fake", "port"),
    [
        (FakeAudit, ports.DeploymentAudit),
        (FakeAudit, ports.ReconcileAudit),
        (FakeAws, ports.StartPorts),
        (FakeAws, ports.ReconcilePorts),
        (FakeAws, ports.AlarmRollbackPorts),
        (FakeAws, ports.GatePorts),
    ],
)
def test_the_fakes_implement_the_ports_they_stand_for(fake: type, port: type) -> None:
    implemented = public_methods(fake)
    missing = {
        name: parameters
        for name, parameters in public_methods(port).items()
        if implemented.get(name) != parameters
    }
    assert missing == {}
