"""Which AMI a request means, and whether it may be rolled out."""

from __future__ import annotations

import re

from asg_refresh.dal.ports import Images
from asg_refresh.dal.records import Image
from asg_refresh.errors import ImageParameterNotAllowedError, ImageRejectedError
from asg_refresh.models.deploy import DeployRequest, ImageSource, TriggerKind
from asg_refresh.models.resources import ParameterRecord
from asg_refresh.settings import Settings

#: As the deploy message's ``image_id`` (``models.deploy.ImageId``).
AMI_ID = re.compile(r"ami-[0-9a-f]{8,17}")


def parameter_allowed(name: str, trigger: TriggerKind, settings: Settings) -> bool:
    """Whether the product may read ``name`` to learn an AMI id: under the allowed prefix, or a
    golden-AMI parameter. A Parameter Store Change trigger names a golden parameter by
    construction: only the GoldenAmiParameterChanged rule delivers it, and PutEvents refuses
    ``aws.*`` sources, so nobody can forge one on the bus."""
    if any(part in {".", ".."} for part in name.split("/")):
        return False
    return (
        trigger == "ssm-parameter"
        or name in settings.golden_ami_parameter_names
        or name.startswith(settings.allowed_image_parameter_prefix)
    )


def image_id_in(parameter: ParameterRecord | None, name: str) -> str:
    """The AMI id a parameter holds. Whatever it holds otherwise is never repeated, in a message
    or a log: a parameter that is not an AMI id may be a secret."""
    if parameter is None:
        raise ImageRejectedError(f"parameter {name} does not exist")
    if parameter.type == "SecureString" or parameter.value is None:
        raise ImageRejectedError(
            f"parameter {name} is a SecureString, not a plain AMI parameter (it was not decrypted): "
            "keep the AMI id in a String parameter"
        )
    value = parameter.value.get_secret_value().strip()
    if parameter.type != "String" or not AMI_ID.fullmatch(value):
        raise ImageRejectedError(f"parameter {name} (Type {parameter.type}) does not hold an AMI id")
    return value


def resolve_image_id(source: ImageSource, trigger: TriggerKind, aws: Images, settings: Settings) -> str:
    if source.image_id:
        return source.image_id
    if source.parameter_name:
        name = source.parameter_name
        if not parameter_allowed(name, trigger, settings):
            raise ImageParameterNotAllowedError(
                f"parameter {name} may not name the image: only parameters under "
                f"{settings.allowed_image_parameter_prefix} (ALLOWED_IMAGE_PARAMETER_PREFIX) and the "
                "golden-AMI parameters may",
                parameter=name,
            )
        return image_id_in(aws.get_parameter(name), name)
    assert source.image_builder_arn
    images = [i for i in aws.images_built_by(source.image_builder_arn) if i.state == "available"]
    if not images:
        raise ImageRejectedError(f"no available AMI in this region was built by {source.image_builder_arn}")
    return max(images, key=lambda image: image.creation_date).id


def check_image(image_id: str, image: Image | None, allowed_owners: set[str]) -> None:
    """Raise unless the AMI exists, is available and is owned by an allowed account."""
    if image is None:
        raise ImageRejectedError(f"AMI {image_id} does not exist", image_id=image_id)
    if image.state != "available":
        raise ImageRejectedError(f"AMI {image_id} is {image.state}, not available", image_id=image_id)
    if image.owner_id not in allowed_owners:
        raise ImageRejectedError(
            f"AMI {image_id} is owned by {image.owner_id}, which is not an allowed owner",
            image_id=image_id,
        )


def checked_image_id(request: DeployRequest, aws: Images, settings: Settings) -> str:
    """The AMI the request names, once it is known to exist, be available and come from an
    allowed owner ("self" being the account this runs in)."""
    image_id = resolve_image_id(request.image, request.trigger, aws, settings)
    owners = {aws.account_id() if owner == "self" else owner for owner in settings.allowed_image_owners}
    check_image(image_id, aws.describe_image(image_id), owners)
    return image_id
