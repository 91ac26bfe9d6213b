"""A rollout wave's group whose deployment queued behind another refresh (supersede ``queue``):
the wave follows it until it starts, then follows its watcher like any other group's; a queued
deployment that ends unstarted (superseded by a newer one, dropped because the refresh ahead
failed, or its start failed) fails the wave with that reason, and one with nothing to do is
skipped, as a group already up to date is."""

from __future__ import annotations

from asg_refresh.dal.ports import QueueFollower
from asg_refresh.models.rollout import MAX_QUEUED_LOOKS, GroupStart, QueuedWaveGroup


def follow_queued(queued: QueuedWaveGroup, audit: QueueFollower) -> GroupStart:
    """What became of ``queued`` since the wave last looked: still queued (look again later),
    started (follow its watcher), skipped, or failed with the audit's reason."""
    found = audit.queued_item(queued.group, queued.queued_deployment_id)
    if found is None:
        return _failed(queued, "QUEUED_LOST", "the waiting deployment is no longer in the audit table")
    status, reason = str(found.get("status")), str(found.get("reason") or "")
    if status == "Queued":
        if queued.queued_looks + 1 >= MAX_QUEUED_LOOKS:
            why = f"still waiting after {MAX_QUEUED_LOOKS} looks: {queued.reason or 'queued'}"
            return _failed(queued, "QUEUED_TOO_LONG", why)
        return queued.model_copy(update={"queued_looks": queued.queued_looks + 1})
    if status == "Started":
        started = next(
            (i for i in audit.deployment(queued.queued_deployment_id) if i.get("execution_arn")), None
        )
        if started is None:
            return _failed(queued, "QUEUED_LOST", f"started ({reason}) but no watcher is recorded")
        execution_arn = str(started["execution_arn"])
        return GroupStart(
            group=queued.group,
            status="started",
            refresh_id=started.get("refresh_id"),
            execution_arn=execution_arn,
            watchers_arn=execution_arn.rpartition(":")[0],
            previous_image_id=queued.previous_image_id,
            queued_deployment_id=queued.queued_deployment_id,
        )
    if status == "Skipped":
        return GroupStart(group=queued.group, status="skipped", code="QUEUED_SKIPPED", reason=reason)
    why = f"the waiting deployment was {status.lower()}: {reason}"
    return _failed(queued, f"QUEUED_{status.upper()}", why)


def _failed(queued: QueuedWaveGroup, code: str, reason: str) -> GroupStart:
    return GroupStart(
        group=queued.group,
        status="failed",
        code=code,
        reason=reason,
        queued_deployment_id=queued.queued_deployment_id,
    )
