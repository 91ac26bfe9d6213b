"""Every handler's input, parsed into models: deploy triggers into one :class:`DeployRequest`,
an SNS delivery into its records, the reconciler's schedule, a rollout request.

Anything that does not parse becomes :class:`InvalidRequestError`, never another exception, and
splitting a delivery never raises at all: the parsers and handlers are fuzzed to hold that
(tests/unit/test_parsing_fuzz.py, tests/integration/test_handler_fuzz.py).
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SnsModel
from pydantic import ConfigDict, Field

from asg_refresh.invocation import Source, as_product_error, source_of
from asg_refresh.logic.triggers import to_deploy_request
from asg_refresh.models.base import DEFERRED, Model
from asg_refresh.models.deploy import DeployMessage, DeployRequest
from asg_refresh.models.queue import QueueDrain
from asg_refresh.models.rollout import RolloutMessage
from asg_refresh.models.triggers import DeployTriggerEvent, SnsDeployMessage

#: How long a delivery's own id may be to serve as the deployment id (SNS message ids and
#: EventBridge event ids are UUIDs).
MAX_DELIVERY_ID = 255


class Delivery(Model):
    """One deploy trigger of an invocation: an SNS delivery holds one per record."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    event: Any
    shape: Source
    deployment_id: str


def _usable_id(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_DELIVERY_ID else fallback


def split_deliveries(event: Any, request_id: str) -> list[Delivery]:
    """The triggers ``event`` holds, each with the id that makes it idempotent. Never raises:
    whatever a record is (null, a list, an object without ``Sns``), it is parsed, and refused,
    on its own."""
    shape = source_of(event)
    if shape != "sns":
        given = event.get("id") if isinstance(event, dict) else None
        return [Delivery(event=event, shape=shape, deployment_id=_usable_id(given, request_id))]
    deliveries = []
    for index, record in enumerate(event["Records"]):
        sns = record.get("Sns") if isinstance(record, dict) else None
        message_id = sns.get("MessageId") if isinstance(sns, dict) else None
        fallback = request_id if index == 0 else f"{request_id}-{index}"
        deliveries.append(
            Delivery(event={"Records": [record]}, shape="sns", deployment_id=_usable_id(message_id, fallback))
        )
    return deliveries


def _sns_messages(event: Any, model: Any) -> list[Any]:
    """What Powertools' ``SnsEnvelope`` does, without importing ``parser.envelopes``: that
    package loads every envelope of every AWS service (about 85 ms of each cold start)."""
    records = SnsModel.model_validate(event).Records
    # Parser reads a string as JSON, as SnsEnvelope hands it each Message; its signature says dict.
    return [parse(event=record.Sns.Message, model=model) for record in records]  # type: ignore[call-overload]


def parse_deploy_trigger(event: Any, source: Source, deployment_id: str, region: str | None) -> DeployRequest:
    """``event`` as delivered by ``source`` (an SNS event holds exactly one record here)."""
    # Parser accepts annotated unions, which mypy cannot see as ``type[T]``.
    try:
        if source == "sns":
            trigger = _sns_messages(event, SnsDeployMessage)[0]
        elif source == "eventbridge":
            trigger = parse(event=event, model=DeployTriggerEvent)  # type: ignore[call-overload]
        else:
            trigger = parse(event=event, model=DeployMessage)
        return to_deploy_request(trigger, deployment_id, region)
    except Exception as error:
        raise as_product_error(error) from error


class ScheduledEvent(EventBridgeModel):
    """The reconciler's schedule (EventBridge ``Scheduled Event``)."""

    model_config = DEFERRED

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


class ManualRun(Model):
    """A direct run of the reconciler: an empty object."""

    model_config = ConfigDict(extra="forbid")


class RefreshStartedDetail(Model):
    """The ``detail`` Auto Scaling sends with an instance refresh lifecycle event."""

    instance_refresh_id: str = Field(
        alias="InstanceRefreshId", min_length=1, max_length=255, pattern=r"^[-a-zA-Z0-9]+$"
    )
    group: str = Field(alias="AutoScalingGroupName", min_length=1, max_length=255)


class RefreshStartedEvent(EventBridgeModel):
    """``EC2 Auto Scaling Instance Refresh Started``, or ``... Rollback Started`` (a rollback keeps
    its refresh's id), from source ``aws.autoscaling``."""

    model_config = DEFERRED

    source: Literal["aws.autoscaling"]
    detail_type: Literal[
        "EC2 Auto Scaling Instance Refresh Started", "EC2 Auto Scaling Instance Refresh Rollback Started"
    ] = Field(alias="detail-type")
    detail: RefreshStartedDetail


class ReconcileRequest(Model):
    """What a reconciler run covers: ``scheduled`` (the unfinished refreshes and a slice of the
    fleet), ``full`` (every opted-in group: a direct run) or ``sighted`` (one refresh, from its
    lifecycle event)."""

    model_config = ConfigDict(frozen=True)

    scope: Literal["scheduled", "full", "sighted"]
    group: str | None = None
    refresh_id: str | None = None


def parse_reconcile_request(event: Any) -> ReconcileRequest:
    """The reconciler takes its schedule's event, a refresh's started event, or ``{}``; anything
    else is refused."""
    try:
        if isinstance(event, dict) and not event:
            ManualRun.model_validate(event)
            return ReconcileRequest(scope="full")
        if isinstance(event, dict) and event.get("source") == "aws.autoscaling":
            started = parse(event=event, model=RefreshStartedEvent)
            return ReconcileRequest(
                scope="sighted", group=started.detail.group, refresh_id=started.detail.instance_refresh_id
            )
        parse(event=event, model=ScheduledEvent)
        return ReconcileRequest(scope="scheduled")
    except Exception as error:
        raise as_product_error(error) from error


class PlanInput(Model):
    """RolloutWaves' execution input (an ``ASG Rollout Requested`` event, or the message itself)
    and the execution's name."""

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any]
    rollout_id: str = Field(min_length=1, max_length=80)


class RolloutRequestedEvent(EventBridgeModel):
    model_config = DEFERRED

    detail_type: Literal["ASG Rollout Requested"] = Field(alias="detail-type")
    detail: RolloutMessage


def parse_rollout_request(event: Any) -> tuple[RolloutMessage, str]:
    """The rollout message and its id: the message's ``deployment_id``, else the event's id,
    else the execution's name (cut to the 48 characters a rollout id may have)."""
    try:
        given = PlanInput.model_validate(event)
        if "detail-type" in given.event and "detail" in given.event:
            requested = RolloutRequestedEvent.model_validate(given.event)
            message, event_id = requested.detail, requested.id
        else:
            message, event_id = RolloutMessage.model_validate(given.event), None
    except Exception as error:
        raise as_product_error(error) from error
    return message, (message.deployment_id or event_id or given.rollout_id)[:48]


#: The key of the watcher's "my refresh ended" message to StartRefresh (watch_refresh.asl.json).
QUEUE_DRAIN_KEY = "start_queued"


def parse_queue_drain(event: Any) -> QueueDrain | None:
    """The watcher's message that its refresh ended, or None for any other event (a deploy
    trigger, parsed as one)."""
    if not (isinstance(event, dict) and set(event) == {QUEUE_DRAIN_KEY}):
        return None
    try:
        return QueueDrain.model_validate(event[QUEUE_DRAIN_KEY])
    except Exception as error:
        raise as_product_error(error) from error
