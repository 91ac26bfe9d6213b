"""Gates beyond alarms, and hold and promote at checkpoints, end to end on the emulation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh_local.clock import CLOCK
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.wait_scheduler import SCHEDULER
from tests.integration.conftest import approvals, outcomes

PREFS = {"MinHealthyPercentage": 50, "InstanceWarmup": 60, "AlarmSpecification": {"Alarms": []}}


def deploy(app: LocalApp, image_id: str, group: str, **extra: Any) -> dict[str, Any]:
    answer = app.invoke(
        "StartRefreshFunction", {"image_id": image_id, "groups": [group], "preferences": PREFS, **extra}
    )
    assert answer["success"], answer
    return answer["data"]["refreshes"][0]


def deploy_holding_at_25_and_50(app: LocalApp, image_id: str) -> dict[str, Any]:
    """Deploy ``image_id`` to web, holding at 25 % and 50 % until the gates pass."""
    preferences = {**PREFS, "CheckpointPercentages": [25, 50]}
    return deploy(app, image_id, "web", preferences=preferences, gates={"hold_at_checkpoints": True})


def refresh_ids(app: LocalApp, fleet: Fleet, group: str) -> list[str]:
    return [r["InstanceRefreshId"] for r in reversed(fleet.refreshes(group))]


def test_hold_and_promote_replaces_everything_in_segments(app: LocalApp, fleet: Fleet) -> None:
    # Given a deployment that holds at 25 % and 50 % until the gates pass
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx")
    fleet.group("web", old, size=4, alarms=["web-5xx"])
    started = deploy_holding_at_25_and_50(app, new)

    # When the watcher runs to the end
    execution = app.wait_for_execution(started["execution_arn"])

    # Then it promoted past both checkpoints (three refreshes: two cancelled, one successful) long
    # before AWS's 48-hour checkpoint delay would have, and every instance is on the new image
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    statuses = [r["Status"] for r in reversed(fleet.refreshes("web"))]
    assert statuses == ["Cancelled", "Cancelled", "Successful"]
    first = fleet.refreshes("web")[-1]
    assert first["Preferences"]["CheckpointDelay"] == 172_800
    last = fleet.refreshes("web")[0]
    assert last["Preferences"]["SkipMatching"] is True
    assert "CheckpointPercentages" not in last["Preferences"]
    assert fleet.instance_images("web") == [new] * 4
    (outcome,) = outcomes(app)
    assert outcome["segments"] == refresh_ids(app, fleet, "web")[:2]
    assert outcome["watched_seconds"] < 172_800


def _alarm_when(fleet: Fleet, emulation: Any, fired: Callable[[list[dict[str, Any]]], bool]) -> Any:
    """A clock listener that sets web-5xx to ALARM once ``fired`` holds for web's timeline."""

    def listener(now: Any) -> None:
        if fired(emulation.timeline("web")):
            fleet.set_alarm("web-5xx", "ALARM", "5xx rate above 5 %")

    return listener


def _at_the_second_checkpoint(timeline: list[dict[str, Any]]) -> bool:
    return any(s["event"] == "checkpoint" for s in timeline if s["refresh_id"] != timeline[0]["refresh_id"])


def _between_two_segments(timeline: list[dict[str, Any]]) -> bool:
    return any(s["status"] == "Cancelled" for s in timeline)


