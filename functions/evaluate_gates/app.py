"""EvaluateGates: called by the watching state machine at every poll; decides what happens next."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.invocation import mode_of, task_error
from asg_refresh.logic.evaluate import evaluate_gates
from asg_refresh.logic.watch import decide, needs_gates
from asg_refresh.logic.watch_audit import watch_records
from asg_refresh.models.watch import WatchState, waited_after
from asg_refresh.observability import logger, metrics
from asg_refresh.settings import Settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    aws = AwsGateway(settings.region)
    try:
        state = parse(event=event, model=WatchState)
    except Exception as error:
        return task_error(error, mode_of(context))
    logger.append_keys(group=state.group, refresh_id=state.refresh_id, deployment_id=state.deployment_id)
    verdicts = evaluate_gates(state, aws, timeutil.now()) if needs_gates(state) else []
    for verdict in verdicts:
        if not verdict.passed:
            metrics.add_metric(name="GateFailures", unit=MetricUnit.Count, value=1)
            logger.warning("gate failed", extra={"verdict": verdict.model_dump()})
    decided = decide(state, verdicts, settings.min_poll_seconds, settings.max_poll_seconds)
    assert decided.decision is not None
    if settings.audit_table:
        AuditStore(aws, settings.audit_table).record_watch(watch_records(state, decided))
    logger.info(
        "decided", extra={"action": decided.decision.action, "wait_seconds": waited_after(decided.decision)}
    )
    return decided.model_dump(mode="json")
