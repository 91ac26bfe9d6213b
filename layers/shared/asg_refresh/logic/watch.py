"""What the watching state machine does next, from the refresh's latest description.

The poll interval adapts: it aims at half the estimated time to the next moment that matters
(the next checkpoint or the expected end), within [min_poll, max_poll]. The estimate comes from
the progress rate seen between polls, so no clock is needed and virtual time works unchanged.

Hold and promote (see README): AWS has no call to continue past a checkpoint early, and a
checkpoint only delays. With ``gates.holds``, StartRefresh sets the longest CheckpointDelay, so
AWS waits at each checkpoint; when the gates pass there (and a person approved, where asked),
the watcher **promotes**: it cancels the refresh (replaced instances stay replaced) and starts it
again with SkipMatching, so only the instances not yet replaced are, with the remaining
checkpoints rebased onto what is left. Outside a time window it **holds** the same way: cancel,
then restart once the window opens.

Restore: AWS rolls back the instances of one refresh. After a promote, a rollback of the current
segment (or the cancel that replaces it where AWS cannot roll back) leaves the earlier segments'
instances on the new image, and a gate failing between two segments leaves the paused segment's.
The watcher then **restores**: a refresh towards the group's configuration pinned to the launch
template version it ran before the deployment, with SkipMatching, replaces exactly the instances
not on it. (Pinned, not the group's own spec: for a group on ``$Latest`` that is now the new
version.)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from asg_refresh.dal.requests import checkpoints_of, resumed_preferences
from asg_refresh.logic.approvals import refused_verdict
from asg_refresh.models.refresh import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    UNWINDING_STATUSES,
    DescribedPreferences,
    InstanceRefresh,
)
from asg_refresh.models.watch import (
    ApproveDecision,
    CancelDecision,
    ContinueDecision,
    Decision,
    GateVerdict,
    Outcome,
    ReportDecision,
    RestartDecision,
    RestoreDecision,
    RollbackDecision,
    WaitDecision,
    WatchProgress,
    WatchState,
    waited_after,
)

ACTIVE, UNWINDING, TERMINAL = ACTIVE_STATUSES, UNWINDING_STATUSES, TERMINAL_STATUSES
RESTARTABLE = frozenset({"hold", "promote"})
#: Polls one execution makes before the watch continues in a fresh one. A poll is 14 history
#: events (Wait, Describe, Evaluate, Choice): about 14,000 of the 25,000 Step Functions keeps, so a
#: watch of any length (48-hour checkpoint delays, a long bake) never runs out of history.
POLLS_PER_EXECUTION = 1000
#: Separates a watcher's name from its generation (``refresh-<id>--2``); refresh ids never hold it.
GENERATION_SEPARATOR = "--"
#: Paused outside a time window, the watcher sleeps until it opens, looking again at least daily:
#: a two-week freeze costs 14 polls, not 4,000 (Step Functions keeps 25,000 history events).
MAX_PAUSE_WAIT_SECONDS = 86_400
#: What a restore refresh keeps of the deployment's preferences: how fast it may go. Not its
#: checkpoints, bake or alarms (the alarm that stopped the deployment may still be in ALARM), nor
#: AutoRollback, which needs a desired configuration.
RESTORE_PREFERENCES = (
    "MinHealthyPercentage",
    "MaxHealthyPercentage",
    "InstanceWarmup",
    "ScaleInProtectedInstances",
    "StandbyInstances",
)


#: CheckpointDelay when a refresh reports checkpoints but no delay (AWS's default: an hour).
DEFAULT_CHECKPOINT_DELAY = 3600


def current_refresh(state: WatchState) -> InstanceRefresh | None:
    return state.describe.find(state.refresh_id) if state.describe is not None else None


def needs_gates(state: WatchState) -> bool:
    """Whether the gates are worth evaluating at this poll: while the refresh runs, and while it
    is paused by us waiting to move on."""
    # The state machine already follows a resumed refresh (refresh_id is the new one).
    refresh = current_refresh(state)
    if refresh is None or state.watch.restore_of is not None:
        return False
    status = refresh.status
    return status in ACTIVE or (status == "Cancelled" and state.watch.requested in RESTARTABLE)


def _preferences(refresh: InstanceRefresh) -> DescribedPreferences:
    # A refresh that reports no Preferences is read with AWS's own defaults (made here, not at
    # import: a model built at import costs every cold start).
    return refresh.preferences or DescribedPreferences()


def checkpoint_reached(refresh: InstanceRefresh) -> int | None:
    """The checkpoint the refresh is waiting at, if it is waiting at one."""
    if refresh.status != "InProgress" or "checkpoint" not in (refresh.status_reason or "").lower():
        return None
    percentage = refresh.percentage_complete or 0
    reached = [c for c in _preferences(refresh).checkpoint_percentages or [] if c <= percentage]
    return max(reached) if reached else percentage


def next_wait(refresh: InstanceRefresh, state: WatchState, min_poll: int, max_poll: int) -> int:
    """Half the estimated time to the next moment that matters (a checkpoint, the end of the
    bake, the end), within [min_poll, max_poll]: polls close in geometrically on the end, so it
    is noticed soon without polling often in between."""
    percentage = refresh.percentage_complete or 0
    preferences = _preferences(refresh)
    watch = state.watch
    status = refresh.status
    # Time spent held at checkpoints is not progress time: leave it out of the rate.
    elapsed = watch.waited_seconds - watch.segment_started - watch.paused_seconds
    bake = float(preferences.bake_time or 0)
    delay = float(
        preferences.checkpoint_delay if preferences.checkpoint_delay is not None else DEFAULT_CHECKPOINT_DELAY
    )
    to_end: float | None = None
    if status == "Baking":
        baked = watch.waited_seconds - (
            watch.baking_since if watch.baking_since is not None else watch.waited_seconds
        )
        horizon = to_end = max(bake - baked, 0.0)
    elif status in UNWINDING or status == "Pending":
        horizon = float(min_poll * 2)
    elif checkpoint_reached(refresh) is not None and watch.checkpoint_since is not None:
        # The hold ends at a known time: wake up then (the gates run at every wake-up anyway).
        held = watch.waited_seconds - watch.checkpoint_since
        left = delay - held
        return int(min(max_poll, max(min_poll, math.ceil(left))))
    elif percentage > 0 and elapsed > 0:
        rate = percentage / elapsed  # the average so far: steadier than the last step's
        upcoming = [cp for cp in preferences.checkpoint_percentages or [] if percentage < cp < 100]
        to_end = (100 - percentage) / rate + bake
        # Aim at the middle of the next checkpoint's hold, not its start: any poll during the
        # hold runs the gates there, and aiming further out saves polls.
        horizon = min([(cp - percentage) / rate + delay / 2 for cp in upcoming] + [to_end])
    else:
        horizon = float(preferences.instance_warmup or 300)
    return int(min(max_poll, max(min_poll, math.ceil(horizon / 2))))


def absorb(state: WatchState, watch: WatchProgress) -> WatchState:
    """Fold what the state machine did since the last decision into the state: a restarted
    refresh replaces the current one; an approval answer is recorded."""
    update: dict[str, Any] = {}
    restarted = state.restarted.instance_refresh_id if state.restarted else None
    if state.restarted and restarted:
        # The state machine already follows the new refresh; remember the one it replaced.
        if isinstance(state.decision, RestoreDecision):
            watch.restore_refresh_id = restarted
        else:
            watch.segments.append(state.restarted.previous or state.refresh_id)
            watch.requested = None
        watch.segment_started, watch.baking_since = watch.waited_seconds, None
        watch.paused_seconds, watch.checkpoint_since = 0, None
        update |= {"refresh_id": restarted, "restarted": None}
        if (
            isinstance(state.decision, RestartDecision | RestoreDecision)
            and state.decision.restart_preferences
        ):
            update["preferences"] = state.decision.restart_preferences
    if state.approval is not None or state.approval_error is not None:
        asked = state.decision
        checkpoint = asked.checkpoint if isinstance(asked, ApproveDecision | CancelDecision) else None
        if state.approval is not None and state.approval.approved and checkpoint is not None:
            watch.approved_checkpoints.append(checkpoint)
        else:
            watch.failed_verdict = refused_verdict(checkpoint, state.approval, state.approval_error)
        update |= {"approval": None, "approval_error": None}
    return state.model_copy(update=update | {"watch": watch})


def decide(state: WatchState, verdicts: list[GateVerdict], min_poll: int, max_poll: int) -> WatchState:
    """Return ``state`` with the next :class:`Decision` (and the :class:`Outcome` when done).
    ``verdicts`` are the gates' verdicts, evaluated when :func:`needs_gates` says so."""
    watch = state.watch.model_copy(deep=True)
    watch.polls += 1
    watch.execution_polls += 1
    state = absorb(state, watch)
    refresh = current_refresh(state)
    if refresh is None:
        watch.reason = watch.reason or "the instance refresh can no longer be found"
        return _report(state, watch, status="NotFound", refresh=None)
    if verdicts:
        watch.verdicts = verdicts
    if refresh.status in TERMINAL:
        return _ended(state, watch, refresh, verdicts, min_poll, max_poll)
    if refresh.status in ACTIVE and watch.requested is None:
        decision = _steer(state, watch, refresh, verdicts, min_poll)
    else:
        decision = None
    _track_pauses(watch, refresh)
    waiting = state.model_copy(update={"watch": watch})
    decision = decision or WaitDecision(wait_seconds=next_wait(refresh, waiting, min_poll, max_poll))
    return _with(state, watch, refresh, decision)


