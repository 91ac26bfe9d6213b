"""ReconcileWatchers: on a schedule, give every active refresh of an opted-in group a watcher; on a
refresh's started event, note the refresh for the next scheduled run (logic/reconcile.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway, dead_letter_sender
from asg_refresh.errors import AsgRefreshError
from asg_refresh.invocation import mode_of, refuse, success
from asg_refresh.logic.reconcile import reconcile_watchers, record_sighting
from asg_refresh.observability import logger, metrics
from asg_refresh.parsing import parse_reconcile_request
from asg_refresh.settings import Settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    aws = AwsGateway(settings.region)
    try:
        request = parse_reconcile_request(event)
    except AsgRefreshError as error:
        logger.error("reconcile request refused", extra={"code": error.code, "reason": error.message})
        return refuse(event, error, mode_of(context), dead_letter_sender(aws, settings.dead_letter_queue_url))
    audit = AuditStore(aws, settings.audit_table) if settings.audit_table else None
    if request.scope == "sighted" and request.group and request.refresh_id:
        checks = record_sighting(request.group, request.refresh_id, audit)
    else:
        checks = reconcile_watchers(
            aws, settings, audit, "scheduled" if request.scope == "scheduled" else "full", drains=aws
        )
    started = [check for check in checks if check.action in ("started", "gave-up")]
    if started:
        logger.warning("refreshes without a watcher", extra={"checks": [c.model_dump() for c in started]})
    metrics.add_metric(name="WatchersStarted", unit=MetricUnit.Count, value=len(started))
    return success({"checks": [check.model_dump() for check in checks]})
