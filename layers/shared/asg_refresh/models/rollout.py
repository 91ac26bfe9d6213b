"""A fleet rollout in waves: the deploy message that asks for one, and the plan the state machine runs.

The message is a :class:`DeployMessage` (same image source, selector, preferences and alarms) with
how to cut the fleet into waves, how many groups may refresh at once, and what to do on failure.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from asg_refresh.models.base import Model
from asg_refresh.models.deploy import DeployMessage, GroupName, TagKey, TagValue
from asg_refresh.models.results import SkippedGroup

WaveName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.%\- ]+$")]
#: Tag naming a group's wave when the message gives no ``waves`` (``canary`` goes first).
WAVE_TAG_KEY = "asg-refresh:wave"
MAX_WAVES = 20
RolloutId = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[\w.\-:]+$")]
#: A Map item's rollout id: the rollout's, or ``<id>-revert`` for a revert; with ``.<wave>.<index>``
#: it stays within a deployment id's 64 characters.
WaveRolloutId = Annotated[str, Field(min_length=1, max_length=55, pattern=r"^[\w.\-:]+$")]


class WaveSpec(Model):
    """One wave: named groups, a tag selector within the fleet, or a cumulative share of the fleet
    (``percent: 25`` = a quarter of the fleet is done when this wave ends)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: WaveName
    groups: list[GroupName] | None = Field(default=None, min_length=1, max_length=500)
    tags: dict[TagKey, TagValue] | None = Field(default=None, min_length=1, max_length=10)
    percent: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _one_selector(self) -> Self:
        if sum(x is not None for x in (self.groups, self.tags, self.percent)) != 1:
            raise ValueError(f"wave {self.name}: give exactly one of groups, tags, percent")
        return self


DEFAULT_WAVES = (
    WaveSpec(name="canary", tags={WAVE_TAG_KEY: "canary"}),
    WaveSpec(name="rest", percent=100),
)


class RolloutMessage(DeployMessage):
    """``ASG Rollout Requested``: one deploy across a fleet, wave after wave."""

    waves: list[WaveSpec] | None = Field(default=None, min_length=1, max_length=MAX_WAVES)
    max_concurrency: int = Field(default=10, ge=1, le=100, description="Groups refreshing at once.")
    rollback_previous_waves: bool = Field(
        default=False, description="On a failed wave, also revert the groups of earlier waves."
    )
    wave_pause_seconds: int = Field(default=0, ge=0, le=86_400, description="Soak time between waves.")

    @model_validator(mode="after")
    def _unique_wave_names(self) -> Self:
        names = [wave.name for wave in self.waves or []]
        if len(names) != len(set(names)):
            raise ValueError("wave names must be unique")
        return self

    def deploy_message(self, groups: list[str], deployment_id: str) -> DeployMessage:
        """The plain deploy message for ``groups`` (what StartRefresh understands)."""
        fields = self.model_dump(
            exclude_none=True,
            exclude={"waves", "max_concurrency", "rollback_previous_waves", "wave_pause_seconds", "tags"},
        )
        return DeployMessage.model_validate({**fields, "groups": groups, "deployment_id": deployment_id})


class PlannedWave(Model):
    index: int = Field(ge=0)
    name: WaveName
    groups: list[GroupName]


class RolloutPlan(Model):
    """What PlanRollout hands the state machine."""

    rollout_id: RolloutId
    image_id: str
    message: RolloutMessage
    waves: list[PlannedWave]
    skipped: list[SkippedGroup] = Field(default_factory=list)


#: ``queued``: the group's deployment waits behind another refresh (supersede ``queue``); the wave
#: follows it until it starts (then its watcher) or ends unstarted (``logic/wave_queue.py``).
GroupStartStatus = Literal["started", "skipped", "failed", "queued"]
#: How long a wave follows a queued deployment before it gives up on it: the wave looks every
#: 5 minutes (``Wait for the queued deployment``), so 1,500 looks are about 5 days, within the
#: Map item's 25,000 history events with the watch that follows.
MAX_QUEUED_LOOKS = 1500


class WaveItem(Model):
    """One Map item: start (or revert) one group of one wave."""

    model_config = ConfigDict(extra="ignore")

    rollout_id: WaveRolloutId
    wave: int = Field(ge=0, lt=MAX_WAVES)
    index: int = Field(ge=0, lt=10_000)
    group: GroupName
    message: RolloutMessage
    revert_to_image: str | None = Field(default=None, pattern=r"^ami-[0-9a-f]{8,17}$")


class GroupStart(Model):
    group: str
    status: GroupStartStatus
    refresh_id: str | None = None
    execution_arn: str | None = None
    watchers_arn: str | None = Field(
        default=None,
        description="The watcher's execution ARN without its name: a long watch continues in "
        "<watchers_arn>:<watcher>--<n>, which the wave follows.",
    )
    previous_image_id: str | None = None
    code: str | None = None
    reason: str | None = None
    queued_deployment_id: str | None = Field(
        default=None, max_length=64, description="The waiting deployment a queued group is followed by."
    )
    queued_looks: int = Field(default=0, ge=0, le=MAX_QUEUED_LOOKS)


class QueuedWaveGroup(GroupStart):
    """StartWaveGroup's input when the wave looks again at a group's queued deployment."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["queued"]
    queued_deployment_id: str = Field(min_length=1, max_length=64)


class RefreshState(Model):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(
        description="The refresh's last status, once it ended: Successful, RollbackSuccessful..."
    )


class GroupResult(GroupStart):
    """A Map item's output: the start, then how the refresh ended (its watcher steers it: a failed
    gate ends it in RollbackSuccessful or Cancelled)."""

    model_config = ConfigDict(extra="ignore")

    refresh: RefreshState | None = None

    @property
    def refresh_status(self) -> str | None:
        return self.refresh.status if self.refresh else None


class WaveVerdict(Model):
    wave: int
    name: str
    passed: bool
    succeeded: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    gate: str = ""
    previous_images: dict[str, str] = Field(
        default_factory=dict, description="The image each succeeded group ran before (for a revert)."
    )
    reasons: dict[str, str] = Field(
        default_factory=dict,
        description="Why each failed group failed, where known (a refusal, a queued deployment "
        "superseded or dropped, the refresh's end).",
    )


class WaveCheck(Model):
    """CheckWave's answer: the verdict of the wave just run, and what the state machine does next."""

    next_wave: int | None = Field(description="Index of the next wave, None when the rollout ends.")
    verdicts: list[WaveVerdict]
    status: Literal["running", "succeeded", "failed"]
    revert: list[GroupStart] = Field(default_factory=list, description="Earlier groups to revert.")
    reverting: bool = False
