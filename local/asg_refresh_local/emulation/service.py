"""The four actions' logic on the emulation state, free of HTTP concerns."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import engine, moto_ops
from .errors import (
    ActiveInstanceRefreshNotFound,
    InstanceRefreshInProgress,
    InvalidNextToken,
    IrreversibleInstanceRefresh,
    LimitExceeded,
)
from .models import Refresh, Status
from .reasons import ROLLBACK_MANUAL
from .state import LOCK, EmulationState
from .validation import check_group_name, check_start_constraints, constraint, group_not_found, parse_start

if TYPE_CHECKING:
    from moto.autoscaling.models import FakeAutoScalingGroup

DEFAULT_MAX_RECORDS = 50
MAX_MAX_RECORDS = 100


def _group(state: EmulationState, name: Any) -> FakeAutoScalingGroup:
    name = check_group_name(name)
    group = state.group(name)
    if group is None:
        raise group_not_found(name)
    return group


def start(state: EmulationState, params: dict[str, Any], now: datetime) -> str:
    with LOCK:
        check_start_constraints(params)
        group = _group(state, params.get("AutoScalingGroupName"))
        request = parse_start(params, group)
        if state.active(group.name) is not None:
            raise InstanceRefreshInProgress()
        day_ago = now - timedelta(days=1)
        recent = [r for r in state.history(group.name) if r.start_time > day_ago]
        if len(recent) >= state.limits.refreshes_per_group_per_day:
            raise LimitExceeded(
                f"You have reached the emulated limit of {state.limits.refreshes_per_group_per_day} "
                f"instance refreshes per Auto Scaling group in 24 hours."
            )
        previous = moto_ops.group_config(group)
        previous_target = moto_ops.group_target(group)
        refresh = Refresh(
            refresh_id=str(uuid.uuid4()),
            group_name=group.name,
            group_arn=group.arn,
            strategy=request.strategy,
            preferences=request.preferences,
            desired_configuration=request.desired_configuration,
            target=request.target or previous_target,
            previous=previous,
            previous_target=previous_target,
            start_time=now,
            next_at=now + timedelta(seconds=state.timings.pending_seconds),
        )
        state.history(group.name).append(refresh)
        state.record(refresh, now, "requested")
        engine.catch_up_locked(state, now)
        return refresh.refresh_id


def describe(state: EmulationState, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    with LOCK:
        group = _group(state, params.get("AutoScalingGroupName"))
        max_records = params.get("MaxRecords")
        limit = DEFAULT_MAX_RECORDS if max_records is None else int(max_records)
        if limit < 1 or limit > MAX_MAX_RECORDS:
            raise constraint(limit, "maxRecords", f"Member must have value between 1 and {MAX_MAX_RECORDS}")
        oldest = now - timedelta(days=state.limits.history_days)
        ids = set(params.get("InstanceRefreshIds") or [])
        rows = [
            r
            for r in reversed(state.history(group.name))  # newest first
            if r.start_time >= oldest
            and r.refresh_id not in state.faults.vanished
            and (not ids or r.refresh_id in ids)
        ]
        start_at = 0
        token = params.get("NextToken")
        if token:
            following = _page_token_refresh(token, group.name)
            positions = [i for i, r in enumerate(rows) if r.refresh_id == following]
            if not positions:
                raise InvalidNextToken()
            start_at = positions[0]
        page = rows[start_at : start_at + limit]
        out: dict[str, Any] = {"InstanceRefreshes": [r.to_api() for r in page]}
        if start_at + limit < len(rows):
            out["NextToken"] = _page_token(group.name, rows[start_at + limit].refresh_id)
        return out


def _page_token(group: str, refresh_id: str) -> str:
    """An opaque token, as AWS's are: it names the next page's first refresh and its group, so a
    token is no refresh id a caller could guess, and one group's token is refused by another."""
    return base64.urlsafe_b64encode(json.dumps([group, refresh_id]).encode()).decode()


def _page_token_refresh(token: str, group: str) -> str | None:
    try:
        named_group, refresh_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    return str(refresh_id) if named_group == group else None


def cancel(state: EmulationState, params: dict[str, Any], now: datetime) -> str:
    with LOCK:
        group = _group(state, params.get("AutoScalingGroupName"))
        refresh = state.active(group.name)
        if refresh is None or refresh.status is Status.CANCELLING:
            raise ActiveInstanceRefreshNotFound(group=group.name)
        wait = params.get("WaitForTransitioningInstances")
        engine.cancel(state, refresh, now, wait=True if wait is None else _truthy(wait))
        engine.catch_up_locked(state, now)
        return refresh.refresh_id


def rollback(state: EmulationState, params: dict[str, Any], now: datetime) -> str:
    with LOCK:
        group = _group(state, params.get("AutoScalingGroupName"))
        refresh = state.active(group.name)
        if refresh is None or refresh.status in (Status.CANCELLING, Status.ROLLBACK_IN_PROGRESS):
            raise ActiveInstanceRefreshNotFound(group=group.name)
        reason = engine.irreversible_reason(state, refresh)
        if reason is not None:
            raise IrreversibleInstanceRefresh(reason)
        engine.start_rollback(state, refresh, now, ROLLBACK_MANUAL)
        engine.catch_up_locked(state, now)
        return refresh.refresh_id


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)
