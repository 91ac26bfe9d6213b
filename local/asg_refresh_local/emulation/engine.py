"""The scheduler: moves every refresh from event to event up to a virtual instant.

Nothing here ticks per second. Each refresh carries ``next_at`` (the next moment something
happens to it) and instance launches sit in a heap of timers; catching up pops whichever comes
first until both lie beyond ``now``. A one-hour refresh of 100 instances is a few dozen steps.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import activities, events, hooks, moto_ops
from .models import GroupConfig, InstanceConfig, Refresh, RollbackDetails, Status
from .reasons import (
    REASON_ALARM,
    REASON_BAKING,
    REASON_BLOCKED_TIMEOUT,
    REASON_CANCELLED,
    REASON_CHECKPOINT,
    REASON_LAUNCH_ABANDONED,
    REASON_LAUNCH_FAILED,
    REASON_PROTECTED,
    REASON_ROLLBACK_LAUNCH_FAILED,
    REASON_STANDBY,
    REASON_UNHEALTHY,
    REASON_WARMUP,
    ROLLBACK_AUTO,
)
from .state import LOCK, EmulationState

if TYPE_CHECKING:
    from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState

#: A guard against a bug turning catch-up into an endless loop.
MAX_STEPS_PER_CATCH_UP = 1_000_000


def catch_up(state: EmulationState, now: datetime) -> None:
    """Process everything due at or before ``now``, in time order, then send the events."""
    catch_up_locked(state, now)
    events.deliver(state)


def catch_up_locked(state: EmulationState, now: datetime) -> None:
    with LOCK:
        for _ in range(MAX_STEPS_PER_CATCH_UP):
            timer_at = state.next_timer_at()
            hook_at = hooks.next_deadline(state)
            due = [r for r in state.all_refreshes() if r.active and r.next_at is not None]
            refresh = min(due, key=lambda r: r.next_at or now) if due else None
            refresh_at = refresh.next_at if refresh is not None else None
            # At one instant: launches end first, then lifecycle hooks time out, then refreshes step.
            if timer_at is not None and _first(timer_at, now, hook_at, refresh_at):
                _finish_launch(state, timer_at)
            elif hook_at is not None and _first(hook_at, now, refresh_at):
                hooks.expire(state, hook_at)
            elif refresh is not None and refresh_at is not None and refresh_at <= now:
                _step(state, refresh, refresh_at)
            else:
                break
        # Alarms can go off while a refresh waits (warm-up, checkpoint, bake): notice at ``now``.
        for r in state.all_refreshes():
            if r.status in (Status.IN_PROGRESS, Status.BAKING) and _alarm_tripped(state, r, now):
                catch_up_locked(state, now)
                return


def _first(at: datetime, now: datetime, *others: datetime | None) -> bool:
    """Is ``at`` due by ``now`` and no later than any of ``others``?"""
    return at <= now and all(o is None or at <= o for o in others)


def _finish_launch(state: EmulationState, at: datetime) -> None:
    """Every launch completing at ``at`` enters service (Healthy, or Unhealthy when a fault says so)."""
    members: dict[str, dict[str, InstanceState]] = {}
    while state.timers and state.timers[0].at == at:
        timer = state.pop_timer()
        if timer.group_name not in members:
            group = state.group(timer.group_name)
            members[timer.group_name] = moto_ops.states_by_id(group) if group is not None else {}
        instance = members[timer.group_name].get(timer.instance_id)
        if instance is None or instance.lifecycle_state != "Pending":
            continue
        group = instance.auto_scaling_group
        if timer.hooks and hooks.hold_launch(state, group, instance, at, timer.healthy):
            continue  # Pending:Wait until its lifecycle actions complete
        instance.lifecycle_state = "InService"
        instance.health_status = "Healthy" if timer.healthy else "Unhealthy"


def _step(state: EmulationState, r: Refresh, t: datetime) -> None:
    r.next_at = None
    group = state.group(r.group_name)
    if group is None:
        _fail(state, r, t, f"Instance refresh failed: the Auto Scaling group {r.group_name} was deleted.")
        return
    if r.status in (Status.IN_PROGRESS, Status.BAKING) and _alarm_tripped(state, r, t):
        return
    handlers = {
        "pending": _begin,
        "batch": _next_batch,
        "launching": _batch_launched,
        "launch_failed": _launch_failed,
        "warming": _batch_warmed,
        "checkpoint": _checkpoint_over,
        "blocked": _next_batch,
        "baking": _succeed,
        "cancelling": _cancelled,
    }
    handlers[r.phase](state, r, group, t)


# Forward progress


def _begin(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    r.status = Status.IN_PROGRESS
    r.remaining = _plan(state, r, group)
    r.total = len(r.remaining)
    r.checkpoints_left = list(r.preferences.checkpoint_percentages)
    events.publish(state, r, events.STARTED, t)
    state.record(r, t, "started")
    _schedule(r, "batch", t)


def _plan(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup) -> list[str]:
    planned = []
    for s in group.instance_states:
        if s.lifecycle_state not in ("InService", "Standby"):
            continue
        if r.preferences.skip_matching and r.target.matches(config_of(state, s)):
            continue
        if s.lifecycle_state == "Standby" and r.preferences.standby == "Ignore":
            continue
        if s.protected_from_scale_in and r.preferences.scale_in_protected == "Ignore":
            continue
        planned.append(s.instance.id)
    return planned


def config_of(state: EmulationState, s: InstanceState) -> InstanceConfig:
    return state.instance_configs.get(s.instance.id) or moto_ops.observed_config(s)


def _next_batch(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    if r.status is Status.ROLLBACK_IN_PROGRESS:
        _next_rollback_batch(state, r, group, t)
        return
    ready = _sort_out_remaining(state, r, group, t)
    if ready is None:
        return
    if not ready and not r.remaining:
        _finish(state, r, group, t)
        return
    cap = _checkpoint_cap(r)
    _start_batch(state, r, group, t, ready, r.target.config_for_launch(), cap, rollback=False)


def _sort_out_remaining(
    state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime
) -> list[str] | None:
    """Apply the Standby / scale-in protection preferences; None when the refresh is waiting or failed."""
    ready: list[str] = []
    blocked: tuple[str, str] | None = None
    members = moto_ops.states_by_id(group)
    for instance_id in list(r.remaining):
        verdict = _verdict(r, members.get(instance_id))
        if verdict == "ready":
            ready.append(instance_id)
            continue
        if verdict in ("standby", "protected"):
            blocked = blocked or (verdict, instance_id)
            continue
        r.remaining.remove(instance_id)
        if verdict == "ignore":
            r.total -= 1
        else:
            if verdict == "terminate":
                # Standby instances sit outside the desired capacity: terminated, not replaced.
                _terminate(state, group, [instance_id], t)
            r.updated += 1
    if ready or blocked is None:
        r.blocked_since = None
        return ready
    _wait_for_blocked(state, r, t, *blocked)
    return None


def _verdict(r: Refresh, s: InstanceState | None) -> str:
    """ready, ignore, terminate, standby / protected (blocked by Wait), or gone."""
    if s is None:
        return "gone"  # scaled in or detached behind our back: nothing left to replace
    if s.lifecycle_state == "Standby":
        choice = r.preferences.standby
        return {"Ignore": "ignore", "Terminate": "terminate"}.get(choice, "standby")
    if s.protected_from_scale_in and r.preferences.scale_in_protected != "Refresh":
        return "ignore" if r.preferences.scale_in_protected == "Ignore" else "protected"
    return "ready" if s.lifecycle_state == "InService" else "gone"


def _wait_for_blocked(state: EmulationState, r: Refresh, t: datetime, kind: str, instance_id: str) -> None:
    r.blocked_since = r.blocked_since or t
    if t - r.blocked_since >= timedelta(seconds=state.timings.blocked_timeout_seconds):
        what, pref = (
            ("instances stayed in Standby", "StandbyInstances")
            if kind == "standby"
            else ("instances stayed protected from scale in", "ScaleInProtectedInstances")
        )
        _fail(state, r, t, REASON_BLOCKED_TIMEOUT.format(what=what, preference=pref))
        return
    r.status_reason = (REASON_STANDBY if kind == "standby" else REASON_PROTECTED).format(instance=instance_id)
    if r.phase != "blocked":
        state.record(r, t, "waiting")
    _schedule(r, "blocked", t + timedelta(seconds=state.timings.blocked_poll_seconds))


def _checkpoint_cap(r: Refresh) -> int | None:
    if not r.checkpoints_left or r.total == 0:
        return None
    # Replace no more than the next checkpoint needs (AWS "will sometimes replace fewer").
    needed = math.ceil(r.checkpoints_left[0] * r.total / 100) - r.updated
    return max(needed, 1)


def _batch_size(r: Refresh, group: FakeAutoScalingGroup, available: int) -> tuple[int, int]:
    """How many to replace now and how many of the old ones may be terminated right away."""
    desired = int(group.desired_capacity or 0)
    in_service = sum(
        1 for s in group.instance_states if s.lifecycle_state == "InService" and s.health_status == "Healthy"
    )
    total = _in_service_or_launching(group)
    prefs = r.preferences
    extra = max(0, prefs.max_total(desired) - total)
    down = max(0, in_service - prefs.min_in_service(desired))
    if extra + down == 0:
        # Both bounds cannot hold: with MaxHealthyPercentage set AWS launches first (exceeding the
        # desired capacity), without it it terminates and launches at the same time.
        if prefs.max_healthy is not None:
            extra = 1
        else:
            down = 1
    size = min(extra + down, available)
    return size, max(0, size - extra)


def _in_service_or_launching(group: FakeAutoScalingGroup) -> int:
    states = ("InService", *hooks.LAUNCHING_STATES)
    return sum(1 for s in group.instance_states if s.lifecycle_state in states)


def _start_batch(
    state: EmulationState,
    r: Refresh,
    group: FakeAutoScalingGroup,
    t: datetime,
    ready: list[str],
    config: InstanceConfig,
    cap: int | None,
    rollback: bool,
) -> None:
    size, terminate_now = _batch_size(r, group, len(ready))
    if cap is not None:
        size = min(size, cap)
        terminate_now = min(terminate_now, size)
    old = ready[:size]
    queue = r.rollback_remaining if rollback else r.remaining
    for instance_id in old:
        queue.remove(instance_id)
    r.batch_kind_rollback = rollback
    if r.strategy == "ReplaceRootVolume" and not rollback:
        _replace_root_volumes(state, r, group, t, old, config)
        return
    _terminate(state, group, old[:terminate_now], t)
    r.batch_pending_terminations = old[terminate_now:]
    if state.faults.take_launch_failure(r.group_name):
        r.batch = []
        state.record(r, t, "batch-started")
        _schedule(r, "launch_failed", t + timedelta(seconds=state.timings.launch_seconds))
        return
    r.batch = _launch(state, group, config, len(old), t, check_health=not rollback)
    if not rollback:
        r.launched.extend(r.batch)
    state.record(r, t, "rollback-batch-started" if rollback else "batch-started")
    _schedule(r, "launching", t + timedelta(seconds=state.timings.launch_seconds))


def _replace_root_volumes(
    state: EmulationState,
    r: Refresh,
    group: FakeAutoScalingGroup,
    t: datetime,
    ids: list[str],
    config: InstanceConfig,
) -> None:
    """ReplaceRootVolume keeps the instance (and its id) and swaps its root volume's image."""
    ready_at = t + timedelta(seconds=state.timings.launch_seconds)
    members = moto_ops.states_by_id(group)
    for instance_id in ids:
        s = members.get(instance_id)
        if s is None:
            continue
        s.instance.image_id = config.image_id
        s.lifecycle_state = "Pending"
        state.instance_configs[instance_id] = InstanceConfig(
            config.launch_template_id,
            config.launch_template_name,
            config.version,
            config.image_id,
            s.instance.instance_type,
        )
        healthy = not state.faults.take_unhealthy(r.group_name)
        # Lifecycle hooks for launches do not hold a root volume replacement (it has states of its own).
        state.add_timer(ready_at, r.group_name, instance_id, healthy, hooks=False)
    r.batch = list(ids)
    r.batch_pending_terminations = []
    r.launched.extend(ids)
    state.record(r, t, "batch-started")
    _schedule(r, "launching", ready_at)


