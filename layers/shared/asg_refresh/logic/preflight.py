"""Pre-flight: before anything is created, whether each group's refresh can succeed and be undone.

Run by StartRefresh (and so by every wave of a rollout) and by ``plan``. Each check gives a
verdict with its evidence (models/preflight.py): ``pass``, ``fail`` (the group is refused with the
check's code, as a launch template refusal is), or ``unknown`` (what AWS answers does not settle
it: shown in the plan, never refused on). The checks are pure functions of records; :func:`screen`
does the reads, a handful for the whole deployment:

1. **architecture**: the AMI's (DescribeImages) against every instance type the group may launch
   (the launch template's, or its mixed instances policy's overrides'), as DescribeInstanceTypes
   gives their supported architectures. Types chosen by ``InstanceRequirements`` are not resolved
   (that would take GetInstanceTypesFromInstanceRequirements): unknown.
2. **headroom**: launch-before-terminate (MaxHealthyPercentage above 100) needs MaxSize to hold
   floor(desired x MaxHealthyPercentage / 100), the most AWS puts in the group (the plan's bound);
   and some instance must be replaceable without breaking both MinHealthyPercentage and MaxSize.
3. **rollback**: the group's current version must be one to return to: AWS's rollback and the
   product's restore go back to it. An image from an SSM parameter is not (AWS refuses to roll it
   back, and a restore would launch whatever the parameter holds now). A group on ``$Latest`` or
   ``$Default`` is unknown, not fail: the restore pins the number it resolves to now, but AWS's own
   rollback refuses such a group, so a refresh failing in one piece is cancelled instead.
4. **launch template not shared**: logic/launch_templates.py's refusal (select_groups makes it),
   shown as a check.
5. **subnet addresses**: the instances launched above the desired capacity (launch-before-
   terminate) need that many free addresses in the group's subnets (DescribeSubnets'
   AvailableIpAddressCount, summed: AWS may place them in any of them). Terminate-first
   replacements take the addresses of the instances they replace.
"""

from __future__ import annotations

import math

from asg_refresh.dal.ports import PreflightPorts
from asg_refresh.dal.records import Group, Image, TemplateVersion
from asg_refresh.errors import (
    ArchitectureMismatchError,
    AsgRefreshError,
    InsufficientHeadroomError,
    RollbackImpossibleError,
    SharedLaunchTemplateError,
    SubnetAddressesExhaustedError,
)
from asg_refresh.logic.parallel import in_parallel
from asg_refresh.models.preferences import RefreshPreferences
from asg_refresh.models.preflight import GroupPreflight, PreflightCheck
from asg_refresh.models.results import SkippedGroup

#: AWS's MinHealthyPercentage when none is given (logic/plan.py's too).
AWS_DEFAULT_MIN_HEALTHY = 90
SSM_IMAGE_PREFIX = "resolve:ssm:"
#: The errors a failing check refuses with, by code (logic/start_refresh.py raises them).
PREFLIGHT_ERRORS: dict[str, type[AsgRefreshError]] = {
    error.code: error
    for error in (
        ArchitectureMismatchError,
        InsufficientHeadroomError,
        RollbackImpossibleError,
        SubnetAddressesExhaustedError,
    )
}


def screen(
    targets: list[Group],
    skipped: list[SkippedGroup],
    image_id: str,
    preferences: RefreshPreferences,
    aws: PreflightPorts,
    known: dict[str, TemplateVersion] | None = None,
) -> tuple[list[Group], list[SkippedGroup], list[GroupPreflight]]:
    """Check every target: the targets that pass, a refusal for each that fails (its first failing
    check's code and evidence), and every group's report, the groups select_groups refused for a
    shared launch template included. Reads only."""
    if not targets:
        return [], [], [_shared_only(item) for item in skipped if item.code == SharedLaunchTemplateError.code]
    image = aws.describe_image(image_id)
    # ``known``: the versions a bulk read already gave (the start's); the others are read here.
    known = known or {}
    versions = in_parallel(targets, lambda group: known.get(group.name) or _current_version(group, aws))
    wanted = [
        t for group, current in zip(targets, versions, strict=True) for t in launched_types(group, current)
    ]
    supported = aws.instance_type_architectures(wanted) if wanted else {}
    subnets = [subnet for group in targets for subnet in group.subnet_ids]
    free = aws.free_addresses(subnets) if subnets else {}
    reports = [
        GroupPreflight(
            group=group.name,
            checks=[
                architecture_check(image_id, image, group, current, supported),
                headroom_check(group, preferences),
                rollback_check(group, current),
                shared_check(group, None),
                subnet_check(group, preferences, free),
            ],
        )
        for group, current in zip(targets, versions, strict=True)
    ]
    refused = [_refusal(report) for report in reports if report.failed]
    passed = [group for group, report in zip(targets, reports, strict=True) if not report.failed]
    shared = [_shared_only(item) for item in skipped if item.code == SharedLaunchTemplateError.code]
    return passed, refused, reports + shared


