"""Starting a group's refresh on the in-memory ports (tests/fakes): start, attach, races."""

from __future__ import annotations

import pytest

from asg_refresh.dal.aws import group_record
from asg_refresh.errors import AlreadyUpToDateError, RefreshConflictError
from asg_refresh.logic.start_refresh import refresh_group
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.settings import Settings
from tests.fakes import FakeAws

OLD, NEW, OTHER = "ami-00000000000000001", "ami-00000000000000002", "ami-00000000000000003"
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:watch"
SETTINGS = Settings(state_machine_arn=MACHINE)
GROUP = group_record(
    {
        "AutoScalingGroupName": "web",
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "$Latest"},
        "Tags": [
            {"Key": "asg-refresh:enabled", "Value": "true"},
            {"Key": "asg-refresh:alarms", "Value": "web-5xx"},
        ],
    }
)


def request(deployment_id: str = "d-1") -> DeployRequest:
    return DeployRequest(deployment_id=deployment_id, trigger="deploy", image=ImageSource(image_id=NEW))


@pytest.fixture
def aws() -> FakeAws:
    fake = FakeAws()
    fake.add_group("web", **{"asg-refresh:enabled": "true"})
    fake.templates["lt-1"] = {1: OLD}
    return fake


def start_elsewhere(aws: FakeAws, image: str) -> str:
    """Another StartRefresh's refresh of ``web`` onto a version of its own."""
    version = max(aws.templates["lt-1"]) + 1
    aws.templates["lt-1"][version] = image
    desired = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": str(version)}}
    return aws.add_refresh("web", DesiredConfiguration=desired, Preferences={})


def test_a_start_makes_a_version_on_the_image_and_refreshes_onto_it(aws: FakeAws) -> None:
    started = refresh_group(GROUP, NEW, request(), aws, SETTINGS)

    assert aws.created_versions == [("lt-1", 2, NEW)]
    [refresh] = aws.describe_refreshes("web")
    assert refresh["InstanceRefreshId"] == started.refresh_id
    # pinned to the numbered version, so that RollbackInstanceRefresh stays possible
    assert refresh["DesiredConfiguration"] == {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "2"}}
    assert refresh["Preferences"]["MinHealthyPercentage"] == 90
    assert refresh["Preferences"]["AlarmSpecification"] == {"Alarms": ["web-5xx"]}
    assert (started.launch_template_version, started.attached, started.alarms) == (2, False, ["web-5xx"])
    [(execution, payload)] = aws.started_executions
    assert execution == f"refresh-{started.refresh_id}"
    assert started.execution_arn == f"{MACHINE.replace(':stateMachine:', ':execution:')}:{execution}"
    assert payload["watcher"] == execution
    assert payload["restore_configuration"] == {
        "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "1"}
    }


def test_a_group_already_on_the_image_is_not_refreshed(aws: FakeAws) -> None:
    aws.templates["lt-1"] = {1: NEW}

    with pytest.raises(AlreadyUpToDateError):
        refresh_group(GROUP, NEW, request(), aws, SETTINGS)

    assert aws.created_versions == []
    assert aws.describe_refreshes("web") == []


def test_a_refresh_already_running_towards_the_image_is_attached_to(aws: FakeAws) -> None:
    running = start_elsewhere(aws, NEW)

    started = refresh_group(GROUP, NEW, request(), aws, SETTINGS)

    assert (started.refresh_id, started.attached) == (running, True)
    assert aws.created_versions == []
    assert [r["InstanceRefreshId"] for r in aws.describe_refreshes("web")] == [running]
    assert [name for name, _ in aws.started_executions] == [f"refresh-{running}"]


def test_a_refresh_running_towards_another_image_is_a_conflict(aws: FakeAws) -> None:
    running = start_elsewhere(aws, OTHER)

    with pytest.raises(RefreshConflictError, match=f"{running} is InProgress towards {OTHER}"):
        refresh_group(GROUP, NEW, request(), aws, SETTINGS)

    assert aws.created_versions == []
    assert aws.started_executions == []


def test_losing_the_race_to_another_start_deletes_our_version_and_attaches(aws: FakeAws) -> None:
    # Between our DescribeInstanceRefreshes and our StartInstanceRefresh another start wins:
    # StartInstanceRefresh answers InstanceRefreshInProgress.
    winner: list[str] = []
    aws.before_start = lambda group: winner.append(start_elsewhere(aws, NEW)) if not winner else None

    started = refresh_group(GROUP, NEW, request(), aws, SETTINGS)

    assert (started.refresh_id, started.attached) == (winner[0], True)
    assert aws.deleted_versions == [("lt-1", 2)]
    assert 2 not in aws.templates["lt-1"]
    assert [r["InstanceRefreshId"] for r in aws.describe_refreshes("web")] == winner


def test_two_starts_of_one_deployment_make_one_refresh_and_one_watcher(aws: FakeAws) -> None:
    first = refresh_group(GROUP, NEW, request(), aws, SETTINGS)
    again = refresh_group(GROUP, NEW, request(), aws, SETTINGS)

    assert again.refresh_id == first.refresh_id
    assert again.attached is True
    assert again.execution_arn == first.execution_arn
    assert len(aws.describe_refreshes("web")) == 1
    assert len(aws.created_versions) == 1
    assert len(aws.executions) == 1
