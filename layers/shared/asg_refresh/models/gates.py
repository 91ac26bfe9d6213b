"""Gate configuration, per deployment (the event) with defaults from parameters and tags.

Each gate has an effect when it fails: **rollback** gates (alarms, metric thresholds) stop a bad
rollout; **hold** gates (a time window or change freeze, a pending manual approval) only stop
progress until they pass.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from asg_refresh.models.base import Model
from asg_refresh.models.preferences import AlarmName

Day = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
ALL_DAYS: tuple[Day, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Comparison = Literal[
    "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]


class _Gate(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricGate(_Gate):
    """Fail when the metric's statistic over the last ``window_seconds`` breaches the threshold."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)
    statistic: Literal["Average", "Sum", "Minimum", "Maximum", "SampleCount", "p50", "p90", "p95", "p99"] = (
        "Average"
    )
    period: int = Field(default=60, ge=1, le=86_400)
    window_seconds: int = Field(default=300, ge=60, le=86_400)
    threshold: float
    comparison: Comparison = "GreaterThanThreshold"
    missing_data: Literal["pass", "fail"] = "pass"


class Freeze(_Gate):
    start: datetime
    end: datetime
    reason: str = Field(default="change freeze", max_length=256)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("a freeze must end after it starts")
        return self


class TimeWindowGate(_Gate):
    """Progress only inside the allowed hours and outside every freeze."""

    timezone: str = "UTC"
    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS), min_length=1)
    start: ClockTime = "00:00"
    end: ClockTime = "23:59"
    freezes: list[Freeze] = Field(default_factory=list, max_length=50)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value


class ApprovalGate(_Gate):
    """A person approves each checkpoint (Step Functions task token); silence rolls back."""

    timeout_seconds: int = Field(default=86_400, ge=60, le=604_800)


class GateConfig(_Gate):
    alarms: list[AlarmName] = Field(default_factory=list, max_length=100)
    metrics: list[MetricGate] = Field(default_factory=list, max_length=10)
    window: TimeWindowGate | None = None
    approval: ApprovalGate | None = None
    hold_at_checkpoints: bool = Field(
        default=False,
        description="Hold at every checkpoint until the gates pass, then promote (see README).",
    )

    @property
    def holds(self) -> bool:
        """Whether checkpoints hold (until promoted) instead of merely delaying."""
        return self.hold_at_checkpoints or self.approval is not None

    def merged_over(self, defaults: GateConfig) -> GateConfig:
        return GateConfig(
            alarms=list(dict.fromkeys([*self.alarms, *defaults.alarms])),
            metrics=self.metrics or defaults.metrics,
            window=self.window or defaults.window,
            approval=self.approval or defaults.approval,
            hold_at_checkpoints=self.hold_at_checkpoints or defaults.hold_at_checkpoints,
        )


def parse_time(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d\d):(\d\d)", value)
    assert match
    return int(match[1]), int(match[2])