def _ended(
    state: WatchState,
    watch: WatchProgress,
    refresh: InstanceRefresh,
    verdicts: list[GateVerdict],
    min_poll: int,
    max_poll: int,
) -> WatchState:
    """The decision once the refresh has ended: resume it, restore what it left, or report."""
    status = refresh.status
    if watch.restore_of is not None:
        return _report_restored(state, watch, refresh)
    if status == "Cancelled" and watch.requested in RESTARTABLE:
        return _resume_when_open(state, watch, refresh, verdicts, min_poll, max_poll)
    if status == "RollbackSuccessful" and watch.segments and state.restore_configuration:
        watch.reason = watch.reason or f"rolled back: {refresh.status_reason or 'by AWS'}"
        return _restore(state, watch, refresh, min_poll)
    if (
        status == "Cancelled"
        and watch.requested == "rollback"
        and watch.segments
        and state.restore_configuration
    ):
        # AWS could not roll the segment back (a group on $Latest, say), so it was cancelled:
        # the deployment split it into segments, so putting every instance back is on us.
        watch.reason = f"{watch.reason}; rollback impossible, cancelled"
        return _restore(state, watch, refresh, min_poll)
    return _report(state, watch, status=status, refresh=refresh)


def _track_pauses(watch: WatchProgress, refresh: InstanceRefresh) -> None:
    """Note when baking began, and when a checkpoint hold began or ended: time held is not
    progress time (see :func:`next_wait`)."""
    if refresh.status == "Baking" and watch.baking_since is None:
        watch.baking_since = watch.waited_seconds
    holding = checkpoint_reached(refresh) is not None
    if holding and watch.checkpoint_since is None:
        watch.checkpoint_since = watch.waited_seconds
    elif not holding and watch.checkpoint_since is not None:
        watch.paused_seconds += watch.waited_seconds - watch.checkpoint_since
        watch.checkpoint_since = None


