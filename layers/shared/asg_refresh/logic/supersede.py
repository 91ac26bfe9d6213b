"""Newer images supersede: what a deployment does to a group already refreshing towards another
image, by its ``supersede`` policy (or the stack's ``SupersedePolicy``):

* ``queue`` (the default): the deployment waits, in the audit table. When the running refresh
  ends Successful, its watcher asks StartRefresh to start the newest waiting deployment; older
  ones are superseded. If it ends otherwise (rolled back, cancelled, failed), the waiting ones are
  dropped: a refresh that went wrong is a reason to stop, not to pile another on. Either way the
  audit and the watcher's notification say what happened to each.
* ``replace``: the running refresh is cancelled, and the deployment waits for the cancel to end,
  then starts whatever the cancelled refresh ended as. Cancelled, not rolled back: a rollback
  would launch old instances only for the next refresh to replace them again.
* ``reject``: refused before anything starts (``REFRESH_IN_PROGRESS``), so a machine trigger's
  event is dead-lettered instead of skipped.

A deployment that queues after the refresh ahead of it already ended (and its watcher already
looked) would wait forever: :func:`start_if_nothing_ahead` starts it at once in that case.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from asg_refresh.dal.ports import DeploymentQueue, NoActiveRefresh, Refreshes, RefreshStops
from asg_refresh.dal.records import active_refresh
from asg_refresh.errors import AsgRefreshError
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.models.queue import QueuedDeployment, QueueDrain, QueueDrainResult
from asg_refresh.models.results import QueuedGroup, StartResult

Starter = Callable[[DeployRequest], StartResult]


class WaitingRoom:
    """Where a deployment waits for a group, under the ``queue`` or ``replace`` policy."""

    def __init__(
        self,
        queue: DeploymentQueue,
        stops: RefreshStops,
        policy: Literal["queue", "replace"],
        now: datetime,
    ) -> None:
        self.queue, self.stops, self.policy, self.now = queue, stops, policy, now

    def wait_behind(self, group: str, refresh_id: str, request: DeployRequest, image_id: str) -> QueuedGroup:
        if self.policy == "replace":
            # If it ended meanwhile, start_if_nothing_ahead starts this one.
            with contextlib.suppress(NoActiveRefresh):
                self.stops.cancel_refresh(group)
        self.queue.queue_deployment(
            QueuedDeployment(
                group=group,
                request=pinned_to(request, group, image_id),
                image_id=image_id,
                policy=self.policy,
                behind_refresh_id=refresh_id,
                queued_at=self.now.isoformat(),
            )
        )
        if self.policy == "replace":
            reason = f"cancelling refresh {refresh_id}; {image_id} starts when the cancel ends"
        else:
            reason = f"waits for refresh {refresh_id}; {image_id} starts if it ends Successful"
        return QueuedGroup(group=group, policy=self.policy, behind_refresh_id=refresh_id, reason=reason)


def pinned_to(request: DeployRequest, group: str, image_id: str) -> DeployRequest:
    """The request for that group alone, on the image it resolved to, under a deployment id of
    its own (the original deployment's record names every group it started)."""
    return request.model_copy(
        update={
            "deployment_id": queued_deployment_id(request.deployment_id, group),
            "groups": [group],
            "tags": None,
            "image": ImageSource(image_id=image_id),
        }
    )


def queued_deployment_id(deployment_id: str, group: str) -> str:
    """The id a deployment waiting for ``group`` has: ``<deployment id>.q<hash of the group>``."""
    suffix = f".q{hashlib.sha256(group.encode()).hexdigest()[:8]}"
    # Queued again (another refresh got there first): the same deployment, the same item.
    if deployment_id.endswith(suffix):
        return deployment_id
    return f"{deployment_id[: 64 - len(suffix)]}{suffix}"


def start_queued(
    drain: QueueDrain, aws: Refreshes, queue: DeploymentQueue, start: Starter
) -> QueueDrainResult:
    """The group's refresh ended (``drain.status``): start its newest waiting deployment, or
    drop them all if that refresh did not succeed and nobody asked to replace it."""
    waiting = queue.queued_for(drain.group)
    if waiting and active_refresh(aws.refreshes_of(drain.group)) is not None:
        # A watcher that broke, not a refresh that ended: the refresh's next watcher drains.
        reason = "a refresh of the group is still active: they keep waiting"
        return QueueDrainResult(group=drain.group, reason=reason)
    return _start_newest(drain, waiting, queue, start)


def _start_newest(
    drain: QueueDrain, waiting: list[QueuedDeployment], queue: DeploymentQueue, start: Starter
) -> QueueDrainResult:
    """``waiting`` (oldest first), once nothing is active on the group."""
    result = QueueDrainResult(group=drain.group)
    if not waiting:
        return result
    *older, newest = waiting
    for queued in older:
        why = f"superseded by deployment {newest.request.deployment_id} ({newest.image_id})"
        queue.close_queued(queued, "Superseded", why)
        result.superseded.append(queued.request.deployment_id)
    replacing = any(queued.policy == "replace" for queued in waiting)
    if drain.status != "Successful" and not replacing:
        result.reason = f"the refresh ahead of it ({drain.refresh_id}) ended {drain.status}: not started"
        queue.close_queued(newest, "Dropped", result.reason)
        result.dropped.append(newest.request.deployment_id)
        return result
    try:
        started = start(newest.request)
    except AsgRefreshError as error:
        if error.retryable:
            raise  # retried by the caller; it keeps waiting meanwhile (the reconciler drains it later)
        # Refused for good (its image deregistered meanwhile, say): it must not wait forever.
        result.reason = f"{error.code}: {error.message}"
        queue.close_queued(newest, "Failed", result.reason)
        result.failed.append(newest.request.deployment_id)
        return result
    if started.queued:
        # Someone else's refresh got there first: it waits again (the same item, queued anew).
        result.reason = started.queued[0].reason
    elif started.refreshes:
        result.started = started.refreshes
        queue.close_queued(newest, "Started", f"refresh {started.refreshes[0].refresh_id}")
    else:
        result.reason = "; ".join(f"{s.code}: {s.reason}" for s in started.skipped) or "nothing to do"
        queue.close_queued(newest, "Skipped", result.reason)
    return result


def start_if_nothing_ahead(
    queued: QueuedGroup, aws: Refreshes, queue: DeploymentQueue, start: Starter
) -> QueueDrainResult | None:
    """Start a just-queued deployment at once if the refresh it waits behind has already ended
    (its watcher may have looked at the queue before this deployment was in it)."""
    refreshes = aws.refreshes_of(queued.group)
    if active_refresh(refreshes) is not None:
        return None
    ahead = next((r for r in refreshes if r.id == queued.behind_refresh_id), None)
    drain = QueueDrain(
        group=queued.group, refresh_id=queued.behind_refresh_id, status=ahead.status if ahead else "Unknown"
    )
    # Nothing is active (just described): no need to describe the group again.
    return _start_newest(drain, queue.queued_for(queued.group), queue, start)
