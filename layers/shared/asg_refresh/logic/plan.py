"""Dry run: what a deploy would do to each group, from Describe calls only.

The batch arithmetic follows AWS's documented rules, which the instance-refresh emulation also
implements (``asg_refresh_local.emulation.engine._batch_size``); ``tests/integration/test_plan.py``
holds the two together by running the same refresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from asg_refresh.dal.ports import StartPorts
from asg_refresh.dal.records import Group, GroupInstance
from asg_refresh.errors import AlreadyUpToDateError
from asg_refresh.logic import launch_templates as lt_rules
from asg_refresh.logic import preflight
from asg_refresh.logic.images import checked_image_id
from asg_refresh.logic.rollout import plan_rollout
from asg_refresh.logic.start_refresh import DEFAULT_HOLD_CHECKPOINTS, select_groups
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.models.deploy import DeployRequest
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.plan import (
    CapacitySample,
    DeployPlan,
    GroupPlan,
    PlannedBatch,
    PlannedInstance,
    WavePlan,
)
from asg_refresh.models.preferences import RefreshPreferences
from asg_refresh.models.results import SkippedGroup
from asg_refresh.models.rollout import RolloutMessage
from asg_refresh.settings import Settings

AWS_DEFAULT_MIN_HEALTHY = 90
AWS_DEFAULT_CHECKPOINT_DELAY = 3600
#: AWS does not let you choose these; the emulation uses the same values.
PENDING_SECONDS = 5
LAUNCH_SECONDS = 60


def plan_deployment(
    request: DeployRequest,
    aws: StartPorts,
    settings: Settings,
    launch_seconds: int = LAUNCH_SECONDS,
    *,
    each_group_alone: bool = False,
) -> DeployPlan:
    """The plan of ``request``. Reads only: no launch template version, no refresh, no watcher.
    The groups StartRefresh would refuse are skipped with the same code and reason;
    ``each_group_alone`` judges shared launch templates as a rollout starts groups, one by one."""
    image_id = checked_image_id(request, aws, settings)
    targets, skipped = select_groups(request, aws, settings, each_group_alone=each_group_alone)
    preferences = request.preferences.merged_over(settings.default_preferences)
    targets, refused, checks = preflight.screen(targets, skipped, image_id, preferences, aws)
    skipped += refused
    plans: list[GroupPlan] = []
    for group in targets:
        try:
            plans.append(plan_group(group, image_id, preferences, aws, launch_seconds))
        except AlreadyUpToDateError as error:
            skipped.append(
                SkippedGroup(group=group.name, code=error.code, reason=error.message)
            )
    return DeployPlan(
        image_id=image_id,
        groups=plans,
        skipped=skipped,
        assumed_launch_seconds=launch_seconds,
        estimated_seconds=max((p.estimated_seconds for p in plans), default=0),
        gates=gate_notes(request.gates.merged_over(settings.default_gates), preferences),
        preflight=checks,
    )


def gate_notes(gates: GateConfig, preferences: RefreshPreferences) -> list[str]:
    """One line per gate the watcher applies: what it does, and the waits no estimate includes."""
    checkpoints = preferences.checkpoint_percentages or list(DEFAULT_HOLD_CHECKPOINTS)
    at = ", ".join(f"{c}%" for c in checkpoints)
    notes = []
    if gates.approval is not None:
        notes.append(
            f"manual approval at {at}: a person answers within {gates.approval.timeout_seconds}s or the "
            "refresh rolls back; the estimates do not include that wait"
        )
    elif gates.hold_at_checkpoints:
        notes.append(f"holds at {at} until the gates pass, then goes on at once (promote)")
    if gates.window is not None:
        window = gates.window
        notes.append(
            f"runs only {','.join(window.days)} {window.start}-{window.end} {window.timezone}"
            + (f", never in {len(window.freezes)} freeze(s)" if window.freezes else "")
            + ": a closed window pauses it, which the estimates do not include"
        )
    if gates.alarms or gates.metrics:
        notes.append(
            f"rolls back if any of {len(gates.alarms)} alarm(s) goes to ALARM or any of "
            f"{len(gates.metrics)} metric gate(s) fails (plus each group's tagged alarms)"
        )
    return notes


def plan_group(
    group: Group,
    image_id: str,
    preferences: RefreshPreferences,
    aws: StartPorts,
    launch_seconds: int = LAUNCH_SECONDS,
) -> GroupPlan:
    name = group.name
    template = group.launch_template
    assert template is not None
    current = aws.template_version(template, template.version_followed)
    current_image = current.image_id or None
    images = lt_rules.VersionImages(aws, template)
    # As StartRefresh judges it: up to date when the template and every in-service instance use
    # the image; a template on the image with instances off it is refreshed towards its own
    # version with SkipMatching, so only those are replaced.
    realign = current_image == image_id
    behind = images.off_target(group, image_id, str(current.version)) if realign else []
    if realign and not behind:
        raise AlreadyUpToDateError(
            f"its launch template and every in-service instance already use {image_id}", group=name
        )
    # Otherwise the refresh targets a new numbered version: SkipMatching (which compares launch
    # template and version, as AWS does) leaves no instance alone, none runs that version yet.
    target_version = str(current.version) if realign else None
    instances = [_instance_plan(i, images, image_id, preferences, target_version) for i in _live(group)]
    to_replace = sum(1 for i in instances if i.action == "replace")
    warmup = _warmup(group, preferences)
    schedule = _group_schedule(group, preferences, to_replace, warmup, launch_seconds)
    return GroupPlan(
        group=name,
        reason=f"opted in; launch template {current.template_id} version {current.version} "
        f"uses {current_image}"
        + (f", but {len(behind)} in-service instance(s) run another image or version" if behind else ""),
        desired=schedule.desired,
        launch_template_id=current.template_id,
        current_version=str(current.version),
        current_image_id=current_image,
        min_healthy_percentage=_min_healthy(preferences),
        max_healthy_percentage=preferences.max_healthy_percentage,
        min_in_service=schedule.min_in_service,
        max_total=schedule.max_total,
        instances=instances,
        to_replace=to_replace,
        batches=schedule.batches,
        lowest_in_service=min(s.in_service for s in schedule.samples),
        highest_total=max(s.total for s in schedule.samples),
        checkpoints=list(preferences.checkpoint_percentages or []),
        checkpoint_delay=_checkpoint_delay(preferences),
        instance_warmup=warmup,
        bake_time=preferences.bake_time or 0,
        estimated_seconds=schedule.samples[-1].at,
        samples=schedule.samples,
    )


def _group_schedule(
    group: Group, preferences: RefreshPreferences, to_replace: int, warmup: int, launch_seconds: int
) -> Schedule:
    """The group's refresh simulated from its capacity now."""
    return simulate(
        desired=group.desired_capacity,
        in_service=sum(1 for i in group.instances if _healthy_in_service(i)),
        total=len(_live(group)),
        to_replace=to_replace,
        preferences=preferences,
        warmup=warmup,
        launch_seconds=launch_seconds,
    )


