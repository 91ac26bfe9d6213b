"""Deploy an AMI: resolve and check it, choose the groups, start one refresh and one watcher each.

Nothing is left half-started: a launch template version created for a refresh that then fails
to start is deleted again, and a refresh whose watcher could not be started is found again (and
attached to) when the event is retried, because the group then already has an active refresh
towards the same image (StartInstanceRefresh answers InstanceRefreshInProgress, or the group's
template is on the image already and its refreshes are described before it is called up to date).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asg_refresh.dal.ports import DeploymentAudit, RefreshAlreadyActive, StartPorts
from asg_refresh.dal.records import Group, Refresh, TemplateVersion, active_refresh
from asg_refresh.dal.requests import desired_configuration
from asg_refresh.errors import (
    AlreadyUpToDateError,
    AsgRefreshError,
    GroupNotFoundError,
    GroupNotOptedInError,
    LaunchTemplateNotOptedInError,
    NoTargetGroupsError,
    RefreshConflictError,
    SharedLaunchTemplateError,
)
from asg_refresh.logic import groups as group_facts
from asg_refresh.logic import launch_templates as lt_rules
from asg_refresh.logic import preflight
from asg_refresh.logic.gates import alarm_names_for
from asg_refresh.logic.images import checked_image_id
from asg_refresh.logic.parallel import in_parallel
from asg_refresh.logic.supersede import WaitingRoom, start_if_nothing_ahead
from asg_refresh.logic.watch_input import watch_payload
from asg_refresh.models.deploy import DeployRequest, SupersedePolicy
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.preferences import MAX_DELAY_SECONDS, AlarmSpecification, RefreshPreferences
from asg_refresh.models.resources import LaunchTemplateRecord
from asg_refresh.models.results import QueuedGroup, SkippedGroup, StartedRefresh, StartResult
from asg_refresh.models.watch import WatchInput
from asg_refresh.settings import Settings

logger = logging.getLogger(__name__)
NATIVE_ALARM_LIMIT = 10
#: Where a refresh holds when the deployment asks to hold but names no checkpoints.
DEFAULT_HOLD_CHECKPOINTS = (50,)


def start_deployment(
    request: DeployRequest,
    aws: StartPorts,
    settings: Settings,
    now: datetime,
    waiting: WaitingRoom | None = None,
) -> StartResult:
    """Start the request's refreshes. A group refreshing towards another image is refused
    outright under the ``reject`` policy, waits in ``waiting`` under the others, and is skipped
    (REFRESH_IN_PROGRESS) where there is nowhere to wait."""
    image_id = checked_image_id(request, aws, settings)

    targets, skipped, templates = _selected(request, aws, settings)
    # What every target following $Latest/$Default runs, in one read for the fleet.
    known = lt_rules.current_versions(targets, templates, aws.floating_versions() if targets else [])
    # Before anything is created: a group whose refresh could not succeed or be undone is refused.
    preferences = request.preferences.merged_over(settings.default_preferences)
    targets, refused, _ = preflight.screen(targets, skipped, image_id, preferences, aws, known)
    skipped += refused
    if supersede_policy(request, settings) == "reject":
        _refuse_if_refreshing_elsewhere(targets, image_id, aws)
    result = StartResult(
        id=request.deployment_id, created_at=now, trigger=request.trigger, image_id=image_id, skipped=skipped
    )
    read_first = _versions_before_any_is_created(targets, known, aws)
    for started in in_parallel(
        targets,
        lambda group: _refresh_or_skip(
            group, image_id, request, aws, settings, read_first.get(group.name), waiting
        ),
    ):
        if isinstance(started, SkippedGroup):
            result.skipped.append(started)
        elif isinstance(started, QueuedGroup):
            result.queued.append(started)
        else:
            result.refreshes.append(started)
    up_to_date = any(item.code == AlreadyUpToDateError.code for item in result.skipped)
    if not result.refreshes and not result.queued and not up_to_date and _explicit(request):
        _raise_for(result.skipped)
    return result


def supersede_policy(request: DeployRequest, settings: Settings) -> SupersedePolicy:
    return request.supersede or settings.supersede_policy


def start_and_record(
    request: DeployRequest,
    aws: StartPorts,
    settings: Settings,
    now: datetime,
    audit: DeploymentAudit | None,
) -> StartResult:
    """:func:`start_deployment`, then its audit record (``audit``: None when no audit table is
    configured). The audit trail is also where deployments wait for a group (logic/supersede.py)."""
    policy = supersede_policy(request, settings)
    waiting = WaitingRoom(audit, aws, policy, now) if audit and policy != "reject" else None
    result = start_deployment(request, aws, settings, now, waiting)
    if audit:
        audit.record_deployment(request, result)

        def start(waited: DeployRequest) -> StartResult:
            return start_and_record(waited, aws, settings, now, audit)

        for queued in result.queued:
            start_if_nothing_ahead(queued, aws, audit, start)
    return result


def _refuse_if_refreshing_elsewhere(targets: list[Group], image_id: str, aws: StartPorts) -> None:
    """The ``reject`` policy: refuse, before anything starts, if any target refreshes towards
    another image."""

    def elsewhere(group: Group) -> str | None:
        active = active_refresh(aws.refreshes_of(group.name))
        if active is None or _target_image(active, aws) == image_id:
            return None
        return f"{group.name}: refresh {active.id} is {active.status}"

    busy = [found for found in in_parallel(targets, elsewhere) if found]
    if busy:
        raise RefreshConflictError(
            f"refreshing towards another image, and the supersede policy is reject: {'; '.join(busy)}",
            groups=[item.split(":", 1)[0] for item in busy],
        )


def _sharing_a_template(targets: list[Group]) -> list[Group]:
    """The targets whose launch template another target also uses."""

    def key(group: Group) -> str:
        return str(group.launch_template.named if group.launch_template else None)

    users = Counter(key(group) for group in targets)
    return [group for group in targets if users[key(group)] > 1]


def _versions_before_any_is_created(
    targets: list[Group], known: dict[str, TemplateVersion], aws: StartPorts
) -> dict[str, TemplateVersion]:
    """The version each target runs now, by group name, read before any version is created.

    The fleet's bulk read (``known``) tells it for every group that follows its template's
    ``$Latest`` or ``$Default``; the rest read their own later, except targets sharing a launch
    template, read here: a sharer following $Latest would otherwise read the version made for
    another, find it on the image already and be skipped as up to date, its instances never
    replaced."""
    known = {group.name: known[group.name] for group in targets if group.name in known}
    sharers = [group for group in _sharing_a_template(targets) if group.name not in known]
    read = in_parallel(sharers, lambda group: _current_version(group, aws))
    return known | dict(zip([group.name for group in sharers], read, strict=True))


def _current_version(group: Group, aws: StartPorts) -> TemplateVersion:
    """The launch template version the group runs now (``$Default`` when it names none)."""
    template = group.launch_template
    assert template is not None
    return aws.template_version(template, template.version_followed)


def _refresh_or_skip(
    group: Group,
    image_id: str,
    request: DeployRequest,
    aws: StartPorts,
    settings: Settings,
    current: TemplateVersion | None = None,
    waiting: WaitingRoom | None = None,
) -> StartedRefresh | SkippedGroup | QueuedGroup:
    name = group.name
    try:
        return refresh_group(group, image_id, request, aws, settings, current)
    except RefreshConflictError as error:
        refresh_id = error.context.get("refresh_id")
        if waiting is not None and refresh_id:
            return waiting.wait_behind(name, str(refresh_id), request, image_id)
        return SkippedGroup(group=name, code=error.code, reason=error.message)
    except AlreadyUpToDateError as error:
        return SkippedGroup(group=name, code=error.code, reason=error.message)


def _explicit(request: DeployRequest) -> bool:
    """Whether the request names its groups. An automatic trigger (a new image) that no group
    subscribes to is normal; a deploy that names groups none of which can be refreshed is not."""
    return bool(request.groups or request.tags)


def _raise_for(skipped: list[SkippedGroup]) -> None:
    codes = {item.code for item in skipped}
    reasons = "; ".join(f"{item.group}: {item.reason}" for item in skipped) or "no group matched"
    errors: dict[str, type[AsgRefreshError]] = {
        GroupNotFoundError.code: GroupNotFoundError,
        GroupNotOptedInError.code: GroupNotOptedInError,
        RefreshConflictError.code: RefreshConflictError,
        LaunchTemplateNotOptedInError.code: LaunchTemplateNotOptedInError,
        SharedLaunchTemplateError.code: SharedLaunchTemplateError,
        **preflight.PREFLIGHT_ERRORS,
    }
    error_type = errors.get(codes.pop(), NoTargetGroupsError) if len(codes) == 1 else NoTargetGroupsError
    raise error_type(reasons, skipped=[item.model_dump() for item in skipped])


def select_groups(
    request: DeployRequest, aws: StartPorts, settings: Settings, *, each_group_alone: bool = False
) -> tuple[list[Group], list[SkippedGroup]]:
    """The opted-in groups the request targets, and the others with the reason each is skipped.

    The region's groups are described once (one paged scan per invocation, whatever the number of
    groups): the same scan selects the targets and finds who else uses their launch templates.
    ``each_group_alone``: see :func:`launch_template_refusals`.
    """
    targets, skipped, _ = _selected(request, aws, settings, each_group_alone=each_group_alone)
    return targets, skipped


def _selected(
    request: DeployRequest, aws: StartPorts, settings: Settings, *, each_group_alone: bool = False
) -> tuple[list[Group], list[SkippedGroup], list[LaunchTemplateRecord]]:
    """:func:`select_groups`, and the targets' launch templates as DescribeLaunchTemplates told."""
    fleet = aws.all_groups()
    found, skipped = _targeted(request, fleet, settings)
    targets = []
    for group in found:
        refusal = _refusal(group, request, settings)
        if refusal is None:
            targets.append(group)
        else:
            skipped.append(refusal)
    if not targets:
        return targets, skipped, []
    ids, names = lt_rules.templates_to_describe(targets)
    templates = aws.describe_launch_templates(ids, names)
    refused = lt_rules.launch_template_refusals(
        targets,
        fleet,
        templates,
        (settings.opt_in_tag_key, settings.opt_in_tag_value),
        each_group_alone=each_group_alone,
    )
    skipped += [refused[g.name] for g in targets if g.name in refused]
    return [g for g in targets if g.name not in refused], skipped, templates


