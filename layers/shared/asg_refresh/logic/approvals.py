"""The manual-approval gate: asking a person, and taking their answer once.

* **Asking** (RequestApproval): the task token is kept with a new, random approval id in the
  audit table, with the list of allowed approvers; the notification names the approval id and
  never the token.
* **Answering** (``asg-refresh approve|reject``): the caller is who STS says the credentials
  belong to, checked against the approval's allowed approvers; the decision is written with a
  conditional update (only a pending approval can be decided, so of two racing decisions exactly
  one wins), and only then sent to Step Functions. When Step Functions no longer takes it (the gate
  timed out, the watcher ended), the approval is marked expired and the caller told why.

The allow-list is checked here, in the caller's process: anyone who can read the token from the
audit table and call SendTaskSuccess could answer without this code. IAM on the audit table and on
``states:SendTaskSuccess`` decides who can; the list decides who should.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from asg_refresh.dal.ports import TaskTokenClosed
from asg_refresh.errors import ApprovalNotFoundError, ApprovalNotPendingError, ApproverNotAllowedError
from asg_refresh.models.approval import ApprovalDecision, ApprovalRequest, PendingApproval, TaskFailure
from asg_refresh.models.watch import Approval, GateEvidence, GateVerdict

#: 128 random bits, URL-safe: an approval id cannot be guessed and never reveals the token.
APPROVAL_ID_BYTES = 16
#: The SendTaskFailure error a rejection carries (its cause is the ApprovalDecision JSON).
REJECTED_ERROR = "ApprovalRejected"
_ASSUMED_ROLE = re.compile(
    r"arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+"
)
_CLOSED_REASONS = {
    "TaskTimedOut": "the gate timed out before the decision arrived",
    "TaskDoesNotExist": "the approval task no longer exists: its watcher has moved on or ended",
    "InvalidToken": "Step Functions no longer knows its task token: its watcher has ended",
}


class ApprovalRecords(Protocol):
    """Where pending approvals are kept (``AuditStore``)."""

    def record_approval_request(self, pending: PendingApproval) -> None: ...
    def approval(self, approval_id: str) -> PendingApproval | None: ...
    def approvals_of(self, refresh_id: str) -> list[PendingApproval]: ...
    def outcome_status(self, refresh_id: str) -> str | None: ...
    def record_decision(self, decided: PendingApproval) -> bool: ...
    def expire_approval(self, decided: PendingApproval, reason: str) -> None: ...
    def reopen_approval(self, decided: PendingApproval) -> None: ...


class TaskCallbacks(Protocol):
    """Step Functions' callback API (``AwsGateway``); raises ``TaskTokenClosed``."""

    def send_task_success(self, token: str, output: str) -> None: ...
    def send_task_failure(self, token: str, error: str, cause: str) -> None: ...


# --- Asking --------------------------------------------------------------------------------------
def new_approval_id() -> str:
    # Never one starting with "-" (1 in 64): `asg-refresh reject --approval-id -x...`, the command
    # status prints, would read it as an option.
    while (approval_id := secrets.token_urlsafe(APPROVAL_ID_BYTES)).startswith("-"):
        pass
    return approval_id


def ask_for_approval(
    request: ApprovalRequest,
    allowed_approvers: list[str],
    records: ApprovalRecords,
    publish: Callable[[str, dict[str, Any]], None] | None,
    now: datetime,
) -> PendingApproval:
    """Keep the token under a new approval id, then tell people (without the token)."""
    pending = PendingApproval(
        approval_id=new_approval_id(),
        token=request.token,
        deployment_id=request.deployment_id,
        group=request.group,
        refresh_id=request.refresh_id,
        image_id=request.image_id,
        checkpoint=request.checkpoint,
        requested_at=now,
        allowed_approvers=allowed_approvers,
    )
    records.record_approval_request(pending)
    if publish is not None:
        publish(f"asg-refresh: approve {request.group} at {request.checkpoint}%?", approval_message(pending))
    return pending


def approval_message(pending: PendingApproval) -> dict[str, Any]:
    """The notification: what waits, and the commands that answer it. No task token."""
    return {
        "kind": "approval-request",
        "approval_id": pending.approval_id,
        "group": pending.group,
        "refresh_id": pending.refresh_id,
        "deployment_id": pending.deployment_id,
        "image_id": pending.image_id,
        "checkpoint": pending.checkpoint,
        "requested_at": pending.requested_at.isoformat(),
        "allowed_approvers": pending.allowed_approvers,
        "approve": f"asg-refresh approve --approval-id {pending.approval_id}",
        "reject": f"asg-refresh reject --approval-id {pending.approval_id} --comment '...'",
    }


# --- Who may answer -------------------------------------------------------------------------------
def identities_of(caller_arn: str) -> list[str]:
    """The ARNs a caller is known by: its own, and for an assumed-role session the role's IAM ARN
    (``arn:aws:iam::<account>:role/<name>``; STS drops the role's path, so a role with a path is
    matched with a pattern such as ``arn:aws:iam::<account>:role/*/<name>`` or by its session ARN)."""
    found = [caller_arn]
    assumed = _ASSUMED_ROLE.fullmatch(caller_arn)
    if assumed:
        found.append(f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}")
    return found


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike: ``*`` matches any run of characters, ``?`` any one; the rest is literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def approver_allowed(caller_arn: str, allowed: list[str]) -> bool:
    return not allowed or any(arn_like(p, arn) for p in allowed for arn in identities_of(caller_arn))


