"""Latency: how long after a status change the watcher sees it, and how long after an alarm
enters ALARM the refresh is rolled back (by the alarm event, and by the watcher's gate)."""

from __future__ import annotations

import json
import threading
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.calls import CALLS
from benchmarks.support.local import local_app, secs
from benchmarks.support.output import ok, table
from benchmarks.support.watch import Scenario, create_machine, scenarios, start_refresh, watch_run

TITLE = "Latency (status changes, alarm to rollback)"


def _timer_definition(delay: int, alarm: str | None) -> str:
    states: dict[str, Any] = {"Wait": {"Type": "Wait", "Seconds": delay, "Next": "Fire" if alarm else "Done"}}
    if alarm:
        states["Fire"] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:cloudwatch:setAlarmState",
            "Parameters": {
                "AlarmName": alarm,
                "StateValue": "ALARM",
                "StateReason": "benchmark: 5xx above 5 %",
            },
            "ResultPath": None,
            "Next": "Done",
        }
    states["Done"] = {"Type": "Succeed"}
    return json.dumps({"StartAt": "Wait", "States": states})


def _alarm_event(alarm: str) -> dict[str, Any]:
    from asg_refresh_local.samples import SAMPLE_ALARM, load_event

    event = load_event("alarm_state_change", {SAMPLE_ALARM: alarm})
    event["detail"]["state"]["value"] = "ALARM"
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }


def alarm_run(app: Any, fleet: Any, sc: Scenario, offset: int, path: str, n: int) -> dict[str, Any]:
    """An alarm enters ALARM ``offset`` virtual seconds into the refresh; how long until
    RollbackInstanceRefresh is issued (``path``: "event" via EventBridge, "polling" via the
    watcher's gate). Native AlarmSpecification is off so that our code is what acts."""
    group, alarm = f"alarm-{path}-{n}", f"alarm-{path}-{n}-5xx"
    old, new = fleet.image(f"{group}-old"), fleet.image(f"{group}-new")
    fleet.alarm(alarm)
    fleet.group(group, old, size=sc.size, warmup=sc.warmup, alarms=[alarm])
    sfn = app.client("stepfunctions")
    timer = create_machine(
        app, f"bench-timer-{group}", _timer_definition(offset, alarm if path == "polling" else None)
    )
    mark = CALLS.mark()
    invocations_before = len(app.invocations("AlarmRollbackFunction"))
    started = start_refresh(app, group, new, sc.preferences | {"AlarmSpecification": {"Alarms": []}})
    timer_arn = sfn.start_execution(stateMachineArn=timer, name=f"{group}-timer", input="{}")["executionArn"]
    app.wait_for_execution(timer_arn)
    same_invocation = None
    if path == "event":
        fleet.set_alarm(alarm, "ALARM", "benchmark: 5xx above 5 %")
        inner = CALLS.mark()
        app.put_events([_alarm_event(alarm)])
        me = threading.get_ident()
        during = CALLS.since(inner, lambda c: c.operation == "RollbackInstanceRefresh" and c.thread == me)
        invocations = app.invocations("AlarmRollbackFunction")[invocations_before:]
        actions = [a for i in invocations for a in (i.result.get("data") or {}).get("actions", [])]
        same_invocation = (
            bool(during) and len(invocations) == 1 and any(a["action"] == "rolled-back" for a in actions)
        )
    execution = app.wait_for_execution(started["execution_arn"], timeout=300)
    calls = CALLS.since(mark)
    fired = next(
        (c.at for c in calls if c.operation == "SetAlarmState" and c.params.get("AlarmName") == alarm), None
    )
    rollback = next(
        (
            c
            for c in calls
            if c.operation == "RollbackInstanceRefresh" and c.params.get("AutoScalingGroupName") == group
        ),
        None,
    )
    polls = [
        c.at
        for c in calls
        if c.operation == "DescribeInstanceRefreshes"
        and c.params.get("InstanceRefreshIds") == [started["refresh_id"]]
    ]
    prior = [p for p in polls if fired and p <= fired]
    gap = None
    if prior and fired:
        after = next((p for p in polls if p > fired), None)
        gap = secs(prior[-1], after) if after else None
    return {
        "path": path,
        "scenario": sc.name,
        "alarm_at_offset_s": offset,
        "rollback_issued_after_s": secs(fired, rollback.at) if fired and rollback else None,
        "same_invocation": same_invocation,
        "poll_interval_in_force_s": gap,
        "outcome": (json.loads(execution.get("cause") or "{}") or {}).get("status", execution["status"]),
        "alarm_rollback_invocations": len(app.invocations("AlarmRollbackFunction")) - invocations_before,
    }


def measure(context: Context) -> dict[str, Any]:
    from asg_refresh_local.emulation import emulation_for

    status_rows = []
    with local_app() as (app, fleet):
        shipped = context.shared.get("shipped_runs")
        if shipped is None:
            shipped = [watch_run(app, fleet, sc, "shipped", {}) for sc in scenarios(context.quick)]
        # A refresh whose new instances fail their health checks: AutoRollback takes over.
        failing = Scenario(
            "failing", 8, {"MinHealthyPercentage": 75, "InstanceWarmup": 120, "AutoRollback": True}
        )
        emulation_for().faults.unhealthy_new_instances("failing-shipped", count=1)
        shipped = [*shipped, watch_run(app, fleet, failing, "shipped", {})]
        for run in shipped:
            for change in run["status_change_delays"]:
                status_rows.append({"scenario": run["scenario"], **change})
        large = scenarios(context.quick)[1]
        offsets = [90, 1000] if context.quick else [90, 1000, 2500]
        alarm_rows = [alarm_run(app, fleet, large, offsets[0], "event", 0)]
        alarm_rows += [alarm_run(app, fleet, large, off, "polling", i) for i, off in enumerate(offsets)]
    return {
        "status_changes": status_rows,
        "max_status_delay_s": max((r["delay_s"] or 0) for r in status_rows),
        "alarm_to_rollback": alarm_rows,
    }


def render(data: dict[str, Any]) -> None:
    table(
        "Status change -> watcher's first describe that sees it (virtual s)",
        ("scenario", "status", "delay s"),
        (
            (r["scenario"], r["status"], None if r["delay_s"] is None else f"{r['delay_s']:.0f}")
            for r in data["status_changes"]
        ),
    )
    table(
        "Alarm enters ALARM -> RollbackInstanceRefresh issued (virtual s)",
        ("path", "alarm at s", "rollback after s", "same invocation", "poll interval in force s", "outcome"),
        (
            (
                r["path"],
                r["alarm_at_offset_s"],
                r["rollback_issued_after_s"],
                None if r["same_invocation"] is None else ok(r["same_invocation"]),
                None if r["poll_interval_in_force_s"] is None else f"{r['poll_interval_in_force_s']:.0f}",
                r["outcome"],
            )
            for r in data["alarm_to_rollback"]
        ),
    )
