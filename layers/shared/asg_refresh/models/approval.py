"""The manual-approval gate: the request the state machine sends with its task token, the pending
approval kept in the audit table, and the decision a person sends back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from asg_refresh.models.base import Model

#: pending until someone decides; expired when Step Functions no longer takes the answer.
ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]
#: An IAM or STS ARN, or a pattern of one with ``*`` (and ``?``), as IAM's ArnLike takes them.
ApproverPattern = str


class ApprovalRequest(Model):
    #: Step Functions' TaskToken: 1-2048 characters.
    token: str = Field(min_length=1, max_length=2048)
    deployment_id: str = Field(min_length=1, max_length=255)
    group: str = Field(min_length=1, max_length=255)
    refresh_id: str = Field(min_length=1, max_length=255)
    #: Auto Scaling's ImageId: ``^ami-[a-z0-9]{1,17}$``.
    image_id: str = Field(min_length=5, max_length=21, pattern=r"^ami-[a-z0-9]{1,17}$")
    checkpoint: int = Field(ge=1, le=100)


class PendingApproval(Model):
    """One question asked of a person, as the audit table keeps it (``dal/audit.py``).

    The task token lives here and nowhere else a person can read: the notification names the
    approval by ``approval_id``.
    """

    model_config = ConfigDict(frozen=True)

    approval_id: str = Field(min_length=16, max_length=64)
    token: str = Field(min_length=1, max_length=2048, repr=False, exclude=True)
    deployment_id: str
    group: str
    refresh_id: str
    image_id: str
    checkpoint: int = Field(ge=1, le=100)
    requested_at: datetime
    allowed_approvers: list[ApproverPattern] = Field(
        default_factory=list, description="Empty: anyone who may call SendTaskSuccess."
    )
    status: ApprovalStatus = "pending"
    decided_by: str | None = Field(default=None, description="The caller's ARN (STS GetCallerIdentity).")
    decided_at: datetime | None = None
    display_name: str | None = None
    comment: str | None = None
    closed_reason: str | None = Field(default=None, description="Why an approval expired.")


class ApprovalDecision(Model):
    """What ``asg-refresh approve|reject`` sends back: the SendTaskSuccess output, or the
    SendTaskFailure cause (error ``ApprovalRejected``). The watcher reads it as ``Approval``."""

    approval_id: str
    approved: bool
    by: str = Field(min_length=1, max_length=2048, description="The caller's ARN.")
    display_name: str | None = Field(default=None, max_length=256, description="Shown beside the ARN.")
    comment: str = Field(default="", max_length=2048)
    decided_at: datetime


class TaskFailure(Model):
    """A Step Functions task's error as its Catch hands it on (``{"Error": ..., "Cause": ...}``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    error: str | None = Field(default=None, alias="Error")
    cause: str | None = Field(default=None, alias="Cause")