def _steer(
    state: WatchState,
    watch: WatchProgress,
    refresh: InstanceRefresh,
    verdicts: list[GateVerdict],
    min_poll: int,
) -> Decision | None:
    """The decision for a running refresh nobody has stopped yet, or None to keep waiting."""
    failed = (
        watch.failed_verdict
        if watch.failed_verdict and watch.failed_verdict.gate == "manual-approval"
        else next((v for v in verdicts if not v.passed and v.effect == "rollback"), None)
    )
    if failed is not None:
        watch.requested, watch.failed_verdict = "rollback", failed
        watch.reason = f"gate {failed.gate} failed: {failed.summary}"
        return RollbackDecision(wait_seconds=min_poll)
    if watch.waited_seconds >= watch.budget_seconds:
        watch.requested = "cancel"
        watch.reason = f"the watch budget of {watch.budget_seconds}s ran out"
        return CancelDecision(wait_seconds=min_poll)
    holding = next((v for v in verdicts if not v.passed and v.effect == "hold"), None)
    checkpoint = checkpoint_reached(refresh)
    if checkpoint is not None and state.gates.holds and checkpoint < 100:
        if holding is not None:
            return None
        if state.gates.approval is not None and checkpoint not in watch.approved_checkpoints:
            return ApproveDecision(checkpoint=checkpoint)
        watch.requested, watch.reason = "promote", f"gates passed at checkpoint {checkpoint}%"
        return CancelDecision(wait_seconds=min_poll, checkpoint=checkpoint)
    if holding is not None:
        watch.requested, watch.reason = "hold", f"holding: {holding.summary}"
        return CancelDecision(wait_seconds=min_poll)
    return None


def _resume_when_open(
    state: WatchState,
    watch: WatchProgress,
    refresh: InstanceRefresh,
    verdicts: list[GateVerdict],
    min_poll: int,
    max_poll: int,
) -> WatchState:
    failed = next((v for v in verdicts if not v.passed and v.effect == "rollback"), None)
    if failed is not None:
        # Paused between two segments, nothing is active to roll back: put back what the
        # segments replaced, or, where nothing was, stop here and say so.
        watch.failed_verdict = failed
        reason = f"gate {failed.gate} failed while paused: {failed.summary}; not resumed"
        replaced = watch.segments or (refresh.percentage_complete or 0) > 0
        if replaced and state.restore_configuration:
            watch.requested, watch.reason = "rollback", reason
            return _restore(state, watch, refresh, min_poll)
        if replaced:
            reason += "; the previous launch template version is unknown, nothing was restored"
        watch.reason = reason
        watch.requested = "cancel"
        return _report(state, watch, status="Cancelled", refresh=refresh)
    holding = [v for v in verdicts if not v.passed and v.effect == "hold"]
    if holding:
        opens = [v.retry_after_seconds for v in holding]
        wait = max_poll if None in opens else max(int(s or 0) for s in opens)
        wait = min(MAX_PAUSE_WAIT_SECONDS, max(min_poll, wait))
        return _with(state, watch, refresh, WaitDecision(wait_seconds=wait))
    return _with(
        state,
        watch,
        refresh,
        RestartDecision(wait_seconds=min_poll, restart_preferences=restart_preferences(state, refresh)),
    )


