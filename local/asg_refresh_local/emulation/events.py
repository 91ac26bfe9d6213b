"""Instance refresh lifecycle events on moto's default EventBridge bus, shaped as AWS documents them."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from moto.events.models import events_backends

from .models import Refresh
from .state import LOCK

if TYPE_CHECKING:
    from .state import EmulationState

log = logging.getLogger(__name__)

SOURCE = "aws.autoscaling"
STARTED = "EC2 Auto Scaling Instance Refresh Started"
CHECKPOINT = "EC2 Auto Scaling Instance Refresh Checkpoint Reached"
SUCCEEDED = "EC2 Auto Scaling Instance Refresh Succeeded"
FAILED = "EC2 Auto Scaling Instance Refresh Failed"
CANCELLED = "EC2 Auto Scaling Instance Refresh Cancelled"
ROLLBACK_STARTED = "EC2 Auto Scaling Instance Refresh Rollback Started"
ROLLBACK_SUCCEEDED = "EC2 Auto Scaling Instance Refresh Rollback Succeeded"
ROLLBACK_FAILED = "EC2 Auto Scaling Instance Refresh Rollback Failed"
BAKING = "EC2 Auto Scaling Instance Refresh Started Baking"


def publish(
    state: EmulationState,
    refresh: Refresh,
    detail_type: str,
    when: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Queue an event; ``deliver`` sends it once the emulation's lock is released."""
    detail: dict[str, Any] = {
        "InstanceRefreshId": refresh.refresh_id,
        "AutoScalingGroupName": refresh.group_name,
    }
    detail.update(extra or {})
    queue(state, detail_type, detail, refresh.group_arn, when)


def queue(
    state: EmulationState, detail_type: str, detail: dict[str, Any], group_arn: str, when: datetime
) -> None:
    """Queue any Auto Scaling event about a group (lifecycle actions use it too)."""
    state.outbox.append(
        {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "Resources": [group_arn],
            # moto's input template inlines ``time`` unquoted, so it must be a number (epoch seconds),
            # as a real client's PutEvents Time is; moto renders it ISO-8601 for the targets.
            "Time": int(when.timestamp()),
        }
    )


def deliver(state: EmulationState) -> None:
    """Put queued events on the default bus, outside the lock: a rule's target may call back into
    Auto Scaling from another thread (the harness runs Lambda handlers and state machines)."""
    with LOCK:
        entries, state.outbox[:] = list(state.outbox), []
    backend = events_backends[state.account_id][state.region]
    for entry in entries:
        try:
            backend.put_events([entry])
        except Exception:
            # AWS delivers these on a best-effort basis, and moto raises for target types it does not
            # support (Lambda, Step Functions, SNS); the harness patches those, so never fail the refresh.
            log.warning("could not deliver %s", entry["DetailType"], exc_info=True)