def _targeted(
    request: DeployRequest, fleet: list[Group], settings: Settings
) -> tuple[list[Group], list[SkippedGroup]]:
    """The groups the request names (and the names no group has), or those its tags select."""
    if request.groups:
        wanted = set(request.groups)
        found = [group for group in fleet if group.name in wanted]
        known = {group.name for group in found}
        missing = [
            SkippedGroup(group=name, code=GroupNotFoundError.code, reason="no such Auto Scaling group")
            for name in dict.fromkeys(request.groups)
            if name not in known
        ]
        return found, missing
    selector = request.tags or {settings.opt_in_tag_key: settings.opt_in_tag_value}
    found = [group for group in fleet if all(group.tag(key) == value for key, value in selector.items())]
    return found, []


def _refusal(group: Group, request: DeployRequest, settings: Settings) -> SkippedGroup | None:
    """Why a targeted group is skipped before its launch template is read, or None."""
    name = group.name
    source = group.tag(settings.source_tag_key)
    source_key = request.image.source_key
    if not group.is_opted_in(settings.opt_in_tag_key, settings.opt_in_tag_value):
        reason = f"not opted in: tag {settings.opt_in_tag_key}={settings.opt_in_tag_value} is missing"
        return SkippedGroup(group=name, code=GroupNotOptedInError.code, reason=reason)
    if source and source_key and not _explicit(request) and source != source_key:
        reason = f"its {settings.source_tag_key} tag names {source}, not {source_key}"
        return SkippedGroup(group=name, code="OTHER_SOURCE", reason=reason)
    if group.launch_template is None:
        reason = "uses a launch configuration; only launch templates can be refreshed"
        return SkippedGroup(group=name, code="NO_LAUNCH_TEMPLATE", reason=reason)
    return None


