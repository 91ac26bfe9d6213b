"""Fixes to moto's Step Functions interpreter so it behaves like AWS on a virtual clock.

* Wait states (Seconds, SecondsPath, Timestamp, TimestampPath) and Retry back-off wait on the
  virtual clock through the earliest-wake scheduler instead of sleeping.
* aws-sdk task fields are PascalCase both ways, as on AWS, for camelCase services too
  (``aws-sdk:sfn:describeExecution`` takes ``ExecutionArn`` and answers ``Status``: ``sdk_names``),
  and their results are JSON-safe: datetimes become ISO-8601 strings as AWS returns them.
* Service errors are named as AWS names them (``sfn_errors``): aws-sdk tasks report
  ``AutoScaling.InstanceRefreshInProgressException``, and ``AutoScaling.AutoScalingException`` for
  an undeclared code (Throttling, AccessDenied); the optimised sns, states and lambda tasks report
  ``SNS.KMSThrottlingException``, ``StepFunctions.AWSStepFunctionsException``, ``Lambda.AWSLambdaException``.
* A definite JSONPath through an array index (``$.a[0].b``) gives the value, not ``[value]``.
* ``States.ALL`` does not catch or retry the terminal ``States.Runtime`` and
  ``States.DataLimitExceeded``.
* Execution start and stop dates, history timestamps and ``$$.State.EnteredTime`` are virtual.
* A ``waitForTaskToken`` task's TimeoutSeconds(Path) runs on the virtual clock, as a passive wait
  (see ``wait_scheduler``): it times out with ``States.Timeout`` once the clock is moved past it.
  HeartbeatSeconds still runs on the wall clock.
* The optimised ``states:startExecution`` integration takes its parameters as AWS documents them
  (``StateMachineArn``, ``Name``, ``Input``); moto handed them to boto3 as they were, where the
  Step Functions API names them ``stateMachineArn``...
* ``SendTaskFailure`` passes its ``cause`` on to the task's Catch, as AWS does (moto 5.2.5's
  response handler dropped it, so a rejection's reason never reached the state machine), and, like
  ``SendTaskSuccess``, answers ``InvalidToken`` for a token whose execution is no longer running
  (moto's failure path looked in ended executions too, and accepted the answer).
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from asg_refresh_local.harness import sdk_names, sfn_errors
from asg_refresh_local.harness.wait_scheduler import SCHEDULER
from asg_refresh_local.moto_patches import patch_object

_installed = False


def _format_instant(value: datetime) -> str:
    """Like Java's ``Instant.toString()``, which is what Step Functions prints."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond % 1000 == 0 and value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    elif value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return _format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "read"):  # StreamingBody
        return base64.b64encode(value.read()).decode()
    return value


def _execution_id(env: Any) -> str:
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (AttributeError, KeyError, TypeError):
        return f"unknown-{id(env)}"


def wait_virtual(env: Any, seconds: float) -> None:
    if seconds > 0:
        wake = SCHEDULER.clock.now() + timedelta(seconds=seconds)
        SCHEDULER.sleep_until(_execution_id(env), wake, env.is_running)


def install() -> None:
    """Apply every Step Functions patch (idempotent)."""
    global _installed
    if _installed:
        return
    _patch_waits()
    _patch_retrier()
    _patch_aws_sdk()
    _patch_optimised_errors()
    _patch_termination()
    _patch_json_path()
    _patch_states_all()
    _patch_dates()
    _patch_map_and_parallel()
    _patch_task_token_timeouts()
    _patch_sfn_integration()
    _patch_send_task_failure()
    _installed = True


def _patch_waits() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        wait_virtual(env, wait_seconds)

    def _timestamp_eval_body(self: Any, env: Any) -> None:
        self.string.eval(env=env)
        text: str = env.stack.pop()
        parsed = self._from_timestamp_string(timestamp=text)
        if parsed is None:
            from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
                FailureEventException,
            )

            raise FailureEventException(self._create_failure_event(env, text))
        SCHEDULER.sleep_until(_execution_id(env), parsed.replace(tzinfo=UTC), env.is_running)

    patch_object(
        WaitFunction,
        "_wait_interval",
        _wait_interval,
        kind="replace",
        why="Wait states wait on the virtual clock",
        owner=__name__,
    )
    patch_object(
        Timestamp,
        "_eval_body",
        _timestamp_eval_body,
        kind="replace",
        why="Timestamp waits run on the virtual clock",
        owner=__name__,
    )


