"""Auto Scaling group facts the product relies on: opt-in, launch template, active refresh."""

from __future__ import annotations

from asg_refresh.dal.records import ACTIVE_REFRESH_STATUSES, Group, LaunchTemplateSpec
from asg_refresh.dal.records import active_refresh as active_of

__all__ = [
    "ACTIVE_REFRESH_STATUSES",
    "active_of",
    "execution_name",
    "is_opted_in",
    "launch_template_of",
    "tag_value",
]


def tag_value(group: Group, key: str) -> str | None:
    return group.tag(key)


def is_opted_in(group: Group, key: str, value: str) -> bool:
    return group.is_opted_in(key, value)


def launch_template_of(group: Group) -> LaunchTemplateSpec | None:
    """The group's launch template specification, directly or inside its MixedInstancesPolicy."""
    return group.launch_template


def execution_name(refresh_id: str) -> str:
    """One watcher per refresh: Step Functions refuses a second execution of the same name."""
    return f"refresh-{refresh_id}"[:80]
