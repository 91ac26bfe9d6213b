"""What the operator commands and the waiter read of a rollout and a group: one place for both."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.logic import groups as group_facts
from asg_refresh.logic.plan import AWS_DEFAULT_MIN_HEALTHY
from asg_refresh_cli.connection import Connection, OpsError

#: The rollout state machine's name in template.yaml (``<stack>-rollout-waves``).
ROLLOUT_STATE_MACHINE = "rollout-waves"


def rollout_items(conn: Connection, rollout_id: str, table: str | None) -> list[dict[str, Any]]:
    """The refresh items a rollout wrote to the audit table (deployment ids ``<rollout>.<wave>.<n>``)."""
    store = AuditStore(conn.gateway(), conn.find_audit_table(table))
    return [
        {"group": item["group"], "refresh_id": item["refresh_id"]}
        for item in store.rollout_refreshes(rollout_id)
    ]


def rollout_state(conn: Connection, rollout_id: str, state_machine_arn: str | None) -> dict[str, Any]:
    """The waves execution of a rollout: its status and, once it ended, every wave's verdict."""
    machine = conn.find_state_machine(ROLLOUT_STATE_MACHINE, state_machine_arn)
    arn = machine.replace(":stateMachine:", ":execution:") + f":{rollout_id}"
    try:
        described = conn.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            raise OpsError(f"no rollout {rollout_id}") from error
        raise
    ended = described.get("output") or described.get("cause")
    try:
        verdicts = json.loads(ended).get("verdicts", []) if ended else []
    except json.JSONDecodeError:
        verdicts = []
    return {"rollout": rollout_id, "status": described["status"], "verdicts": verdicts}


def group_status(conn: Connection, group: str) -> dict[str, Any]:
    described = conn.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    found = described["AutoScalingGroups"]
    if not found:
        raise OpsError(f"no Auto Scaling group {group}")
    refreshes = conn.client("autoscaling").describe_instance_refreshes(
        AutoScalingGroupName=group, MaxRecords=1
    )
    latest = (refreshes.get("InstanceRefreshes") or [{}])[0]
    instances = found[0].get("Instances", [])
    desired = int(found[0].get("DesiredCapacity", 0))
    preferences = latest.get("Preferences") or {}
    min_pct = preferences.get("MinHealthyPercentage", AWS_DEFAULT_MIN_HEALTHY)
    max_pct = preferences.get("MaxHealthyPercentage")
    return {
        "group": group,
        "refresh_id": latest.get("InstanceRefreshId"),
        "status": latest.get("Status"),  # None (JSON null): the group has never been refreshed
        "percentage_complete": latest.get("PercentageComplete", 0),
        "instances_to_update": latest.get("InstancesToUpdate", 0),
        "status_reason": latest.get("StatusReason"),
        "started": shown_time(latest.get("StartTime")),
        "ended": shown_time(latest.get("EndTime")),
        "desired": desired,
        "in_service": sum(
            1
            for i in instances
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
        ),
        "total": sum(1 for i in instances if i.get("LifecycleState") in ("InService", "Pending")),
        # The bounds as AWS rounds them (logic/plan.py and the emulation use the same rule).
        "min_healthy": math.ceil(min_pct * desired / 100),
        "max_healthy": desired if max_pct is None else math.floor(max_pct * desired / 100),
    }


def audit_store(conn: Connection, table: str | None) -> AuditStore | None:
    """The audit table, found once (by name, a List call against AWS), or None where there is
    none (another deployment of the app): what reads it then goes without."""
    try:
        return AuditStore(conn.gateway(), conn.find_audit_table(table))
    except OpsError:
        return None


#: How ``watch_note`` begins for a refresh its watcher holds for a closed time window.
HOLDING = "holding for a time window"


def held_for_window(row: dict[str, Any]) -> bool:
    """Whether the row's refresh is held by its watcher for a window: it has not ended, whatever
    AWS says of the refresh it cancelled to hold (the watcher resumes it when the window opens)."""
    return str(row.get("waiting_for") or "").startswith(HOLDING)


def watch_note(store: AuditStore | None, row: dict[str, Any]) -> str | None:
    """What a running refresh's watcher waits for, in one line, from the audit table: a person's
    approval (at which checkpoint, since when, who may answer, the commands), a closed time window
    (until when it opens; the refresh may show Cancelled meanwhile: the watcher resumes it), the
    restore of what earlier segments replaced, and deployments waiting behind the refresh. None
    when there is nothing to say or no audit table to read. Sets ``row["holding_until"]``."""
    refresh_id = row.get("refresh_id")
    row["holding_until"] = None
    if store is None or not refresh_id:
        return None
    item = store.refresh(str(refresh_id)) or {}
    holding = item.get("holding") if "outcome" not in item else None
    if row.get("status") not in group_facts.ACTIVE_REFRESH_STATUSES and not holding:
        return None
    notes = []
    if isinstance(holding, dict):
        row["holding_until"] = holding.get("until") or None
        until = shown_time(holding.get("until")) or "no opening within a year"
        notes.append(f"{HOLDING} until {until} ({holding.get('reason') or 'window closed'})")
    pending = [a for a in store.approvals_of(str(refresh_id)) if a.status == "pending"]
    if pending:
        asked = pending[-1]
        who = ", ".join(asked.allowed_approvers) or "anyone allowed to call SendTaskSuccess"
        notes.append(
            f"waiting for approval at {asked.checkpoint}% since {shown_time(asked.requested_at)} "
            f"(may answer: {who}): asg-refresh approve|reject --approval-id {asked.approval_id}"
        )
    if item.get("status") == "Restoring":
        notes.append("restoring the instances earlier segments replaced")
    waiting = store.queued_for(str(row["group"]))
    if waiting:
        notes.append(f"{len(waiting)} deployment(s) waiting behind it, newest {waiting[-1].image_id}")
    return "; ".join(notes) or None


def shown_time(value: Any) -> str | None:
    """A time as the CLI shows every time: ISO 8601 UTC to the second (AWS gives datetimes, the
    audit table ISO strings); None for none."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return timeutil.iso_seconds(moment)