@dataclass(frozen=True)
class _GroupDeploy:
    """What one group's refresh is made of, shared by starting and attaching."""

    group: Group
    image_id: str
    request: DeployRequest
    gates: GateConfig
    alarms: list[str]

    @property
    def name(self) -> str:
        return self.group.name


def refresh_group(
    group: Group,
    image_id: str,
    request: DeployRequest,
    aws: StartPorts,
    settings: Settings,
    current: TemplateVersion | None = None,
) -> StartedRefresh:
    """Start the group's refresh onto a new numbered version of its launch template, made from
    ``current`` (the version it runs, read here unless given).

    The refresh is started first and its refreshes described only when AWS says one is already
    active (InstanceRefreshInProgress): then it is attached to, or refused as a conflict if it
    goes towards another image, and the version made for it deleted again."""
    gates = request.gates.merged_over(settings.default_gates)
    alarms = alarm_names_for(
        group, [*request.alarms, *gates.alarms], settings.alarm_tag_key, settings.default_alarm_names
    )
    deploy = _GroupDeploy(group, image_id, request, gates, alarms)
    template = group.launch_template
    assert template is not None
    current = current or _current_version(group, aws)
    if current.image_id == image_id:
        behind = lt_rules.VersionImages(aws, template).off_target(group, image_id, str(current.version))
        if not behind:
            # Up to date, or refreshed already by an earlier delivery of this event whose watcher
            # did not start (its refresh may still be under way): that one is attached to.
            active = active_refresh(aws.refreshes_of(deploy.name))
            if active:
                return _attach(deploy, active, aws, settings)
            raise AlreadyUpToDateError(
                f"its launch template and every in-service instance already use {image_id}", group=deploy.name
            )
        # The template names the image but some instances run another (a refresh cancelled
        # half-way): refresh towards the version the group runs, replacing only those.
        logger.info("instances off the image", extra={"group": deploy.name, "instances": behind})
        return _start(deploy, current, current.version, aws, settings, created=False)
    created = aws.create_launch_template_version(
        template, str(current.version), image_id, f"asg-refresh {request.deployment_id}: {image_id}"
    )
    return _start(deploy, current, created.version, aws, settings, created=True)


