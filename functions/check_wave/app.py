"""CheckWave: the gate between two waves of a rollout; decides whether the next wave may start."""

from __future__ import annotations

from typing import Any, Self

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field, model_validator

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.invocation import mode_of, task_error
from asg_refresh.logic.waves import check_wave
from asg_refresh.models.base import Model
from asg_refresh.models.rollout import MAX_WAVES, GroupResult, RolloutPlan, WaveCheck
from asg_refresh.observability import logger
from asg_refresh.settings import Settings


class PendingWaveCheck(WaveCheck):
    """The check the state machine carries into the gate: there is a next wave to check."""

    next_wave: int = Field(ge=0, lt=MAX_WAVES)


class CheckInput(Model):
    model_config = ConfigDict(extra="ignore")

    plan: RolloutPlan
    check: PendingWaveCheck
    results: list[GroupResult] = Field(max_length=1000)

    @model_validator(mode="after")
    def _wave_of_the_plan(self) -> Self:
        if self.check.next_wave >= len(self.plan.waves):
            raise ValueError(
                f"check.next_wave {self.check.next_wave}: the plan has {len(self.plan.waves)} waves"
            )
        return self


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    try:
        given = CheckInput.model_validate(event)
    except Exception as error:
        return task_error(error, mode_of(context))
    alarms = given.plan.message.alarms or []
    described = AwsGateway(settings.region).describe_alarms(alarms) if alarms else []
    decided = check_wave(given.plan, given.check.next_wave, given.results, given.check.verdicts, described)
    logger.info(
        "wave checked", extra={"verdict": decided.verdicts[-1].model_dump(), "status": decided.status}
    )
    return decided.model_dump(mode="json")
