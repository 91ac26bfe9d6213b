"""A dry-run plan: what a deploy would do to each group, computed without changing anything."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from asg_refresh.models.base import Model
from asg_refresh.models.preflight import GroupPreflight
from asg_refresh.models.results import SkippedGroup

InstanceAction = Literal["replace", "keep"]


class PlannedInstance(Model):
    instance_id: str
    image_id: str | None
    launch_template_version: str | None
    action: InstanceAction
    reason: str


class PlannedBatch(Model):
    index: int = Field(ge=0)
    size: int = Field(ge=1, description="Instances replaced in this batch.")
    terminated_first: int = Field(ge=0, description="Old instances terminated before the launches.")
    starts_at: int = Field(ge=0, description="Seconds after the start request.")
    in_service_at: int = Field(ge=0)
    done_at: int = Field(ge=0, description="When its warm-up ends.")
    min_in_service: int = Field(ge=0)
    max_total: int = Field(ge=0)


class CapacitySample(Model):
    """One point of the capacity-over-time picture, in the emulation timeline's terms."""

    at: int = Field(ge=0, description="Seconds after the start request.")
    in_service: int = Field(ge=0)
    total: int = Field(ge=0, description="In service plus launching.")
    event: str


class GroupPlan(Model):
    group: str
    reason: str
    desired: int
    launch_template_id: str
    current_version: str
    current_image_id: str | None
    min_healthy_percentage: int
    max_healthy_percentage: int | None
    min_in_service: int = Field(description="ceil(MinHealthy% x desired), as AWS rounds.")
    max_total: int = Field(description="floor(MaxHealthy% x desired), or desired without MaxHealthy.")
    instances: list[PlannedInstance]
    to_replace: int
    batches: list[PlannedBatch]
    lowest_in_service: int
    highest_total: int
    checkpoints: list[int]
    checkpoint_delay: int
    instance_warmup: int
    bake_time: int
    estimated_seconds: int
    samples: list[CapacitySample]


class WavePlan(Model):
    """A wave of a rollout as the dry run sees it (for a rollout message)."""

    name: str
    groups: list[str]
    estimated_seconds: int = Field(description="With the rollout's concurrency cap, one slot per group.")


class DeployPlan(Model):
    image_id: str
    groups: list[GroupPlan] = Field(default_factory=list)
    skipped: list[SkippedGroup] = Field(default_factory=list)
    assumed_launch_seconds: int
    estimated_seconds: int = Field(description="Every group at once (the longest group).")
    waves: list[WavePlan] = Field(default_factory=list, description="For a rollout: its waves, in order.")
    rollout_estimated_seconds: int | None = Field(default=None, description="Waves one after another.")
    gates: list[str] = Field(
        default_factory=list,
        description="What the gates will do, and which waits the estimates leave out (a person, a window).",
    )
    preflight: list[GroupPreflight] = Field(
        default_factory=list,
        description="Every checked group's pre-flight verdicts (a failing group is also in skipped).",
    )
