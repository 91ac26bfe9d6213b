"""StartRefresh: a deploy trigger (EventBridge, SNS or a direct call) becomes instance refreshes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway, dead_letter_sender
from asg_refresh.errors import AsgRefreshError
from asg_refresh.idempotency import run_once
from asg_refresh.invocation import Mode, mode_of, refuse, success
from asg_refresh.logic.start_refresh import start_and_record
from asg_refresh.logic.supersede import start_queued
from asg_refresh.models.queue import QueueDrain, QueueDrainResult
from asg_refresh.observability import logger, metrics
from asg_refresh.parsing import Delivery, parse_deploy_trigger, parse_queue_drain, split_deliveries
from asg_refresh.settings import Settings


def deploy(
    delivery: Delivery,
    mode: Mode,
    send: Callable[[str, dict[str, str]], None] | None,
    settings: Settings,
    aws: AwsGateway,
    audit: AuditStore | None,
    context: LambdaContext,
) -> dict[str, Any]:
    """One trigger's refreshes, started once per deployment id; its refusal, by ``mode``."""
    try:
        request = parse_deploy_trigger(
            delivery.event, delivery.shape, delivery.deployment_id, settings.region
        )
        logger.append_keys(deployment_id=request.deployment_id, trigger=request.trigger)
        result = run_once(
            lambda req: start_and_record(req, aws, settings, timeutil.now(), audit),
            request,
            settings.idempotency_table,
            context,
        )
    except AsgRefreshError as error:
        logger.error(
            "deployment refused",
            extra={"code": error.code, "reason": error.message, "context": error.context, "mode": mode},
        )
        metrics.add_metric(name="DeploymentsRefused", unit=MetricUnit.Count, value=1)
        return refuse(delivery.event, error, mode, send)
    metrics.add_metric(name="RefreshesStarted", unit=MetricUnit.Count, value=len(result.refreshes))
    logger.info("deployment handled", extra={"result": result.model_dump(mode="json")})
    return success(result.model_dump(mode="json"))


def start_what_waits(
    drain: QueueDrain, settings: Settings, aws: AwsGateway, audit: AuditStore | None
) -> dict[str, Any]:
    """The watcher's refresh ended: start the group's newest waiting deployment (logic/supersede.py)."""
    logger.append_keys(group=drain.group, refresh_id=drain.refresh_id)
    if audit is None:  # Without an audit table nothing ever waits.
        return success(QueueDrainResult(group=drain.group).model_dump(mode="json"))
    now = timeutil.now()
    result = start_queued(drain, aws, audit, lambda req: start_and_record(req, aws, settings, now, audit))
    logger.info("queue drained", extra={"result": result.model_dump(mode="json")})
    return success(result.model_dump(mode="json"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    aws = AwsGateway(settings.region)
    # The audit trail records every deployment and is where deployments wait for a group.
    audit = AuditStore(aws, settings.audit_table) if settings.audit_table else None
    mode, send = mode_of(context), dead_letter_sender(aws, settings.dead_letter_queue_url)
    try:
        drain = parse_queue_drain(event)
        if drain is not None:
            return start_what_waits(drain, settings, aws, audit)
    except AsgRefreshError as error:
        logger.error("queue not drained", extra={"code": error.code, "reason": error.message, "mode": mode})
        return refuse(event, error, mode, send)
    answers = [
        deploy(delivery, mode, send, settings, aws, audit, context)
        for delivery in split_deliveries(event, context.aws_request_id)
    ]
    if len(answers) == 1:
        return answers[0]
    return {"success": all(a["success"] for a in answers), "results": answers}
