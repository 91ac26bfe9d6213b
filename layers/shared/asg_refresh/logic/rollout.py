"""A rollout in waves: plan the waves, start one group of a wave, judge a wave once it is done.

Starting a group goes through :func:`start_and_record` (the same path as StartRefresh: image
checks, a numbered launch template version, the refresh, its watcher, the audit record), one group
per call so that the state machine's Map can cap how many run at once.
"""

from __future__ import annotations

from datetime import datetime

from asg_refresh.dal.ports import DeploymentAudit, StartPorts
from asg_refresh.errors import AsgRefreshError, LimitExceededError, NoTargetGroupsError
from asg_refresh.logic.images import checked_image_id
from asg_refresh.logic.start_refresh import select_groups, start_and_record
from asg_refresh.logic.supersede import queued_deployment_id
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.logic.waves import plan_waves
from asg_refresh.models.rollout import (
    GroupStart,
    RolloutMessage,
    RolloutPlan,
    WaveItem,
)
from asg_refresh.settings import Settings

#: Step Functions caps an execution's state (every state's input and output) at 256 KB.
STATE_LIMIT_BYTES = 256 * 1024
#: A followed group's output beyond its name ("Report the group" in rollout_waves.asl.json).
_RESULT_BYTES = len(
    '{"group":"","status":"started","refresh_id":"00000000-0000-0000-0000-000000000000",'
    '"previous_image_id":"ami-00000000000000000","refresh":{"status":"RollbackSuccessful"}},'
)
#: What a group adds to the verdicts beyond its name twice: a list entry, a previous image.
_VERDICT_BYTES = len('"",' + '"":"ami-00000000000000000",')


def state_bytes(plan: RolloutPlan) -> int:
    """The rollout's state at its largest, over-estimated: the plan, every wave's verdict, and
    its largest wave (taken as ``current``) with that wave's results, when that wave is checked."""
    groups = [group for wave in plan.waves for group in wave.groups]
    verdicts = sum(2 * len(group.encode()) + _VERDICT_BYTES for group in groups)
    largest_wave = max(
        (sum(2 * len(group.encode()) + 3 + _RESULT_BYTES for group in wave.groups) for wave in plan.waves),
        default=0,
    )
    return len(plan.model_dump_json().encode()) + verdicts + largest_wave


def plan_rollout(
    message: RolloutMessage, rollout_id: str, aws: StartPorts, settings: Settings
) -> RolloutPlan:
    """Resolve the image and the fleet once, and cut the fleet into waves."""
    request = request_from_message(message, rollout_id, "deploy")
    image_id = checked_image_id(request, aws, settings)
    # Each group is started alone (one StartWaveGroup call each), so it is judged alone: a group
    # sharing a launch template with a later wave's group on $Latest would move that one early.
    targets, skipped = select_groups(request, aws, settings, each_group_alone=True)
    waves, unclaimed = plan_waves(targets, message.waves)
    if not waves:
        reasons = "; ".join(f"{item.group}: {item.reason}" for item in skipped + unclaimed)
        raise NoTargetGroupsError(f"no group to roll out ({reasons or 'none matched'})")
    # Pin the image: every wave rolls out the same AMI even if the parameter changes meanwhile.
    pinned = message.model_copy(update={"image_id": image_id, "image_parameter": None})
    plan = RolloutPlan(
        rollout_id=request.deployment_id[:48],
        image_id=image_id,
        message=pinned,
        waves=waves,
        skipped=skipped + unclaimed,
    )
    size = state_bytes(plan)
    if size > STATE_LIMIT_BYTES:
        raise LimitExceededError(
            f"a rollout of {len(targets)} groups would carry about {size // 1024} KB of state, over Step "
            f"Functions' {STATE_LIMIT_BYTES // 1024} KB: narrow the selector or split the fleet into rollouts"
        )
    return plan


def start_wave_item(
    item: WaveItem, aws: StartPorts, settings: Settings, now: datetime, audit: DeploymentAudit | None
) -> GroupStart:
    """Start (or, with ``revert_to_image``, revert) one group, recorded in ``audit`` (None without
    an audit table); refusals become a result, not an error."""
    deployment_id = f"{item.rollout_id}.{item.wave}.{item.index}"
    message = item.message.deploy_message([item.group], deployment_id)
    if item.revert_to_image:
        message = message.model_copy(update={"image_id": item.revert_to_image, "image_parameter": None})
    previous = _current_image(item.group, aws)
    request = request_from_message(message, deployment_id, "deploy")
    if request.supersede is None:
        # A wave is judged when its groups end: a group busy towards another image fails it
        # rather than waiting outside the rollout's order.
        request = request.model_copy(update={"supersede": "reject"})
    try:
        result = start_and_record(request, aws, settings, now, audit)
    except AsgRefreshError as error:
        if error.retryable:
            raise
        return GroupStart(group=item.group, status="failed", code=error.code, reason=error.message)
    if result.refreshes:
        started = result.refreshes[0]
        return GroupStart(
            group=item.group,
            status="started",
            refresh_id=started.refresh_id,
            execution_arn=started.execution_arn,
            watchers_arn=started.execution_arn.rpartition(":")[0] if started.execution_arn else None,
            previous_image_id=previous,
        )
    if result.queued:
        # The wave follows it (logic/wave_queue.py) until it starts or ends unstarted.
        queued = result.queued[0]
        return GroupStart(
            group=item.group,
            status="queued",
            code="QUEUED",
            reason=queued.reason,
            previous_image_id=previous,
            queued_deployment_id=queued_deployment_id(request.deployment_id, item.group),
        )
    skipped = result.skipped[0] if result.skipped else None
    return GroupStart(
        group=item.group,
        status="skipped",
        code=skipped.code if skipped else None,
        reason=skipped.reason if skipped else "nothing to do",
    )


def _current_image(group_name: str, aws: StartPorts) -> str | None:
    found = aws.describe_groups([group_name])
    template = found[0].launch_template if found else None
    if template is None:
        return None
    return aws.template_version(template, template.version_followed).image_id or None
