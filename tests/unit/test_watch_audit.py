"""What the audit table learns from one poll of the watcher (pure logic, no AWS)."""

from __future__ import annotations

from typing import Any

from asg_refresh.logic.watch import decide
from asg_refresh.logic.watch_audit import watch_records
from asg_refresh.models.watch import (
    RestartDecision,
    Restarted,
    RestoreDecision,
    ResumedRefresh,
    WatchProgress,
    WatchRecords,
    WatchState,
)


def polled(status: str, refresh_id: str = "r-1", percentage: int = 0, **update: Any) -> WatchState:
    """The state the state machine passes to EvaluateGates, the refresh described as ``status``."""
    described = {"InstanceRefreshId": refresh_id, "Status": status, "PercentageComplete": percentage}
    return WatchState.model_validate(
        {
            "deployment_id": "d",
            "group": "web",
            "refresh_id": refresh_id,
            "image_id": "ami-00000001",
            "launch_template_id": "lt-1",
            "launch_template_version": 2,
            "watcher": "refresh-r-1",
            "describe": {"InstanceRefreshes": [described]},
        }
    ).model_copy(update=update)


def test_a_poll_that_only_waits_records_nothing() -> None:
    # Given a refresh in progress, when the watcher decides to wait
    state = polled("InProgress", percentage=30)
    decided = decide(state, [], 15, 300)
    # Then the audit table learns nothing
    assert decided.decision is not None
    assert decided.decision.action == "wait"
    assert watch_records(state, decided) == WatchRecords()


def test_a_refresh_resumed_after_a_promote_is_recorded_beside_the_one_it_resumes() -> None:
    # Given the state machine restarted r-1 as r-2 after a promote (the watcher follows r-2)
    state = polled(
        "InProgress",
        refresh_id="r-2",
        restarted=Restarted(InstanceRefreshId="r-2", previous="r-1"),
        decision=RestartDecision(wait_seconds=15, restart_preferences={}),
        watch=WatchProgress(requested="promote"),
    )
    decided = decide(state, [], 15, 300)
    # Then the new refresh is recorded as resuming r-1, watched by the same execution
    assert watch_records(state, decided) == WatchRecords(
        resumed=ResumedRefresh(
            deployment_id="d", group="web", refresh_id="r-2", previous="r-1", watcher="refresh-r-1"
        )
    )


def test_a_restore_refresh_is_recorded_as_restoring() -> None:
    # Given the state machine started the restore refresh r-3 after r-1 was rolled back
    state = polled(
        "InProgress",
        refresh_id="r-3",
        restarted=Restarted(InstanceRefreshId="r-3", previous="r-1"),
        decision=RestoreDecision(wait_seconds=15, restart_preferences={}),
        watch=WatchProgress(requested="rollback", restore_of="r-1", segments=["r-0"]),
    )
    decided = decide(state, [], 15, 300)
    # Then it is recorded as restoring, not resuming
    records = watch_records(state, decided)
    assert records.resumed is not None
    assert (records.resumed.refresh_id, records.resumed.previous, records.resumed.restore) == (
        "r-3",
        "r-1",
        True,
    )
    assert records.outcome is None


def test_a_restart_that_names_no_previous_refresh_is_recorded_with_an_empty_one() -> None:
    state = polled(
        "InProgress",
        refresh_id="r-2",
        restarted=Restarted(InstanceRefreshId="r-2"),
        decision=RestartDecision(wait_seconds=15, restart_preferences={}),
    )
    records = watch_records(state, decide(state, [], 15, 300))
    assert records.resumed is not None
    assert records.resumed.previous == ""


def test_the_outcome_is_recorded_when_the_watch_ends() -> None:
    # Given a refresh that succeeded, when the watcher reports
    state = polled("Successful", percentage=100)
    decided = decide(state, [], 15, 300)
    # Then the outcome, exactly as reported, is what the audit table records
    assert decided.outcome is not None
    assert watch_records(state, decided) == WatchRecords(outcome=decided.outcome)
