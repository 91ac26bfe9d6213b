"""The events that can start a deployment, as they arrive, named after their source.

EventBridge events are ``EventBridgeModel`` subclasses with a typed ``detail`` and a literal
``detail-type``, joined in one discriminated union; each SNS record's ``Message`` is parsed
into :data:`SnsDeployMessage` (``parsing.py``, as Powertools' ``SnsEnvelope`` does).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ConfigDict, Discriminator, Field, Tag

from asg_refresh.models.base import DEFERRED, Model
from asg_refresh.models.deploy import DeployMessage, ImageId, ParameterName

IMAGE_BUILDER_DETAIL_TYPE = "EC2 Image Builder Image State Change"
PARAMETER_CHANGE_DETAIL_TYPE = "Parameter Store Change"
AMI_STATE_DETAIL_TYPE = "EC2 AMI State Change"
DEPLOY_SOURCE = "asg-refresh.deploy"
DEPLOY_DETAIL_TYPE = "ASG Refresh Requested"


class ImageBuilderState(Model):
    status: str = Field(min_length=1, max_length=64)
    reason: str | None = None


class ImageBuilderStateChangeDetail(Model):
    state: ImageBuilderState
    previous_state: ImageBuilderState | None = Field(default=None, alias="previous-state")


class ImageBuilderStateChangeEvent(EventBridgeModel):
    model_config = DEFERRED

    source: Literal["aws.imagebuilder"]
    detail_type: Literal["EC2 Image Builder Image State Change"] = Field(alias="detail-type")
    detail: ImageBuilderStateChangeDetail


class ParameterChangeDetail(Model):
    operation: str
    name: ParameterName
    type: str | None = None


class ParameterChangeEvent(EventBridgeModel):
    model_config = DEFERRED

    source: Literal["aws.ssm"]
    detail_type: Literal["Parameter Store Change"] = Field(alias="detail-type")
    detail: ParameterChangeDetail


class AmiStateChangeDetail(Model):
    image_id: ImageId = Field(alias="ImageId")
    state: str = Field(alias="State")


class AmiStateChangeEvent(EventBridgeModel):
    model_config = DEFERRED

    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 AMI State Change"] = Field(alias="detail-type")
    detail: AmiStateChangeDetail


class DeployEvent(EventBridgeModel):
    model_config = DEFERRED

    source: Literal["asg-refresh.deploy"]
    detail_type: Literal["ASG Refresh Requested"] = Field(alias="detail-type")
    detail: DeployMessage


DeployTriggerEvent = Annotated[
    ImageBuilderStateChangeEvent | ParameterChangeEvent | AmiStateChangeEvent | DeployEvent,
    Field(discriminator="detail_type"),
]


class ImageBuilderAmi(Model):
    region: str = Field(min_length=1)
    image: ImageId
    account_id: str | None = Field(default=None, alias="accountId")
    name: str | None = None


class ImageBuilderOutputResources(Model):
    amis: list[ImageBuilderAmi] = Field(min_length=1)


class ImageBuilderNotification(Model):
    """Image Builder's SNS notification: the whole image as JSON (only what we use is modelled)."""

    model_config = ConfigDict(extra="ignore")

    arn: str = Field(pattern=r"^arn:aws[\w-]*:imagebuilder:")
    state: ImageBuilderState
    output_resources: ImageBuilderOutputResources = Field(alias="outputResources")


def _sns_message_kind(message: Any) -> str:
    return "imagebuilder" if isinstance(message, dict) and "outputResources" in message else "deploy"


SnsDeployMessage = Annotated[
    Annotated[ImageBuilderNotification, Tag("imagebuilder")] | Annotated[DeployMessage, Tag("deploy")],
    Discriminator(_sns_message_kind),
]
