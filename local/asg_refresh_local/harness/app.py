"""``LocalApp``: the whole SAM app in one process, on moto."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from asg_refresh.invocation import direct_client_context
from asg_refresh_local.clock import CLOCK
from asg_refresh_local.harness.delivery import DISPATCHER
from asg_refresh_local.harness.deploy import Deployer, Deployment
from asg_refresh_local.harness.events_targets import fire_schedule
from asg_refresh_local.harness.lambda_routing import REGISTRY, FunctionSpec, Invocation
from asg_refresh_local.harness.patches import install_all
from asg_refresh_local.harness.template import Template
from asg_refresh_local.harness.wait_scheduler import SCHEDULER
from asg_refresh_local.iam import ENFORCER, AccessDenied, PolicySet, build_policy_set
from asg_refresh_local.iam.requests import AuthRequest
from asg_refresh_local.iam.resources import topic_key_checks

DEFAULT_ACCOUNT_ID = "123456789012"
#: Wall-clock safety net for wait_for_execution, not a business duration.
EXECUTION_SAFETY_TIMEOUT = 60.0


_CLIENTS: dict[tuple[str, str, str | None], Any] = {}


def _is_running(execution: Any) -> bool:
    return execution.exec_status is not None and execution.exec_status.value == "RUNNING"


class ExecutionTimeout(RuntimeError):
    """An execution did not finish within the wall-clock safety timeout."""


class LocalApp:
    """Deploys ``template.yaml`` into moto and routes every invocation to the project's handlers.

    ``with LocalApp() as app:`` starts ``mock_aws`` (or joins one already active), installs the
    patches and the emulation, and deploys the template.
    """

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        *,
        parameter_overrides: dict[str, Any] | None = None,
        region: str = "us-east-1",
        stack_name: str = "asg-refresh",
        emulation: bool = True,
        endpoint_url: str | None = None,
    ) -> None:
        self.template = Template.load(template_path)
        self.parameter_overrides = dict(parameter_overrides or {})
        self.region = region
        self.stack_name = stack_name
        self.emulation = emulation
        self.endpoint_url = endpoint_url
        self.account_id = DEFAULT_ACCOUNT_ID
        self.deployment = Deployment()
        self.policies: PolicySet | None = None
        self._mock: Any = None
        self._recorders: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalApp:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        # The emulation patches moto's classes: install before the mock starts.
        install_all(emulation=self.emulation)
        if self.endpoint_url is None:
            self._start_mock()
        try:
            self._deploy()
        except BaseException:
            self.stop()  # a half-deployed app must not leave its mock active for the next one
            raise

    def _deploy(self) -> None:
        REGISTRY.unregister_all()
        deployer = Deployer(
            self.template,
            self.client,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
            parameter_overrides=self.parameter_overrides,
        )
        self.deployment = deployer.deploy()
        self.policies = build_policy_set(
            self.template,
            deployer.lookup,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
            parameter_overrides=self.parameter_overrides,
            role_arn_for=deployer.role_arn,
        )
        ENFORCER.use(self.policies)
        for spec in self.deployment.functions.values():
            REGISTRY.register(spec)

    def _start_mock(self) -> None:
        from moto import mock_aws
        from moto.core.models import MockAWS

        config: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        already_active = MockAWS._nested_count > 0
        self._mock = mock_aws(config=config)
        # Joining an active mock keeps its data; the config still lets executions and lambdas run.
        self._mock.start(reset=not already_active)

    def stop(self) -> None:
        DISPATCHER.drain()
        # Abort what still runs, and let its threads leave moto before moto's data goes.
        running = self._running()
        deadline = time.monotonic() + 5
        while running and time.monotonic() < deadline:
            for execution in running:
                with contextlib.suppress(AttributeError):  # a worker that has not built its env yet
                    execution.stop(stop_date=None, error=None, cause=None)
            SCHEDULER.notify()
            time.sleep(0.01)
            running = [e for e in running if _is_running(e)]
        REGISTRY.unregister_all()
        ENFORCER.use(None)
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    # -- resources ---------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of moto (clients are shared between apps: creating one is slow)."""
        key = (service, self.region, self.endpoint_url)
        if key not in _CLIENTS:
            kwargs: dict[str, Any] = {"region_name": self.region}
            if self.endpoint_url:
                kwargs |= {
                    "endpoint_url": self.endpoint_url,
                    "aws_access_key_id": "testing",
                    "aws_secret_access_key": "testing",
                }
            _CLIENTS[key] = boto3.client(service, **kwargs)  # type: ignore[call-overload]
        return _CLIENTS[key]

    @property
    def skipped_resources(self) -> list[str]:
        return list(self.deployment.skipped)

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.deployment.outputs)

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return dict(self.deployment.functions)

    def physical_id(self, logical_id: str) -> str:
        return self.deployment.resources[logical_id].physical_id

    def attribute(self, logical_id: str, attribute: str) -> Any:
        return self.deployment.resources[logical_id].attributes[attribute]

    def function_name(self, logical_id: str) -> str:
        return self.deployment.functions[logical_id].name

    def environment(self, logical_id: str) -> dict[str, str]:
        return dict(self.deployment.functions[logical_id].environment)

    # -- invoking ----------------------------------------------------------------------------------

    def invoke(self, logical_id: str, event: Any, *, direct: bool = True) -> Any:
        """Synchronous Invoke through moto's Lambda API; returns the decoded payload.

        ``direct`` sends the ClientContext that marks a direct caller (``invocation.py``), as the
        operator does; without it the handler treats the call as asynchronous (dead letters).
        A handler error comes back as AWS's error payload (``errorType``, ``errorMessage``...).
        """
        marker = {"ClientContext": direct_client_context()} if direct else {}
        response = self.client("lambda").invoke(
            FunctionName=self.function_name(logical_id),
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
            **marker,
        )
        return json.loads(response["Payload"].read() or b"null")

    def invoke_async(self, logical_id: str, event: Any) -> int:
        """``InvocationType=Event`` through moto's Lambda API: retries, then DLQ or OnFailure.

        Returns the status code (202); the handler has run when it returns.
        """
        response = self.client("lambda").invoke(
            FunctionName=self.function_name(logical_id),
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )
        DISPATCHER.drain()
        return int(response["StatusCode"])

    def invocations(self, logical_id: str | None = None) -> list[Invocation]:
        return [i for i in REGISTRY.invocations if logical_id is None or i.function_logical_id == logical_id]

    def put_events(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        prepared = [
            {
                **e,
                "Detail": e["Detail"]
                if isinstance(e.get("Detail"), str)
                else json.dumps(e.get("Detail", {})),
            }
            for e in entries
        ]
        response: dict[str, Any] = self.client("events").put_events(Entries=prepared)
        DISPATCHER.drain()
        return response

    def publish_as_image_builder(self, topic_logical_id: str, message: Any) -> bool:
        """Publish as EC2 Image Builder does: as its service-linked role, through the key policy.

        Returns whether the notification was published: where the role's, the topic's or the
        key's policy refuses it, Image Builder's notification is lost, as on AWS.
        """
        topic_arn = self.physical_id(topic_logical_id)
        if ENFORCER.active() and self.policies is not None:
            checks = [
                AuthRequest("sns:Publish", topic_arn, resource_policy_arn=topic_arn),
                *topic_key_checks(self.account_id, self.region, topic_arn),
            ]
            try:
                ENFORCER.authorize(self.policies.image_builder(), checks, "AuthorizationError")
            except AccessDenied:
                return False
        body = message if isinstance(message, str) else json.dumps(message)
        self.client("sns").publish(TopicArn=topic_arn, Message=body)
        DISPATCHER.drain()
        return True

    def fire_schedule(self, rule_logical_id: str) -> dict[str, Any]:
        """Fire a schedule rule once (``<Function><Event>`` for a SAM ``Schedule`` event), as its
        schedule would: the harness never fires schedules by itself. Its targets have run (or the
        event is dead-lettered) when it returns; returns the "Scheduled Event" sent."""
        from moto.events.models import events_backends

        rule = events_backends[self.account_id][self.region].describe_rule(
            self.physical_id(rule_logical_id), None
        )
        event = fire_schedule(rule)
        DISPATCHER.drain()
        return event

    # -- Step Functions ----------------------------------------------------------------------------

    def start_execution(self, logical_id: str, execution_input: Any, name: str | None = None) -> str:
        import uuid

        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.physical_id(logical_id),
            name=name or str(uuid.uuid4()),
            input=json.dumps(execution_input),
        )
        return str(response["executionArn"])

    def wait_for_execution(
        self, execution_arn: str, timeout: float = EXECUTION_SAFETY_TIMEOUT
    ) -> dict[str, Any]:
        """Block until the execution leaves RUNNING; returns ``describe_execution``."""
        execution = self._execution(execution_arn)
        deadline = time.monotonic() + timeout
        finished = threading.Event()
        with SCHEDULER.driving():
            while execution is not None and _is_running(execution):
                if time.monotonic() > deadline:
                    raise ExecutionTimeout(f"{execution_arn} still RUNNING after {timeout} s of wall time")
                finished.wait(0.005)
        result: dict[str, Any] = self.client("stepfunctions").describe_execution(executionArn=execution_arn)
        return result

    def wait_for_all_executions(self, timeout: float = EXECUTION_SAFETY_TIMEOUT) -> list[dict[str, Any]]:
        """Wait for every execution RUNNING now (and any they start); returns their descriptions."""
        seen: dict[str, dict[str, Any]] = {}
        while True:
            running = [e.exec_arn for e in self._running() if e.exec_arn not in seen]
            if not running:
                return list(seen.values())
            for arn in running:
                seen[arn] = self.wait_for_execution(arn, timeout)

    def letting_time_run(self) -> AbstractContextManager[None]:
        """Inside, virtual time jumps ahead whenever every execution waits (as in wait_for_execution)."""
        return SCHEDULER.driving()

    def advance(self, seconds: float) -> datetime:
        """Move the virtual clock; waits that fall due end, the emulation catches up."""
        return CLOCK.advance(seconds)

    def executions(self, logical_id: str | None = None) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        machines = (
            [self.physical_id(logical_id)]
            if logical_id
            else [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        )
        found: list[dict[str, Any]] = []
        for arn in machines:
            found += sfn.list_executions(stateMachineArn=arn)["executions"]
        return found

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn
        )["events"]
        return events

    def _execution(self, execution_arn: str) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend: Any = stepfunctions_parser_backends[self.account_id][self.region]
        for machine in backend.state_machines:
            for execution in machine.executions:
                if execution.exec_arn == execution_arn:
                    return execution
        return None

    def _running(self) -> list[Any]:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend: Any = stepfunctions_parser_backends[self.account_id][self.region]
        return [e for m in backend.state_machines for e in m.executions if _is_running(e)]

    # -- queues and topics -------------------------------------------------------------------------

    def dead_letters(self, queue_logical_id: str) -> list[dict[str, Any]]:
        """Every message in a queue (received and left visible again), bodies JSON-decoded."""
        return self._drain_queue(self.physical_id(queue_logical_id), delete=False)

    def record_topic(self, topic_logical_id: str) -> None:
        """Start recording what is published to a topic (``messages`` does this on first use)."""
        if topic_logical_id in self._recorders:
            return
        sqs = self.client("sqs")
        name = f"asg-refresh-local-recorder-{len(self._recorders)}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns").subscribe(
            TopicArn=self.physical_id(topic_logical_id),
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        self._recorders[topic_logical_id] = url

    def messages(self, topic_logical_id: str) -> list[dict[str, Any]]:
        """SNS notifications published to the topic since recording started (the first call)."""
        self.record_topic(topic_logical_id)
        return self._drain_queue(self._recorders[topic_logical_id], delete=False)

    def _drain_queue(self, url: str, *, delete: bool) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        handles = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                body: Any = message["Body"]
                with contextlib.suppress(ValueError):
                    body = json.loads(body)
                attributes = {
                    k: v.get("StringValue") for k, v in (message.get("MessageAttributes") or {}).items()
                }
                messages.append(
                    {"Body": body, "MessageAttributes": attributes, "MessageId": message["MessageId"]}
                )
        for handle in handles:
            if delete:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return messages