def _start(
    deploy: _GroupDeploy,
    current: TemplateVersion,
    version: int,
    aws: StartPorts,
    settings: Settings,
    *,
    created: bool,
) -> StartedRefresh:
    """Start the refresh towards ``version`` of the group's template (``created`` for this
    deployment, and so deleted again if the refresh does not start) and its watcher."""
    template_id = current.template_id
    preferences = _preferences(deploy, settings, realign=not created).to_api()
    desired = desired_configuration(deploy.group, template_id, version)
    try:
        refresh_id = aws.start_instance_refresh(deploy.name, deploy.request.strategy, desired, preferences)
    except RefreshAlreadyActive:
        # A refresh is under way already (an earlier delivery of this event, another start that
        # won the race, or one towards another image): ours never started, so its version goes.
        if created:
            aws.delete_launch_template_version(template_id, version)
        active = active_refresh(aws.refreshes_of(deploy.name))
        if active is None:
            raise
        return _attach(deploy, active, aws, settings)
    except Exception:
        if created:
            aws.delete_launch_template_version(template_id, version)
        raise
    logger.info("refresh started", extra={"group": deploy.name, "refresh_id": refresh_id, "version": version})
    # A restore goes back to the version the group ran, unless that is where this refresh goes.
    previous = desired_configuration(deploy.group, template_id, current.version) if created else None
    watch = _watch_input(deploy, refresh_id, template_id, version, desired, preferences, previous)
    return StartedRefresh(
        group=deploy.name,
        refresh_id=refresh_id,
        image_id=deploy.image_id,
        launch_template_id=template_id,
        launch_template_version=version,
        execution_arn=_start_watcher(watch, aws, settings),
        alarms=deploy.alarms,
    )


