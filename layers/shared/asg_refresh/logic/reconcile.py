"""Every active refresh of an opted-in group has exactly one running watcher.

A watcher can be missing because StartRefresh timed out between StartInstanceRefresh and
StartExecution, because its execution failed (a Lambda error it could not get past), or because
the refresh was started by hand. The reconciler finds such refreshes and starts a watcher for
each. Watchers are named after the refresh (``refresh-<id>``, then ``refresh-<id>-2``...), so a
running one is never duplicated; a watch that continued in a fresh execution (``<watcher>--2``...)
is followed through its chain.

What a run looks at grows with the refreshes under way, not with the fleet:

* the audit table's **unfinished** refreshes: those the product started (until their watcher
  reports the outcome) and **sightings** of those it did not (until the reconciler sees them end);
* a refresh's **started event** (``EC2 Auto Scaling Instance Refresh Started``) records a
  sighting, which the next scheduled run looks after. Not at once: the event can arrive before
  the product's own starter has attached its watcher (StartRefresh, or a watcher that resumed a
  held refresh), and a watcher started from the event would then lack the deployment's gates;
* a **sweep**, the backstop for events Auto Scaling did not deliver (best effort): each scheduled
  run asks about the next :data:`SWEEP_GROUPS_PER_RUN` opted-in groups in turn, one page of
  DescribeAutoScalingGroups from where the last run stopped (DescribeAutoScalingGroups says nothing
  of refreshes, so each of these costs a DescribeInstanceRefreshes). Every group is swept once
  every ``ceil(groups / SWEEP_GROUPS_PER_RUN)`` runs. A direct run (``{}``) sweeps them all.

It also **drains queues** a watcher left waiting: a deployment queued for a group (supersede
``queue`` or ``replace``) is unfinished while it waits; when nothing is active on its group and no
watcher of the group's last refresh still runs (its end-of-watch drain was lost or failed), the
run asks StartRefresh to start it, as the watcher would have (:func:`drain_lost_queues`).
"""

from __future__ import annotations

from typing import Any, Literal

from asg_refresh.dal.ports import Executions, QueueDrains, ReconcileAudit, ReconcilePorts
from asg_refresh.dal.records import Execution, Group, Refresh, active_refresh
from asg_refresh.logic import groups as group_facts
from asg_refresh.logic.gates import alarm_names_tagged
from asg_refresh.logic.watch_input import watch_payload
from asg_refresh.models.base import Model
from asg_refresh.models.queue import QueueDrain
from asg_refresh.models.watch import WatchInput, WatchProgress
from asg_refresh.settings import Settings

MAX_WATCHERS_PER_REFRESH = 20
#: Generations of one watcher followed at most (each one polls 1,000 times: years of watching).
MAX_CONTINUATIONS = 100
#: Opted-in groups a scheduled run sweeps (one DescribeInstanceRefreshes each): at 5 minutes a
#: run, 500 groups are all swept every 2 hours 5 minutes.
SWEEP_GROUPS_PER_RUN = 20
SIGHTING = "sighting"
#: The audit items of deployments waiting for a group (``queued#<deployment id>``).
QUEUED_ITEM_PREFIX = "queued#"


class WatcherCheck(Model):
    group: str
    refresh_id: str
    action: Literal["watched", "started", "gave-up", "sighted", "drained"]
    execution_name: str | None = None


def record_sighting(group: str, refresh_id: str, audit: ReconcileAudit | None) -> list[WatcherCheck]:
    """A refresh's started event: the next scheduled run looks after it (see the module's doc)."""
    if audit is None:
        return []
    audit.record_sighting(group, refresh_id)
    return [WatcherCheck(group=group, refresh_id=refresh_id, action="sighted")]


def reconcile_watchers(
    aws: ReconcilePorts,
    settings: Settings,
    audit: ReconcileAudit | None,
    scope: Literal["full", "scheduled"] = "full",
    drains: QueueDrains | None = None,
) -> list[WatcherCheck]:
    if not settings.state_machine_arn:
        return []
    tags = {settings.opt_in_tag_key: settings.opt_in_tag_value}
    if scope == "scheduled" and audit is not None:
        swept, next_token = aws.tagged_groups_page(tags, SWEEP_GROUPS_PER_RUN, audit.sweep_cursor())
        audit.record_sweep_cursor(next_token)
    else:
        swept = aws.groups_with_tags(tags)
    unfinished = audit.unfinished_refreshes() if audit else []
    checks, handled, known = _look_after(unfinished, swept, aws, settings, audit)
    for group in swept:
        if group.name in handled:
            continue
        active = active_refresh(aws.refreshes_of(group.name))
        if not active:
            continue
        refresh_id = active.id
        recorded = audit.refresh(refresh_id) if audit else None
        if audit and refresh_id not in known:
            audit.record_sighting(group.name, refresh_id)
        checks.append(_ensure_watcher(group, active, aws, settings, recorded))
    if audit is not None and drains is not None and settings.start_refresh_function:
        checks += drain_lost_queues(unfinished, aws, drains, settings, audit)
    return checks


