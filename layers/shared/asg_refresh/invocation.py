"""How a handler was invoked, and what becomes of its errors.

How a call was made is told by the Lambda context, never by the event's shape (an event can be
shaped like anything): a **direct** caller (the operator CLI, the local harness's ``invoke``, an
``aws lambda invoke --client-context``) says so in the invocation's ClientContext, under
``custom`` (:data:`DIRECT_CLIENT_CONTEXT`). Every other call is treated as **asynchronous**
(EventBridge, SNS, the schedule, ``sam local invoke``, which cannot send a ClientContext): a
synchronous caller without the marker still gets the envelope back, and a dead-letter copy is
kept, so nothing is lost.

* **direct**: the result is always an :class:`Envelope`; errors are reported in it, never raised.
* **asynchronous**: a permanent error (bad input, unknown group, rejected image) is sent to the
  dead-letter queue at once with its reason (message attributes ``ErrorCode``, ``ErrorMessage``),
  because Lambda's retries could not change the answer; a transient one (throttling, contention)
  is raised so that Lambda retries the event, and sends it to the same queue when the retries run
  out.
* **a state machine's task** (EvaluateGates, RequestApproval, the wave functions): Step Functions
  calls synchronously and without the marker; an error is raised as the product's named exception
  (``InvalidRequestError``...), the error name the state machine's Retry and Catch see, never as
  a raw pydantic error (:func:`task_error`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ValidationError

from asg_refresh import timeutil
from asg_refresh.errors import AsgRefreshError, InvalidRequestError
from asg_refresh.models.results import Envelope, ErrorBody

#: The event's shape: which parser reads it (not how the call was made: see :data:`Mode`).
Source = Literal["direct", "eventbridge", "sns"]
#: How the call was made, from the Lambda context.
Mode = Literal["direct", "async"]

#: The ClientContext ``custom`` key and value a direct caller sends.
DIRECT_MARKER_KEY = "asg-refresh-invocation"
DIRECT_MARKER_VALUE = "direct"
DIRECT_CLIENT_CONTEXT: dict[str, Any] = {"custom": {DIRECT_MARKER_KEY: DIRECT_MARKER_VALUE}}
#: What a dead letter may weigh: SQS's 262,144 bytes, less room for the message attributes.
MAX_DEAD_LETTER_BYTES = 240_000


def direct_client_context() -> str:
    """The ``ClientContext`` argument of Lambda's Invoke (base64 JSON) that marks a direct call."""
    return base64.b64encode(json.dumps(DIRECT_CLIENT_CONTEXT).encode()).decode()


def mode_of(context: Any) -> Mode:
    """``direct`` only when the invocation's ClientContext carries the marker (Lambda's Python
    runtime gives ``context.client_context.custom`` as a dict, or no client context at all)."""
    custom = getattr(getattr(context, "client_context", None), "custom", None)
    if isinstance(custom, dict) and custom.get(DIRECT_MARKER_KEY) == DIRECT_MARKER_VALUE:
        return "direct"
    return "async"


def source_of(event: Any) -> Source:
    if isinstance(event, dict):
        records = event.get("Records")
        if (
            isinstance(records, list)
            and records
            and isinstance(records[0], dict)
            and records[0].get("EventSource") == "aws:sns"
        ):
            return "sns"
        if "detail-type" in event and "source" in event:
            return "eventbridge"
    return "direct"


def as_product_error(error: Exception) -> AsgRefreshError:
    """Turn a parsing failure into the product's validation error; keep ours as they are."""
    if isinstance(error, AsgRefreshError):
        return error
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'event'}: {item['msg']}"
            for item in error.errors()[:5]
        )
        return InvalidRequestError(f"the event is not valid: {problems}", errors=error.error_count())
    if isinstance(error, (json.JSONDecodeError, TypeError, KeyError)):
        return InvalidRequestError(f"the event is not valid: {str(error)[:500]}")
    raise error


def success(data: dict[str, Any]) -> dict[str, Any]:
    return Envelope(success=True, data=data).to_response()


def failure(error: AsgRefreshError) -> dict[str, Any]:
    details = {k: v for k, v in error.context.items() if isinstance(v, (str, int, bool, list, dict))}
    return Envelope(
        success=False, error=ErrorBody(code=error.code, message=error.message, details=details)
    ).to_response()


def dead_letter(
    event: Any, error: AsgRefreshError, send: Callable[[str, dict[str, str]], None] | None
) -> dict[str, Any]:
    """Record a permanently failed asynchronous event; raise when there is nowhere to put it, so
    that Lambda's own dead-letter handling keeps it."""
    if send is None:
        raise error
    answer = failure(error)
    body = json.dumps(
        {"event": event, "error": answer["error"], "failed_at": timeutil.now().isoformat()}, default=str
    )
    if len(body.encode()) > MAX_DEAD_LETTER_BYTES:
        # SQS takes 256 KiB a message, and an event may be larger (async invokes take 1 MB):
        # keep the error whole and the event's beginning, marked as cut.
        event_json = json.dumps(event, default=str)
        body = json.dumps(
            {
                "event_truncated": event_json[: MAX_DEAD_LETTER_BYTES // 8],
                "event_bytes": len(event_json.encode()),
                "error": answer["error"] | {"message": error.message[:1000], "details": {}},
                "failed_at": timeutil.now().isoformat(),
            }
        )
    send(body, {"ErrorCode": error.code, "ErrorMessage": error.message[:1000] or error.code})
    return answer


def refuse(
    event: Any, error: AsgRefreshError, mode: Mode, send: Callable[[str, dict[str, str]], None] | None
) -> dict[str, Any]:
    """What a handler answers for ``error``, by how it was invoked (see the module docstring):
    the envelope to a direct caller; a retryable error raised again; the rest dead-lettered."""
    if mode == "direct":
        return failure(error)
    if error.retryable:
        raise error
    return dead_letter(event, error, send)


def task_error(error: Exception, mode: Mode) -> dict[str, Any]:
    """A state machine task's failure: the envelope to a direct caller; otherwise raised as the
    product's named error (a parsing failure becomes ``InvalidRequestError``)."""
    product = as_product_error(error)
    if mode == "direct":
        return failure(product)
    raise product from error
