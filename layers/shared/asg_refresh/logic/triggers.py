"""Turn any parsed trigger into the one :class:`DeployRequest` StartRefresh acts on."""

from __future__ import annotations

from asg_refresh.errors import InvalidRequestError
from asg_refresh.models.deploy import DeployMessage, DeployRequest, ImageSource, TriggerKind
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.preferences import RefreshPreferences
from asg_refresh.models.triggers import (
    AmiStateChangeEvent,
    DeployEvent,
    ImageBuilderNotification,
    ImageBuilderStateChangeEvent,
    ParameterChangeEvent,
)

AnyTrigger = (
    ImageBuilderStateChangeEvent
    | ParameterChangeEvent
    | AmiStateChangeEvent
    | DeployEvent
    | ImageBuilderNotification
    | DeployMessage
)


def request_from_message(message: DeployMessage, deployment_id: str, trigger: TriggerKind) -> DeployRequest:
    image = (
        ImageSource(image_id=message.image_id)
        if message.image_id
        else ImageSource(parameter_name=message.image_parameter)
    )
    return DeployRequest(
        deployment_id=message.deployment_id or deployment_id,
        trigger=trigger,
        image=image,
        groups=message.groups,
        tags=message.tags,
        preferences=message.preferences or RefreshPreferences(),
        alarms=message.alarms or [],
        gates=message.gates or GateConfig(),
        strategy=message.strategy,
        supersede=message.supersede,
    )


def to_deploy_request(trigger: AnyTrigger, deployment_id: str, region: str | None) -> DeployRequest:
    """The request a trigger stands for. ``deployment_id`` is the event's own id, which makes
    redelivered copies of one event the same deployment."""
    match trigger:
        case ImageBuilderStateChangeEvent():
            if trigger.detail.state.status != "AVAILABLE":
                raise InvalidRequestError(
                    f"image state is {trigger.detail.state.status}, not AVAILABLE", event_id=trigger.id
                )
            arns = [arn for arn in trigger.resources if ":imagebuilder:" in arn]
            if not arns:
                raise InvalidRequestError("the Image Builder event names no image ARN in resources")
            image = ImageSource(image_builder_arn=arns[0])
            return DeployRequest(deployment_id=deployment_id, trigger="imagebuilder", image=image)
        case ParameterChangeEvent():
            if trigger.detail.operation not in {"Create", "Update"}:
                raise InvalidRequestError(
                    f"parameter {trigger.detail.name} was {trigger.detail.operation}d: nothing to roll out"
                )
            image = ImageSource(parameter_name=trigger.detail.name)
            return DeployRequest(deployment_id=deployment_id, trigger="ssm-parameter", image=image)
        case AmiStateChangeEvent():
            if trigger.detail.state.lower() != "available":
                raise InvalidRequestError(f"AMI state is {trigger.detail.state}, not available")
            image = ImageSource(image_id=trigger.detail.image_id)
            return DeployRequest(deployment_id=deployment_id, trigger="ec2-ami", image=image)
        case DeployEvent():
            return request_from_message(trigger.detail, deployment_id, "deploy")
        case ImageBuilderNotification():
            return _from_image_builder_notification(trigger, deployment_id, region)
        case DeployMessage():
            return request_from_message(trigger, deployment_id, "deploy")
    raise InvalidRequestError(f"unsupported trigger {type(trigger).__name__}")


def _from_image_builder_notification(
    note: ImageBuilderNotification, deployment_id: str, region: str | None
) -> DeployRequest:
    if note.state.status != "AVAILABLE":
        raise InvalidRequestError(f"image state is {note.state.status}, not AVAILABLE")
    amis = [ami for ami in note.output_resources.amis if region is None or ami.region == region]
    if not amis:
        raise InvalidRequestError(f"the image was not distributed to region {region}")
    return DeployRequest(
        deployment_id=deployment_id,
        trigger="imagebuilder-sns",
        image=ImageSource(image_id=amis[0].image),
    )