@pytest.mark.parametrize(
    ("fired", "version", "says"),
    [
        # the watcher rolls the second segment back
        (_at_the_second_checkpoint, "1", "web-5xx is ALARM; the instances"),
        # the first segment is cancelled and not yet resumed: nothing to roll back
        (_between_two_segments, "1", "failed while paused"),
        # a group on $Latest: its own configuration is now the new version, so the restore pins
        # the version it ran before; AWS cannot roll its segment back, so the watcher cancels it
        # and restores all the same
        (_between_two_segments, "$Latest", "failed while paused"),
        (_at_the_second_checkpoint, "$Latest", "rollback impossible, cancelled"),
    ],
)
def test_a_failed_gate_after_a_promote_puts_every_instance_back(
    app: LocalApp,
    fleet: Fleet,
    emulation: Any,
    fired: Callable[[list[dict[str, Any]]], bool],
    version: str,
    says: str,
) -> None:
    # Given a deployment that holds at 25 % and 50 %, and an alarm that fires at ``fired``
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx")
    fleet.group("web", old, size=4, alarms=["web-5xx"], version=version)
    listener = _alarm_when(fleet, emulation, fired)
    CLOCK.add_listener(listener)
    try:
        started = deploy_holding_at_25_and_50(app, new)
        execution = app.wait_for_execution(started["execution_arn"])
    finally:
        CLOCK.remove_listener(listener)

    # Then a last refresh towards the version the group ran before put back what earlier segments
    # replaced: every instance is on the old image, and the outcome is a rollback that says how
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RefreshRollbackSuccessful"
    restore = fleet.refreshes("web")[0]
    assert restore["Status"] == "Successful"
    assert restore["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "1"
    assert restore["Preferences"]["SkipMatching"] is True
    assert not restore["Preferences"].get("CheckpointPercentages")
    assert fleet.instance_images("web") == [old] * 4
    (outcome,) = outcomes(app)
    assert outcome["status"] == "RollbackSuccessful"
    assert outcome["requested"] == "rollback"
    assert outcome["restore_refresh_id"] == restore["InstanceRefreshId"]
    assert outcome["failed_gate"]["gate"] == "cloudwatch-alarms"
    assert outcome["reason"].endswith(f"restored by refresh {restore['InstanceRefreshId']}")
    assert says in outcome["reason"]
    audit = AuditStore(AwsGateway("us-east-1"), app.physical_id("AuditTable"))
    restored = audit.refresh(restore["InstanceRefreshId"])
    assert restored is not None
    assert (restored["restores"], restored["status"]) == (outcome["refresh_id"], "RollbackSuccessful")


def test_a_closed_time_window_holds_and_resumes_when_it_opens(app: LocalApp, fleet: Fleet) -> None:
    # Given Monday 08:50 UTC and a window that opens at 09:00
    CLOCK.reset(start=datetime(2026, 11, 23, 8, 50, tzinfo=UTC))
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)
    window = {
        "timezone": "UTC",
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri"],
        "start": "09:00",
        "end": "17:00",
    }

    started = deploy(app, new, "web", gates={"window": window})
    execution = app.wait_for_execution(started["execution_arn"])

    # Then the first refresh was stopped at once, and a second one did the work after 09:00
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    first, second = reversed(fleet.refreshes("web"))
    assert first["Status"] == "Cancelled"
    assert second["Status"] == "Successful"
    assert second["StartTime"] >= datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert fleet.instance_images("web") == [new] * 4


