"""Block until a rollout, a deployment or a group's refresh ends: for pipelines and Python callers.

``wait_for`` names what it waited for, how it ended and the exit code the CLI returns. Against
the local server it never sleeps on the wall clock: each poll moves the server's virtual clock
(``POST /_asg_refresh/clock/advance``) instead, so a one-hour refresh is waited for in seconds.
"""

from __future__ import annotations

import enum
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asg_refresh.dal.audit import AuditStore
from asg_refresh.logic.groups import ACTIVE_REFRESH_STATUSES
from asg_refresh_cli.connection import Connection, OpsError
from asg_refresh_cli.reads import (
    ROLLOUT_STATE_MACHINE,
    audit_store,
    group_status,
    rollout_items,
    rollout_state,
)

CLOCK_PATH = "/_asg_refresh/clock"


class WaitOutcome(enum.Enum):
    """How the wait ended; the value is the CLI's exit code (documented in docs/rollouts.md)."""

    SUCCESSFUL = 0
    ROLLED_BACK = 3
    CANCELLED = 4
    FAILED = 5
    TIMED_OUT = 6


#: A refresh's final status → the wait's outcome (worst wins across groups).
_REFRESH_OUTCOMES = {
    "Successful": WaitOutcome.SUCCESSFUL,
    "RollbackSuccessful": WaitOutcome.ROLLED_BACK,
    "Cancelled": WaitOutcome.CANCELLED,
    "Failed": WaitOutcome.FAILED,
    "RollbackFailed": WaitOutcome.FAILED,
}
_SEVERITY = [
    WaitOutcome.SUCCESSFUL,
    WaitOutcome.CANCELLED,
    WaitOutcome.ROLLED_BACK,
    WaitOutcome.FAILED,
    WaitOutcome.TIMED_OUT,
]


@dataclass(frozen=True)
class WaitResult:
    target: str
    kind: str  # "rollout", "deployment" or "group"
    outcome: WaitOutcome
    reason: str
    groups: dict[str, str] = field(default_factory=dict)  # group -> its refresh's last status

    @property
    def exit_code(self) -> int:
        return self.outcome.value


@dataclass
class _Poll:
    finished: bool
    groups: dict[str, str]
    rollout_status: str | None = None
    reason: str = ""


def _worst(outcomes: list[WaitOutcome]) -> WaitOutcome:
    return max(outcomes, key=_SEVERITY.index, default=WaitOutcome.SUCCESSFUL)


def _is_local(conn: Connection) -> bool:
    """Whether the endpoint is ``asg-refresh local serve`` (it answers the clock path)."""
    if not conn.endpoint_url:
        return False
    try:
        with urllib.request.urlopen(conn.endpoint_url.rstrip("/") + CLOCK_PATH, timeout=10) as answer:  # noqa: S310
            return "now" in json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


def advance_clock(conn: Connection, seconds: float) -> None:
    """Move the local server's virtual clock by ``seconds`` (never against AWS)."""
    request = urllib.request.Request(  # noqa: S310 - the operator's own endpoint
        str(conn.endpoint_url).rstrip("/") + CLOCK_PATH + "/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        answer.read()


def _rollout_exists(conn: Connection, target: str, state_machine_arn: str | None) -> bool:
    try:
        rollout_state(conn, target, state_machine_arn)
    except OpsError:
        return False
    return True


def _group_exists(conn: Connection, target: str) -> bool:
    found = conn.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[target])
    return bool(found["AutoScalingGroups"])


def _refresh_statuses(conn: Connection, refreshes: dict[str, str]) -> dict[str, str]:
    """group -> status of the named refresh (group -> refresh id)."""
    statuses = {}
    for group, refresh_id in refreshes.items():
        found = conn.client("autoscaling").describe_instance_refreshes(
            AutoScalingGroupName=group, InstanceRefreshIds=[refresh_id]
        )["InstanceRefreshes"]
        statuses[group] = found[0]["Status"] if found else "Pending"
    return statuses


@dataclass(frozen=True)
class _Target:
    """What is waited for, and where its state is read."""

    name: str
    kind: str  # "rollout", "deployment" or "group"
    state_machine_arn: str | None
    audit_table: str | None
    store: AuditStore | None