def _patch_retrier() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome

    def _eval_body(self: Any, env: Any) -> None:
        # moto's body, with its time.sleep replaced by a wait on the virtual clock.
        self.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        self.max_attempts.eval(env=env)
        if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        self.interval_seconds.eval(env=env)
        self.backoff_rate.eval(env=env)
        self.max_delay_seconds.eval(env=env)
        self.jitter_strategy.eval(env=env)
        wait_virtual(env, float(env.stack.pop()))
        env.stack.append(RetrierOutcome.Executed)

    patch_object(
        RetrierDecl,
        "_eval_body",
        _eval_body,
        kind="replace",
        why="Retry back-off sleeps on the virtual clock",
        owner=__name__,
    )


def _patch_aws_sdk() -> None:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    sdk_task = aws_sdk.StateTaskServiceAwsSdk

    original_eval = sdk_task._eval_service_task
    original_from_error = sdk_task._from_error

    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        called = sdk_names.operation(self._get_boto_service_name(), self._get_boto_service_action())
        kwargs["normalised_parameters"] = sdk_names.to_model_names(
            called.input_shape, kwargs["normalised_parameters"]
        )
        original_eval(self, env, *args, **kwargs)
        env.stack.append(json_safe(sdk_names.to_sdk_names(called.output_shape, env.stack.pop())))

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original_from_error(self, env, ex)
        integration = sfn_errors.aws_sdk_integration(self.resource.api_name)
        error = sfn_errors.error_name_for_code(integration, str(ex.response.get("Error", {}).get("Code", "")))
        metadata = ex.response.get("ResponseMetadata", {})
        cause = (
            f"{ex.response.get('Error', {}).get('Message', '')} (Service: {integration.prefix}, "
            f"Status Code: {metadata.get('HTTPStatusCode')}, Request ID: {metadata.get('RequestId')})"
        )
        return self._get_task_failure_event(env=env, error=error, cause=cause)

    patch_object(
        sdk_task,
        "_eval_service_task",
        _eval_service_task,
        kind="wrap",
        why="aws-sdk task fields in PascalCase both ways, as on AWS (sdk_names), and results "
        "made JSON-safe (datetimes as AWS writes them)",
        owner=__name__,
    )
    patch_object(
        sdk_task,
        "_from_error",
        _from_error,
        kind="replace",
        why="aws-sdk task errors named as Step Functions names them",
        owner=__name__,
    )


