"""EC2 calls the product makes that moto 5.2.5 lacks, added faithfully enough for our use.

CreateLaunchTemplateVersion with SourceVersion: moto ignores SourceVersion; AWS copies the source
version's data and applies the given fields on top, which is how StartRefresh changes only the
image id of a template.

RegisterImage with Architecture: moto ignores it (DescribeImages then gives none); AWS keeps it,
and the pre-flight architecture check reads it.

DeleteLaunchTemplateVersions: StartRefresh deletes the launch template version it created when
the refresh then fails to start (nothing half-started). moto numbers versions by list position,
so a deleted version is hidden rather than removed, and numbers are never reused, as in AWS.
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
