"""Lifecycle hooks: the emulation's launches and terminations wait on them, as AWS's do.

moto 5.2.5 stores hooks (PutLifecycleHook, DescribeLifecycleHooks, DeleteLifecycleHook) but never
waits on them, and has no CompleteLifecycleAction or RecordLifecycleActionHeartbeat. Here every
launch and termination the emulation makes (a refresh's, a rollback's, a top-up) waits on the
group's hooks of its transition:

- a launch goes Pending -> Pending:Wait -> InService once every hook has continued it, and is
  terminated as soon as one abandons it (its remaining actions are cancelled);
- a termination goes Terminating -> Terminating:Wait -> Terminated, CONTINUE or ABANDON alike;
- an action ends with CompleteLifecycleAction (by token or instance id), or when its
  HeartbeatTimeout runs out (RecordLifecycleActionHeartbeat restarts it, never past the global
  timeout: 100 x HeartbeatTimeout or 48 hours, whichever is smaller) with the DefaultResult;
- entering a wait puts "EC2 Instance-launch Lifecycle Action" (or "-terminate") on the default bus.

Pending:Proceed and Terminating:Proceed take no virtual time here. moto's own scale-outs (its
SetDesiredCapacity and friends) and the initial instances of a group are not held.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import activities, events, moto_ops
from .errors import ValidationError
from .models import LifecycleAction

if TYPE_CHECKING:
    from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState, LifecycleHook

    from .state import EmulationState

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
TRANSITIONS = (LAUNCHING, TERMINATING)
LAUNCH_WAIT = "Pending:Wait"
TERMINATE_WAIT = "Terminating:Wait"
#: A launch held by a hook still counts towards the group's capacity, as a Pending one does.
LAUNCHING_STATES = ("Pending", LAUNCH_WAIT, "Pending:Proceed")
RESULTS = ("CONTINUE", "ABANDON")
DEFAULT_HEARTBEAT_TIMEOUT = 3600
MIN_HEARTBEAT_TIMEOUT, MAX_HEARTBEAT_TIMEOUT = 30, 7200
MAX_GLOBAL_TIMEOUT = 48 * 3600
EVENT_TYPES = {
    LAUNCHING: "EC2 Instance-launch Lifecycle Action",
    TERMINATING: "EC2 Instance-terminate Lifecycle Action",
}


def global_timeout(heartbeat_timeout: int) -> int:
    return min(MAX_GLOBAL_TIMEOUT, 100 * heartbeat_timeout)


def hooks_of(state: EmulationState, group_name: str, transition: str) -> list[LifecycleHook]:
    return [
        h
        for h in state.backend.lifecycle_hooks.values()
        if h.auto_scaling_group_name == group_name and h.lifecycle_transition == transition
    ]


# Holding instances


def hold_launch(
    state: EmulationState, group: FakeAutoScalingGroup, s: InstanceState, t: datetime, healthy: bool
) -> bool:
    """Put a launch that has finished Pending in Pending:Wait; False when no hook holds it."""
    return _hold(state, group, s, LAUNCHING, t, healthy)


def hold_terminations(
    state: EmulationState, group: FakeAutoScalingGroup, instance_ids: list[str], t: datetime
) -> list[str]:
    """Put instances about to be terminated in Terminating:Wait; returns those to terminate now."""
    if not hooks_of(state, group.name, TERMINATING):
        drop(state, instance_ids)  # a launch held by a hook is terminated: its wait ends
        return list(instance_ids)
    members = moto_ops.states_by_id(group)
    now = []
    for instance_id in instance_ids:
        s = members.get(instance_id)
        if s is None:
            now.append(instance_id)
        elif s.lifecycle_state != TERMINATE_WAIT:
            drop(state, [instance_id])  # a launch held by a hook is terminated: its wait ends
            _hold(state, group, s, TERMINATING, t, healthy=True)
    return now


def _hold(
    state: EmulationState,
    group: FakeAutoScalingGroup,
    s: InstanceState,
    transition: str,
    t: datetime,
    healthy: bool,
) -> bool:
    hooks = hooks_of(state, group.name, transition)
    if not hooks:
        return False
    s.lifecycle_state = LAUNCH_WAIT if transition == LAUNCHING else TERMINATE_WAIT
    for hook in hooks:
        timeout = int(hook.heartbeat_timeout or DEFAULT_HEARTBEAT_TIMEOUT)
        action = LifecycleAction(
            token=str(uuid.uuid4()),
            group_name=group.name,
            hook_name=hook.name,
            instance_id=s.instance.id,
            transition=transition,
            heartbeat_timeout=timeout,
            default_result=hook.default_result or "ABANDON",
            deadline=t + timedelta(seconds=timeout),
            global_deadline=t + timedelta(seconds=global_timeout(timeout)),
            healthy=healthy,
        )
        state.lifecycle_actions[action.token] = action
        events.queue(state, EVENT_TYPES[transition], _detail(action, hook), group.arn, t)
    return True


def _detail(action: LifecycleAction, hook: LifecycleHook) -> dict[str, Any]:
    launching = action.transition == LAUNCHING
    detail: dict[str, Any] = {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": action.group_name,
        "LifecycleHookName": action.hook_name,
        "EC2InstanceId": action.instance_id,
        "LifecycleTransition": action.transition,
    }
    metadata = getattr(hook, "notification_metadata", None)
    if metadata:
        detail["NotificationMetadata"] = metadata
    detail["Origin"], detail["Destination"] = (
        ("EC2", "AutoScalingGroup") if launching else ("AutoScalingGroup", "EC2")
    )
    return detail


def waiting(
    group: FakeAutoScalingGroup, lifecycle_state: str, instance_ids: list[str] | None = None
) -> list[str]:
    """Instances of the group (or of ``instance_ids``) in a hook's wait state."""
    return [
        s.instance.id
        for s in group.instance_states
        if s.lifecycle_state == lifecycle_state and (instance_ids is None or s.instance.id in instance_ids)
    ]