def wait_for(
    conn: Connection,
    target: str,
    *,
    timeout: float = 3600.0,
    poll_seconds: float = 30.0,
    state_machine_arn: str | None = None,
    audit_table: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> WaitResult:
    """Wait for ``target``: a rollout id, a deployment id or an Auto Scaling group name.

    ``timeout`` and ``poll_seconds`` are in the server's time: virtual seconds locally (the
    clock is advanced by ``poll_seconds`` each poll), wall seconds against AWS.
    """
    local = _is_local(conn)
    found = _find_target(conn, target, state_machine_arn, audit_table)
    waited = 0.0
    started = time.monotonic()
    last_line = ""
    while True:
        current = _poll(conn, found)
        line = f"{target}: " + ", ".join(
            [f"rollout {current.rollout_status}"] * bool(current.rollout_status)
            + [f"{g} {s}" for g, s in sorted(current.groups.items())]
        )
        if on_progress and line != last_line:
            on_progress(line)
            last_line = line
        if current.finished:
            return _result(target, found.kind, current)
        spent = waited if local else time.monotonic() - started
        if spent >= timeout:
            return WaitResult(
                target, found.kind, WaitOutcome.TIMED_OUT, f"not ended after {timeout:g} s", current.groups
            )
        if local:
            advance_clock(conn, poll_seconds)  # virtual time: never sleep on the wall clock
            waited += poll_seconds
        else:
            time.sleep(poll_seconds)  # a real refresh: wall time is the point here


def _find_target(
    conn: Connection, target: str, state_machine_arn: str | None, audit_table: str | None
) -> _Target:
    """Whether ``target`` is a rollout, a group or a deployment, in that order of trying."""
    kind: str
    if _rollout_exists(conn, target, state_machine_arn):
        kind = "rollout"
        # Found once, not at every poll (each is a List call against AWS).
        state_machine_arn = conn.find_state_machine(ROLLOUT_STATE_MACHINE, state_machine_arn)
    elif _group_exists(conn, target):
        kind = "group"
    else:
        kind = "deployment"
    store = None
    if kind != "group":
        audit_table = conn.find_audit_table(audit_table)
        store = AuditStore(conn.gateway(), audit_table)
    else:
        store = audit_store(conn, audit_table)  # where there is one: to see a watcher's hold
    if kind == "deployment" and not (store and store.deployment(target)):
        raise OpsError(f"no rollout, deployment or Auto Scaling group named {target}")
    return _Target(target, kind, state_machine_arn, audit_table, store)


def _poll(conn: Connection, target: _Target) -> _Poll:
    if target.kind == "group":
        row = group_status(conn, target.name)
        status = row["status"] or "-"  # None: never refreshed
        held = bool(target.store and row["refresh_id"] and _held(target.store.refresh(row["refresh_id"])))
        return _Poll(
            finished=status not in ACTIVE_REFRESH_STATUSES and not held,
            groups={target.name: status},
            reason=row.get("status_reason") or "",
        )
    if target.kind == "deployment":
        assert target.store is not None
        items = target.store.deployment(target.name)
        statuses = _refresh_statuses(conn, _current_refreshes(items))
        return _Poll(
            finished=all(s not in ACTIVE_REFRESH_STATUSES for s in statuses.values())
            and not any(_held(i) for i in items),
            groups=statuses,
        )
    state = rollout_state(conn, target.name, target.state_machine_arn)
    rows = {i["group"]: i["refresh_id"] for i in rollout_items(conn, target.name, target.audit_table)}
    statuses = _refresh_statuses(conn, rows)
    # Why groups failed their waves (a refusal, a queued deployment dropped...), where known.
    reasons = [f"{g}: {why}" for v in state["verdicts"] for g, why in (v.get("reasons") or {}).items()]
    return _Poll(
        # Not before its groups' refreshes have settled: a cancel can still be Cancelling.
        finished=state["status"] != "RUNNING"
        and all(s not in ACTIVE_REFRESH_STATUSES for s in statuses.values()),
        groups=statuses,
        rollout_status=state["status"],
        reason="; ".join(reasons),
    )


def _held(item: dict[str, Any] | None) -> bool:
    """Whether a refresh's audit item says its watcher holds it for a closed time window (AWS
    shows the refresh Cancelled meanwhile; the watcher resumes it when the window opens)."""
    return bool(item and item.get("holding") and not item.get("outcome"))


def _current_refreshes(items: list[dict[str, Any]]) -> dict[str, str]:
    """group -> the refresh that stands for the deployment there: not one a later segment resumed
    (after a hold or a promote), nor a restore (the refresh it restores says how it ended)."""
    resumed = {i.get("resumes") for i in items}
    return {
        i["group"]: i["refresh_id"]
        for i in items
        if i.get("refresh_id") and i.get("group") and i["refresh_id"] not in resumed and not i.get("restores")
    }


def _result(target: str, kind: str, current: _Poll) -> WaitResult:
    by_group = [_REFRESH_OUTCOMES.get(s, WaitOutcome.SUCCESSFUL) for s in current.groups.values()]
    if kind == "rollout":
        if current.rollout_status == "SUCCEEDED":
            outcome = WaitOutcome.SUCCESSFUL
        elif current.rollout_status == "ABORTED":
            outcome = WaitOutcome.CANCELLED
        else:
            # The rollout failed: say whether its groups were rolled back or cancelled.
            outcome = _worst([o for o in by_group if o is not WaitOutcome.SUCCESSFUL])
            if outcome is WaitOutcome.SUCCESSFUL:
                outcome = WaitOutcome.FAILED
        reason = current.reason or f"rollout {current.rollout_status}"
    else:
        outcome = _worst(by_group)
        reason = current.reason or ", ".join(f"{g} {s}" for g, s in sorted(current.groups.items()))
    return WaitResult(target, kind, outcome, reason, current.groups)


def describe(result: WaitResult) -> str:
    """The one line the CLI prints at the end."""
    return f"{result.kind} {result.target}: {result.outcome.name.lower().replace('_', ' ')} ({result.reason})"
