"""StartWaveGroup: one Map item of a rollout wave; starts (or reverts) one group's refresh and
watcher, or looks again at a group whose deployment queued behind another refresh."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.invocation import mode_of, task_error
from asg_refresh.logic.rollout import start_wave_item
from asg_refresh.logic.wave_queue import follow_queued
from asg_refresh.models.rollout import GroupStart, QueuedWaveGroup, WaveItem
from asg_refresh.observability import logger
from asg_refresh.settings import Settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    aws = AwsGateway(settings.region)
    try:
        parsed: WaveItem | QueuedWaveGroup = (
            parse(event=event, model=QueuedWaveGroup)
            if isinstance(event, dict) and event.get("status") == "queued"
            else parse(event=event, model=WaveItem)
        )
    except Exception as error:
        return task_error(error, mode_of(context))
    if isinstance(parsed, QueuedWaveGroup):
        logger.append_keys(group=parsed.group, queued_deployment_id=parsed.queued_deployment_id)
        # A group queues only where there is an audit table to wait in.
        started: GroupStart = follow_queued(parsed, AuditStore(aws, settings.audit_table or ""))
    else:
        logger.append_keys(rollout_id=parsed.rollout_id, wave=parsed.wave, group=parsed.group)
        audit = AuditStore(aws, settings.audit_table) if settings.audit_table else None
        started = start_wave_item(parsed, aws, settings, timeutil.now(), audit)
    logger.info("wave item", extra={"result": started.model_dump()})
    return started.model_dump(mode="json")
