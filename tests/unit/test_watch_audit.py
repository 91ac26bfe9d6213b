"""What the audit table learns from one poll of the watcher (pure logic, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from asg_refresh.logic.gates import evaluate_window
from asg_refresh.logic.watch import decide
from asg_refresh.logic.watch_audit import watch_records
from asg_refresh.models.gates import Freeze, GateConfig, TimeWindowGate
from asg_refresh.models.refresh import DescribedRefreshes
from asg_refresh.models.watch import (
    GateVerdict,
    RestartDecision,
    Restarted,
    RestoreDecision,
    ResumedRefresh,
    WatchProgress,
    WatchRecords,
    WatchState,
    WindowHold,
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


# --- Holding for a closed time window ------------------------------------------------------------
#: Monday 2026-11-23 08:50 UTC, ten minutes before a 09:00-17:00 UTC window opens.
BEFORE_NINE = datetime(2026, 11, 23, 8, 50, tzinfo=UTC)
WINDOW = TimeWindowGate(timezone="Europe/Paris", days=["Mon", "Tue"], start="10:00", end="18:00")


def test_a_hold_is_recorded_once_with_the_opening_in_utc_then_cleared_when_it_resumes() -> None:
    # Given a running refresh and a window (Paris time) closed until 10:00 Paris, 09:00 UTC
    closed = evaluate_window(WINDOW, BEFORE_NINE)
    state = polled("InProgress", percentage=10)

    # When the watcher holds it (cancels it to resume later)
    holding = decide(state, [closed], 15, 300)

    # Then the hold is recorded on the refresh, until the opening in UTC, to the second
    assert watch_records(state, holding).hold == WindowHold(
        deployment_id="d",
        group="web",
        refresh_id="r-1",
        holding=True,
        until="2026-11-23T09:00:00Z",
        reason=closed.summary,
    )
    # And the polls while it stays closed (the refresh cancelled, then paused) record nothing more
    cancelled = polled("Cancelled", percentage=10, watch=holding.watch, decision=holding.decision)
    paused = decide(cancelled, [closed], 15, 300)
    assert paused.decision is not None
    assert paused.decision.action == "wait"
    assert watch_records(cancelled, paused).hold is None
    # And when the window opens and the watcher resumes the refresh, the hold ends on that refresh
    opened = evaluate_window(WINDOW, datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    again = polled("Cancelled", percentage=10, watch=paused.watch, decision=paused.decision)
    resumed = decide(again, [opened], 15, 300)
    assert resumed.decision is not None
    assert resumed.decision.action == "restart"
    assert watch_records(again, resumed).hold == WindowHold(
        deployment_id="d", group="web", refresh_id="r-1", holding=False
    )


def test_a_hold_ends_when_a_failed_gate_stops_the_paused_deployment() -> None:
    # Given a refresh paused for a closed window
    closed = evaluate_window(WINDOW, BEFORE_NINE)
    state = polled("InProgress", percentage=0)
    holding = decide(state, [closed], 15, 300)
    paused = polled("Cancelled", watch=holding.watch, decision=holding.decision)
    # When an alarm fails meanwhile (nothing replaced yet: the watch reports Cancelled)
    alarm = GateVerdict(gate="cloudwatch-alarms", passed=False, summary="web-5xx is ALARM")
    ended = decide(paused, [closed, alarm], 15, 300)
    # Then the hold ends with the outcome
    records = watch_records(paused, ended)
    assert records.outcome is not None
    assert records.outcome.status == "Cancelled"
    assert records.hold == WindowHold(deployment_id="d", group="web", refresh_id="r-1", holding=False)


def test_a_checkpoint_held_by_a_closed_window_is_a_hold_too() -> None:
    # Given a refresh waiting at its 50 % checkpoint under hold_at_checkpoints, the window closed
    closed = evaluate_window(WINDOW, BEFORE_NINE)
    state = polled("InProgress", percentage=50).model_copy(
        update={
            "gates": GateConfig(hold_at_checkpoints=True, window=WINDOW),
            "preferences": {"CheckpointPercentages": [50]},
        }
    )
    at_checkpoint = state.model_copy(
        update={
            "describe": DescribedRefreshes.model_validate(
                {
                    "InstanceRefreshes": [
                        {
                            "InstanceRefreshId": "r-1",
                            "Status": "InProgress",
                            "PercentageComplete": 50,
                            "StatusReason": "Waiting at checkpoint",
                            "Preferences": {"CheckpointPercentages": [50]},
                        }
                    ]
                }
            )
        }
    )
    # When the watcher keeps it waiting there
    decided = decide(at_checkpoint, [closed], 15, 300)
    # Then the hold is recorded, until the window opens
    assert decided.decision is not None
    assert decided.decision.action == "wait"
    hold = watch_records(at_checkpoint, decided).hold
    assert hold is not None
    assert (hold.holding, hold.until) == (True, "2026-11-23T09:00:00Z")


def test_a_closed_window_with_no_opening_within_a_year_holds_without_a_time() -> None:
    freeze = Freeze(start=BEFORE_NINE, end=BEFORE_NINE + timedelta(days=400), reason="forever")
    closed = evaluate_window(TimeWindowGate(freezes=[freeze]), BEFORE_NINE)
    state = polled("InProgress", percentage=10)
    hold = watch_records(state, decide(state, [closed], 15, 300)).hold
    assert hold is not None
    assert (hold.holding, hold.until) == (True, None)
    assert hold.reason is not None
    assert "forever" in hold.reason
