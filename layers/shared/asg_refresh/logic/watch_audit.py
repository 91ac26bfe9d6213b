"""What the audit table learns from one poll of the watcher (EvaluateGates writes it)."""

from __future__ import annotations

from datetime import datetime

from asg_refresh import timeutil
from asg_refresh.models.watch import RestoreDecision, ResumedRefresh, WatchRecords, WatchState, WindowHold

#: Decisions after which the watcher no longer holds for a window: it stops, resumes or reports.
_NOT_HOLDING = frozenset({"rollback", "restore", "restart", "report"})


def watch_records(state: WatchState, decided: WatchState) -> WatchRecords:
    """The records of the decision that turned ``state`` (as the state machine passed it) into
    ``decided``: the refresh the state machine started since the last decision, beside the one it
    follows, a time-window hold begun, moved or ended, and the outcome once the watch ends."""
    resumed = None
    if state.restarted:
        resumed = ResumedRefresh(
            deployment_id=state.deployment_id,
            group=state.group,
            # The new refresh, as decide() took it over from the state machine's output.
            refresh_id=decided.refresh_id,
            previous=state.restarted.previous or "",
            watcher=state.watcher,
            restore=isinstance(state.decision, RestoreDecision),
        )
    return WatchRecords(resumed=resumed, outcome=decided.outcome, hold=hold_change(state, decided))


def window_hold(state: WatchState) -> tuple[str | None, str] | None:
    """(when the window opens, why it is closed) while the watcher holds ``state``'s refresh for a
    closed time window, by its latest verdicts and decision; None when it does not."""
    decision, watch = state.decision, state.watch
    if (
        state.outcome is not None
        or decision is None
        or decision.action in _NOT_HOLDING
        or watch.requested in ("rollback", "cancel")
        or watch.restore_of is not None
    ):
        return None
    closed = next((v for v in watch.verdicts if v.gate == "time-window" and not v.passed), None)
    if closed is None:
        return None
    opens = next((e.reason for e in closed.evidence if e.name == "opens" and e.reason), None)
    return (timeutil.iso_seconds(datetime.fromisoformat(opens)) if opens else None), closed.summary


def hold_change(state: WatchState, decided: WatchState) -> WindowHold | None:
    """The hold to record when it began, moved or ended at this decision; None when unchanged (a
    paused watcher polls for days: one write when the hold begins, one when it ends)."""
    before, after = window_hold(state), window_hold(decided)
    if before == after:
        return None
    if after is None:
        # Ended: on the refresh that was held (a resumed one has an item of its own).
        return WindowHold(
            deployment_id=state.deployment_id, group=state.group, refresh_id=state.refresh_id, holding=False
        )
    until, reason = after
    return WindowHold(
        deployment_id=decided.deployment_id,
        group=decided.group,
        refresh_id=decided.refresh_id,
        holding=True,
        until=until,
        reason=reason,
    )