def _attach(deploy: _GroupDeploy, active: Refresh, aws: StartPorts, settings: Settings) -> StartedRefresh:
    """Adopt a refresh already running towards the image (a redelivered event, a retry after a
    timeout); refuse one running towards anything else."""
    refresh_id = active.id
    spec = active.target_template
    target_image = _target_image(active, aws)
    if target_image != deploy.image_id:
        raise RefreshConflictError(
            f"instance refresh {refresh_id} is {active.status} towards "
            f"{target_image or 'an unknown configuration'}, not {deploy.image_id}",
            group=deploy.name,
            refresh_id=refresh_id,
        )
    template_id = spec.id if spec and spec.id else ""
    version = int(spec.version) if spec and spec.version and spec.version.isdigit() else None
    watch = _watch_input(
        deploy, refresh_id, template_id, version, active.desired_configuration, active.preferences
    )
    return StartedRefresh(
        group=deploy.name,
        refresh_id=refresh_id,
        image_id=deploy.image_id,
        launch_template_id=template_id,
        launch_template_version=None,
        execution_arn=_start_watcher(watch, aws, settings),
        attached=True,
        alarms=deploy.alarms,
    )


def _target_image(active: Refresh, aws: StartPorts) -> str | None:
    """The image an active refresh goes towards (its desired configuration's version), if known."""
    spec = active.target_template
    if not spec or not spec.version:
        return None
    return aws.template_version(spec, spec.version).image_id or None


def _preferences(deploy: _GroupDeploy, settings: Settings, *, realign: bool = False) -> RefreshPreferences:
    preferences = deploy.request.preferences.merged_over(settings.default_preferences)
    if realign:
        # Towards the version the group already runs: instances launched from it stay.
        preferences = preferences.model_copy(update={"skip_matching": True})
    if preferences.alarm_specification is None and deploy.alarms:
        # Also hand the alarms to AWS itself (AlarmSpecification, at most 10), so the refresh
        # stops even if the watcher is late; the watcher's gate covers the rest.
        native = AlarmSpecification(alarms=deploy.alarms[:NATIVE_ALARM_LIMIT])
        preferences = preferences.model_copy(update={"alarm_specification": native})
    if deploy.gates.holds:
        # Checkpoints hold until the watcher promotes (AWS only delays): the longest delay.
        preferences = preferences.model_copy(
            update={
                "checkpoint_percentages": preferences.checkpoint_percentages
                or list(DEFAULT_HOLD_CHECKPOINTS),
                "checkpoint_delay": MAX_DELAY_SECONDS,
            }
        )
    return preferences


def _watch_input(
    deploy: _GroupDeploy,
    refresh_id: str,
    template_id: str,
    version: int | None,
    desired: dict[str, Any],
    preferences: dict[str, Any],
    restore_configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    watch = WatchInput(
        deployment_id=deploy.request.deployment_id,
        group=deploy.name,
        refresh_id=refresh_id,
        image_id=deploy.image_id,
        launch_template_id=template_id,
        launch_template_version=version,
        alarms=deploy.alarms,
        gates=deploy.gates,
        strategy=deploy.request.strategy,
        desired_configuration=desired,
        restore_configuration=restore_configuration,
        preferences=preferences,
    )
    return watch_payload(watch)


def _start_watcher(watch: dict[str, Any], aws: StartPorts, settings: Settings) -> str | None:
    if not settings.state_machine_arn:
        logger.warning("STATE_MACHINE_ARN is not set: refresh %s is not watched", watch["refresh_id"])
        return None
    name = group_facts.execution_name(watch["refresh_id"])
    arn, _ = aws.start_execution(settings.state_machine_arn, name, watch | {"watcher": name})
    return arn
