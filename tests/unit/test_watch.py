"""The watcher's decisions, from a refresh description alone (pure logic, no AWS)."""

from __future__ import annotations

from typing import Any

from asg_refresh.dal.aws import alarm_record
from asg_refresh.dal.records import Group
from asg_refresh.logic.gates import alarm_names_for, evaluate_alarms
from asg_refresh.logic.watch import POLLS_PER_EXECUTION, continuation_name, decide, next_wait
from asg_refresh.models.watch import GateVerdict, WatchProgress, WatchState

PASS = GateVerdict(gate="cloudwatch-alarms", passed=True, summary="ok")
FAIL = GateVerdict(gate="cloudwatch-alarms", passed=False, summary="web-5xx is ALARM")


def state(
    status: str | None, percentage: int = 0, watch: WatchProgress | None = None, **refresh: Any
) -> WatchState:
    refreshes = (
        []
        if status is None
        else [{"InstanceRefreshId": "r-1", "Status": status, "PercentageComplete": percentage, **refresh}]
    )
    return WatchState(
        deployment_id="d",
        group="web",
        refresh_id="r-1",
        image_id="ami-00000001",
        launch_template_id="lt-1",
        launch_template_version=2,
        describe={"InstanceRefreshes": refreshes},
        watch=watch or WatchProgress(),
    )


def test_terminal_status_is_reported_with_its_reason() -> None:
    decided = decide(state("Successful", 100), [], 15, 300)
    assert decided.decision is not None
    assert decided.decision.action == "report"
    assert decided.outcome is not None
    assert decided.outcome.succeeded is True

    failed = decide(state("Failed", 40, StatusReason="launch failed"), [], 15, 300)
    assert failed.outcome is not None
    assert (failed.outcome.succeeded, failed.outcome.reason) == (False, "launch failed")


def test_a_failed_gate_asks_for_rollback_once() -> None:
    first = decide(state("InProgress", 30), [FAIL], 15, 300)
    assert first.decision is not None
    assert first.decision.action == "rollback"
    assert first.watch.requested == "rollback"
    assert first.watch.failed_verdict == FAIL

    # The rollback was issued; the refresh still shows InProgress for a moment: wait, do not repeat.
    again = decide(state("InProgress", 30, watch=first.watch), [FAIL], 15, 300)
    assert again.decision is not None
    assert again.decision.action == "wait"


def test_rolling_back_is_waited_for_and_then_reported_with_the_gate() -> None:
    first = decide(state("InProgress", 30), [FAIL], 15, 300)
    unwinding = decide(state("RollbackInProgress", 10, watch=first.watch), [], 15, 300)
    assert unwinding.decision is not None
    assert unwinding.decision.action == "wait"
    done = decide(state("RollbackSuccessful", 100, watch=unwinding.watch), [], 15, 300)
    assert done.outcome is not None
    assert done.outcome.requested == "rollback"
    assert done.outcome.failed_gate == FAIL
    assert "gate cloudwatch-alarms failed" in (done.outcome.reason or "")


def test_an_exhausted_budget_cancels() -> None:
    watch = WatchProgress(waited_seconds=3600, budget_seconds=3600)
    decided = decide(state("InProgress", 50), [PASS], 15, 300)
    assert decided.decision is not None
    assert decided.decision.action == "wait"
    exhausted = decide(state("InProgress", 50, watch=watch), [PASS], 15, 300)
    assert exhausted.decision is not None
    assert exhausted.decision.action == "cancel"
    assert exhausted.watch.requested == "cancel"


def test_a_refresh_that_vanished_is_reported_not_polled_forever() -> None:
    decided = decide(state(None), [], 15, 300)
    assert decided.outcome is not None
    assert decided.outcome.status == "NotFound"
    assert decided.outcome.succeeded is False


def wait_for(percentage: int, watch: WatchProgress, status: str = "InProgress", **refresh: Any) -> int:
    polled = state(status, percentage, watch=watch, **refresh)
    assert polled.describe is not None
    return next_wait(polled.describe.instance_refreshes[0], polled, 15, 300)