def test_a_change_freeze_holds(app: LocalApp, fleet: Fleet) -> None:
    CLOCK.reset(start=datetime(2026, 12, 24, 12, 0, tzinfo=UTC))
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    freeze = {"start": "2026-12-24T00:00:00Z", "end": "2026-12-24T13:00:00Z", "reason": "holidays"}

    started = deploy(app, new, "web", gates={"window": {"freezes": [freeze]}})
    execution = app.wait_for_execution(started["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    second = fleet.refreshes("web")[0]
    assert second["StartTime"] >= datetime(2026, 12, 24, 13, 0, tzinfo=UTC)


def test_metric_threshold_breach_rolls_back(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)
    gate = {
        "name": "p99-latency",
        "namespace": "Web",
        "metric_name": "LatencyP99",
        "dimensions": {"Group": "web"},
        "statistic": "Maximum",
        "threshold": 0.5,
    }
    app.client("cloudwatch").put_metric_data(
        Namespace="Web",
        MetricData=[
            {
                "MetricName": "LatencyP99",
                "Dimensions": [{"Name": "Group", "Value": "web"}],
                "Timestamp": CLOCK.now(),
                "Value": 2.5,
            }
        ],
    )

    started = deploy(app, new, "web", gates={"metrics": [gate]})
    execution = app.wait_for_execution(started["execution_arn"])

    assert execution["status"] == "FAILED"
    assert fleet.refreshes("web")[0]["Status"] == "RollbackSuccessful"
    (outcome,) = outcomes(app)
    assert outcome["failed_gate"]["gate"] == "metric-threshold"
    assert outcome["failed_gate"]["evidence"][0]["reason"] == "Maximum 2.5 vs threshold 0.5"


def _approval_requests(app: LocalApp) -> list[dict[str, Any]]:
    messages = [json.loads(m["Body"]["Message"]) for m in app.messages("NotificationsTopic")]
    return [m for m in messages if m.get("kind") == "approval-request"]


def _waits(execution_arn: str) -> bool:
    return any(execution == execution_arn for execution, _ in SCHEDULER.waiting())


def _deploy_with_approval_at_half(app: LocalApp, fleet: Fleet) -> tuple[str, str, dict[str, Any]]:
    """A group of four on an old image, and a deployment that asks a person at 50 %, for at
    most an hour: (old image, new image, the started refresh)."""
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)
    started = deploy(
        app,
        new,
        "web",
        preferences={**PREFS, "CheckpointPercentages": [50]},
        gates={"approval": {"timeout_seconds": 3600}},
    )
    return old, new, started


def _answer_approval(app: LocalApp, refresh_id: str, approve: bool) -> threading.Thread:
    """A person, on another thread: waits for the approval request and answers it with the task
    token kept in the audit table (the notification only names the approval)."""
    sfn = app.client("stepfunctions")
    done = threading.Event()

    def person() -> None:
        while not done.is_set():
            tokens = [a.token for a in approvals(app, refresh_id)] if _approval_requests(app) else []
            if tokens:
                if approve:
                    sfn.send_task_success(
                        taskToken=tokens[0], output=json.dumps({"approved": True, "by": "ana"})
                    )
                else:
                    sfn.send_task_failure(taskToken=tokens[0], error="Rejected", cause="p99 looks off")
                return
            done.wait(0.01)

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("approve", "status", "final"),
    [(True, "SUCCEEDED", "Successful"), (False, "FAILED", "RollbackSuccessful")],
)
def test_manual_approval_at_a_checkpoint(
    app: LocalApp, fleet: Fleet, approve: bool, status: str, final: str
) -> None:
    old, new, started = _deploy_with_approval_at_half(app, fleet)

    person = _answer_approval(app, started["refresh_id"], approve)
    with SCHEDULER.driving():
        person.join(timeout=60)
    execution = app.wait_for_execution(started["execution_arn"])

    assert execution["status"] == status
    assert fleet.refreshes("web")[0]["Status"] == final
    expected = new if approve else old
    assert fleet.instance_images("web") == [expected] * 4
    if not approve:
        outcome = outcomes(app)[-1]
        assert outcome["failed_gate"]["gate"] == "manual-approval"


def test_an_approval_nobody_answers_times_out_on_the_virtual_clock_and_rolls_back(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a deployment waiting for a person at its 50 % checkpoint, for at most an hour
    old, _, started = _deploy_with_approval_at_half(app, fleet)
    asked = threading.Event()
    with SCHEDULER.driving():
        # Asked, and waiting for its token (so that the hour below counts from the wait's start)
        while not (_approval_requests(app) and _waits(started["execution_arn"])):
            asked.wait(0.01)

    # When nobody answers and the hour passes (virtually: the clock never jumps to an approval's
    # deadline by itself, since a person may be about to answer)
    CLOCK.advance(3601)
    execution = app.wait_for_execution(started["execution_arn"])

    # Then the task timed out as AWS times it out, and the refresh was rolled back
    assert execution["status"] == "FAILED"
    assert fleet.refreshes("web")[0]["Status"] == "RollbackSuccessful"
    assert fleet.instance_images("web") == [old] * 4
    outcome = outcomes(app)[-1]
    assert outcome["failed_gate"]["gate"] == "manual-approval"
    summary = outcome["failed_gate"]["summary"]
    assert "not approved: nobody answered before the gate timed out (States.Timeout)" in summary
