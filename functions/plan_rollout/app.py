"""PlanRollout: the first step of the RolloutWaves state machine; turns the rollout request into waves."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.errors import AsgRefreshError
from asg_refresh.invocation import mode_of, task_error
from asg_refresh.logic.rollout import plan_rollout
from asg_refresh.models.rollout import WaveCheck
from asg_refresh.observability import logger
from asg_refresh.parsing import parse_rollout_request
from asg_refresh.settings import Settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    try:
        message, rollout_id = parse_rollout_request(event)
        plan = plan_rollout(message, rollout_id, AwsGateway(settings.region), settings)
    except AsgRefreshError as error:
        return task_error(error, mode_of(context))
    logger.info("rollout planned", extra={"rollout_id": plan.rollout_id, "waves": len(plan.waves)})
    first = WaveCheck(next_wave=0, verdicts=[], status="running")
    return {"plan": plan.model_dump(mode="json"), "check": first.model_dump(mode="json")}