def drain_lost_queues(
    unfinished: list[dict[str, Any]],
    aws: ReconcilePorts,
    drains: QueueDrains,
    settings: Settings,
    audit: ReconcileAudit,
) -> list[WatcherCheck]:
    """Each group with deployments still waiting (unfinished ``queued#`` items) whose refresh
    ahead has ended and is no longer watched: StartRefresh is asked to drain it, with the status
    the watcher reported (or, without a report, the one AWS gives), so it starts the newest or
    drops them as the watcher's drain would have."""
    assert settings.start_refresh_function
    waiting = sorted(
        {
            str(item["group"])
            for item in unfinished
            if str(item.get("item", "")).startswith(QUEUED_ITEM_PREFIX) and item.get("group")
        }
    )
    checks = []
    for group in waiting:
        refreshes = aws.refreshes_of(group)
        if active_refresh(refreshes) is not None or not refreshes:
            continue  # the active refresh's watcher drains it when it ends
        latest = refreshes[0]
        status = _ended_unwatched(latest, audit.refresh(latest.id) or {}, aws, settings)
        if status is None:
            continue  # paused (a hold) or about to report: its own drain comes
        drains.request_drain(
            settings.start_refresh_function, QueueDrain(group=group, refresh_id=latest.id, status=status)
        )
        checks.append(WatcherCheck(group=group, refresh_id=latest.id, action="drained"))
    return checks


def _ended_unwatched(
    latest: Refresh, recorded: dict[str, Any], aws: Executions, settings: Settings
) -> str | None:
    """How the group's last (ended) refresh ended, as its watcher reported it or, without a
    report, as AWS says (a restore's end is the rollback it completes); None while a watcher of
    it still runs (its own drain comes)."""
    watcher = recorded.get("watcher")
    if watcher and settings.state_machine_arn:
        # Running: paused for a window, or it has just reported and is about to drain itself.
        described = aws.execution(settings.state_machine_arn, str(watcher))
        if _running_in_chain(aws, settings.state_machine_arn, described):
            return None
    outcome = recorded.get("outcome")
    if isinstance(outcome, dict) and outcome.get("status"):
        return str(outcome["status"])
    if recorded.get("restores"):
        return "RollbackSuccessful" if latest.status == "Successful" else "RollbackFailed"
    return latest.status


def _look_after(
    unfinished: list[dict[str, Any]],
    swept: list[Group],
    aws: ReconcilePorts,
    settings: Settings,
    audit: ReconcileAudit | None,
) -> tuple[list[WatcherCheck], set[str], set[str]]:
    """Each unfinished refresh: watched while it is active, taken out of the index once it is not
    (or its group is gone, or no longer opted in). Returns the checks, the groups seen active and
    the refresh ids known."""
    by_refresh: dict[str, list[dict[str, Any]]] = {}
    for item in unfinished:
        if item.get("refresh_id") and item.get("group"):
            by_refresh.setdefault(str(item["refresh_id"]), []).append(item)
    groups = {group.name: group for group in swept}
    missing = sorted({str(items[0]["group"]) for items in by_refresh.values()} - set(groups))
    groups.update({group.name: group for group in aws.groups_named(missing)})
    checks: list[WatcherCheck] = []
    for refresh_id, items in by_refresh.items():
        check = _look_after_one(refresh_id, items, groups.get(str(items[0]["group"])), aws, settings, audit)
        if check:
            checks.append(check)
    return checks, {check.group for check in checks}, set(by_refresh)


def _look_after_one(
    refresh_id: str,
    items: list[dict[str, Any]],
    group: Group | None,
    aws: ReconcilePorts,
    settings: Settings,
    audit: ReconcileAudit | None,
) -> WatcherCheck | None:
    """One unfinished refresh (its audit items: the product's and, maybe, a sighting)."""
    refresh = None
    if group and group.is_opted_in(settings.opt_in_tag_key, settings.opt_in_tag_value):
        refresh = active_refresh(aws.refreshes_of(group.name, [refresh_id]))
    products = [item for item in items if item.get("item") != SIGHTING]
    check, ended = None, items
    if group is not None and refresh is not None:
        recorded = products[0] if products else (audit.refresh(refresh_id) if audit else None)
        check = _ensure_watcher(group, refresh, aws, settings, recorded)
        # A sighting of a refresh the product also recorded is redundant.
        ended = [item for item in items if item.get("item") == SIGHTING] if products else []
    for item in ended:
        assert audit is not None  # unfinished items come from the audit table
        audit.mark_finished(item)
    return check


def _ensure_watcher(
    group: Group,
    refresh: Refresh,
    aws: ReconcilePorts,
    settings: Settings,
    recorded: dict[str, Any] | None,
) -> WatcherCheck:
    assert settings.state_machine_arn
    name, refresh_id = group.name, refresh.id
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
    refresh: Refresh,
    aws: ReconcilePorts,
    settings: Settings,
    recorded: dict[str, Any] | None,
) -> dict[str, Any]:
    refresh_id = refresh.id
    spec = refresh.target_template
    image_id = ""
    if spec and spec.version:
        image_id = aws.template_version(spec, spec.version).image_id
    version = (spec.version if spec else None) or ""
    watch = WatchInput(
        deployment_id=(recorded or {}).get("deployment_id") or f"adopted-{refresh_id}",
        group=group.name,
        refresh_id=refresh_id,
        image_id=image_id,
        launch_template_id=(spec.id if spec else None) or "",
        launch_template_version=int(version) if version.isdigit() else None,
        alarms=(recorded or {}).get("alarms")
        or alarm_names_tagged(group.tag(settings.alarm_tag_key), [], settings.default_alarm_names),
        # The refresh's own Preferences: its checkpoint delays and bake time set the budget.
        preferences=refresh.preferences,
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