def launched_types(group: Group, current: TemplateVersion) -> list[str]:
    """The instance types the group may launch by name: its overrides' when its mixed instances
    policy has any (they replace the template's), else its launch template's."""
    if group.launch_overrides:
        return [o.instance_type for o in group.launch_overrides if o.instance_type]
    return [current.instance_type] if current.instance_type else []


def architecture_check(
    image_id: str,
    image: Image | None,
    group: Group,
    current: TemplateVersion,
    supported: dict[str, tuple[str, ...]],
) -> PreflightCheck:
    """The AMI's architecture against every instance type the group may launch."""

    def verdict(value: str, evidence: str) -> PreflightCheck:
        return PreflightCheck(
            name="architecture", verdict=value, evidence=evidence, code=ArchitectureMismatchError.code
        )

    types = launched_types(group, current)
    by_requirements = (
        sum(1 for o in group.launch_overrides if o.instance_requirements and not o.instance_type)
        if group.launch_overrides
        else int(current.instance_requirements)
    )
    architecture = image.architecture if image else None
    if architecture is None:
        return verdict("unknown", f"DescribeImages gives no Architecture for {image_id}")
    wrong = [
        f"{t} supports {'/'.join(supported[t])} only"
        for t in types
        if t in supported and architecture not in supported[t]
    ]
    if wrong:
        return verdict("fail", f"{image_id} is {architecture}; " + "; ".join(wrong))
    unknown = [f"{t} is not an instance type EC2 knows" for t in types if t not in supported]
    if by_requirements:
        unknown.append(
            f"{by_requirements} choice(s) by InstanceRequirements are not resolved to instance types"
        )
    if not types and not by_requirements:
        unknown.append("the launch template names no instance type")
    checked = ", ".join(dict.fromkeys(types)) or "none"
    if unknown:
        return verdict("unknown", f"{image_id} is {architecture}; checked: {checked}; " + "; ".join(unknown))
    return verdict("pass", f"{image_id} is {architecture}, which {checked} support(s)")


def headroom_check(group: Group, preferences: RefreshPreferences) -> PreflightCheck:
    """MaxSize against launch-before-terminate, and room for at least one replacement."""

    def verdict(value: str, evidence: str) -> PreflightCheck:
        return PreflightCheck(
            name="headroom", verdict=value, evidence=evidence, code=InsufficientHeadroomError.code
        )

    desired, max_size = group.desired_capacity, group.max_size
    min_pct = preferences.min_healthy_percentage
    min_pct = AWS_DEFAULT_MIN_HEALTHY if min_pct is None else min_pct
    max_pct = preferences.max_healthy_percentage
    if desired == 0:
        return verdict("pass", "desired capacity 0: nothing to replace")
    low = math.ceil(min_pct * desired / 100)
    below = desired - low
    above = 0
    sizes = f"desired {desired}, MaxSize {max_size}, MinHealthyPercentage {min_pct}%"
    if max_pct is not None:
        sizes += f", MaxHealthyPercentage {max_pct}%"
    if max_pct is not None and max_pct > 100:
        high = math.floor(max_pct * desired / 100)
        if max_size is not None and max_size < high:
            return verdict(
                "fail",
                f"{sizes}: launch-before-terminate puts up to {high} instances in the group, over MaxSize "
                f"{max_size}; raise MaxSize to {high} or lower MaxHealthyPercentage",
            )
        above = high - desired
    if above + below > 0:
        return verdict(
            "pass",
            f"{sizes}: batches of up to {above + below} ({above} launched first, {below} terminated first)",
        )
    if max_pct is None:
        return verdict(
            "pass",
            f"{sizes}: none to spare, so AWS replaces one at a time, terminating it first "
            f"({desired - 1} in service meanwhile)",
        )
    if max_size is not None and max_size <= desired:
        return verdict(
            "fail",
            f"{sizes}: no instance can be terminated first, and MaxSize leaves no room to launch one first; "
            f"raise MaxSize above {desired} or lower MinHealthyPercentage",
        )
    return verdict("pass", f"{sizes}: none to spare, so AWS replaces one at a time, launching it first")