def drop(state: EmulationState, instance_ids: list[str]) -> None:
    """Forget the actions of instances that leave their wait some other way."""
    gone = set(instance_ids)
    for token in [k for k, a in state.lifecycle_actions.items() if a.instance_id in gone]:
        del state.lifecycle_actions[token]


# Ending waits


def next_deadline(state: EmulationState) -> datetime | None:
    return min((a.deadline for a in state.lifecycle_actions.values()), default=None)


def expire(state: EmulationState, at: datetime) -> None:
    """Every action whose heartbeat timeout ran out by ``at`` takes its hook's DefaultResult."""
    for action in [a for a in state.lifecycle_actions.values() if a.deadline <= at]:
        if action.token in state.lifecycle_actions:
            resolve(state, action, action.default_result, action.deadline)


def resolve(state: EmulationState, action: LifecycleAction, result: str, t: datetime) -> None:
    state.lifecycle_actions.pop(action.token, None)
    group = state.group(action.group_name)
    s = moto_ops.states_by_id(group).get(action.instance_id) if group is not None else None
    others = [a for a in state.lifecycle_actions.values() if a.instance_id == action.instance_id]
    if group is None or s is None:
        drop(state, [action.instance_id])
        return
    if others and result != "ABANDON":
        return  # the instance waits for its other hooks
    drop(state, [action.instance_id])
    if action.transition == TERMINATING:
        moto_ops.terminate(group, [action.instance_id])
        activities.terminated(state, group, [action.instance_id], t)
    elif result == "ABANDON":
        state.abandoned_launches.add(action.instance_id)
        activities.launch_abandoned(state, action.instance_id, action.token)
        moto_ops.terminate(group, [action.instance_id])
        activities.terminated(state, group, [action.instance_id], t)
    else:
        s.lifecycle_state = "InService"
        s.health_status = "Healthy" if action.healthy else "Unhealthy"
    _wake(state, action.group_name, t)


def _wake(state: EmulationState, group_name: str, t: datetime) -> None:
    """An active refresh without a next step is waiting on hooks: look at it again now."""
    refresh = state.active(group_name)
    if refresh is not None and refresh.next_at is None:
        refresh.next_at = t


# The two actions moto lacks, and DeleteLifecycleHook's rule


def complete(state: EmulationState, params: dict[str, Any], now: datetime) -> None:
    result = params.get("LifecycleActionResult")
    if result not in RESULTS:
        # botocore's model leaves the result a free string: AWS checks it itself.
        raise ValidationError(f"Invalid value {result!r} for LifecycleActionResult: CONTINUE or ABANDON.")
    resolve(state, _find(state, params), str(result), now)


def heartbeat(state: EmulationState, params: dict[str, Any], now: datetime) -> None:
    action = _find(state, params)
    action.deadline = min(now + timedelta(seconds=action.heartbeat_timeout), action.global_deadline)


def _find(state: EmulationState, params: dict[str, Any]) -> LifecycleAction:
    token, instance_id = params.get("LifecycleActionToken"), params.get("InstanceId")
    if not token and not instance_id:
        raise ValidationError("You must specify either an instance ID or a lifecycle action token.")
    for action in state.lifecycle_actions.values():
        if (
            action.group_name == params.get("AutoScalingGroupName")
            and action.hook_name == params.get("LifecycleHookName")
            and (not token or action.token == token)
            and (not instance_id or action.instance_id == instance_id)
        ):
            return action
    if token:
        raise ValidationError(f"No active Lifecycle Action found with token {token}")
    raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")


def complete_outstanding(state: EmulationState, group_name: str, hook_name: str, now: datetime) -> None:
    """DeleteLifecycleHook first completes the hook's actions: ABANDON for launching instances,
    CONTINUE for terminating ones."""
    for action in list(state.lifecycle_actions.values()):
        if action.group_name == group_name and action.hook_name == hook_name:
            resolve(state, action, "ABANDON" if action.transition == LAUNCHING else "CONTINUE", now)


def check_put(params: dict[str, Any]) -> None:
    """PutLifecycleHook's rules, which moto does not check (botocore's model bounds none of them)."""
    transition = params.get("LifecycleTransition")
    if transition is not None and transition not in TRANSITIONS:
        raise ValidationError(f"Invalid Lifecycle Transition: {transition}")
    result = params.get("DefaultResult")
    if result is not None and result not in RESULTS:
        raise ValidationError(f"Invalid value {result!r} for DefaultResult: CONTINUE or ABANDON.")
    timeout = params.get("HeartbeatTimeout")
    if timeout is not None and not MIN_HEARTBEAT_TIMEOUT <= int(timeout) <= MAX_HEARTBEAT_TIMEOUT:
        raise ValidationError(
            f"Heartbeat timeout must be between {MIN_HEARTBEAT_TIMEOUT} and {MAX_HEARTBEAT_TIMEOUT} seconds."
        )
