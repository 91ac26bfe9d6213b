"""Scaling activities of the instances a refresh launches and terminates (DescribeScalingActivities).

moto answers DescribeScalingActivities with an empty list. AWS records an activity for every
launch and termination, a refresh's included; an operator reads them to see what a refresh did
and why an instance went. Each activity here is Successful (a launch a lifecycle hook abandoned:
Cancelled), timed by the refresh's clock, newest first, in pages of at most 100 with an opaque
token. The Cause's wording follows AWS's pattern ("At <time> ... in response to an instance
refresh"), not a captured AWS answer.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import InvalidNextToken
from .models import whole_seconds
from .validation import constraint

if TYPE_CHECKING:
    from moto.autoscaling.models import FakeAutoScalingGroup

    from .state import EmulationState

MAX_RECORDS = 100


def launched(
    state: EmulationState, group: FakeAutoScalingGroup, instance_ids: list[str], t: datetime
) -> None:
    cause = f"At {_iso(t)} an instance was started in response to an instance refresh."
    for instance_id in instance_ids:
        _record(state, group, f"Launching a new EC2 instance: {instance_id}", cause, t)


def terminated(
    state: EmulationState, group: FakeAutoScalingGroup, instance_ids: list[str], t: datetime
) -> None:
    for instance_id in instance_ids:
        cause = (
            f"At {_iso(t)} instance {instance_id} was taken out of service in response to an "
            "instance refresh."
        )
        _record(state, group, f"Terminating EC2 instance: {instance_id}", cause, t)


def launch_abandoned(state: EmulationState, instance_id: str, token: str) -> None:
    """A lifecycle hook abandoned the launch: AWS marks the launch's activity Cancelled."""
    description = f"Launching a new EC2 instance: {instance_id}"
    for activity in reversed(state.activities):
        if activity["Description"] == description:
            activity["StatusCode"] = "Cancelled"
            activity["StatusMessage"] = (
                "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token "
                f"{token} was abandoned: Lifecycle Action Completed with ABANDON Result"
            )
            return


def describe(state: EmulationState, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeScalingActivities over what the emulation recorded, newest first."""
    limit = int(params.get("MaxRecords") or MAX_RECORDS)
    if not 1 <= limit <= MAX_RECORDS:
        raise constraint(limit, "maxRecords", f"Member must have value between 1 and {MAX_RECORDS}")
    group, ids = params.get("AutoScalingGroupName"), set(params.get("ActivityIds") or [])
    rows = [
        a
        for a in reversed(state.activities)
        if (not group or a["AutoScalingGroupName"] == group) and (not ids or a["ActivityId"] in ids)
    ]
    start_at = 0
    if params.get("NextToken"):
        start_at = _position(rows, str(params["NextToken"]))
    out: dict[str, Any] = {"Activities": [dict(a) for a in rows[start_at : start_at + limit]]}
    if start_at + limit < len(rows):
        following = rows[start_at + limit]["ActivityId"]
        out["NextToken"] = base64.urlsafe_b64encode(json.dumps(["activity", following]).encode()).decode()
    return out


def _position(rows: list[dict[str, Any]], token: str) -> int:
    try:
        kind, activity_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise InvalidNextToken() from None
    positions = [i for i, a in enumerate(rows) if kind == "activity" and a["ActivityId"] == activity_id]
    if not positions:
        raise InvalidNextToken()
    return positions[0]


def _record(
    state: EmulationState, group: FakeAutoScalingGroup, description: str, cause: str, t: datetime
) -> None:
    when = whole_seconds(t)
    zone = group.availability_zones[0] if group.availability_zones else ""
    subnet = group.vpc_zone_identifier.split(",")[0] if group.vpc_zone_identifier else ""
    state.activities.append(
        {
            "ActivityId": str(uuid.uuid4()),
            "AutoScalingGroupName": group.name,
            "AutoScalingGroupARN": group.arn,
            "Description": description,
            "Cause": cause,
            "StartTime": when,
            "EndTime": when,
            "StatusCode": "Successful",
            "Progress": 100,
            "Details": json.dumps({"Subnet ID": subnet, "Availability Zone": zone}),
        }
    )


def _iso(t: datetime) -> str:
    return whole_seconds(t).strftime("%Y-%m-%dT%H:%M:%SZ")
