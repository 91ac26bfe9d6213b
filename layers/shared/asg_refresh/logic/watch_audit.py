"""What the audit table learns from one poll of the watcher (EvaluateGates writes it)."""

from __future__ import annotations

from asg_refresh.models.watch import RestoreDecision, ResumedRefresh, WatchRecords, WatchState


def watch_records(state: WatchState, decided: WatchState) -> WatchRecords:
    """The records of the decision that turned ``state`` (as the state machine passed it) into
    ``decided``: the refresh the state machine started since the last decision, beside the one it
    follows, and the outcome once the watch ends."""
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
    return WatchRecords(resumed=resumed, outcome=decided.outcome)
