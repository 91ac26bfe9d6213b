"""An alarm went to ALARM: roll back the active refresh of every opted-in group it guards."""

from __future__ import annotations

import logging
from typing import Literal

from asg_refresh.dal.ports import (
    AlarmRollbackPorts,
    NoActiveRefresh,
    RefreshIrreversible,
    RefreshStops,
    TaggedGroups,
)
from asg_refresh.dal.records import Group
from asg_refresh.models.base import Model
from asg_refresh.settings import Settings

logger = logging.getLogger(__name__)


class GroupAction(Model):
    group: str
    action: Literal["rolled-back", "cancelled", "nothing-active", "not-opted-in"]
    refresh_id: str | None = None
    reason: str | None = None


class AlarmRollbackResult(Model):
    alarm: str
    actions: list[GroupAction]


def guarded_groups(alarm_name: str, aws: TaggedGroups, settings: Settings) -> list[Group]:
    """Groups whose alarm tag lists ``alarm_name``, plus every opted-in group when the alarm is
    one of the default alarms (which guard every group)."""
    if alarm_name in settings.default_alarm_names:
        return aws.groups_with_tags({settings.opt_in_tag_key: settings.opt_in_tag_value})
    candidates = aws.groups_with_tags_key(settings.alarm_tag_key)
    return [group for group in candidates if alarm_name in group.tag_list(settings.alarm_tag_key)]


def roll_back_for_alarm(
    alarm_name: str, reason: str, aws: AlarmRollbackPorts, settings: Settings
) -> AlarmRollbackResult:
    actions = []
    for group in guarded_groups(alarm_name, aws, settings):
        if not group.is_opted_in(settings.opt_in_tag_key, settings.opt_in_tag_value):
            actions.append(GroupAction(group=group.name, action="not-opted-in"))
            continue
        actions.append(_stop_refresh(group.name, aws, f"alarm {alarm_name} is ALARM: {reason}"))
    return AlarmRollbackResult(alarm=alarm_name, actions=actions)


def _stop_refresh(group: str, aws: RefreshStops, reason: str) -> GroupAction:
    try:
        refresh_id = aws.rollback_refresh(group)
        logger.warning("rolled back", extra={"group": group, "refresh_id": refresh_id, "reason": reason})
        return GroupAction(group=group, action="rolled-back", refresh_id=refresh_id, reason=reason)
    except NoActiveRefresh:
        return GroupAction(group=group, action="nothing-active")
    except RefreshIrreversible as irreversible:
        try:
            refresh_id = aws.cancel_refresh(group)
        except NoActiveRefresh:
            return GroupAction(group=group, action="nothing-active")
        why = f"{reason}; rollback impossible ({irreversible}), cancelled instead"
        logger.warning("cancelled", extra={"group": group, "refresh_id": refresh_id, "reason": why})
        return GroupAction(group=group, action="cancelled", refresh_id=refresh_id, reason=why)
