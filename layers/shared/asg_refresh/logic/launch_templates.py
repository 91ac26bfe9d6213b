"""Whether a group's launch template may be given a new version.

Two rules, checked before any version is created:

* **The launch template is opted in** too: it carries the opt-in tag, as the group does. The IAM
  policy allows CreateLaunchTemplateVersion and DeleteLaunchTemplateVersions only on such
  templates, so a group whose template lacks it is refused here, with the tag to add, rather than
  failing with AccessDenied half-way.
* **Nobody else floats on it.** A new version becomes the template's ``$Latest`` at once, so
  every group following ``$Latest`` of it moves onto the new image at its next launch, with no
  refresh, no watcher and no gate; ``$Default`` moves the moment someone makes the new version
  the default. Such a group is fine inside the deployment (it is refreshed too), but not outside
  it, and never when it is not opted in. A group pinned to a numbered version is never moved, so
  it is safe to share a template with.

A group refers to its template by id or by name, in ``LaunchTemplate`` or in its
``MixedInstancesPolicy`` (including per-override templates); all of them count.
"""

from __future__ import annotations

from collections.abc import Iterator

from asg_refresh.dal.ports import LaunchTemplates
from asg_refresh.dal.records import Group, LaunchTemplateSpec, TemplateVersion
from asg_refresh.errors import LaunchTemplateNotOptedInError, SharedLaunchTemplateError
from asg_refresh.models.resources import LaunchTemplateRecord
from asg_refresh.models.results import SkippedGroup

FLOATING_VERSIONS = frozenset({"$Latest", "$Default"})
#: Followers named in a refusal; the rest are counted (a dead letter's attribute holds 1,000 characters).
LISTED_FOLLOWERS = 10


def template_specs(group: Group) -> Iterator[LaunchTemplateSpec]:
    """Every launch template specification of the group: its own, and its overrides'."""
    yield from group.template_specs


def refers_to(spec: LaunchTemplateSpec, template: LaunchTemplateRecord) -> bool:
    """Whether ``spec`` names ``template``, by id or (when it carries no id) by name."""
    if spec.id:
        return spec.id == template.id
    return bool(spec.name) and spec.name == template.name


def version_followed(spec: LaunchTemplateSpec) -> str:
    """The version a specification follows; AWS takes a missing one as ``$Default``."""
    return spec.version_followed


def template_of(group: Group, templates: list[LaunchTemplateRecord]) -> LaunchTemplateRecord | None:
    spec = group.launch_template
    return next((t for t in templates if spec and refers_to(spec, t)), None)


def templates_to_describe(groups: list[Group]) -> tuple[list[str], list[str]]:
    """The ids, and the names of templates known by name only, of the groups' own templates."""
    ids: list[str] = []
    names: list[str] = []
    for group in groups:
        spec = group.launch_template
        if spec and spec.id:
            ids.append(spec.id)
        elif spec and spec.name:
            names.append(spec.name)
    return ids, names


def current_versions(
    groups: list[Group], templates: list[LaunchTemplateRecord], floating: list[TemplateVersion]
) -> dict[str, TemplateVersion]:
    """The version each group runs now, by group name, where one bulk read tells it: a group's
    ``$Latest``/``$Default`` (or a number that is one of them) resolves to a number through
    DescribeLaunchTemplates, and ``floating`` (every template's ``$Latest`` and ``$Default``
    versions) holds that version whole. Groups missing here need a read of their own: a
    numbered version that is neither its template's latest nor its default."""
    by_number = {(version.template_id, version.version): version for version in floating}
    known: dict[str, TemplateVersion] = {}
    for group in groups:
        template, spec = template_of(group, templates), group.launch_template
        if template is None or spec is None:
            continue
        number = template.resolve(spec.version_followed)
        if number is None or number not in (template.latest_version, template.default_version):
            continue
        version = by_number.get((template.id, number))
        if version is not None:
            known[group.name] = version
    return known