# --- Answering -----------------------------------------------------------------------------------
def find_approval(
    records: ApprovalRecords, approval_id: str | None, refresh_id: str | None
) -> PendingApproval:
    """By approval id; or the refresh's pending approval (else its latest, to say how it ended)."""
    if approval_id:
        found = records.approval(approval_id)
        if found is None:
            raise ApprovalNotFoundError(f"no approval {approval_id}", approval_id=approval_id)
        return found
    if not refresh_id:
        raise ApprovalNotFoundError("name the approval: a refresh id or --approval-id")
    asked = sorted(records.approvals_of(refresh_id), key=lambda a: a.requested_at)
    pending = [a for a in asked if a.status == "pending"]
    if pending or asked:
        found = (pending or asked)[-1]
        # The refresh index may lag behind: read the approval itself again, consistently.
        return records.approval(found.approval_id) or found
    raise ApprovalNotFoundError(f"refresh {refresh_id} is not waiting for an approval", refresh_id=refresh_id)


def decide_approval(
    records: ApprovalRecords,
    callbacks: TaskCallbacks,
    *,
    approval: PendingApproval,
    caller_arn: str,
    approve: bool,
    comment: str,
    display_name: str | None,
    now: datetime,
) -> PendingApproval:
    """Record the caller's decision (once) and send it to the waiting watcher; return it."""
    _refuse_closed(approval)
    ended = records.outcome_status(approval.refresh_id)
    if ended is not None:
        raise ApprovalNotPendingError(
            f"refresh {approval.refresh_id} has already ended ({ended}): nothing waits for this decision",
            approval_id=approval.approval_id,
        )
    if not approver_allowed(caller_arn, approval.allowed_approvers):
        raise ApproverNotAllowedError(
            f"{caller_arn} may not decide approval {approval.approval_id}: allowed approvers are "
            f"{', '.join(approval.allowed_approvers)}",
            approval_id=approval.approval_id,
        )
    decided = approval.model_copy(
        update={
            "status": "approved" if approve else "rejected",
            "decided_by": caller_arn,
            "decided_at": now,
            "display_name": display_name or None,
            "comment": comment,
        }
    )
    if not records.record_decision(decided):
        _refuse_closed(records.approval(approval.approval_id) or decided)
        raise ApprovalNotPendingError(f"approval {approval.approval_id} is no longer pending")
    _send(records, callbacks, decided)
    return decided


def _send(records: ApprovalRecords, callbacks: TaskCallbacks, decided: PendingApproval) -> None:
    assert decided.decided_by is not None
    assert decided.decided_at is not None
    answer = ApprovalDecision(
        approval_id=decided.approval_id,
        approved=decided.status == "approved",
        by=decided.decided_by,
        display_name=decided.display_name,
        comment=decided.comment or "",
        decided_at=decided.decided_at,
    ).model_dump_json()
    try:
        if decided.status == "approved":
            callbacks.send_task_success(decided.token, answer)
        else:
            callbacks.send_task_failure(decided.token, REJECTED_ERROR, answer)
    except TaskTokenClosed as closed:
        reason = f"{_CLOSED_REASONS.get(closed.code, 'nothing waits for it any more')} ({closed.code})"
        records.expire_approval(decided, reason)
        raise ApprovalNotPendingError(
            f"approval {decided.approval_id} can no longer be decided: {reason}",
            approval_id=decided.approval_id,
        ) from closed
    except Exception:
        # Not delivered, for a reason that may pass (access denied, a network error): undo the
        # record so that the decision can be made again.
        records.reopen_approval(decided)
        raise


def _refuse_closed(approval: PendingApproval) -> None:
    if approval.status == "pending":
        return
    if approval.status == "expired":
        raise ApprovalNotPendingError(
            f"approval {approval.approval_id} has expired: "
            f"{approval.closed_reason or 'nothing waits for it any more'}",
            approval_id=approval.approval_id,
        )
    when = approval.decided_at.isoformat() if approval.decided_at else "an unknown time"
    raise ApprovalNotPendingError(
        f"approval {approval.approval_id} (checkpoint {approval.checkpoint}% of {approval.group}) was "
        f"already {approval.status} by {approval.decided_by} at {when}",
        approval_id=approval.approval_id,
    )


# --- What the watcher makes of the answer --------------------------------------------------------
def refused_verdict(
    checkpoint: int | None, approval: Approval | None, error: dict[str, Any] | None
) -> GateVerdict:
    """The failed manual-approval verdict for an answer that is not an approval: a rejection
    (who, and their comment), a timeout, or a failed request."""
    at = f"checkpoint {checkpoint}%"
    answer = approval or _answer_in(error)
    if answer is not None:
        who = answer.by or "an unknown caller"
        if answer.display_name:
            who += f" ({answer.display_name})"
        return GateVerdict(
            gate="manual-approval",
            passed=False,
            summary=f"{at} rejected by {who}: {answer.comment or 'no comment'}",
            evidence=[
                GateEvidence(name=answer.by or "unknown", state="rejected", reason=answer.comment or None)
            ],
        )
    failure = TaskFailure.model_validate(error or {})
    name = failure.error or "no answer"
    if name == "States.Timeout":
        summary = f"{at} not approved: nobody answered before the gate timed out ({name})"
    else:
        cause = (failure.cause or "")[:300]
        summary = f"{at} not approved: {name}" + (f": {cause}" if cause else "")
    return GateVerdict(gate="manual-approval", passed=False, summary=summary)


def _answer_in(error: dict[str, Any] | None) -> Approval | None:
    """The decision a rejection carries in its cause (``asg-refresh reject``)."""
    failure = TaskFailure.model_validate(error or {})
    if failure.error != REJECTED_ERROR:
        return None
    try:
        return Approval.model_validate(json.loads(failure.cause or ""))
    except (ValueError, ValidationError):
        return None
