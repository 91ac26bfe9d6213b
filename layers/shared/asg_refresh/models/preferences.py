"""Instance refresh preferences, bounded exactly as the StartInstanceRefresh API bounds them.

Field names are snake_case in Python and PascalCase on the wire (the API's own names), and both
are accepted on input, so an event author can paste the AWS shape as is.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_pascal

from asg_refresh.models.base import Model

MAX_DELAY_SECONDS = 172_800
AlarmName = Annotated[str, Field(min_length=1, max_length=255)]
# botocore's model: ScaleInProtectedInstances takes Refresh, StandbyInstances takes Terminate.
ScaleInProtectedHandling = Literal["Refresh", "Ignore", "Wait"]
StandbyHandling = Literal["Terminate", "Ignore", "Wait"]


class ApiModel(Model):
    """Base for models that mirror an AWS API shape."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid", frozen=True)

    def to_api(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True)


class AlarmSpecification(ApiModel):
    alarms: list[AlarmName] = Field(default_factory=list, max_length=10)


class RefreshPreferences(ApiModel):
    """``Preferences`` of StartInstanceRefresh. ``None`` means: let AWS apply its default."""

    min_healthy_percentage: int | None = Field(default=None, ge=0, le=100)
    max_healthy_percentage: int | None = Field(default=None, ge=100, le=200)
    instance_warmup: int | None = Field(default=None, ge=0)
    checkpoint_percentages: list[Annotated[int, Field(ge=1, le=100)]] | None = None
    checkpoint_delay: int | None = Field(default=None, ge=0, le=MAX_DELAY_SECONDS)
    skip_matching: bool | None = None
    auto_rollback: bool | None = None
    scale_in_protected_instances: ScaleInProtectedHandling | None = None
    standby_instances: StandbyHandling | None = None
    alarm_specification: AlarmSpecification | None = None
    bake_time: int | None = Field(default=None, ge=0, le=MAX_DELAY_SECONDS)

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        checkpoints = self.checkpoint_percentages
        if checkpoints is not None and checkpoints != sorted(set(checkpoints)):
            raise ValueError("CheckpointPercentages must be unique and in ascending order")
        if self.checkpoint_delay is not None and not checkpoints:
            raise ValueError("CheckpointDelay needs CheckpointPercentages")
        if self.max_healthy_percentage is not None:
            if self.min_healthy_percentage is None:
                raise ValueError("MaxHealthyPercentage needs MinHealthyPercentage")
            if self.max_healthy_percentage - self.min_healthy_percentage > 100:
                raise ValueError("MaxHealthyPercentage minus MinHealthyPercentage must be at most 100")
        return self

    def merged_over(self, defaults: RefreshPreferences) -> RefreshPreferences:
        """These preferences, with every field left unset taken from ``defaults``."""
        merged = defaults.model_dump(exclude_none=True) | self.model_dump(exclude_none=True)
        if "max_healthy_percentage" in merged and "max_healthy_percentage" not in self.model_fields_set:
            # A per-event MinHealthyPercentage must not be paired with a default Max it breaks.
            minimum = merged.get("min_healthy_percentage", 90)
            if merged["max_healthy_percentage"] - minimum > 100 or merged["max_healthy_percentage"] < 100:
                merged.pop("max_healthy_percentage")
        if "checkpoint_delay" in merged and not merged.get("checkpoint_percentages"):
            merged.pop("checkpoint_delay")
        return RefreshPreferences.model_validate(merged)
