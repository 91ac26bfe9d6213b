"""Runs the project's Lambda handlers in-process wherever moto would start a Lambda container.

Every invoke path in moto (the Invoke API, Step Functions Lambda tasks, SNS subscriptions) ends
in ``LambdaFunction._invoke_lambda``; functions registered here (the ones the template declares)
run their handler from ``<CodeUri>/<module>.py``, others keep moto's behaviour.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from asg_refresh_local.harness import environment
from asg_refresh_local.moto_patches import patch_object

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

#: Handlers share module state (Powertools' cold-start flag, cached clients), so invocations run
#: one at a time (re-entrant for nested calls).
INVOKE_LOCK = threading.RLock()


@dataclass
class FunctionSpec:
    """What the template says about one function, intrinsics resolved."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str = "python3.11"
    memory_size: int = 128
    timeout: int = 3
    environment: dict[str, str] = field(default_factory=dict)
    layer_dirs: list[Path] = field(default_factory=list)
    dead_letter_arn: str | None = None
    on_failure_arn: str | None = None
    #: The execution role: its credentials are the function's, as Lambda provides them.
    role_arn: str | None = None
    maximum_retry_attempts: int = 2


@dataclass
class Invocation:
    """One handler run, kept for assertions."""

    function_logical_id: str
    event: Any
    result: Any
    errored: bool


class ClientContext:
    """``context.client_context`` as Lambda's Python runtime builds it from Invoke's ClientContext."""

    def __init__(self, decoded: dict[str, Any]) -> None:
        self.client = decoded.get("client")
        self.custom = decoded.get("custom")
        self.env = decoded.get("env")


def decode_client_context(header: str | None) -> ClientContext | None:
    """Invoke's ``X-Amz-Client-Context`` (base64 JSON); None when absent or not an object."""
    if not header:
        return None
    try:
        decoded = json.loads(base64.b64decode(header))
    except ValueError:
        return None
    return ClientContext(decoded) if isinstance(decoded, dict) else None


#: The ClientContext of the invoke being routed on this thread (moto drops the header on its way
#: to ``_invoke_lambda``).
_CALLER = threading.local()