def launched_first(group: Group, preferences: RefreshPreferences) -> int:
    """The most instances a refresh of the group runs above its desired capacity at once."""
    desired, max_pct = group.desired_capacity, preferences.max_healthy_percentage
    if desired == 0 or max_pct is None:
        return 0
    high = math.floor(max_pct * desired / 100)
    if group.max_size is not None:
        high = min(high, group.max_size)
    min_pct = preferences.min_healthy_percentage
    low = math.ceil((AWS_DEFAULT_MIN_HEALTHY if min_pct is None else min_pct) * desired / 100)
    # With no room either way AWS launches one first (MaxHealthyPercentage set).
    return high - desired if high > desired or low < desired else 1


def subnet_check(group: Group, preferences: RefreshPreferences, free: dict[str, int]) -> PreflightCheck:
    """Free addresses in the group's subnets for the instances launched before others go."""

    def verdict(value: str, evidence: str) -> PreflightCheck:
        return PreflightCheck(
            name="subnet_addresses", verdict=value, evidence=evidence, code=SubnetAddressesExhaustedError.code
        )

    # Addresses held by instances already above the desired capacity (a refresh under way, which a
    # redelivered deploy attaches to) are not needed again.
    live = sum(1 for i in group.instances if i.lifecycle_state in ("InService", "Pending"))
    extra = launched_first(group, preferences)
    needed = max(0, min(extra, group.desired_capacity + extra - live))
    listed = ", ".join(f"{s} {free[s]}" for s in group.subnet_ids if s in free)
    missing = [s for s in group.subnet_ids if s not in free]
    if not group.subnet_ids:
        return verdict("unknown", "the group names no subnets (VPCZoneIdentifier)")
    if missing:
        return verdict("unknown", f"DescribeSubnets does not know {', '.join(missing)}")
    if extra == 0:
        return verdict(
            "pass",
            f"terminate-first: each replacement takes the address of an instance it replaces "
            f"(free: {listed})",
        )
    total = sum(free[s] for s in group.subnet_ids)
    if total < needed:
        return verdict(
            "fail",
            f"launch-before-terminate runs up to {extra} instance(s) above the desired capacity, {needed} "
            f"more than run now, but the group's subnets have {total} free address(es) ({listed}); lower "
            "MaxHealthyPercentage or free or add addresses",
        )
    return verdict(
        "pass",
        f"up to {extra} instance(s) launched first, {needed} more than run now; {total} free ({listed})",
    )


def rollback_check(group: Group, current: TemplateVersion) -> PreflightCheck:
    """Whether the version the group runs now can be returned to."""

    def verdict(value: str, evidence: str) -> PreflightCheck:
        return PreflightCheck(
            name="rollback", verdict=value, evidence=evidence, code=RollbackImpossibleError.code
        )

    template = group.launch_template
    followed = template.version_followed if template else "$Default"
    where = f"launch template {current.template_id} version {current.version}"
    if current.image_id.startswith(SSM_IMAGE_PREFIX) or not current.image_id:
        return verdict(
            "fail",
            f"{where} launches {current.image_id or 'no ImageId'}, not an AMI id: AWS does not roll such a "
            "group back, and a restore would launch whatever the parameter holds then; make the version "
            "name the AMI id",
        )
    if not followed.isdigit():
        return verdict(
            "unknown",
            f"the group follows {followed} ({where} now): the restore returns to version {current.version}, "
            f"but AWS's rollback refuses a group on {followed}, so a refresh failing in one piece is "
            f"cancelled, not rolled back; pin the group to version {current.version} to make it pass",
        )
    return verdict("pass", f"the group is pinned to {where} ({current.image_id}): rollback returns to it")


def shared_check(group: Group, refusal: SkippedGroup | None) -> PreflightCheck:
    """logic/launch_templates.py's verdict on the group's launch template, as a check."""
    if refusal is not None:
        evidence = refusal.reason
        verdict = "fail"
    else:
        named = group.launch_template.named if group.launch_template else None
        evidence = f"no group outside the deployment follows $Latest or $Default of {named}"
        verdict = "pass"
    return PreflightCheck(
        name="launch_template_not_shared",
        verdict=verdict,
        evidence=evidence,
        code=SharedLaunchTemplateError.code,
    )


def _shared_only(refusal: SkippedGroup) -> GroupPreflight:
    """The report of a group select_groups refused for its shared launch template: its other checks
    were not run (it is refused already)."""
    return GroupPreflight(group=refusal.group, checks=[shared_check(Group(name=refusal.group), refusal)])


def _refusal(report: GroupPreflight) -> SkippedGroup:
    first = report.failed[0]
    reason = "; ".join(f"{check.name}: {check.evidence}" for check in report.failed)
    return SkippedGroup(group=report.group, code=first.code, reason=f"pre-flight failed: {reason}")


def _current_version(group: Group, aws: PreflightPorts) -> TemplateVersion:
    template = group.launch_template
    assert template is not None
    return aws.template_version(template, template.version_followed)
