"""Patches moto (idempotently) so its Auto Scaling service gains instance refresh.

Everything is patched on classes, so it holds in-process under ``mock_aws`` and in moto's server
mode alike; the state hangs off each AutoScalingBackend and dies with moto's reset.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState, autoscaling_backends
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.moto_patches import patch_object

from . import engine, events, hooks, moto_ops
from .models import InstanceConfig
from .responses import HANDLERS, LIFECYCLE_HANDLERS, describe_scaling_activities
from .state import ATTRIBUTE, LOCK, EmulationState, existing_states, state_of

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        for name, handler in HANDLERS.items():
            patch_object(
                AutoScalingResponse,
                name,
                handler,
                kind="add",
                why="instance refresh, which moto does not implement",
                owner=__name__,
            )
        for name, handler in LIFECYCLE_HANDLERS.items():
            patch_object(
                AutoScalingResponse,
                name,
                handler,
                kind="add",
                why="lifecycle actions (complete, heartbeat), which moto does not implement",
                owner=__name__,
            )
        patch_object(
            AutoScalingResponse,
            "describe_scaling_activities",
            describe_scaling_activities,
            kind="replace",
            why="moto answers DescribeScalingActivities with nothing; a refresh's launches and terminations",
            owner=__name__,
        )
        _wrap_call_action()
        _wrap_group_writes()
        _wrap_group_pages()
        _wrap_group_launches()
        _wrap_lifecycle_hooks()
        _patch_instance_launch_template()
        CLOCK.add_listener(_on_clock)
        _installed = True


def emulation_for(account_id: str = "123456789012", region: str = "us-east-1") -> EmulationState:
    """The emulation state of one account and region (created on first use)."""
    return state_of(autoscaling_backends[account_id][region])


def step(until: datetime | None = None) -> None:
    """Catch every refresh of every account and region up to ``until`` (default: now)."""
    for state in existing_states():
        engine.catch_up(state, until or CLOCK.now())


def _on_clock(now: datetime) -> None:
    for state in existing_states():
        engine.catch_up(state, now)


def _wrap_call_action() -> None:
    original: Callable[[AutoScalingResponse], Any] = AutoScalingResponse.call_action

    def call_action(self: AutoScalingResponse) -> Any:
        state = state_of(self.autoscaling_backend)
        # Lazy catch-up covers scaled time, where nobody calls CLOCK.advance.
        engine.catch_up(state, CLOCK.now())
        try:
            state.faults.raise_for_action(self._get_action())
        except ServiceException as err:
            with warnings.catch_warnings():
                # Throttling is a common AWS error, absent from the service model moto checks against.
                warnings.simplefilter("ignore")
                status, headers, body = self.serialized(ActionResult(err))
            headers["status"] = status
            return status, headers, body
        try:
            return original(self)
        finally:
            # Start, Cancel and Rollback queue events; send them now that the lock is free.
            events.deliver(state)

    patch_object(
        AutoScalingResponse,
        "call_action",
        call_action,
        kind="wrap",
        why="the emulation catches up, injects faults and delivers its events on every request",
        owner=__name__,
    )


def _wrap_group_writes() -> None:
    """moto ignores DefaultInstanceWarmup; keep it on the group, where InstanceWarmup defaults from."""
    for name in ("create_auto_scaling_group", "update_auto_scaling_group"):
        original = getattr(AutoScalingResponse, name)

        def wrapper(self: AutoScalingResponse, _original: Any = original) -> Any:
            result = _original(self)
            warmup = self._get_param("DefaultInstanceWarmup")
            group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
            if warmup is not None and group is not None:
                group.default_instance_warmup = int(warmup)  # type: ignore[attr-defined]
            return result

        patch_object(
            AutoScalingResponse,
            name,
            wrapper,
            kind="wrap",
            why="the group keeps DefaultInstanceWarmup, which moto ignores",
            owner=__name__,
        )


def _wrap_group_pages() -> None:
    """moto's DescribeAutoScalingGroups token is the last group's name, and one that names no
    group any more raises ValueError (HTTP 500); AWS answers InvalidNextToken."""
    original = AutoScalingResponse.describe_auto_scaling_groups

    def describe_auto_scaling_groups(self: AutoScalingResponse) -> Any:
        token = self._get_param("NextToken")
        if token and token not in self.autoscaling_backend.autoscaling_groups:
            from .errors import InvalidNextToken

            raise InvalidNextToken()
        return original(self)

    patch_object(
        AutoScalingResponse,
        "describe_auto_scaling_groups",
        describe_auto_scaling_groups,
        kind="wrap",
        why="a page token naming a group deleted since answers InvalidNextToken, as on AWS (moto: 500)",
        owner=__name__,
    )


def _wrap_group_launches() -> None:
    """Remember which launch template version moto's own scale-outs used (moto tags the default one)."""
    original = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]) -> None:
        before = {s.instance.id for s in self.instance_states}
        original(self, count_needed, propagated_tags)
        if self.ec2_launch_template is None:
            return
        try:
            target = moto_ops.group_target(self)
        except ServiceException:
            return
        with LOCK:
            state = state_of(self.autoscaling_backend)
            for s in self.instance_states:
                if s.instance.id not in before:
                    state.instance_configs[s.instance.id] = InstanceConfig(
                        target.launch_template_id,
                        target.launch_template_name,
                        target.version,
                        s.instance.image_id,
                        s.instance.instance_type,
                    )

    patch_object(
        FakeAutoScalingGroup,
        "replace_autoscaling_group_instances",
        replace,
        kind="wrap",
        why="moto's own scale-outs remember their launch template version",
        owner=__name__,
    )