def test_poll_interval_adapts_and_stays_in_bounds() -> None:
    prefs = {"InstanceWarmup": 300, "CheckpointPercentages": [50], "CheckpointDelay": 3600}
    # 10 % in 100 s, the checkpoint 400 s away and held 200 s: half-way to the middle of the hold.
    short_hold = {**prefs, "CheckpointDelay": 200}
    assert wait_for(10, WatchProgress(waited_seconds=100), Preferences=short_hold) == 250
    # Nothing known yet: half the warm-up.
    assert wait_for(0, WatchProgress(), Preferences=prefs) == 150
    # Holding at a checkpoint for an hour: the upper bound.
    holding = WatchProgress(waited_seconds=900, last_percentage=50, checkpoint_since=900)
    reason = (
        "Instance refresh reached checkpoint 50%. Waiting 3600 seconds (CheckpointDelay) before continuing."
    )
    assert wait_for(50, holding, Preferences=prefs, StatusReason=reason) == 300


def test_polls_close_in_on_the_expected_end() -> None:
    # 98 % after 600 s: the end is seconds away: the lower bound.
    assert wait_for(98, WatchProgress(waited_seconds=600), Preferences={}) == 15
    # 80 % after 1200 s: 300 s to go, more than a wait plus the notice interval: half of it.
    assert wait_for(80, WatchProgress(waited_seconds=1200), Preferences={}) == 150
    # 95 % after 1900 s: 100 s to go: 50.
    assert wait_for(95, WatchProgress(waited_seconds=1900), Preferences={}) == 50
    # Baking 600 s, 400 s of it done: 200 s left -> 100; 550 done -> 25.
    baking = {"BakeTime": 600}
    assert (
        wait_for(100, WatchProgress(waited_seconds=1400, baking_since=1000), "Baking", Preferences=baking)
        == 100
    )
    assert (
        wait_for(100, WatchProgress(waited_seconds=1550, baking_since=1000), "Baking", Preferences=baking)
        == 25
    )


def test_alarm_gate_fails_closed_on_alarm_and_missing_alarms() -> None:
    described = [
        alarm_record(alarm)
        for alarm in [
            {"AlarmName": "ok", "StateValue": "OK"},
            {"AlarmName": "new", "StateValue": "INSUFFICIENT_DATA"},
            {"AlarmName": "bad", "StateValue": "ALARM", "StateReason": "5xx"},
        ]
    ]
    assert evaluate_alarms(["ok", "new"], described).passed is True
    verdict = evaluate_alarms(["ok", "bad", "typo"], described)
    assert verdict.passed is False
    assert verdict.summary == "bad is ALARM; typo is MISSING"


def test_alarm_names_come_from_event_tag_and_defaults_without_duplicates() -> None:
    group = Group(name="web", tags={"asg-refresh:alarms": "tagged, shared"})
    assert alarm_names_for(group, ["event", "shared"], "asg-refresh:alarms", ["default"]) == [
        "event",
        "shared",
        "tagged",
        "default",
    ]


def test_a_long_watch_hands_over_to_the_next_generation_of_its_watcher() -> None:
    # 999 polls made by this execution: the next wait is the last one it makes
    long_watch = state("InProgress", 40).model_copy(update={"watcher": "refresh-r-1"})
    long_watch.watch.execution_polls = POLLS_PER_EXECUTION - 1
    handed = decide(long_watch, [PASS], 15, 300)

    assert handed.decision is not None
    assert (handed.decision.action, handed.decision.continue_as) == ("continue", "refresh-r-1--2")
    assert handed.decision.wait_seconds > 0  # it still waits first, then hands over
    assert (handed.watcher, handed.watch.execution_polls) == ("refresh-r-1--2", 0)
    assert handed.watch.polls == 1  # the watch's own count goes on
    assert continuation_name("refresh-r-1--2") == "refresh-r-1--3"

    # A decision that acts (a rollback) is never postponed by a hand-over
    failing = decide(long_watch, [FAIL], 15, 300)
    assert failing.decision is not None
    assert failing.decision.action == "rollback"