def _patch_optimised_errors() -> None:
    """The optimised lambda, sns and states tasks name service errors as AWS does (``sfn_errors``).

    moto adds ``Exception`` to the raw code, which differs where the code is not the shape's name
    (SNS's ``ParameterValueInvalid`` is ``SNS.InvalidParameterValueException``) and for a code the
    model does not declare (``SNS.AmazonSNSException`` on AWS).
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda,
        state_task_service_sfn,
        state_task_service_sns,
    )

    def renaming(original: Any, integration: sfn_errors.Integration) -> Any:
        def _from_error(self: Any, env: Any, ex: Exception) -> Any:
            failure = original(self, env, ex)
            if isinstance(ex, ClientError):
                code = str(ex.response.get("Error", {}).get("Code", ""))
                error = sfn_errors.error_name_for_code(integration, code)
                failure.error_name = CustomErrorName(error)
                details = (failure.event_details or {}).get("taskFailedEventDetails")
                if details is not None:
                    details["error"] = error
            return failure

        return _from_error

    for task_class, service in (
        (state_task_service_lambda.StateTaskServiceLambda, "lambda"),
        (state_task_service_sns.StateTaskServiceSns, "sns"),
        (state_task_service_sfn.StateTaskServiceSfn, "states"),
    ):
        integration = sfn_errors.optimised_integration(service)
        task_class._from_error = renaming(task_class._from_error, integration)  # type: ignore[method-assign]


def _patch_termination() -> None:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        try:
            original(self)
        finally:
            SCHEDULER.notify()

    patch_object(
        BaseExecutionWorkerCommunication,
        "terminated",
        terminated,
        kind="wrap",
        why="an execution's end wakes the virtual-time scheduler",
        owner=__name__,
    )


#: moto modules that imported ``extract_json`` by name (patched in each).
_JSON_PATH_USERS = (
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.utils.json_path",
)
_INDEFINITE = ("*", ":", "?(", "..")


def _patch_json_path() -> None:
    import importlib

    from jsonpath_ng.ext import parse
    from moto.stepfunctions.parser.asl.utils import json_path

    original = json_path.extract_json

    def extract_json(path: str, data: Any) -> Any:
        # AWS returns the value for a definite path; moto wraps it in a list after an index.
        if "[" in path and not any(token in path for token in _INDEFINITE):
            matches = parse(path).find(data)
            if len(matches) == 1:
                return matches[0].value
        return original(path, data)

    for module_name in _JSON_PATH_USERS:
        module = importlib.import_module(module_name)
        if getattr(module, "extract_json", None) is original:
            patch_object(
                module,
                "extract_json",
                extract_json,
                kind="rebind",
                why="a definite path through an index gives the value, as on AWS",
                owner=__name__,
            )


#: Terminal errors that AWS never lets ``States.ALL`` catch or retry.
_TERMINAL_ERRORS = frozenset({"States.Runtime", "States.DataLimitExceeded"})


def _patch_states_all() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl

    original = ErrorEqualsDecl._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        error_name = env.stack[-1]
        original(self, env)
        matched_by_wildcard = any(name.error_name == "States.ALL" for name in self.error_names)
        if matched_by_wildcard and getattr(error_name, "error_name", None) in _TERMINAL_ERRORS:
            env.stack[-1] = False

    patch_object(
        ErrorEqualsDecl,
        "_eval_body",
        _eval_body,
        kind="wrap",
        why="States.ALL does not catch States.Runtime, as on AWS",
        owner=__name__,
    )


#: moto modules whose ``datetime.datetime.now(tz=...)`` stamps executions and their history.
_DATED_MODULES = (
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.state.state",
)


class _VirtualDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        from asg_refresh_local.clock import CLOCK

        now = CLOCK.now()
        return now.astimezone(tz) if tz is not None else now.replace(tzinfo=None)


def _patch_dates() -> None:
    import datetime as datetime_module
    import importlib
    import types

    virtual = types.ModuleType("datetime")
    virtual.__dict__.update(datetime_module.__dict__)
    virtual.datetime = _VirtualDatetime  # type: ignore[attr-defined]
    for module_name in _DATED_MODULES:
        module = importlib.import_module(module_name)
        if getattr(module, "datetime", None) is datetime_module:
            patch_object(
                module,
                "datetime",
                virtual,
                kind="rebind",
                why="execution and history timestamps on the virtual clock",
                owner=__name__,
            )


#: The execution whose Map or Parallel state this thread evaluates.
_PARENT = threading.local()


def _knowing_the_execution(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        previous = getattr(_PARENT, "execution_id", None)
        _PARENT.execution_id = _execution_id(env)
        try:
            original(self, env)
        finally:
            _PARENT.execution_id = previous

    return _eval_body


def _waiting_for_workers(original: Any) -> Any:
    # Only while it waits does the Map or Parallel state stop counting as working: while it
    # launches workers, the first may already wait before the next one is counted.
    def wait(self: Any) -> None:
        execution_id = getattr(_PARENT, "execution_id", None)
        if execution_id:
            SCHEDULER.adjust(execution_id, -1)
        try:
            original(self)
        finally:
            if execution_id:
                SCHEDULER.adjust(execution_id, +1)

    return wait


def _patch_map_and_parallel() -> None:
    """Tell the scheduler about Map iteration workers and Parallel branches.

    A worker counts from its launch (in the parent's thread, so there is no window where it
    exists but is not counted) to the end of its thread; the Map or Parallel state itself stops
    counting while it waits for them.
    """
    _patch_map()
    _patch_parallel()


def _patch_map() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as distributed,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        inline_iteration_component as inline,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        iteration_worker as iteration,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import job
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as distributed_worker,
    )

    launch = inline.InlineIterationComponent._launch_worker

    def _launch_worker(self: Any, env: Any, eval_input: Any, job_pool: Any) -> Any:
        SCHEDULER.adjust(_execution_id(env), +1)
        return launch(self, env=env, eval_input=eval_input, job_pool=job_pool)

    def counted_until_done(worker_eval: Any) -> Any:
        def eval_iteration(self: Any) -> None:
            try:
                worker_eval(self)
            finally:
                SCHEDULER.adjust(_execution_id(self._env), -1)

        return eval_iteration

    # A DISTRIBUTED Map runs its items in the same process, with its own component and worker
    # classes (moto does not start child executions): both kinds are counted alike.
    for component in (inline.InlineIterationComponent, distributed.DistributedIterationComponent):
        component._eval_body = _knowing_the_execution(component._eval_body)  # type: ignore[method-assign]
    patch_object(
        inline.InlineIterationComponent,
        "_launch_worker",
        _launch_worker,
        kind="wrap",
        why="Map iterations are counted by the virtual-time scheduler",
        owner=__name__,
    )
    for worker in (iteration.IterationWorker, distributed_worker.DistributedItemProcessorWorker):
        worker.eval = counted_until_done(worker.eval)  # type: ignore[method-assign]
    job.JobPool.await_jobs = _waiting_for_workers(job.JobPool.await_jobs)  # type: ignore[method-assign]


def _patch_parallel() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker, branches_decl

    branch_start = branch_worker.BranchWorker.start
    branch_routine = branch_worker.BranchWorker._thread_routine

    def start(self: Any) -> None:
        SCHEDULER.adjust(_execution_id(self.env), +1)
        branch_start(self)

    def _thread_routine(self: Any) -> None:
        try:
            branch_routine(self)
        finally:
            SCHEDULER.adjust(_execution_id(self.env), -1)

    decl = branches_decl.BranchesDecl
    decl._eval_body = _knowing_the_execution(decl._eval_body)  # type: ignore[method-assign]
    pool = branches_decl.BranchWorkerPool
    pool.wait = _waiting_for_workers(pool.wait)  # type: ignore[method-assign]
    patch_object(
        branch_worker.BranchWorker,
        "start",
        start,
        kind="wrap",
        why="Parallel branches are counted by the virtual-time scheduler",
        owner=__name__,
    )
    patch_object(
        branch_worker.BranchWorker,
        "_thread_routine",
        _thread_routine,
        kind="wrap",
        why="Parallel branches are counted by the virtual-time scheduler",
        owner=__name__,
    )


def _patch_task_token_timeouts() -> None:
    """Wait for a task token until its callback or the virtual deadline, whichever comes first."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_task,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackEndpoint,
        CallbackOutcomeTimedOut,
    )

    task_class = callback_task.StateTaskServiceCallback
    original_wait = task_class._eval_wait_for_task_token

    def _eval_wait_for_task_token(
        self: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        if heartbeat_endpoint is not None:
            return original_wait(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        answered = callback_endpoint._notify_event  # set by a callback, or by the task ending
        deadline = SCHEDULER.clock.now() + timedelta(seconds=timeout_seconds)
        SCHEDULER.sleep_until(
            _execution_id(env), deadline, lambda: env.is_running() and not answered.is_set(), passive=True
        )
        outcome = callback_endpoint.get_outcome()
        return (
            CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id) if outcome is None else outcome
        )

    patch_object(
        task_class,
        "_eval_wait_for_task_token",
        _eval_wait_for_task_token,
        kind="wrap",
        why="waitForTaskToken timeouts run on the virtual clock as passive waits",
        owner=__name__,
    )
    _patch_callback_wakeups(CallbackEndpoint)


def _patch_callback_wakeups(endpoint_class: Any) -> None:
    """A task token's answer, or its execution stopping, wakes the scheduler's passive wait."""
    original_notify = endpoint_class.notify
    original_interrupt = endpoint_class.interrupt_all

    def notify(self: Any, outcome: Any) -> None:
        original_notify(self, outcome)
        SCHEDULER.notify()

    def interrupt_all(self: Any) -> None:
        original_interrupt(self)
        SCHEDULER.notify()

    patch_object(
        endpoint_class,
        "notify",
        notify,
        kind="wrap",
        why="a task token's answer wakes the scheduler",
        owner=__name__,
    )
    patch_object(
        endpoint_class,
        "interrupt_all",
        interrupt_all,
        kind="wrap",
        why="a stopped execution's callbacks wake the scheduler",
        owner=__name__,
    )


def _patch_sfn_integration() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn,
    )

    sfn_task = sfn.StateTaskServiceSfn
    original = sfn_task._normalise_parameters

    def _normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None:  # the task's own call, not a .sync resolver's
            for key in [key for key in parameters if key[:1].isupper()]:
                parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    patch_object(
        sfn_task,
        "_normalise_parameters",
        _normalise_parameters,
        kind="wrap",
        why="states:startExecution takes AWS's parameter names",
        owner=__name__,
    )


def _patch_send_task_failure() -> None:
    import inspect

    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser.api import ExecutionStatus, InvalidToken
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.send_task_failure
    passes_cause = "cause" in inspect.getsource(original)

    def send_task_failure(self: Any) -> Any:
        backend = self.stepfunction_backend
        token = self._get_param("taskToken")
        if not hasattr(backend, "_get_executions"):
            return original(self)  # moto's plain backend: no executions run
        running = backend._get_executions(ExecutionStatus.RUNNING)
        if not any(_waits_for(execution, token) for execution in running):
            raise InvalidToken()  # as SendTaskSuccess answers: the token's execution has ended
        if passes_cause:
            return original(self)
        backend.send_task_failure(token, error=self._get_param("error"), cause=self._get_param("cause"))
        return EmptyResult()

    patch_object(
        StepFunctionResponse,
        "send_task_failure",
        send_task_failure,
        kind="wrap",
        why="SendTaskFailure keeps its cause and refuses a token whose execution has ended",
        owner=__name__,
    )


def _waits_for(execution: Any, token: str) -> bool:
    worker = getattr(execution, "exec_worker", None)
    pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
    return pool is not None and pool.get(token) is not None
