"""RequestApproval: a refresh holds at a checkpoint; ask a person to approve or reject it.

The state machine waits on the task token (``.waitForTaskToken``) until someone answers with
``asg-refresh approve|reject`` (SendTaskSuccess / SendTaskFailure) or the gate's timeout passes.
The token stays in the audit table under a random approval id; the notification names only the id
(``logic/approvals.py``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.errors import AsgRefreshError
from asg_refresh.invocation import mode_of, success, task_error
from asg_refresh.logic.approvals import ask_for_approval
from asg_refresh.models.approval import ApprovalRequest
from asg_refresh.observability import logger, metrics
from asg_refresh.settings import Settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.current()
    aws = AwsGateway(settings.region)
    try:
        request = parse(event=event, model=ApprovalRequest)
    except Exception as error:
        return task_error(error, mode_of(context))
    if not settings.audit_table:
        # The token would be kept nowhere: nobody could answer, and silence rolls back anyway.
        raise AsgRefreshError("AUDIT_TABLE is not set: an approval could not be answered")
    topic = settings.notifications_topic_arn
    pending = ask_for_approval(
        request,
        settings.allowed_approvers,
        AuditStore(aws, settings.audit_table),
        (lambda subject, message: aws.publish(topic, subject, message)) if topic else None,
        timeutil.now(),
    )
    logger.info(
        "approval requested",
        extra={"group": request.group, "checkpoint": request.checkpoint, "approval_id": pending.approval_id},
    )
    return success({"requested": True, "approval_id": pending.approval_id})
