"""Every active refresh of an opted-in group has exactly one running watcher.

A watcher can be missing because StartRefresh timed out between StartInstanceRefresh and
StartExecution, because its execution failed (a Lambda error it could not get past), or because
the refresh was started by hand. The reconciler, run on a schedule, finds such refreshes and
starts a watcher for each. Watchers are named after the refresh (``refresh-<id>``, then
``refresh-<id>-2``...), so a running one is never duplicated; a watch that continued in a fresh
execution (``<watcher>--2``...) is followed through its chain.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from asg_refresh.dal.ports import AuditLog, Executions, ReconcilePorts
from asg_refresh.dal.records import Execution, Group
from asg_refresh.logic import groups as group_facts
from asg_refresh.logic.gates import alarm_names_tagged
from asg_refresh.logic.watch_input import watch_payload
from asg_refresh.models.watch import WatchInput, WatchProgress
from asg_refresh.settings import Settings

MAX_WATCHERS_PER_REFRESH = 20
#: Generations of one watcher followed at most (each one polls 1,000 times: years of watching).
MAX_CONTINUATIONS = 100


class WatcherCheck(BaseModel):
    group: str
    refresh_id: str
    action: Literal["watched", "started", "gave-up"]
    execution_name: str | None = None


def reconcile_watchers(aws: ReconcilePorts, settings: Settings, audit: AuditLog | None) -> list[WatcherCheck]:
    if not settings.state_machine_arn:
        return []
    checks = []
    for group in aws.groups_with_tags({settings.opt_in_tag_key: settings.opt_in_tag_value}):
        active = group_facts.active_refresh(aws.describe_refreshes(group.name))
        if active:
            checks.append(_ensure_watcher(group, active, aws, settings, audit))
    return checks


def _ensure_watcher(
    group: Group,
    refresh: dict[str, Any],
    aws: ReconcilePorts,
    settings: Settings,
    audit: AuditLog | None,
) -> WatcherCheck:
    assert settings.state_machine_arn
    name, refresh_id = group.name, str(refresh["InstanceRefreshId"])
    recorded = audit.refresh(refresh_id) if audit else None
    # A refresh resumed after a hold or promote is watched by the execution that resumed it.
    known = (recorded or {}).get("watcher")
    described = aws.execution(settings.state_machine_arn, known) if known else None
    running = _running_in_chain(aws, settings.state_machine_arn, described)
    if running:
        return WatcherCheck(group=name, refresh_id=refresh_id, action="watched", execution_name=running)
    base = group_facts.execution_name(refresh_id)
    for attempt in range(1, MAX_WATCHERS_PER_REFRESH + 1):
        execution = base if attempt == 1 else f"{base}-{attempt}"
        described = aws.execution(settings.state_machine_arn, execution)
        if described is None:
            payload = _watch_input(group, refresh, aws, settings, recorded) | {"watcher": execution}
            aws.start_execution(settings.state_machine_arn, execution, payload)
            return WatcherCheck(group=name, refresh_id=refresh_id, action="started", execution_name=execution)
        running = _running_in_chain(aws, settings.state_machine_arn, described)
        if running:
            return WatcherCheck(group=name, refresh_id=refresh_id, action="watched", execution_name=running)
    return WatcherCheck(group=name, refresh_id=refresh_id, action="gave-up")


def _running_in_chain(aws: Executions, state_machine_arn: str, execution: Execution | None) -> str | None:
    """The name of ``execution`` (a DescribeExecution answer), or of the execution a long watch
    handed over to (and so on), if that one runs."""
    for _ in range(MAX_CONTINUATIONS):
        if execution is None:
            return None
        if execution.status == "RUNNING":
            return execution.name
        handed_over = execution.continued_as
        if execution.status != "SUCCEEDED" or not handed_over:
            return None
        execution = aws.execution(state_machine_arn, handed_over)
    return None


def _watch_input(
    group: Group,
    refresh: dict[str, Any],
    aws: ReconcilePorts,
    settings: Settings,
    recorded: dict[str, Any] | None,
) -> dict[str, Any]:
    refresh_id = str(refresh["InstanceRefreshId"])
    spec = group_facts.launch_template_of(refresh.get("DesiredConfiguration") or {}) or {}
    image_id = ""
    if spec.get("Version"):
        image_id = aws.template_version(spec, spec["Version"]).image_id
    version = str(spec.get("Version", ""))
    watch = WatchInput(
        deployment_id=(recorded or {}).get("deployment_id") or f"adopted-{refresh_id}",
        group=group.name,
        refresh_id=refresh_id,
        image_id=image_id,
        launch_template_id=str(spec.get("LaunchTemplateId", "")),
        launch_template_version=int(version) if version.isdigit() else None,
        alarms=(recorded or {}).get("alarms")
        or alarm_names_tagged(group.tag(settings.alarm_tag_key), [], settings.default_alarm_names),
        # The refresh's own Preferences: its checkpoint delays and bake time set the budget.
        preferences=refresh.get("Preferences") or {},
    )
    progress = WatchProgress()
    restores = (recorded or {}).get("restores")
    if restores:
        # A restore is not a deployment to gate: follow it to its end and report the rollback it completes.
        progress = WatchProgress(
            requested="rollback",
            reason="a rollback whose restore lost its watcher",
            restore_of=str(restores),
            restore_refresh_id=refresh_id,
        )
    return watch_payload(watch, progress)
