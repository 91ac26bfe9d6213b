"""The product's error hierarchy: each error carries the result code a manual caller sees.

Handlers map these once (see ``asg_refresh.results``); the state machine catches Lambda errors by
the exception's class name, so renaming a class here is a breaking change for the ASL.
"""

from __future__ import annotations

from typing import Any


class AsgRefreshError(Exception):
    """Base of every error this product raises on purpose."""

    code = "INTERNAL_ERROR"
    #: Whether the same input could succeed later (throttling, contention, AWS outages).
    retryable = False

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class InvalidRequestError(AsgRefreshError):
    """The event or request does not parse or breaks a bound of the API."""

    code = "VALIDATION_ERROR"


class GroupNotFoundError(AsgRefreshError):
    code = "GROUP_NOT_FOUND"


class GroupNotOptedInError(AsgRefreshError):
    code = "GROUP_NOT_OPTED_IN"


class NoTargetGroupsError(AsgRefreshError):
    code = "NO_TARGET_GROUPS"


class ImageRejectedError(AsgRefreshError):
    """The AMI is missing, not available, or owned by an account that is not allowed."""

    code = "IMAGE_REJECTED"


class ImageParameterNotAllowedError(ImageRejectedError):
    """The image parameter is outside the allowed prefix (and not a golden-AMI parameter): it is
    refused before it is read, so a deploy message cannot make the product read any parameter."""

    code = "IMAGE_PARAMETER_NOT_ALLOWED"


class LaunchTemplateNotOptedInError(AsgRefreshError):
    """The group's launch template lacks the opt-in tag, so the product may not version it."""

    code = "LAUNCH_TEMPLATE_NOT_OPTED_IN"


class SharedLaunchTemplateError(AsgRefreshError):
    """A new version of the group's launch template would move other groups (outside the
    deployment, or not opted in) that follow its $Latest or $Default version."""

    code = "SHARED_LAUNCH_TEMPLATE"


class RefreshConflictError(AsgRefreshError):
    """Another instance refresh, towards a different configuration, is active on the group."""

    code = "REFRESH_IN_PROGRESS"


class LimitExceededError(AsgRefreshError):
    code = "LIMIT_EXCEEDED"


class AwsUnavailableError(AsgRefreshError):
    """AWS kept answering Throttling or ResourceContention after every retry."""

    code = "AWS_UNAVAILABLE"
    retryable = True


class AwsRequestError(AsgRefreshError):
    """AWS refused a request the product believed valid (an AWS ValidationError, for example)."""

    code = "AWS_REQUEST_FAILED"


class AlreadyUpToDateError(AsgRefreshError):
    """The group's launch template already uses the image (a redelivered or repeated deploy)."""

    code = "ALREADY_UP_TO_DATE"


class DeploymentInProgressError(AsgRefreshError):
    """Another delivery of the same event is being handled right now; retry shortly."""

    code = "DEPLOYMENT_IN_PROGRESS"
    retryable = True


class ApprovalNotFoundError(AsgRefreshError):
    """No approval of that id, or the refresh never asked for one."""

    code = "APPROVAL_NOT_FOUND"


class ApprovalNotPendingError(AsgRefreshError):
    """The approval was decided already, or nothing waits for it any more (timed out, ended)."""

    code = "APPROVAL_NOT_PENDING"


class ApproverNotAllowedError(AsgRefreshError):
    """The caller's identity is not on the approval's list of allowed approvers."""

    code = "APPROVER_NOT_ALLOWED"


class PreflightError(AsgRefreshError):
    """A pre-flight check failed (logic/preflight.py): the refresh could not succeed, or could not
    be undone, so it is refused before anything is created. Each check has its own code."""

    code = "PREFLIGHT_FAILED"


class ArchitectureMismatchError(PreflightError):
    """The AMI's architecture is not one the group's instance types support."""

    code = "ARCHITECTURE_MISMATCH"


class InsufficientHeadroomError(PreflightError):
    """MaxSize leaves no room for launch-before-terminate, or no instance can be replaced at all."""

    code = "INSUFFICIENT_HEADROOM"


class RollbackImpossibleError(PreflightError):
    """The group's current launch template version cannot be returned to."""

    code = "ROLLBACK_IMPOSSIBLE"


class SubnetAddressesExhaustedError(PreflightError):
    """The group's subnets have fewer free addresses than the instances launched before others go."""

    code = "SUBNET_ADDRESSES_EXHAUSTED"
