"""The one builder of a watcher's input, for StartRefresh and the reconciler alike.

Both start watchers; when each computed the input its own way they drifted (the reconciler took
the model's default budget of 24 h, so a watcher it adopted on a refresh with 48-hour checkpoint
delays cancelled it halfway). The budget and the payload's shape are decided here only.
"""

from __future__ import annotations

from typing import Any

from asg_refresh.dal.requests import bake_time_of, checkpoint_delay_of, checkpoints_of
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.watch import WatchInput, WatchProgress

#: What any refresh may take beyond its checkpoint delays, approvals and bake time.
WATCH_BASE_BUDGET_SECONDS = 6 * 3600
#: AWS's default CheckpointDelay when checkpoints are set without one.
DEFAULT_CHECKPOINT_DELAY = 3600


def watch_budget_seconds(preferences: dict[str, Any], gates: GateConfig) -> int:
    """How long the watcher follows a refresh before giving up on it (and cancelling it)."""
    checkpoints = len(checkpoints_of(preferences))
    # A held deployment's checkpoints are promoted by the watcher, not waited out.
    delay = 0 if gates.holds else checkpoint_delay_of(preferences, DEFAULT_CHECKPOINT_DELAY)
    approval = gates.approval.timeout_seconds if gates.approval else 0
    return WATCH_BASE_BUDGET_SECONDS + checkpoints * (delay + approval) + bake_time_of(preferences)


def watch_payload(watch: WatchInput, progress: WatchProgress | None = None) -> dict[str, Any]:
    """The state machine's input: the watch, and its progress with the budget it gets."""
    budget = watch_budget_seconds(watch.preferences, watch.gates)
    started = (progress or WatchProgress()).model_copy(update={"budget_seconds": budget})
    return watch.model_dump(mode="json") | {"watch": started.model_dump(mode="json")}
