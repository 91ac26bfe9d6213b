"""AlarmRollback: a CloudWatch alarm entered ALARM; roll back the refreshes of the groups it guards."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from asg_refresh.dal.aws import AwsGateway, dead_letter_sender
from asg_refresh.errors import AsgRefreshError
from asg_refresh.invocation import as_product_error, mode_of, refuse, success
from asg_refresh.logic.alarm_rollback import roll_back_for_alarm
from asg_refresh.models.base import DEFERRED, Model
from asg_refresh.observability import logger, metrics
from asg_refresh.settings import Settings


class AlarmState(Model):
    # CloudWatch's StateValue and StateReason (1-1023 characters).
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = Field(default="", max_length=1023)


class AlarmStateChangeDetail(Model):
    alarm_name: str = Field(alias="alarmName", min_length=1, max_length=255)
    state: AlarmState


class AlarmStateChangeEvent(EventBridgeModel):
    model_config = DEFERRED

    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmStateChangeDetail


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    aws = AwsGateway(settings.region)
    try:
        try:
            alarm = parse(event=event, model=AlarmStateChangeEvent).detail
        except Exception as error:
            raise as_product_error(error) from error
        if alarm.state.value != "ALARM":
            return success(
                {"alarm": alarm.alarm_name, "actions": [], "ignored": f"state is {alarm.state.value}"}
            )
        result = roll_back_for_alarm(alarm.alarm_name, alarm.state.reason, aws, settings)
    except AsgRefreshError as error:
        logger.error("alarm event refused", extra={"code": error.code, "reason": error.message})
        return refuse(event, error, mode_of(context), dead_letter_sender(aws, settings.dead_letter_queue_url))
    stopped = sum(action.action in {"rolled-back", "cancelled"} for action in result.actions)
    metrics.add_metric(name="RefreshesStoppedByAlarm", unit=MetricUnit.Count, value=stopped)
    logger.info("alarm handled", extra={"result": result.model_dump()})
    return success(result.model_dump())
