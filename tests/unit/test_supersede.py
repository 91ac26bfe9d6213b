"""The supersede rules on their own: which waiting deployment starts, which are superseded or dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from asg_refresh.dal.aws import refresh_record
from asg_refresh.dal.records import Refresh
from asg_refresh.errors import AwsUnavailableError, ImageRejectedError
from asg_refresh.logic.supersede import WaitingRoom, pinned_to, start_if_nothing_ahead, start_queued
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.models.queue import QueuedDeployment, QueueDrain
from asg_refresh.models.results import QueuedGroup, StartedRefresh, StartResult

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


class Queue:
    def __init__(self) -> None:
        self.items: dict[str, QueuedDeployment] = {}
        self.closed: dict[str, tuple[str, str]] = {}

    def queue_deployment(self, queued: QueuedDeployment) -> None:
        self.items[queued.request.deployment_id] = queued
        self.closed.pop(queued.request.deployment_id, None)

    def queued_for(self, group: str) -> list[QueuedDeployment]:
        waiting = [q for key, q in self.items.items() if q.group == group and key not in self.closed]
        return sorted(waiting, key=lambda q: q.queued_at)

    def close_queued(self, queued: QueuedDeployment, status: str, reason: str) -> None:
        self.closed[queued.request.deployment_id] = (status, reason)


class Refreshes:
    def __init__(self, *refreshes: dict[str, Any]) -> None:
        self.refreshes = list(refreshes)
        self.cancelled: list[str] = []

    def refreshes_of(self, group: str, refresh_ids: list[str] | None = None) -> list[Refresh]:
        return [refresh_record(item) for item in self.refreshes]

    def cancel_refresh(self, group: str) -> str:
        self.cancelled.append(group)
        return "r-1"

    def rollback_refresh(self, group: str) -> str:
        raise AssertionError("replace cancels, never rolls back")


def request(deployment_id: str, image: str) -> DeployRequest:
    return DeployRequest(
        deployment_id=deployment_id,
        trigger="deploy",
        image=ImageSource(image_id=image),
        groups=["web", "api"],
    )


def ended(status: str) -> QueueDrain:
    return QueueDrain(group="web", refresh_id="r-1", status=status)


def wait(queue: Queue, deployment_id: str, image: str, policy: str = "queue", minute: int = 0) -> None:
    room = WaitingRoom(queue, Refreshes(), policy, NOW.replace(minute=minute))  # type: ignore[arg-type]
    room.wait_behind("web", "r-1", request(deployment_id, image), image)


def starter(started: list[DeployRequest]) -> Any:
    def start(req: DeployRequest) -> StartResult:
        started.append(req)
        refresh = StartedRefresh(
            group="web",
            refresh_id="r-2",
            image_id=req.image.image_id or "",
            launch_template_id="lt-1",
            launch_template_version=3,
        )
        return StartResult(
            id=req.deployment_id, created_at=NOW, trigger="deploy", image_id="x", refreshes=[refresh]
        )

    return start


IMAGE_A, IMAGE_B = "ami-0aaaaaaaaaaaaaaaa", "ami-0bbbbbbbbbbbbbbbb"


def test_the_newest_starts_and_the_older_ones_are_superseded() -> None:
    queue, started = Queue(), []
    wait(queue, "release-1", IMAGE_A, minute=1)
    wait(queue, "release-2", IMAGE_B, minute=2)

    result = start_queued(ended("Successful"), Refreshes(), queue, starter(started))

    assert [r.image.image_id for r in started] == [IMAGE_B]
    assert started[0].groups == ["web"]  # that group alone, whatever the deployment named
    assert [s.split(".q")[0] for s in result.superseded] == ["release-1"]
    assert sorted(status for status, _ in queue.closed.values()) == ["Started", "Superseded"]
    assert result.news


@pytest.mark.parametrize("status", ["RollbackSuccessful", "Cancelled", "Failed", "WatchFailed"])
def test_after_a_refresh_that_did_not_succeed_nothing_starts(status: str) -> None:
    queue, started = Queue(), []
    wait(queue, "release-1", IMAGE_A)

    result = start_queued(ended(status), Refreshes(), queue, starter(started))

    assert started == []
    assert len(result.dropped) == 1
    assert f"ended {status}" in result.reason


def test_a_replace_starts_after_the_cancel_it_asked_for() -> None:
    queue, started, refreshes = Queue(), [], Refreshes()
    room = WaitingRoom(queue, refreshes, "replace", NOW)
    room.wait_behind("web", "r-1", request("release-1", IMAGE_A), IMAGE_A)
    wait(queue, "release-2", IMAGE_B, minute=5)  # a queue-policy one arrives while it cancels

    start_queued(ended("Cancelled"), Refreshes(), queue, starter(started))

    assert refreshes.cancelled == ["web"]
    assert [r.image.image_id for r in started] == [IMAGE_B]


def test_a_broken_watcher_leaves_them_waiting_while_the_refresh_runs() -> None:
    queue, started = Queue(), []
    wait(queue, "release-1", IMAGE_A)
    running = Refreshes({"InstanceRefreshId": "r-1", "Status": "InProgress"})

    result = start_queued(ended("WatchFailed"), running, queue, starter(started))

    assert started == []
    assert not result.news
    assert len(queue.queued_for("web")) == 1


def test_queued_after_the_refresh_ahead_ended_it_starts_at_once() -> None:
    queue, started = Queue(), []
    wait(queue, "release-1", IMAGE_A)
    queued = QueuedGroup(group="web", policy="queue", behind_refresh_id="r-1", reason="")

    ended = Refreshes({"InstanceRefreshId": "r-1", "Status": "Successful"})
    assert start_if_nothing_ahead(queued, ended, queue, starter(started)) is not None
    assert [r.image.image_id for r in started] == [IMAGE_A]
    running = Refreshes({"InstanceRefreshId": "r-1", "Status": "InProgress"})
    assert start_if_nothing_ahead(queued, running, queue, starter([])) is None


def test_a_request_queued_again_keeps_its_deployment_id() -> None:
    once = pinned_to(request("release-1", IMAGE_A), "web", IMAGE_A)
    twice = pinned_to(once, "web", IMAGE_A)

    assert once.deployment_id == twice.deployment_id
    assert len(once.deployment_id) <= 64
    assert pinned_to(request("r" * 64, IMAGE_A), "web", IMAGE_A).deployment_id.endswith(
        once.deployment_id[-10:]
    )


def test_a_start_refused_for_good_marks_the_waiting_deployment_failed_instead_of_leaving_it_queued() -> None:
    # Given a deployment waiting for web whose image was deregistered meanwhile
    queue = Queue()
    wait(queue, "release-1", IMAGE_A)

    def refused(req: DeployRequest) -> StartResult:
        raise ImageRejectedError(f"{IMAGE_A} does not exist")

    # When the refresh ahead succeeds and the drain tries to start it
    result = start_queued(ended("Successful"), Refreshes(), queue, refused)

    # Then it no longer waits: it is Failed with the refusal, and the news says so
    assert queue.queued_for("web") == []
    ((status, reason),) = queue.closed.values()
    assert (status, reason) == ("Failed", f"IMAGE_REJECTED: {IMAGE_A} does not exist")
    assert [f.split(".q")[0] for f in result.failed] == ["release-1"]
    assert result.news


def test_a_start_that_fails_for_a_while_is_retried_and_keeps_waiting() -> None:
    queue = Queue()
    wait(queue, "release-1", IMAGE_A)

    def throttled(req: DeployRequest) -> StartResult:
        raise AwsUnavailableError("Throttling")

    with pytest.raises(AwsUnavailableError):
        start_queued(ended("Successful"), Refreshes(), queue, throttled)
    assert len(queue.queued_for("web")) == 1
