"""EC2 calls the product makes that moto 5.2.5 lacks, added faithfully enough for our use.

CreateLaunchTemplateVersion with SourceVersion: moto ignores SourceVersion; AWS copies the source
version's data and applies the given fields on top, which is how StartRefresh changes only the
image id of a template.

RegisterImage with Architecture: moto ignores it (DescribeImages then gives none); AWS keeps it,
and the pre-flight architecture check reads it.

DeleteLaunchTemplateVersions: StartRefresh deletes the launch template version it created when
the refresh then fails to start (nothing half-started). moto numbers versions by list position,
so a deleted version is hidden rather than removed, and numbers are never reused, as in AWS.

DescribeLaunchTemplateVersions without a template: StartRefresh reads every template's
``$Latest`` and ``$Default`` versions on the target image in one call. moto describes those
aliases of every template, but ignores ``Filters`` (every filter), cuts the answer to
``MaxResults`` (15 by default) without a ``NextToken``, and takes numbers beside the aliases;
AWS filters, pages (``MaxResults`` 1 to 200, then ``NextToken``), and refuses numbers there.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from asg_refresh_local.moto_patches import patch_object

if TYPE_CHECKING:
    from moto.core.responses import ActionResult

_installed = False


def install_ec2_extras() -> None:
    global _installed
    if _installed:
        return
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
    from moto.ec2.responses import EC2Response

    _patch_describe_launch_templates(EC2Response)
    _patch_describe_template_versions(EC2Response)
    _patch_template_versions(EC2Response, LaunchTemplateBackend, LaunchTemplate)
    _patch_register_image(EC2Response)
    _installed = True


def _patch_register_image(response_class: Any) -> None:
    original_register = response_class.register_image

    def register_image(self: Any) -> Any:
        registered = original_register(self)
        architecture = self._get_param("Architecture")
        if architecture:
            self.ec2_backend.amis[registered.result["ImageId"]].architecture = architecture
        return registered

    patch_object(
        response_class,
        "register_image",
        register_image,
        kind="wrap",
        why="RegisterImage keeps the Architecture it is given, as AWS does (moto drops it)",
        owner=__name__,
    )


def _patch_describe_launch_templates(response_class: Any) -> None:
    original_describe_templates = response_class.describe_launch_templates

    def describe_launch_templates(self: Any) -> Any:
        # AWS returns every template asked for by id or name (MaxResults is refused with them);
        # moto cuts the answer to 15 without a NextToken.
        asked = self._get_param("LaunchTemplateIds") or self._get_param("LaunchTemplateNames")
        if asked and self._get_param("MaxResults") is None:
            self.params["MaxResults"] = len(asked)  # moto parsed the request with botocore's model
        return original_describe_templates(self)

    patch_object(
        response_class,
        "describe_launch_templates",
        describe_launch_templates,
        kind="wrap",
        why="templates asked for by id or name are all returned, not the first 15",
        owner=__name__,
    )


#: AWS's (and moto's) message when a template-less describe names anything but the two aliases.
_ALL_TEMPLATES_ONLY_ALIASES = (
    "To describe the launch template data for all your launch templates, for \u2018--versions\u2019 specify "
    "\u2018$Latest\u2019, \u2018$Default\u2019, or both, and omit \u2018--launch-template-id\u2019, "
    "\u2018--launch-template-name\u2019, and version numbers. To describe the launch template data for a "
    "specific launch template, specify \u2018--launch-template-id\u2019 or "
    "\u2018--launch-template-name\u2019, "
    "and for \u2018--versions\u2019 specify one or more of the following values: \u2018$Latest\u2019, "
    "\u2018$Default\u2019, or one or more version numbers."
)
#: moto's page size where MaxResults is not given.
_MOTO_PAGE = 15
#: The filters this patch applies; any other is refused loudly rather than ignored.
_VERSION_FILTERS = {"image-id": lambda data: data.get("ImageId")}


def _patch_describe_template_versions(response_class: Any) -> None:
    original_describe = response_class.describe_launch_template_versions

    def describe_launch_template_versions(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.ec2.exceptions import FilterNotImplementedError, InvalidParameterValue

        template_less = not (self._get_param("LaunchTemplateId") or self._get_param("LaunchTemplateName"))
        versions = self._get_param("Versions", [])
        if template_less and any(v not in ("$Latest", "$Default") for v in versions):
            raise InvalidParameterValue(_ALL_TEMPLATES_ONLY_ALIASES)
        filters = self._filters_from_querystring()
        for name in filters:
            if name not in _VERSION_FILTERS:
                raise FilterNotImplementedError(name, "DescribeLaunchTemplateVersions")
        max_results = self._get_int_param("MaxResults")
        if max_results is not None and not 1 <= max_results <= 200:
            raise InvalidParameterValue(f"Value ( {max_results} ) for parameter maxResults is invalid.")
        if template_less:  # moto would cut the answer before it is filtered, and give no token
            self.params["MaxResults"] = 1_000_000
        answer: Any = original_describe(self)
        found = [
            version
            for version in answer.result["LaunchTemplateVersions"]
            if all(
                _VERSION_FILTERS[name](version.get("LaunchTemplateData") or {}) in values
                for name, values in filters.items()
            )
        ]
        if not template_less:
            return ActionResult({"LaunchTemplateVersions": found})
        size = max_results or _MOTO_PAGE
        start = _page_start(self._get_param("NextToken"), len(found))
        page, rest = found[start : start + size], found[start + size :]
        return ActionResult(
            {"LaunchTemplateVersions": page, **({"NextToken": str(start + size)} if rest else {})}
        )

    patch_object(
        response_class,
        "describe_launch_template_versions",
        describe_launch_template_versions,
        kind="wrap",
        why="filters by image-id; a template-less describe pages and refuses version numbers",
        owner=__name__,
    )


def _page_start(token: str | None, total: int) -> int:
    from moto.ec2.exceptions import InvalidNextToken

    if token is None:
        return 0
    if not token.isdigit() or int(token) > total:
        raise InvalidNextToken(token)
    return int(token)


def _patch_template_versions(response_class: Any, backend_class: Any, template_class: Any) -> None:
    """Versions created from a source version, deleted, and never reused by number."""
    original_describe = backend_class.describe_launch_template_versions

    def describe_launch_template_versions(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = original_describe(self, *args, **kwargs)
        return [(template, v) for template, v in found if not getattr(v, "deleted", False)]

    original_latest = template_class.latest_version

    def latest_version(self: Any) -> Any:
        live = [v for v in self.versions if not getattr(v, "deleted", False)]
        return live[-1] if live else original_latest(self)

    original_get_version = template_class.get_version

    def get_version(self: Any, num: Any) -> Any:
        # moto's get_version reads $Latest as the last version, deleted or not
        return self.latest_version() if str(num).lower() == "$latest" else original_get_version(self, num)

    patch_object(
        response_class,
        "create_launch_template_version",
        _create_launch_template_version,
        kind="wrap",
        why="a version deleted with DeleteLaunchTemplateVersions is not reused by number",
        owner=__name__,
    )
    patch_object(
        response_class,
        "delete_launch_template_versions",
        _delete_launch_template_versions,
        kind="add",
        why="moto 5.2.5 has no DeleteLaunchTemplateVersions (StartRefresh deletes an unused version)",
        owner=__name__,
    )
    patch_object(
        backend_class,
        "describe_launch_template_versions",
        describe_launch_template_versions,
        kind="wrap",
        why="deleted versions are not described",
        owner=__name__,
    )
    patch_object(
        template_class,
        "latest_version",
        latest_version,
        kind="wrap",
        why="$Latest skips deleted versions",
        owner=__name__,
    )
    patch_object(
        template_class,
        "get_version",
        get_version,
        kind="wrap",
        why="a version asked for as $Latest skips deleted versions too",
        owner=__name__,
    )


def _delete_launch_template_versions(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult

    template_id = self._get_param("LaunchTemplateId")
    name = self._get_param("LaunchTemplateName")
    template = (
        self.ec2_backend.launch_templates[template_id]
        if template_id
        else self.ec2_backend.get_launch_template_by_name(name)
    )
    deleted, failed = [], []
    for number in self._get_param("Versions", []):
        version = int(number)
        if template.default_version_number == version or not 1 <= version <= len(template.versions):
            failed.append(
                {
                    "LaunchTemplateId": template.id,
                    "LaunchTemplateName": template.name,
                    "VersionNumber": version,
                    "ResponseError": {
                        "Code": "launchTemplateVersionDoesNotExist"
                        if template.default_version_number != version
                        else "unexpectedError",
                        "Message": f"cannot delete version {version}",
                    },
                }
            )
            continue
        template.versions[version - 1].deleted = True
        deleted.append(
            {
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionNumber": version,
            }
        )
    return ActionResult(
        {
            "SuccessfullyDeletedLaunchTemplateVersions": deleted,
            "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
        }
    )


def _create_launch_template_version(self: Any) -> ActionResult:
    from moto.core.responses import ActionResult

    name, template_id = self._get_param("LaunchTemplateName"), self._get_param("LaunchTemplateId")
    template = (
        self.ec2_backend.get_launch_template(template_id)
        if template_id
        else self.ec2_backend.get_launch_template_by_name(name)
    )
    data = self._get_param("LaunchTemplateData", {})
    source = self._get_param("SourceVersion")
    if source:
        data = {**copy.deepcopy(template.get_version(source).data), **data}
    self.error_on_dryrun()
    version = template.create_version(data, self._get_param("VersionDescription"))
    return ActionResult(
        {
            "LaunchTemplateVersion": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersion": template.is_default(version),
                "LaunchTemplateData": version.data,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "VersionDescription": version.description,
                "VersionNumber": version.number,
            }
        }
    )
