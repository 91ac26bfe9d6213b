"""The one request every trigger is turned into, and the custom deploy message it starts from."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from asg_refresh.models.base import Model
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.preferences import AlarmName, RefreshPreferences

# Bounds from the API reference: AutoScalingGroupName is 1-255 characters.
GroupName = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f]+$")]
ImageId = Annotated[str, Field(pattern=r"^ami-[0-9a-f]{8,17}$")]
ParameterName = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^[a-zA-Z0-9_.\-/]+$")]
TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]
Strategy = Literal["Rolling", "ReplaceRootVolume"]
TriggerKind = Literal["imagebuilder", "imagebuilder-sns", "ssm-parameter", "ec2-ami", "deploy"]
#: What a deployment does to a group already refreshing towards another image (README, "Newer
#: images"): wait for it to succeed, stop it and go next, or be refused.
SupersedePolicy = Literal["queue", "replace", "reject"]


class DeployMessage(Model):
    """A deploy request as people and pipelines write it: the custom EventBridge event's detail,
    a plain JSON SNS message, or the payload of a manual invocation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_id: ImageId | None = None
    image_parameter: ParameterName | None = Field(
        default=None, description="An SSM parameter whose value is the AMI id."
    )
    groups: list[GroupName] | None = Field(default=None, min_length=1, max_length=500)
    tags: dict[TagKey, TagValue] | None = Field(
        default=None, min_length=1, max_length=10, description="Every tag must match (a selector)."
    )
    preferences: RefreshPreferences | None = None
    alarms: list[AlarmName] | None = Field(default=None, max_length=100)
    gates: GateConfig | None = None
    strategy: Strategy = "Rolling"
    supersede: SupersedePolicy | None = Field(
        default=None,
        description="For a group refreshing towards another image; the stack's default if unset.",
    )
    deployment_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.\-:]+$")

    @model_validator(mode="after")
    def _exactly_one_image_source(self) -> Self:
        if (self.image_id is None) == (self.image_parameter is None):
            raise ValueError("give exactly one of image_id and image_parameter")
        return self


class ImageSource(Model):
    """Where the new AMI comes from; exactly one field is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_id: ImageId | None = None
    image_builder_arn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:imagebuilder:")
    parameter_name: ParameterName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [v for v in (self.image_id, self.image_builder_arn, self.parameter_name) if v]
        if len(given) != 1:
            raise ValueError("an image source names exactly one of image id, Image Builder ARN, parameter")
        return self

    @property
    def source_key(self) -> str | None:
        """What a group's source tag is compared with: the parameter name, or the Image Builder
        image ARN without its version (so every build of one recipe matches)."""
        if self.parameter_name:
            return self.parameter_name
        if self.image_builder_arn:
            return self.image_builder_arn.rsplit("/", 2)[0]
        return None


class DeployRequest(Model):
    """What StartRefresh acts on, whatever the trigger was."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment_id: str = Field(min_length=1, max_length=64)
    trigger: TriggerKind
    image: ImageSource
    groups: list[GroupName] | None = None
    tags: dict[TagKey, TagValue] | None = None
    preferences: RefreshPreferences = Field(default_factory=RefreshPreferences)
    alarms: list[AlarmName] = Field(default_factory=list)
    gates: GateConfig = Field(default_factory=GateConfig)
    strategy: Strategy = "Rolling"
    supersede: SupersedePolicy | None = None
