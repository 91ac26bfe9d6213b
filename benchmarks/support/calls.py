"""Every AWS API call made or answered in this process, from every thread, and whose it is.

Two counts, independent of each other:

* **Client side**: handlers on botocore's ``provide-client-params`` and ``before-call`` events,
  appended to ``botocore.handlers.BUILTIN_HANDLERS`` (as moto hooks botocore) so that every
  botocore Session created afterwards carries them: boto3's default session (the harness's and
  moto's Step Functions task clients), the Session each handler builds per client, the Sessions
  of a handler's thread pool. It sees each call's parameters, thread and virtual time.
* **Server side**: moto's ``BaseResponse._dispatch`` wrapped (through the harness's patch
  registry), so every request moto answers is counted, including those of other processes (the
  cold-start children reach the local server over HTTP). In-process, both counts must agree: a
  call the client-side hook missed would show up here.

A call is **the product's** when it is signed with the credentials of one of the template's
roles (the harness gives each function its role's access key, and signs each Step Functions task
with its state machine's), or, with IAM enforcement off, when it is made inside a handler's
invocation or by a Step Functions task (moto's fixed ``ak`` key). Everything else is the
benchmark's own set-up (seeding groups, invoking a function, reading history).
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: moto's Step Functions task clients sign with this key when no role's key replaces it.
MOTO_TASK_KEY = "ak"
BENCHMARK = "benchmark"
_PARAMS = "asg_refresh_bench_api_params"
_ACCESS_KEY = re.compile(r"Credential=([A-Za-z0-9]{2,128})/")


@dataclass(frozen=True)
class Call:
    """One client-side API call."""

    thread: int
    thread_name: str
    service: str
    operation: str
    at: datetime  # virtual time
    params: dict[str, Any]
    caller: str  # a role's logical id, a function's, or "benchmark"
    product: bool

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class Request:
    """One request moto answered (server side)."""

    service: str
    operation: str
    access_key: str
    caller: str
    product: bool

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class Mark:
    calls: int
    requests: int


def _principal_for_key(access_key: str | None) -> str | None:
    if not access_key:
        return None
    import asg_refresh_local.harness  # noqa: F401  (first: asg_refresh_local.iam alone is an import cycle)
    from asg_refresh_local.iam import ENFORCER

    principal = ENFORCER.principal_for_key(access_key)
    return principal.role_logical_id if principal else None


def _function_in_invocation() -> str | None:
    """The function whose invocation runs on this thread: inside one, ``os.environ`` is the
    invocation's own (the harness's view), with the function's name; outside, the process's."""
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not name:
        return None
    from asg_refresh_local.harness.lambda_routing import REGISTRY

    spec = REGISTRY.get(name)
    return spec.logical_id if spec else name


def attribute(access_key: str | None, function: str | None) -> tuple[str, bool]:
    principal = _principal_for_key(access_key)
    if principal:
        return principal, True
    if function:
        return function, True
    if access_key == MOTO_TASK_KEY:
        return "state machine task", True
    return BENCHMARK, False


class CallLog:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.client_side = False
        self.server_side = False

    # -- installation ----------------------------------------------------------------------------

    def install_client_side(self) -> None:
        """Before any botocore Session exists: each one created afterwards carries the hook."""
        if self.client_side:
            return
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.extend(
            [("provide-client-params", self._stash_params), ("before-call", self._record_call)]
        )
        import boto3

        if boto3.DEFAULT_SESSION is not None:  # made before the hook: register on it directly
            boto3.DEFAULT_SESSION._session.register("provide-client-params", self._stash_params)
            boto3.DEFAULT_SESSION._session.register("before-call", self._record_call)
        self.client_side = True

    def install_server_side(self) -> None:
        """After the harness's patches (so that this wrapper sees denied requests too)."""
        if self.server_side:
            return
        from moto.core.responses import BaseResponse

        from asg_refresh_local.harness.patches import install_all
        from asg_refresh_local.moto_patches import patch_object

        install_all()
        original = BaseResponse._dispatch
        log = self

        def _dispatch(self: Any, request: Any, full_url: Any = None, headers: Any = None) -> Any:
            try:
                return original(self, request, full_url, headers)
            finally:
                log._record_request(self)

        patch_object(
            BaseResponse,
            "_dispatch",
            _dispatch,
            kind="wrap",
            why="benchmarks: count every request moto answers, whatever its client or process",
            owner=__name__,
        )
        self.server_side = True

    # -- recording -------------------------------------------------------------------------------

    @staticmethod
    def _stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = params

    def _record_call(self, model: Any, request_signer: Any, context: dict[str, Any], **_: Any) -> None:
        from asg_refresh_local.clock import CLOCK

        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", None) if credentials is not None else None
        caller, product = attribute(key, _function_in_invocation())
        thread = threading.current_thread()
        call = Call(
            thread.ident or 0,
            thread.name,
            model.service_model.service_name,
            model.name,
            CLOCK.now(),
            dict(context.get(_PARAMS) or {}),
            caller,
            product,
        )
        with self._lock:
            self.calls.append(call)

    def _record_request(self, response: Any) -> None:
        try:
            operation = str(response._get_action())
        except Exception:  # a request moto could not even parse: not an API call we can name
            operation = "?"
        match = _ACCESS_KEY.search(str((getattr(response, "headers", None) or {}).get("Authorization", "")))
        key = match.group(1) if match else ""
        caller, product = attribute(key, None)
        request = Request(str(getattr(response, "service_name", "?")), operation, key, caller, product)
        with self._lock:
            self.requests.append(request)

    # -- reading ---------------------------------------------------------------------------------

    def mark(self) -> Mark:
        with self._lock:
            return Mark(len(self.calls), len(self.requests))

    def since(self, mark: Mark, predicate: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls[mark.calls :] if predicate(c)]

    def requests_since(self, mark: Mark) -> list[Request]:
        with self._lock:
            return list(self.requests[mark.requests :])


def by_operation(items: Iterable[Call | Request]) -> dict[str, int]:
    counted = Counter(item.name for item in items)
    return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


def by_caller(items: Iterable[Call | Request]) -> dict[str, int]:
    counted = Counter(item.caller for item in items)
    return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


def cross_check(calls: list[Call], requests: list[Request]) -> dict[str, Any]:
    """Client-side calls against the requests moto answered in the same window (in-process)."""
    client, server = Counter(c.name for c in calls), Counter(r.name for r in requests)
    # moto's service names differ from botocore's for a few services.
    aliases = {"lambda": "awslambda", "sfn": "stepfunctions", "states": "stepfunctions"}

    def normal(name: str) -> str:
        service, _, operation = name.partition(".")
        return f"{aliases.get(service, service)}.{operation}"

    client_n = Counter({normal(k): v for k, v in client.items()})
    server_n = Counter({normal(k): v for k, v in server.items()})
    differences = {
        k: {"client": client_n.get(k, 0), "server": server_n.get(k, 0)}
        for k in sorted(set(client_n) | set(server_n))
        if client_n.get(k, 0) != server_n.get(k, 0)
    }
    return {
        "client_side_calls": sum(client.values()),
        "server_side_requests": sum(server.values()),
        "agree": not differences,
        "differences": differences,
    }


#: The process-wide log (run.py installs the client side before anything creates a Session).
CALLS = CallLog()