def launch_template_refusals(
    targets: list[Group],
    fleet: list[Group],
    templates: list[LaunchTemplateRecord],
    opt_in: tuple[str, str],
    *,
    each_group_alone: bool = False,
) -> dict[str, SkippedGroup]:
    """The target groups whose launch template may not be versioned, by group name.

    ``fleet`` is every group of the region (one DescribeAutoScalingGroups scan). The deployment is
    the targets not refused; refusing one can expose another that shares its template, so this
    runs until nothing changes. ``each_group_alone`` judges every target as a deployment of its
    own, as a rollout starts them (one group per StartWaveGroup call).
    """
    key, value = opt_in
    refused: dict[str, SkippedGroup] = {}
    for group in targets:
        template = template_of(group, templates)
        if template is None:
            refused[group.name] = _missing(group)
        elif template.tags.get(key) != value:
            refused[group.name] = _not_opted_in(group.name, template, key, value)
    while True:
        deployment = {g.name for g in targets} - set(refused)
        newly = {}
        for group in targets:
            if group.name in refused:
                continue
            template = template_of(group, templates)
            assert template is not None
            members = {group.name} if each_group_alone else deployment
            followers = _floating_followers(template, fleet, members, opt_in)
            if followers:
                newly[group.name] = _shared(group.name, template, followers)
        if not newly:
            return refused
        refused |= newly


def _floating_followers(
    template: LaunchTemplateRecord,
    fleet: list[Group],
    deployment: set[str],
    opt_in: tuple[str, str],
) -> list[str]:
    """The groups a new version of ``template`` would move and that this deployment does not
    refresh, each with the version it follows and why it counts."""
    followers = []
    for group in fleet:
        floating = sorted(
            {s.version_followed for s in group.template_specs if refers_to(s, template)} & FLOATING_VERSIONS
        )
        if not floating:
            continue
        if not group.is_opted_in(*opt_in):
            followers.append(f"{group.name} ({'/'.join(floating)}, not opted in)")
        elif group.name not in deployment:
            followers.append(f"{group.name} ({'/'.join(floating)}, not in this deployment)")
    return followers


def _shared(group: str, template: LaunchTemplateRecord, followers: list[str]) -> SkippedGroup:
    listed = ", ".join(followers[:LISTED_FOLLOWERS])
    more = len(followers) - LISTED_FOLLOWERS
    if more > 0:
        listed += f" and {more} more"
    return SkippedGroup(
        group=group,
        code=SharedLaunchTemplateError.code,
        reason=(
            f"launch template {template.name} ({template.id}) is shared with groups that follow its "
            f"$Latest or $Default version: {listed}; a new version would move them onto the new image "
            "unwatched. Pin those groups to a numbered version of the template (or give them their "
            "own launch template), then deploy again"
        ),
    )


def _not_opted_in(group: str, template: LaunchTemplateRecord, key: str, value: str) -> SkippedGroup:
    return SkippedGroup(
        group=group,
        code=LaunchTemplateNotOptedInError.code,
        reason=(
            f"its launch template {template.name} ({template.id}) lacks the opt-in tag {key}={value}: "
            "tag the launch template too (not only the group) so that asg-refresh may create versions of it"
        ),
    )


def _missing(group: Group) -> SkippedGroup:
    spec = group.launch_template
    named = (spec.named if spec else None) or "?"
    return SkippedGroup(
        group=group.name,
        code="NO_LAUNCH_TEMPLATE",
        reason=f"its launch template {named} does not exist",
    )


class VersionImages:
    """The image each launch template version launches, read once a version. An instance names
    the version it was launched from (``Instances[].LaunchTemplate``); one without a version (a
    launch configuration) has no image to tell."""

    def __init__(self, aws: LaunchTemplates, group_template: LaunchTemplateSpec) -> None:
        self.aws, self.group_template = aws, group_template
        self.cache: dict[tuple[str, str], str | None] = {}

    def image(self, spec: LaunchTemplateSpec | None) -> str | None:
        version = (spec.version if spec else None) or ""
        if not spec or not version:
            return None
        template = spec if spec.named else self.group_template
        key = (str(template.named), version)
        if key not in self.cache:
            self.cache[key] = self.aws.template_version(template, version).image_id or None
        return self.cache[key]

    def off_target(self, group: Group, image_id: str, version: str) -> list[str]:
        """The group's in-service instances not on the target: ``image_id`` from ``version`` (the
        number of the group's version) of its template. A group is up to date when every one is,
        not when its launch template names the image (a refresh cancelled half-way leaves a
        template on the old image and instances on the new one)."""
        named = {version, self.group_template.version_followed}
        return [
            instance.id
            for instance in group.instances
            if instance.lifecycle_state == "InService"
            and (
                self.image(instance.launch_template) != image_id
                or str(instance.launch_template.version if instance.launch_template else None) not in named
            )
        ]
