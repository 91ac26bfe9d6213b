"""Handlers for the four instance refresh actions and the two lifecycle actions, added to moto's
AutoScalingResponse by ``install``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult

from asg_refresh_local.clock import CLOCK

from . import activities, engine, hooks, service
from .state import LOCK, EmulationState, state_of


def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    state = state_of(self.autoscaling_backend)
    return ActionResult({"InstanceRefreshId": service.start(state, _params(self), CLOCK.now())})


def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
    state = state_of(self.autoscaling_backend)
    return ActionResult(service.describe(state, _params(self), CLOCK.now()))


def cancel_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    state = state_of(self.autoscaling_backend)
    return ActionResult({"InstanceRefreshId": service.cancel(state, _params(self), CLOCK.now())})


def rollback_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    state = state_of(self.autoscaling_backend)
    return ActionResult({"InstanceRefreshId": service.rollback(state, _params(self), CLOCK.now())})


def describe_scaling_activities(self: AutoScalingResponse) -> ActionResult:
    """moto's answer is always empty: the activities of the refreshes' launches and terminations."""
    state = state_of(self.autoscaling_backend)
    engine.catch_up(state, CLOCK.now())
    with LOCK:
        return ActionResult(activities.describe(state, _params(self)))


def complete_lifecycle_action(self: AutoScalingResponse) -> ActionResult:
    return _lifecycle_action(self, hooks.complete)


def record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> ActionResult:
    return _lifecycle_action(self, hooks.heartbeat)


def _lifecycle_action(
    response: AutoScalingResponse, action: Callable[[EmulationState, dict[str, Any], datetime], None]
) -> ActionResult:
    state = state_of(response.autoscaling_backend)
    now = CLOCK.now()
    with LOCK:
        action(state, _params(response), now)
        # A launch let into service may end a batch's wait: step at once, as AWS moves on at once.
        engine.catch_up_locked(state, now)
    return ActionResult({})


def _params(response: AutoScalingResponse) -> dict[str, Any]:
    params = response._get_params()
    return dict(params) if isinstance(params, dict) else {}


HANDLERS = {
    "start_instance_refresh": start_instance_refresh,
    "describe_instance_refreshes": describe_instance_refreshes,
    "cancel_instance_refresh": cancel_instance_refresh,
    "rollback_instance_refresh": rollback_instance_refresh,
}

LIFECYCLE_HANDLERS = {
    "complete_lifecycle_action": complete_lifecycle_action,
    "record_lifecycle_action_heartbeat": record_lifecycle_action_heartbeat,
}