def _patch_instance_launch_template() -> None:
    """DescribeAutoScalingGroups shows each instance's own template version, as AWS does."""
    original: property = InstanceState.__dict__["launch_template"]

    def launch_template(self: InstanceState) -> dict[str, Any] | None:
        state = self.auto_scaling_group.autoscaling_backend.__dict__.get(ATTRIBUTE)
        config = state.instance_configs.get(self.instance.id) if state is not None else None
        if config is None:
            return original.fget(self) if original.fget is not None else None
        return {
            "LaunchTemplateId": config.launch_template_id,
            "LaunchTemplateName": config.launch_template_name,
            "Version": str(config.version),
        }

    patch_object(
        InstanceState,
        "launch_template",
        property(launch_template),
        kind="replace",
        why="DescribeAutoScalingGroups shows each instance's own template version",
        owner=__name__,
    )


def _wrap_lifecycle_hooks() -> None:
    """PutLifecycleHook keeps what moto drops; DeleteLifecycleHook completes the hook's actions first."""
    original_put = AutoScalingResponse.put_lifecycle_hook
    original_delete = AutoScalingResponse.delete_lifecycle_hook

    def put_lifecycle_hook(self: AutoScalingResponse) -> Any:
        params = self._get_params()
        hooks.check_put(params)
        result = original_put(self)
        key = f"{params.get('AutoScalingGroupName')}_{params.get('LifecycleHookName')}"
        hook = self.autoscaling_backend.lifecycle_hooks.get(key)
        if hook is not None:
            # moto answers a hard-coded role, queue and 48-hour GlobalTimeout, and drops the metadata.
            hook.notification_metadata = params.get("NotificationMetadata")  # type: ignore[attr-defined]
            hook.role_arn = params.get("RoleARN")  # type: ignore[assignment]
            hook.notification_target_arn = params.get("NotificationTargetARN")  # type: ignore[assignment]
            hook.global_timeout = hooks.global_timeout(int(hook.heartbeat_timeout))
        return result

    def delete_lifecycle_hook(self: AutoScalingResponse) -> Any:
        state = state_of(self.autoscaling_backend)
        with LOCK:
            group, name = self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName")
            hooks.complete_outstanding(state, group, name, CLOCK.now())
            engine.catch_up_locked(state, CLOCK.now())
        return original_delete(self)

    patch_object(
        AutoScalingResponse,
        "put_lifecycle_hook",
        put_lifecycle_hook,
        kind="wrap",
        why="hooks keep NotificationMetadata, RoleARN, NotificationTargetARN and AWS's GlobalTimeout",
        owner=__name__,
    )
    patch_object(
        AutoScalingResponse,
        "delete_lifecycle_hook",
        delete_lifecycle_hook,
        kind="wrap",
        why="deleting a hook completes its outstanding actions (ABANDON launches, CONTINUE terminations)",
        owner=__name__,
    )
