"""Gate verdicts and hold/promote decisions, from plain data (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from asg_refresh.dal.aws import metric_result_record
from asg_refresh.dal.requests import metric_queries
from asg_refresh.logic.gates import evaluate_metrics, evaluate_window, next_opening
from asg_refresh.logic.watch import checkpoint_reached, decide, needs_gates, restart_preferences
from asg_refresh.models.gates import Freeze, GateConfig, MetricGate, TimeWindowGate
from asg_refresh.models.refresh import DescribedRefreshes
from asg_refresh.models.watch import (
    Approval,
    ApproveDecision,
    CancelDecision,
    GateVerdict,
    Restarted,
    RestoreDecision,
    WaitDecision,
    WatchProgress,
    WatchState,
)

LATENCY = MetricGate(name="p99", namespace="Web", metric_name="LatencyP99", threshold=0.5)
ERRORS = MetricGate(
    name="ok-rate",
    namespace="Web",
    metric_name="Ok",
    threshold=99,
    comparison="LessThanThreshold",
    missing_data="fail",
)


def test_metric_gate_fails_on_the_worst_datapoint_and_on_missing_data_when_asked() -> None:
    answer = [{"Id": "g0", "Values": [0.2, 0.9, 0.7]}, {"Id": "g1", "Values": []}]
    results = [metric_result_record(r) for r in answer]

    verdict = evaluate_metrics([LATENCY, ERRORS], results)

    assert verdict.passed is False
    assert [e.state for e in verdict.evidence] == ["BREACHING", "BREACHING"]
    assert verdict.evidence[0].reason == "Average 0.9 vs threshold 0.5"
    assert evaluate_metrics([LATENCY], [metric_result_record({"Id": "g0", "Values": [0.1]})]).passed is True
    assert metric_queries([LATENCY])[0]["MetricStat"]["Metric"]["MetricName"] == "LatencyP99"


@pytest.mark.parametrize(
    ("when", "passed"),
    [
        (datetime(2026, 11, 23, 8, 59, tzinfo=UTC), False),  # Monday 09:59 in Paris, before the window opens
        (datetime(2026, 11, 23, 9, 30, tzinfo=UTC), True),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 11, 23, 16, 30, tzinfo=UTC), False),  # 17:30 in Paris
    ],
)
def test_time_window_in_its_own_time_zone(when: datetime, passed: bool) -> None:
    window = TimeWindowGate(
        timezone="Europe/Paris", days=["Mon", "Tue", "Wed", "Thu", "Fri"], start="10:00", end="17:00"
    )
    verdict = evaluate_window(window, when)
    assert verdict.passed is passed
    assert verdict.effect == "hold"


def test_freeze_and_bad_windows() -> None:
    window = TimeWindowGate(
        freezes=[{"start": "2026-12-24T00:00:00Z", "end": "2026-12-27T00:00:00Z", "reason": "holidays"}]
    )
    verdict = evaluate_window(window, datetime(2026, 12, 25, tzinfo=UTC))
    assert verdict.passed is False
    assert "holidays" in verdict.summary
    with pytest.raises(ValidationError, match="unknown time zone"):
        TimeWindowGate(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="must end after"):
        TimeWindowGate(freezes=[{"start": "2026-12-27T00:00:00Z", "end": "2026-12-24T00:00:00Z"}])


def state(
    status: str, percentage: int, gates: GateConfig, watch: WatchProgress | None = None, **extra: Any
) -> WatchState:
    refresh = {
        "InstanceRefreshId": "r-1",
        "Status": status,
        "PercentageComplete": percentage,
        "StatusReason": "Instance refresh reached checkpoint 50%. Waiting 172800 seconds (CheckpointDelay)",
        "Preferences": {"CheckpointPercentages": [50, 75], "CheckpointDelay": 172800},
    }
    return WatchState(
        deployment_id="d",
        group="web",
        refresh_id="r-1",
        image_id="ami-00000001",
        launch_template_id="lt-1",
        describe={"InstanceRefreshes": [refresh]},
        gates=gates,
        watch=watch or WatchProgress(),
        preferences={
            "MinHealthyPercentage": 50,
            "CheckpointPercentages": [50, 75],
            "CheckpointDelay": 172800,
        },
        **extra,
    )


def test_passing_gates_at_a_checkpoint_promote() -> None:
    decided = decide(state("InProgress", 50, GateConfig(hold_at_checkpoints=True)), [], 15, 300)
    assert decided.decision == CancelDecision(wait_seconds=15, checkpoint=50)
    assert decided.watch.requested == "promote"

    resumed = decide(
        state("Cancelled", 50, GateConfig(hold_at_checkpoints=True), watch=decided.watch), [], 15, 300
    )
    assert resumed.decision is not None
    assert resumed.decision.action == "restart"
    assert resumed.decision.restart_preferences == {
        "MinHealthyPercentage": 50,
        "CheckpointPercentages": [50],
        "CheckpointDelay": 172800,
        "SkipMatching": True,
    }


def test_approval_is_asked_once_per_checkpoint_and_a_rejection_rolls_back() -> None:
    gates = GateConfig(approval={"timeout_seconds": 600})
    asked = decide(state("InProgress", 50, gates), [], 15, 300)
    assert asked.decision == ApproveDecision(checkpoint=50)

    approved = decide(
        state(
            "InProgress",
            50,
            gates,
            watch=asked.watch,
            decision=asked.decision,
            approval=Approval(approved=True, by="ana"),
        ),
        [],
        15,
        300,
    )
    assert approved.watch.approved_checkpoints == [50]
    assert approved.decision is not None
    assert approved.decision.action == "cancel"

    rejected = decide(
        state(
            "InProgress",
            50,
            gates,
            watch=asked.watch,
            decision=asked.decision,
            approval_error={"Error": "Rejected", "Cause": "p99"},
        ),
        [],
        15,
        300,
    )
    assert rejected.decision is not None
    assert rejected.decision.action == "rollback"
    assert rejected.watch.failed_verdict is not None
    assert rejected.watch.failed_verdict.gate == "manual-approval"


def test_a_closed_window_holds_at_a_checkpoint_but_stops_a_running_batch() -> None:
    closed = GateVerdict(gate="time-window", effect="hold", passed=False, summary="outside")
    gates = GateConfig(hold_at_checkpoints=True, window=TimeWindowGate(start="09:00", end="17:00"))
    at_checkpoint = decide(state("InProgress", 50, gates), [closed], 15, 300)
    assert at_checkpoint.decision is not None
    assert at_checkpoint.decision.action == "wait"
    running = state("InProgress", 60, gates)
    assert running.describe is not None
    reasonless = running.describe.instance_refreshes[0].model_copy(update={"status_reason": None})
    running = running.model_copy(update={"describe": DescribedRefreshes(instance_refreshes=[reasonless])})
    held = decide(running, [closed], 15, 300)
    assert held.decision is not None
    assert held.decision.action == "cancel"
    assert held.watch.requested == "hold"


#: The group's configuration pinned to the version it ran before (StartRefresh records it).
BEFORE = {"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "1"}}


def test_an_alarm_while_paused_restores_what_the_deployment_replaced_instead_of_resuming() -> None:
    alarm = GateVerdict(gate="cloudwatch-alarms", passed=False, summary="web-5xx is ALARM")
    paused = state(
        "Cancelled",
        50,
        GateConfig(hold_at_checkpoints=True),
        watch=WatchProgress(requested="promote"),
        restore_configuration=BEFORE,
    )
    decided = decide(paused, [alarm], 15, 300)

    # Half the group is on the new image and nothing is active to roll back: a restore refresh
    # towards the group's own configuration, at the deployment's pace, without its checkpoints
    assert decided.outcome is None
    expected = {"MinHealthyPercentage": 50, "SkipMatching": True}
    assert decided.decision == RestoreDecision(wait_seconds=15, restart_preferences=expected)
    assert decided.watch.requested == "rollback"
    assert decided.watch.restore_of == "r-1"
    assert "not resumed" in (decided.watch.reason or "")


def test_an_alarm_while_paused_before_anything_was_replaced_stops_there() -> None:
    alarm = GateVerdict(gate="cloudwatch-alarms", passed=False, summary="web-5xx is ALARM")
    paused = state(
        "Cancelled", 0, GateConfig(), watch=WatchProgress(requested="hold"), restore_configuration=BEFORE
    )
    decided = decide(paused, [alarm], 15, 300)
    assert decided.outcome is not None
    assert decided.outcome.status == "Cancelled"
    assert decided.outcome.restore_refresh_id is None


def test_without_the_previous_version_nothing_is_restored_and_the_outcome_says_so() -> None:
    # A watcher started by the reconciler, or attached to someone else's refresh, does not know it
    alarm = GateVerdict(gate="cloudwatch-alarms", passed=False, summary="web-5xx is ALARM")
    paused = state("Cancelled", 50, GateConfig(), watch=WatchProgress(requested="promote"))
    decided = decide(paused, [alarm], 15, 300)
    assert decided.outcome is not None
    assert decided.outcome.status == "Cancelled"
    assert "previous launch template version is unknown" in (decided.outcome.reason or "")


def _restoring(status: str, reason: str | None = None) -> WatchState:
    """After a rollback of the second segment: the restore refresh r-3 was started and is now
    described with ``status``."""
    rolled_back = state(
        "RollbackSuccessful",
        0,
        GateConfig(hold_at_checkpoints=True),
        watch=WatchProgress(requested="rollback", reason="gate cloudwatch-alarms failed", segments=["r-0"]),
        restore_configuration=BEFORE,
    )
    decided = decide(rolled_back, [], 15, 300)
    assert decided.decision is not None
    assert decided.decision.action == "restore"
    restore = {"InstanceRefreshId": "r-3", "Status": status, "PercentageComplete": 100}
    restore["StatusReason"] = reason
    return decided.model_copy(
        update={
            "refresh_id": "r-3",
            "restarted": Restarted(InstanceRefreshId="r-3", previous="r-1"),
            "describe": DescribedRefreshes.model_validate({"InstanceRefreshes": [restore]}),
        }
    )


def test_a_rollback_after_a_promote_restores_the_earlier_segments() -> None:
    running = decide(_restoring("InProgress"), [], 15, 300)
    assert running.decision is not None
    assert running.decision.action == "wait"
    assert running.watch.restore_refresh_id == "r-3"
    assert running.watch.segments == ["r-0"]  # a restore is not a segment of the deployment
    assert needs_gates(running.model_copy(update={"describe": _restoring("InProgress").describe})) is False

    done = decide(_restoring("Successful"), [], 15, 300)
    assert done.outcome is not None
    assert (done.outcome.status, done.outcome.refresh_id, done.outcome.restore_refresh_id) == (
        "RollbackSuccessful",
        "r-1",
        "r-3",
    )
    assert done.outcome.reason == (
        "gate cloudwatch-alarms failed; the instances still on the new image were restored by refresh r-3"
    )


def test_a_restore_that_fails_is_a_failed_rollback() -> None:
    done = decide(_restoring("Failed", "launch failed"), [], 15, 300)
    assert done.outcome is not None
    assert done.outcome.status == "RollbackFailed"
    assert done.outcome.succeeded is False
    assert "refresh r-3 ended Failed (launch failed)" in (done.outcome.reason or "")


def test_checkpoints_are_rebased_onto_what_is_left() -> None:
    paused = state("Cancelled", 40, GateConfig())
    assert paused.describe is not None
    refresh = paused.describe.instance_refreshes[0]
    assert restart_preferences(paused, refresh)["CheckpointPercentages"] == [17, 59]
    assert (
        checkpoint_reached(refresh.model_copy(update={"status": "InProgress", "percentage_complete": 52}))
        == 50
    )


def test_a_restore_that_lost_its_watcher_is_followed_again_as_a_restore() -> None:
    # The reconciler finds the restore refresh r-3 running without a watcher; the audit says it
    # restores r-1. Its new watcher must not gate it (the alarm that stopped the deployment may
    # still be in ALARM, and rolling a restore back would put the new image back)
    from asg_refresh.dal.aws import refresh_record
    from asg_refresh.dal.records import Group
    from asg_refresh.logic.reconcile import _watch_input
    from asg_refresh.settings import Settings

    group = Group(name="web")
    refresh = {"InstanceRefreshId": "r-3", "Status": "InProgress"}
    recorded = {"deployment_id": "d", "restores": "r-1", "alarms": ["web-5xx"]}
    payload = _watch_input(group, refresh_record(refresh), None, Settings(), recorded)  # type: ignore[arg-type]
    adopted = WatchState.model_validate(payload | {"describe": {"InstanceRefreshes": [refresh]}})

    assert needs_gates(adopted) is False
    done = adopted.model_copy(
        update={
            "describe": DescribedRefreshes.model_validate(
                {"InstanceRefreshes": [{**refresh, "Status": "Successful"}]}
            )
        }
    )
    reported = decide(done, [], 15, 300)
    assert reported.outcome is not None
    assert (reported.outcome.status, reported.outcome.refresh_id) == ("RollbackSuccessful", "r-1")


WORKING_HOURS = TimeWindowGate(days=["Mon", "Tue", "Wed", "Thu", "Fri"], start="09:00", end="17:00")


@pytest.mark.parametrize(
    ("window", "now", "opens"),
    [
        # Monday before hours: this morning; Friday evening: Monday morning
        (WORKING_HOURS, datetime(2026, 11, 23, 8, 50, tzinfo=UTC), datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        (WORKING_HOURS, datetime(2026, 11, 27, 17, 30, tzinfo=UTC), datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        # inside a freeze that ends on a Sunday: the Monday after
        (
            WORKING_HOURS.model_copy(
                update={"freezes": [Freeze(start="2026-12-20T00:00:00Z", end="2026-12-27T12:00:00Z")]}
            ),
            datetime(2026, 12, 22, 10, 0, tzinfo=UTC),
            datetime(2026, 12, 28, 9, 0, tzinfo=UTC),
        ),
        # a night window on weekdays, on Saturday: it is open from Monday midnight
        (
            TimeWindowGate(days=["Mon", "Tue", "Wed", "Thu", "Fri"], start="22:00", end="02:00"),
            datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
            datetime(2026, 11, 30, 0, 0, tzinfo=UTC),
        ),
        # in its own time zone: 10:00 in Paris is 09:00 UTC in November
        (
            TimeWindowGate(timezone="Europe/Paris", start="10:00", end="17:00"),
            datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
            datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        ),
    ],
)
def test_a_closed_window_says_when_it_opens(window: TimeWindowGate, now: datetime, opens: datetime) -> None:
    assert next_opening(window, now) == opens
    verdict = evaluate_window(window, now)
    assert verdict.passed is False
    assert verdict.retry_after_seconds == int((opens - now).total_seconds())


def test_paused_outside_the_window_the_watcher_sleeps_until_it_opens_but_looks_daily() -> None:
    paused = state("Cancelled", 40, GateConfig(), watch=WatchProgress(requested="hold"))
    soon = GateVerdict(
        gate="time-window", effect="hold", passed=False, summary="closed", retry_after_seconds=600
    )
    in_a_week = soon.model_copy(update={"retry_after_seconds": 7 * 86_400})

    assert decide(paused, [soon], 15, 300).decision == WaitDecision(wait_seconds=600)
    assert decide(paused, [in_a_week], 15, 300).decision == WaitDecision(wait_seconds=86_400)