class LambdaContext:
    """The attributes and method the Python runtime gives a handler's ``context``."""

    def __init__(
        self, spec: FunctionSpec, request_id: str, client_context: ClientContext | None = None
    ) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = str(spec.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = client_context
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionRegistry:
    """Functions by name, plus the extra environment every handler gets (the server's endpoint)."""

    def __init__(self) -> None:
        self._by_name: dict[str, FunctionSpec] = {}
        self._modules: dict[str, tuple[float, ModuleType]] = {}
        #: Set for every handler, over the template's values (the server's endpoint and credentials).
        self.extra_environment: dict[str, str] = {}
        self.invocations: list[Invocation] = []

    def register(self, spec: FunctionSpec) -> None:
        self._by_name[spec.name] = spec

    def unregister_all(self) -> None:
        self._by_name.clear()
        self._modules.clear()
        self.invocations.clear()

    def get(self, name_or_arn: str) -> FunctionSpec | None:
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        return self._by_name.get(name)

    def handler_for(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        module_path, _, function_name = spec.handler.rpartition(".")
        source = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        if not source.is_file():
            raise FileNotFoundError(f"handler {spec.handler} of {spec.logical_id}: {source} not found")
        mtime = source.stat().st_mtime
        cached = self._modules.get(spec.name)
        if cached is None or cached[0] != mtime:
            cached = (mtime, _load_module(f"asg_refresh_local_fn_{spec.logical_id}", source, spec))
            self._modules[spec.name] = cached
        handler = getattr(cached[1], function_name, None)
        if not callable(handler):
            raise AttributeError(f"{source} has no handler function {function_name}")
        return handler

    def run(
        self, spec: FunctionSpec, event: Any, client_context: ClientContext | None = None
    ) -> tuple[str, bool, str]:
        """Run the handler like the Lambda runtime: returns ``(payload_json, errored, logs)``."""
        request_id = str(uuid.uuid4())
        errored = False
        with INVOKE_LOCK, self.environment(spec):
            try:
                handler = self.handler_for(spec)
                result = handler(event, LambdaContext(spec, request_id, client_context))
                try:
                    payload = json.dumps(result)
                except (TypeError, ValueError) as exc:
                    errored, result = (
                        True,
                        {
                            "errorMessage": f"Unable to marshal response: {exc}",
                            "errorType": "Runtime.MarshalError",
                            "requestId": request_id,
                            "stackTrace": [],
                        },
                    )
                    payload = json.dumps(result)
            except Exception as exc:
                errored, result = True, error_payload(exc, request_id)
                payload = json.dumps(result)
        self.invocations.append(Invocation(spec.logical_id, event, result, errored))
        logs = "\n".join(
            [
                f"START RequestId: {request_id} Version: $LATEST",
                *([f"[ERROR] {result['errorType']}: {result['errorMessage']}"] if errored else []),
                f"END RequestId: {request_id}",
                f"REPORT RequestId: {request_id}\tMemory Size: {spec.memory_size} MB",
            ]
        )
        return payload, errored, logs

    def environment(self, spec: FunctionSpec) -> contextlib.AbstractContextManager[None]:
        """The function's environment, seen by the calling thread only while the block runs."""
        return environment.invocation_environment(self.environment_variables(spec))

    def environment_variables(self, spec: FunctionSpec) -> dict[str, str]:
        region = spec.arn.split(":")[3]
        return {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            **spec.environment,
            # Wins over the template: a declared ``AWS_ENDPOINT_URL: ""`` must still reach the server.
            **self.extra_environment,
            # The role's credentials win over everything, as in Lambda: its calls are the role's.
            **_role_credentials(spec),
        }


def _role_credentials(spec: FunctionSpec) -> dict[str, str]:
    from asg_refresh_local.iam import ENFORCER

    principal = ENFORCER.principal(spec.role_arn) if spec.role_arn and ENFORCER.active() else None
    return principal.credentials() if principal is not None else {}


def error_payload(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """The payload the Python runtime returns for an unhandled exception."""
    payload: dict[str, Any] = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        # The runtime's own frames are not part of what AWS reports.
        "stackTrace": traceback.format_list(
            [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != __file__]
        ),
    }
    if request_id:
        payload["requestId"] = request_id
    return payload


def _load_module(module_name: str, source: Path, spec: FunctionSpec) -> ModuleType:
    for path in (*spec.layer_dirs, spec.code_dir):
        if str(path) not in sys.path:
            sys.path.append(str(path))
    # Sibling modules of the handler win over same-named ones of other functions while it loads.
    sys.path.insert(0, str(spec.code_dir))
    try:
        module_spec = importlib.util.spec_from_file_location(module_name, source)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {source}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(spec.code_dir))


#: The process-wide registry the moto patch reads.
REGISTRY = FunctionRegistry()

_installed = False


def _routed_invoke_lambda(original: Callable[..., Any]) -> Callable[..., tuple[str, bool, str]]:
    """LambdaFunction._invoke_lambda, running a registered function's handler in-process."""

    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        spec = REGISTRY.get(self.function_name)
        if spec is None:
            return original(self, event)
        # No payload at all is ``{}`` to the handler, as on AWS; a payload of ``null`` is None.
        if event is None:
            event = {}
        elif isinstance(event, str | bytes):
            event = json.loads(event or "{}")
        caller = getattr(_CALLER, "client_context", None)
        _CALLER.client_context = None  # one invoke's context, not the nested ones'
        payload, errored, logs = REGISTRY.run(spec, event, caller)
        self.logs_backend.ensure_log_group(self.logs_group_name)
        self.save_logs(logs)
        return payload, errored, logs

    return _invoke_lambda


def _routed_simple_invoke(simple_invoke: Callable[..., Any]) -> Callable[..., str | bytes | None]:
    """LambdaSimpleBackend.invoke, sending registered functions down moto's full invoke path
    (asynchronously for the Event invocation type)."""
    from moto.awslambda.models import LambdaBackend

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        spec = REGISTRY.get(function_name)
        if spec is None:
            return simple_invoke(self, function_name, qualifier, body, headers, response_headers)
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            from asg_refresh_local.harness.delivery import DISPATCHER, invoke_async

            event = json.loads(body or "{}")
            DISPATCHER.submit(lambda: invoke_async(spec, event))
            return b""
        _CALLER.client_context = decode_client_context((headers or {}).get("X-Amz-Client-Context"))
        try:
            payload = LambdaBackend.invoke(self, function_name, qualifier, body, headers, response_headers)
        finally:
            _CALLER.client_context = None
        if "x-amz-function-error" in response_headers:
            response_headers["x-amz-function-error"] = "Unhandled"  # an exception, as AWS reports it
        return payload

    return invoke


def install() -> None:
    """Patch moto's ``LambdaFunction._invoke_lambda`` (idempotent)."""
    global _installed
    if _installed:
        return
    environment.install()
    from moto.awslambda.models import LambdaFunction

    _invoke_lambda = _routed_invoke_lambda(LambdaFunction._invoke_lambda)
    patch_object(
        LambdaFunction,
        "_invoke_lambda",
        _invoke_lambda,
        kind="wrap",
        why="template functions run their handler in-process (no Docker)",
        owner=__name__,
    )

    # With ``use_docker: False`` moto's simple backend echoes the payload without reaching
    # ``_invoke_lambda``: send the template's functions down the full path.
    from moto.awslambda_simple.models import LambdaSimpleBackend

    invoke = _routed_simple_invoke(LambdaSimpleBackend.invoke)

    patch_object(
        LambdaSimpleBackend,
        "invoke",
        invoke,
        kind="wrap",
        why="with use_docker False, template functions still run (moto only echoes)",
        owner=__name__,
    )
    _installed = True