def _launch(
    state: EmulationState,
    group: FakeAutoScalingGroup,
    config: InstanceConfig,
    count: int,
    t: datetime,
    check_health: bool,
) -> list[str]:
    if count <= 0:
        return []
    launched = moto_ops.launch(group, config, count, t)
    activities.launched(state, group, [s.instance.id for s in launched], t)
    ready_at = t + timedelta(seconds=state.timings.launch_seconds)
    for s in launched:
        state.instance_configs[s.instance.id] = config
        healthy = not (check_health and state.faults.take_unhealthy(group.name))
        state.add_timer(ready_at, group.name, s.instance.id, healthy)
    return [s.instance.id for s in launched]


def _terminate(
    state: EmulationState, group: FakeAutoScalingGroup, instance_ids: list[str], t: datetime
) -> None:
    # Instances a lifecycle hook holds in Terminating:Wait go when their actions complete.
    now = hooks.hold_terminations(state, group, instance_ids, t)
    if now:
        moto_ops.terminate(group, now)
        activities.terminated(state, group, now, t)


def _batch_launched(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    if hooks.waiting(group, hooks.LAUNCH_WAIT, r.batch):
        # Warm-up starts once InService: wait for the launches' lifecycle actions (hooks.resolve wakes us).
        r.phase = "launching"
        return
    members = moto_ops.states_by_id(group)
    unhealthy = [i for i in r.batch if i in members and members[i].health_status == "Unhealthy"]
    abandoned = [i for i in r.batch if i in state.abandoned_launches]
    _terminate(state, group, r.batch_pending_terminations, t)
    r.batch_pending_terminations = []
    if r.status is Status.CANCELLING:
        _cancelled(state, r, group, t)
        return
    if abandoned:
        # A launch a hook abandoned is a failed launch: the refresh (or its rollback) fails.
        r.batch = [i for i in r.batch if i not in abandoned]
        if r.status is Status.ROLLBACK_IN_PROGRESS:
            _end(state, r, t, Status.ROLLBACK_FAILED, REASON_ROLLBACK_LAUNCH_FAILED, events.ROLLBACK_FAILED)
        else:
            _fail(state, r, t, REASON_LAUNCH_ABANDONED.format(instance=abandoned[0]))
        return
    if unhealthy:
        # AWS replaces instances that fail health checks; the refresh itself fails.
        _terminate(state, group, unhealthy, t)
        r.batch = []
        _fail(state, r, t, REASON_UNHEALTHY.format(instance=unhealthy[0]))
        return
    state.record(r, t, "batch-in-service")
    if r.batch:
        r.status_reason = REASON_WARMUP.format(instance=r.batch[0])
    _schedule(r, "warming", t + timedelta(seconds=r.preferences.instance_warmup))


def _launch_failed(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    # Old instances kept for a launch-first batch stay: nothing replaced them.
    r.batch_pending_terminations = []
    if r.status is Status.CANCELLING:
        _cancelled(state, r, group, t)
    elif r.status is Status.ROLLBACK_IN_PROGRESS and r.batch_kind_rollback:
        _end(state, r, t, Status.ROLLBACK_FAILED, REASON_ROLLBACK_LAUNCH_FAILED, events.ROLLBACK_FAILED)
    else:
        _fail(state, r, t, REASON_LAUNCH_FAILED)


def _batch_warmed(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    if hooks.waiting(group, hooks.TERMINATE_WAIT):
        # The replaced instances are not gone yet: the batch ends with their termination hooks.
        r.phase = "warming"
        return
    done = len(r.batch)
    r.batch = []
    r.status_reason = None
    if r.status is Status.ROLLBACK_IN_PROGRESS:
        if r.batch_kind_rollback:
            # Capacity top-ups after the replacements are not part of the progress.
            r.rollback_updated = min(r.rollback_total, r.rollback_updated + done)
        state.record(r, t, "rollback-batch-done")
        _schedule(r, "batch", t)
        return
    r.updated += done
    state.record(r, t, "batch-done")
    reached = [p for p in r.checkpoints_left if r.percentage_complete >= p]
    if reached:
        r.checkpoints_left = [p for p in r.checkpoints_left if p not in reached]
        top = reached[-1]
        # No checkpoint event at 100%: the refresh simply completes.
        if top < 100 and r.remaining:
            delay = int(r.preferences.checkpoint_delay or 0)
            r.status_reason = REASON_CHECKPOINT.format(percentage=top, delay=delay)
            extra = {"CheckpointPercentage": str(top), "CheckpointDelay": str(delay)}
            events.publish(state, r, events.CHECKPOINT, t, extra)
            state.record(r, t, "checkpoint")
            _schedule(r, "checkpoint", t + timedelta(seconds=delay))
            return
    _schedule(r, "batch", t)


def _checkpoint_over(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    r.status_reason = None
    _schedule(r, "batch", t)


def _finish(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    if r.preferences.bake_time > 0:
        r.status = Status.BAKING
        r.status_reason = REASON_BAKING.format(seconds=r.preferences.bake_time)
        events.publish(state, r, events.BAKING, t)
        state.record(r, t, "baking-started")
        _schedule(r, "baking", t + timedelta(seconds=r.preferences.bake_time))
        return
    _succeed(state, r, group, t)


def _succeed(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    if r.desired_configuration:
        moto_ops.apply_group_config(
            group,
            GroupConfig(
                r.desired_configuration.get("LaunchTemplate"),
                r.desired_configuration.get("MixedInstancesPolicy"),
            ),
        )
    _end(state, r, t, Status.SUCCESSFUL, None, events.SUCCEEDED)


# Failure, cancel, rollback


def _alarm_tripped(state: EmulationState, r: Refresh, t: datetime) -> bool:
    firing = moto_ops.alarms_in_alarm(state.account_id, state.region, r.preferences.alarms)
    if not firing:
        return False
    _fail(state, r, t, REASON_ALARM.format(alarms=", ".join(firing)))
    return True


def _fail(state: EmulationState, r: Refresh, t: datetime, reason: str) -> None:
    _abort_in_flight(state, r, t)
    if r.status is Status.ROLLBACK_IN_PROGRESS:
        _end(state, r, t, Status.ROLLBACK_FAILED, reason, events.ROLLBACK_FAILED)
        return
    if r.preferences.auto_rollback and irreversible_reason(state, r) is None:
        start_rollback(state, r, t, ROLLBACK_AUTO.format(reason=reason))
        return
    group = state.group(r.group_name)
    if group is not None:
        _top_up(state, group, r.previous_target.config_for_launch(), t)
    _end(state, r, t, Status.FAILED, reason, events.FAILED)


def _top_up(state: EmulationState, group: FakeAutoScalingGroup, config: InstanceConfig, t: datetime) -> None:
    """Relaunch to the desired capacity, as the group's own health replacement would."""
    total = _in_service_or_launching(group)
    missing = int(group.desired_capacity or 0) - total
    if missing > 0 and not state.faults.take_launch_failure(group.name):
        _launch(state, group, config, missing, t, check_health=False)


def _end(
    state: EmulationState, r: Refresh, t: datetime, status: Status, reason: str | None, detail_type: str
) -> None:
    r.status = status
    if reason is not None:
        r.status_reason = reason
    elif status is Status.SUCCESSFUL:
        r.status_reason = None
    r.end_time = t
    r.next_at = None
    r.phase = "done"
    events.publish(state, r, detail_type, t)
    state.record(r, t, status.value.lower())


def cancel(state: EmulationState, r: Refresh, t: datetime, wait: bool) -> None:
    r.status = Status.CANCELLING
    state.record(r, t, "cancel-requested")
    if wait and r.phase in ("launching", "launch_failed"):
        return  # the in-flight batch finishes first; its step then ends the refresh
    group = state.group(r.group_name)
    if group is not None:
        _terminate(state, group, r.batch_pending_terminations, t)
    r.batch_pending_terminations = []
    _schedule(r, "cancelling", t + timedelta(seconds=state.timings.cancel_seconds))


def _cancelled(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    _end(state, r, t, Status.CANCELLED, REASON_CANCELLED, events.CANCELLED)


def irreversible_reason(state: EmulationState, r: Refresh) -> str | None:
    if not r.desired_configuration:
        return "The instance refresh cannot be rolled back because it has no desired configuration."
    specs = [
        _spec_of(
            r.desired_configuration.get("LaunchTemplate"), r.desired_configuration.get("MixedInstancesPolicy")
        )
    ]
    specs.append(_spec_of(r.previous.launch_template, r.previous.mixed_instances_policy))
    for spec in specs:
        version = str((spec or {}).get("Version") or "$Default")
        if version in ("$Latest", "$Default"):
            return (
                "Rollback is not supported because the Auto Scaling group or the desired configuration "
                "uses the launch template's $Latest or $Default version."
            )
    for spec in specs:
        if spec and moto_ops.version_image_id(state.backend.ec2_backend, spec).startswith("resolve:ssm:"):
            return (
                "Rollback is not supported because the launch template uses an AWS Systems Manager "
                "parameter instead of an AMI ID for the ImageId property."
            )
    return None


def _spec_of(lt: dict[str, object] | None, mixed: dict[str, object] | None) -> dict[str, object] | None:
    if lt:
        return lt
    if mixed:
        block = mixed.get("LaunchTemplate")
        if isinstance(block, dict):
            spec = block.get("LaunchTemplateSpecification")
            return spec if isinstance(spec, dict) else None
    return None


def _abort_in_flight(state: EmulationState, r: Refresh, t: datetime) -> None:
    """Stop a batch midway: launches not yet in service are terminated, the old instances kept."""
    group = state.group(r.group_name)
    if group is not None and r.phase in ("launching", "launch_failed"):
        members = moto_ops.states_by_id(group)
        launching = hooks.LAUNCHING_STATES
        pending = [i for i in r.batch if i in members and members[i].lifecycle_state in launching]
        _terminate(state, group, pending, t)
        r.batch = []
    r.batch_pending_terminations = []


def start_rollback(state: EmulationState, r: Refresh, t: datetime, reason: str) -> None:
    _abort_in_flight(state, r, t)
    r.rollback = RollbackDetails(reason, t, r.percentage_complete, r.instances_to_update)
    r.status = Status.ROLLBACK_IN_PROGRESS
    r.status_reason = reason
    group = state.group(r.group_name)
    members = {s.instance.id for s in group.instance_states} if group is not None else set()
    r.rollback_remaining = [i for i in r.launched if i in members]
    r.rollback_total = len(r.rollback_remaining)
    r.rollback_updated = 0
    events.publish(state, r, events.ROLLBACK_STARTED, t)
    state.record(r, t, "rollback-started")
    # A batch warming up finishes its warm-up first; anything else turns round now.
    if r.next_at is None or r.phase != "warming":
        _schedule(r, "batch", t)


def _next_rollback_batch(state: EmulationState, r: Refresh, group: FakeAutoScalingGroup, t: datetime) -> None:
    members = {s.instance.id: s for s in group.instance_states}
    r.rollback_remaining = [i for i in r.rollback_remaining if i in members]
    ready = [i for i in r.rollback_remaining if members[i].lifecycle_state == "InService"]
    config = r.previous_target.config_for_launch()
    if ready:
        _start_batch(state, r, group, t, ready, config, None, rollback=True)
        return
    launching = [timer.at for timer in state.pending_in(r.group_name)]
    if launching:
        # New instances still launching: replace them once they are up.
        _schedule(r, "batch", min(launching))
        return
    if hooks.waiting(group, hooks.LAUNCH_WAIT):
        r.phase = "batch"  # launches held by lifecycle hooks: hooks.resolve wakes us
        return
    total = _in_service_or_launching(group)
    missing = int(group.desired_capacity or 0) - total
    if missing > 0:
        if state.faults.take_launch_failure(r.group_name):
            _end(state, r, t, Status.ROLLBACK_FAILED, REASON_ROLLBACK_LAUNCH_FAILED, events.ROLLBACK_FAILED)
            return
        r.batch = _launch(state, group, config, missing, t, check_health=False)
        r.batch_kind_rollback = True
        r.batch_pending_terminations = []
        state.record(r, t, "rollback-batch-started")
        _schedule(r, "launching", t + timedelta(seconds=state.timings.launch_seconds))
        return
    moto_ops.apply_group_config(group, r.previous)
    _end(state, r, t, Status.ROLLBACK_SUCCESSFUL, None, events.ROLLBACK_SUCCEEDED)


def _schedule(r: Refresh, phase: str, at: datetime) -> None:
    r.phase = phase
    r.next_at = at