@dataclass
class Schedule:
    desired: int
    min_in_service: int
    max_total: int
    batches: list[PlannedBatch] = field(default_factory=list)
    samples: list[CapacitySample] = field(default_factory=list)


def simulate(
    *,
    desired: int,
    in_service: int,
    total: int,
    to_replace: int,
    preferences: RefreshPreferences,
    warmup: int,
    launch_seconds: int = LAUNCH_SECONDS,
) -> Schedule:
    """Batches and capacity over time of one refresh that goes well (pure arithmetic)."""
    min_pct = _min_healthy(preferences)
    max_pct = preferences.max_healthy_percentage
    low = math.ceil(min_pct * desired / 100)
    high = desired if max_pct is None else math.floor(max_pct * desired / 100)
    out = Schedule(desired=desired, min_in_service=low, max_total=high)
    out.samples.append(CapacitySample(at=0, in_service=in_service, total=total, event="requested"))
    t = PENDING_SECONDS
    out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="started"))
    checkpoints = list(preferences.checkpoint_percentages or [])
    updated = 0
    while updated < to_replace:
        size, first = _next_batch(
            extra=max(0, high - total),
            down=max(0, in_service - low),
            launch_first=max_pct is not None,
            left=to_replace - updated,
            next_checkpoint=(
                max(math.ceil(checkpoints[0] * to_replace / 100) - updated, 1) if checkpoints else None
            ),
        )
        t, in_service, total = _replace_batch(
            out, t, in_service, total, size=size, first=first, launch_seconds=launch_seconds, warmup=warmup
        )
        updated += size
        percentage = math.floor(100 * updated / to_replace)
        reached = [p for p in checkpoints if percentage >= p]
        checkpoints = [p for p in checkpoints if p not in reached]
        if reached and reached[-1] < 100 and updated < to_replace:
            out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="checkpoint"))
            t += _checkpoint_delay(preferences)
    if preferences.bake_time:
        out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="baking-started"))
        t += preferences.bake_time
    out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="successful"))
    return out


def _next_batch(
    *, extra: int, down: int, launch_first: bool, left: int, next_checkpoint: int | None
) -> tuple[int, int]:
    """The next batch's size and how many of it are terminated before their replacements launch,
    from the room above (``extra``) and below (``down``) the capacity bounds, the instances
    ``left`` to replace, and how many replacements reach the next checkpoint."""
    if extra + down == 0:
        # Both bounds cannot hold: AWS launches first with MaxHealthyPercentage, else one at a time.
        extra, down = (1, 0) if launch_first else (0, 1)
    size = min(extra + down, left)
    if next_checkpoint is not None:
        size = min(size, next_checkpoint)
    return size, min(max(0, size - extra), size)


