"""Starting a group's refresh on the in-memory ports (tests/fakes): start, attach, races."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from asg_refresh.dal.aws import group_record
from asg_refresh.dal.records import Group, Image
from asg_refresh.errors import AlreadyUpToDateError, RefreshConflictError
from asg_refresh.logic.start_refresh import refresh_group, start_deployment
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.models.results import StartResult
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

    # The start goes first, and its InstanceRefreshInProgress is the signal to look: the version
    # made for it is deleted again, so nothing of this deployment is left.
    assert aws.deleted_versions == [(t, v) for t, v, _ in aws.created_versions] == [("lt-1", 3)]
    assert sorted(aws.templates["lt-1"]) == [1, 2]
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


# --- one event, many groups: what is read, and when -------------------------------------------


def fleet_group(name: str, template_id: str, version: str | None, *instance_versions: str) -> Group:
    spec = {"LaunchTemplateId": template_id, **({"Version": version} if version else {})}
    return group_record(
        {
            "AutoScalingGroupName": name,
            "LaunchTemplate": spec,
            "Tags": [{"Key": "asg-refresh:enabled", "Value": "true"}, {"Key": "team", "Value": "t"}],
            "Instances": [
                {
                    "InstanceId": f"i-{name}-{n}",
                    "LifecycleState": "InService",
                    "LaunchTemplate": {"LaunchTemplateId": template_id, "Version": v},
                }
                for n, v in enumerate(instance_versions)
            ],
        }
    )


@pytest.fixture
def fleet() -> FakeAws:
    fake = FakeAws()
    fake.images[NEW] = Image(id=NEW, state="available", owner_id="123456789012")
    return fake


def add(fake: FakeAws, group: Group, versions: dict[int, str]) -> None:
    fake.groups[group.name] = group
    spec = group.launch_template
    assert spec is not None
    assert spec.id
    fake.templates.setdefault(spec.id, versions)
    fake.template_tags[spec.id] = {"asg-refresh:enabled": "true"}


def deploy(fake: FakeAws, deployment_id: str = "d-1") -> StartResult:
    message = DeployRequest(
        deployment_id=deployment_id, trigger="deploy", image=ImageSource(image_id=NEW), tags={"team": "t"}
    )
    return start_deployment(message, fake, SETTINGS, datetime(2026, 12, 3, tzinfo=UTC))


def test_groups_on_latest_or_default_are_started_without_a_read_or_describe_of_their_own(
    fleet: FakeAws,
) -> None:
    add(fleet, fleet_group("latest", "lt-a", "$Latest", "1"), {1: OLD})
    add(fleet, fleet_group("default", "lt-b", "$Default", "1"), {1: OLD, 2: OTHER})
    add(fleet, fleet_group("unnamed", "lt-c", None, "1"), {1: OLD})
    add(fleet, fleet_group("numbered-latest", "lt-d", "2", "2"), {1: OLD, 2: OLD})

    result = deploy(fleet)

    assert sorted(r.group for r in result.refreshes) == ["default", "latest", "numbered-latest", "unnamed"]
    assert fleet.bulk_version_reads == ["$Latest,$Default"]  # one read for the whole fleet
    assert fleet.version_reads == []
    assert fleet.described == {}  # started first: nothing was active, so nothing was described
    # each new version is made from the version the group ran, and restores to it
    assert sorted(fleet.created_versions) == [
        ("lt-a", 2, NEW),
        ("lt-b", 3, NEW),
        ("lt-c", 2, NEW),
        ("lt-d", 3, NEW),
    ]
    restores = {p["group"]: p["restore_configuration"] for _, p in fleet.started_executions}
    assert restores["default"] == {"LaunchTemplate": {"LaunchTemplateId": "lt-b", "Version": "1"}}
    assert restores["numbered-latest"] == {"LaunchTemplate": {"LaunchTemplateId": "lt-d", "Version": "2"}}


def test_a_group_pinned_to_an_older_number_reads_its_own_version(fleet: FakeAws) -> None:
    add(fleet, fleet_group("pinned", "lt-a", "2", "2"), {1: OLD, 2: OLD, 3: NEW})
    add(fleet, fleet_group("pinned-on-image", "lt-b", "2", "2"), {1: OLD, 2: NEW, 3: OTHER})

    result = deploy(fleet)

    # version 2 is neither latest (3) nor default (1): the bulk read cannot tell it, so it is read
    assert ("lt-a", "2") in fleet.version_reads
    assert ("lt-b", "2") in fleet.version_reads
    [refresh] = result.refreshes
    assert (refresh.group, refresh.launch_template_version) == ("pinned", 4)
    assert fleet.created_versions == [("lt-a", 4, NEW)]
    [skipped] = result.skipped
    assert (skipped.group, skipped.code) == ("pinned-on-image", AlreadyUpToDateError.code)


def test_groups_sharing_a_template_are_all_refreshed_from_the_version_read_before_any_is_made(
    fleet: FakeAws,
) -> None:
    add(fleet, fleet_group("web-a", "lt-s", "$Latest", "1"), {1: OLD})
    add(fleet, fleet_group("web-b", "lt-s", "$Latest", "1"), {1: OLD})

    result = deploy(fleet)

    assert sorted(r.group for r in result.refreshes) == ["web-a", "web-b"]
    assert result.skipped == []
    assert sorted(v for _, v, _ in fleet.created_versions) == [2, 3]
    assert fleet.version_reads == []


def test_a_redelivered_event_attaches_to_the_refresh_its_first_delivery_left_unwatched(
    fleet: FakeAws,
) -> None:
    add(fleet, fleet_group("web", "lt-a", "$Latest", "1", "1"), {1: OLD})
    [first] = deploy(fleet).refreshes
    fleet.executions.clear()  # the first delivery's watcher never started
    fleet.started_executions.clear()

    [again] = deploy(fleet).refreshes

    # $Latest is now the first delivery's version, on the image, with instances still behind:
    # the start towards it answers InstanceRefreshInProgress, and the refresh is attached to
    assert (again.refresh_id, again.attached) == (first.refresh_id, True)
    assert len(fleet.created_versions) == 1
    assert fleet.deleted_versions == []
    assert [name for name, _ in fleet.started_executions] == [f"refresh-{first.refresh_id}"]


def test_an_up_to_date_group_is_described_before_it_is_called_up_to_date(fleet: FakeAws) -> None:
    add(fleet, fleet_group("web", "lt-a", "$Latest", "2"), {1: OLD, 2: NEW})

    [skipped] = deploy(fleet).skipped

    assert skipped.code == AlreadyUpToDateError.code
    assert fleet.described == {"web": 1}
    assert fleet.created_versions == []
