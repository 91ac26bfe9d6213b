"""StartWaveGroup: one Map item of a rollout wave; starts (or reverts) one group's refresh and watcher."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.invocation import mode_of, task_error
from asg_refresh.logic.rollout import start_wave_item
from asg_refresh.models.rollout import WaveItem
from asg_refresh.observability import logger
from asg_refresh.settings import Settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    try:
        item = parse(event=event, model=WaveItem)
    except Exception as error:
        return task_error(error, mode_of(context))
    logger.append_keys(rollout_id=item.rollout_id, wave=item.wave, group=item.group)
    aws = AwsGateway(settings.region)
    audit = AuditStore(aws, settings.audit_table) if settings.audit_table else None
    started = start_wave_item(item, aws, settings, timeutil.now(), audit)
    logger.info("wave item", extra={"result": started.model_dump()})
    return started.model_dump(mode="json")
