"""A wave's group queued behind another refresh: what the wave makes of the waiting deployment."""

from __future__ import annotations

from typing import Any

import pytest

from asg_refresh.logic.wave_queue import follow_queued
from asg_refresh.models.rollout import MAX_QUEUED_LOOKS, QueuedWaveGroup

ARN = "arn:aws:states:us-east-1:123456789012:execution:watch-refresh:refresh-r-2"


class Audit:
    def __init__(self, item: dict[str, Any] | None, deployment: list[dict[str, Any]] | None = None) -> None:
        self.item, self.items = item, deployment or []

    def queued_item(self, group: str, deployment_id: str) -> dict[str, Any] | None:
        assert (group, deployment_id) == ("web", "roll.0.0.qabc")
        return self.item

    def deployment(self, deployment_id: str) -> list[dict[str, Any]]:
        assert deployment_id == "roll.0.0.qabc"
        return self.items


def queued(looks: int = 0) -> QueuedWaveGroup:
    return QueuedWaveGroup(
        group="web",
        status="queued",
        code="QUEUED",
        reason="waits for refresh r-1",
        previous_image_id="ami-00000001",
        queued_deployment_id="roll.0.0.qabc",
        queued_looks=looks,
    )


def test_still_queued_is_looked_at_again() -> None:
    again = follow_queued(queued(), Audit({"status": "Queued"}))
    assert (again.status, again.queued_looks) == ("queued", 1)


def test_started_is_followed_through_its_watcher() -> None:
    deployment = [{"item": "deployment"}, {"refresh_id": "r-2", "execution_arn": ARN}]
    started = follow_queued(queued(), Audit({"status": "Started", "reason": "refresh r-2"}, deployment))
    assert (started.status, started.refresh_id, started.execution_arn) == ("started", "r-2", ARN)
    assert started.watchers_arn == ARN.rpartition(":")[0]
    assert started.previous_image_id == "ami-00000001"


@pytest.mark.parametrize(
    ("status", "code"),
    [("Superseded", "QUEUED_SUPERSEDED"), ("Dropped", "QUEUED_DROPPED"), ("Failed", "QUEUED_FAILED")],
)
def test_a_deployment_that_ended_unstarted_fails_the_group_with_its_reason(status: str, code: str) -> None:
    failed = follow_queued(queued(), Audit({"status": status, "reason": "because"}))
    assert (failed.status, failed.code) == ("failed", code)
    assert failed.reason == f"the waiting deployment was {status.lower()}: because"


def test_a_deployment_with_nothing_to_do_is_skipped() -> None:
    skipped = follow_queued(queued(), Audit({"status": "Skipped", "reason": "ALREADY_UP_TO_DATE: ..."}))
    assert (skipped.status, skipped.code) == ("skipped", "QUEUED_SKIPPED")


def test_a_lost_item_or_a_start_without_a_watcher_fails_the_group() -> None:
    assert follow_queued(queued(), Audit(None)).code == "QUEUED_LOST"
    no_watcher = Audit({"status": "Started"}, [{"item": "deployment"}])
    assert follow_queued(queued(), no_watcher).code == "QUEUED_LOST"


def test_the_wave_gives_up_after_its_budget_of_looks() -> None:
    given_up = follow_queued(queued(MAX_QUEUED_LOOKS - 1), Audit({"status": "Queued"}))
    assert (given_up.status, given_up.code) == ("failed", "QUEUED_TOO_LONG")