def restart_preferences(state: WatchState, refresh: InstanceRefresh) -> dict[str, Any]:
    """The preferences of the refresh that resumes ``refresh``: skip what is already replaced, and
    keep the checkpoints still ahead, rebased onto the instances that are left."""
    done = refresh.percentage_complete or 0
    ahead = [c for c in checkpoints_of(state.preferences) if c > done]
    rebased = (
        sorted({min(100, max(1, math.ceil((c - done) * 100 / (100 - done)))) for c in ahead})
        if done < 100
        else []
    )
    return resumed_preferences(state.preferences, rebased)


def restore_preferences(state: WatchState) -> dict[str, Any]:
    """The preferences of the refresh that puts the earlier segments' instances back."""
    kept = {key: value for key, value in state.preferences.items() if key in RESTORE_PREFERENCES}
    return kept | {"SkipMatching": True}


def _restore(state: WatchState, watch: WatchProgress, refresh: InstanceRefresh, min_poll: int) -> WatchState:
    watch.restore_of = state.refresh_id
    preferences = restore_preferences(state)
    decision = RestoreDecision(wait_seconds=min_poll, restart_preferences=preferences)
    return _with(state, watch, refresh, decision)


def _report_restored(state: WatchState, watch: WatchProgress, refresh: InstanceRefresh) -> WatchState:
    """The deployment's outcome once the restore refresh ended: rolled back only if it succeeded."""
    restored = refresh.status == "Successful"
    watch.reason = f"{watch.reason}; " + (
        f"the instances still on the new image were restored by refresh {state.refresh_id}"
        if restored
        else f"restoring the instances still on the new image failed: refresh {state.refresh_id} "
        f"ended {refresh.status} ({refresh.status_reason or 'no reason given'})"
    )
    rolled_back = state.model_copy(update={"refresh_id": watch.restore_of})
    return _report(
        rolled_back, watch, status="RollbackSuccessful" if restored else "RollbackFailed", refresh=refresh
    )


def continuation_name(watcher: str) -> str:
    """The name of the execution that continues ``watcher``: ``<name>--2``, then ``--3``..."""
    root, _, generation = watcher.partition(GENERATION_SEPARATOR)
    return f"{root}{GENERATION_SEPARATOR}{int(generation or 1) + 1}"


def _with(
    state: WatchState, watch: WatchProgress, refresh: InstanceRefresh, decision: Decision
) -> WatchState:
    watch.last_percentage = refresh.percentage_complete or 0
    watch.last_wait = waited_after(decision)
    watch.waited_seconds += waited_after(decision)
    update: dict[str, Any] = {"watch": watch, "decision": decision, "describe": None}
    if isinstance(decision, WaitDecision) and state.watcher and watch.execution_polls >= POLLS_PER_EXECUTION:
        # Wait here as decided, then hand over: the next execution starts from this state.
        name = continuation_name(state.watcher)
        watch.execution_polls = 0
        update |= {
            "watcher": name,
            "decision": ContinueDecision(wait_seconds=decision.wait_seconds, continue_as=name),
        }
    return state.model_copy(update=update)


def _report(
    state: WatchState, watch: WatchProgress, status: str, refresh: InstanceRefresh | None
) -> WatchState:
    reason = watch.reason if watch.requested or watch.restore_of or status == "NotFound" else None
    outcome = Outcome(
        deployment_id=state.deployment_id,
        group=state.group,
        refresh_id=state.refresh_id,
        status=status,
        succeeded=status == "Successful",
        reason=reason or (refresh.status_reason if refresh else None),
        requested=watch.requested,
        image_id=state.image_id,
        launch_template_version=state.launch_template_version,
        percentage_complete=refresh.percentage_complete if refresh else None,
        polls=watch.polls,
        watched_seconds=watch.waited_seconds,
        failed_gate=watch.failed_verdict,
        segments=watch.segments,
        restore_refresh_id=watch.restore_refresh_id,
        started_at=_iso(refresh.start_time if refresh else None),
        ended_at=_iso(refresh.end_time if refresh else None),
    )
    return state.model_copy(
        update={"watch": watch, "decision": ReportDecision(), "outcome": outcome, "describe": None}
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
