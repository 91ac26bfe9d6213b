"""Asynchronous Lambda invocations and where their failures go (DLQ, OnFailure destination).

AWS retries an asynchronous invocation ``MaximumRetryAttempts`` times (default 2) and then
sends the event to the function's dead-letter queue, or an invocation record to its OnFailure
destination. Retries happen at once here: their delays are not business logic.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.harness.lambda_routing import REGISTRY, FunctionSpec


class Dispatcher:
    """Runs deliveries inline (tests: deterministic) or on one background thread (server).

    In server mode a handler talks to the server over HTTP while it holds the invoke lock;
    delivering asynchronously keeps a request thread from waiting on that lock.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def threaded(self) -> bool:
        return self._thread is not None

    def start_thread(self) -> None:
        if self._thread is None:
            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._work, name="asg-refresh-delivery", daemon=True)
            self._thread.start()

    def stop_thread(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
        self._thread, self._queue = None, None

    def submit(self, job: Callable[[], None]) -> None:
        if self._queue is None:
            job()
        else:
            self._queue.put(job)

    def drain(self) -> None:
        """Block until every queued delivery has run (no-op inline)."""
        if self._queue is not None:
            self._queue.join()

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                job()
            except Exception:  # noqa: S110 - a failed delivery must not kill the worker
                pass
            finally:
                self._queue.task_done()


DISPATCHER = Dispatcher()


def invoke_async(spec: FunctionSpec, event: Any) -> None:
    """Invoke like ``InvocationType=Event``: retries, then DLQ or OnFailure destination."""
    attempts = 1 + max(0, spec.maximum_retry_attempts)
    payload, errored = "", False
    for _ in range(attempts):
        payload, errored, _logs = REGISTRY.run(spec, event)
        if not errored:
            return
    error = json.loads(payload)
    if spec.on_failure_arn:
        record = {
            "version": "1.0",
            "timestamp": CLOCK.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": error.get("requestId", str(uuid.uuid4())),
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": error,
        }
        send_to_destination(spec.on_failure_arn, json.dumps(record), {})
    elif spec.dead_letter_arn and _may_dead_letter(spec):
        attributes = {
            "RequestID": error.get("requestId", ""),
            "ErrorCode": "200",
            "ErrorMessage": str(error.get("errorMessage", ""))[:1000],
        }
        send_to_destination(spec.dead_letter_arn, json.dumps(event), attributes)


def _may_dead_letter(spec: FunctionSpec) -> bool:
    """Lambda sends to a function's dead-letter queue with the function's own role."""
    from asg_refresh_local.iam import ENFORCER, AccessDenied
    from asg_refresh_local.iam.requests import AuthRequest

    principal = ENFORCER.principal(spec.role_arn) if spec.role_arn and ENFORCER.active() else None
    if principal is None or spec.dead_letter_arn is None:
        return True
    request = AuthRequest("sqs:SendMessage", spec.dead_letter_arn, resource_policy_arn=spec.dead_letter_arn)
    try:
        ENFORCER.authorize(principal, [request], "AccessDenied")
    except AccessDenied:
        return False  # the event is lost, as on AWS when the role may not send to its DLQ
    return True


def send_to_destination(arn: str, body: str, attributes: dict[str, str]) -> None:
    """Send to an SQS queue or SNS topic by ARN, straight into moto's backends."""
    parts = arn.split(":")
    service, region, account, name = parts[2], parts[3], parts[4], parts[5]
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        sqs_backends[account][region].send_message(name, body, message_attributes=sqs_attributes)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_attributes = {k: {"Type": "String", "Value": v} for k, v in attributes.items()}
        sns_backends[account][region].publish(body, arn=arn, message_attributes=sns_attributes)
    elif service == "lambda":
        target = REGISTRY.get(arn)
        if target is not None:
            invoke_async(target, json.loads(body))
    else:
        raise ValueError(f"unsupported failure destination {arn}")