def _replace_batch(
    out: Schedule,
    t: int,
    in_service: int,
    total: int,
    *,
    size: int,
    first: int,
    launch_seconds: int,
    warmup: int,
) -> tuple[int, int, int]:
    """Record one batch (``first`` of its ``size`` terminated before launch) starting at ``t``;
    return the time it is done and the capacity then."""
    in_service, total = in_service - first, total - first + size
    start = t
    out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="batch-started"))
    low_point, high_point = in_service, total
    t += launch_seconds
    in_service, total = in_service + first, total - (size - first)
    out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="batch-in-service"))
    in_service_at = t
    t += warmup
    out.samples.append(CapacitySample(at=t, in_service=in_service, total=total, event="batch-done"))
    out.batches.append(
        PlannedBatch(
            index=len(out.batches),
            size=size,
            terminated_first=first,
            starts_at=start,
            in_service_at=in_service_at,
            done_at=t,
            min_in_service=low_point,
            max_total=high_point,
        )
    )
    return t, in_service, total


def _instance_plan(
    instance: GroupInstance,
    images: lt_rules.VersionImages,
    image_id: str,
    preferences: RefreshPreferences,
    target_version: str | None = None,
) -> PlannedInstance:
    version = instance.launch_template.version if instance.launch_template else None
    image = images.image(instance.launch_template)
    protected = instance.protected_from_scale_in and preferences.scale_in_protected_instances == "Ignore"
    standby = instance.lifecycle_state == "Standby" and preferences.standby_instances == "Ignore"
    if protected or standby:
        action, reason = "keep", "ignored by the ScaleInProtectedInstances/StandbyInstances preference"
    elif target_version is not None and str(version) == target_version:
        action, reason = "keep", f"launched from version {version}, which the refresh targets (SkipMatching)"
    elif image == image_id:
        # Already on the image but on an older version: AWS's SkipMatching compares versions.
        action, reason = "replace", f"runs {image_id} already, but from version {version}"
    else:
        action, reason = "replace", f"runs {image} from version {version}"
    return PlannedInstance(
        instance_id=instance.id,
        image_id=image,
        launch_template_version=version,
        action=action,
        reason=reason,
    )


def _live(group: Group) -> list[GroupInstance]:
    return [i for i in group.instances if i.lifecycle_state in ("InService", "Pending", "Standby")]


def _healthy_in_service(instance: GroupInstance) -> bool:
    return instance.lifecycle_state == "InService" and instance.health_status == "Healthy"


def _min_healthy(preferences: RefreshPreferences) -> int:
    value = preferences.min_healthy_percentage
    return AWS_DEFAULT_MIN_HEALTHY if value is None else value


def _checkpoint_delay(preferences: RefreshPreferences) -> int:
    value = preferences.checkpoint_delay
    return AWS_DEFAULT_CHECKPOINT_DELAY if value is None else value


def _warmup(group: Group, preferences: RefreshPreferences) -> int:
    if preferences.instance_warmup is not None:
        return preferences.instance_warmup
    return int(group.default_instance_warmup or group.health_check_grace_period or 0)


# --- A rollout in waves ----------------------------------------------------------------------
#: The state machine looks at each refresh once a minute: a group's slot frees up to that late.
FOLLOW_SECONDS = 60


def dry_run(message: RolloutMessage, aws: StartPorts, settings: Settings) -> DeployPlan:
    """The plan of every group, cut into the rollout's waves with an estimate under the cap.
    Reads only, like :func:`plan_deployment`."""
    rollout = plan_rollout(message, "dry-run", aws, settings)
    request = request_from_message(rollout.message, "dry-run", "deploy")
    plan = plan_deployment(request, aws, settings, each_group_alone=True)
    seconds = {group.group: group.estimated_seconds for group in plan.groups}
    waves = [
        WavePlan(
            name=wave.name,
            groups=wave.groups,
            estimated_seconds=_under_cap([seconds.get(g, 0) for g in wave.groups], message.max_concurrency),
        )
        for wave in rollout.waves
    ]
    total = sum(w.estimated_seconds for w in waves) + message.wave_pause_seconds * max(len(waves) - 1, 0)
    return plan.model_copy(update={"waves": waves, "rollout_estimated_seconds": total})


def _under_cap(durations: list[int], cap: int) -> int:
    """When the last of ``durations`` ends with ``cap`` slots, each taken by the next group in order."""
    slots = [0] * max(1, min(cap, len(durations)))
    for duration in durations:
        free = slots.index(min(slots))
        slots[free] += duration + FOLLOW_SECONDS
    return max(slots)
