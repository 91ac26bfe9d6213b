"""EventBridge rule targets and SNS subscriptions that moto does not deliver (or delivers thinly).

* Disabled rules do not fire.
* Lambda targets are invoked asynchronously (the function's retries, DLQ and OnFailure apply).
* Step Functions targets start an execution with the (transformed) event as input.
* SNS targets publish the event.
* A target that cannot be reached (a Lambda function or state machine that no longer exists)
  sends the event to the target's ``DeadLetterConfig`` queue with AWS's message attributes.
* Schedule rules fire only when asked (:func:`fire_schedule`, ``LocalApp.fire_schedule``), with the
  "Scheduled Event" AWS sends, through the same delivery.
* SNS to Lambda gets a realistic SNS event (real topic ARN, attributes, virtual timestamp).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.harness.delivery import DISPATCHER, invoke_async, send_to_destination
from asg_refresh_local.harness.lambda_routing import REGISTRY
from asg_refresh_local.iam.enforcer import ENFORCER, AccessDenied
from asg_refresh_local.iam.requests import AuthRequest
from asg_refresh_local.moto_patches import patch_object

if TYPE_CHECKING:
    from moto.events.models import Rule
    from moto.sns.models import Subscription

_HANDLED_SERVICES = {"lambda", "states", "sns"}
_installed = False


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        from datetime import UTC, datetime

        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        value: Any = event
        for part in [p for p in target["InputPath"].lstrip("$").split(".") if p]:
            value = value[part]
        return value
    if "InputTransformer" in target:
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
    return event


def deliver_to_target(rule_arn: str, target: dict[str, Any], event: dict[str, Any]) -> None:
    """Deliver one event to a Lambda, Step Functions or SNS target; DLQ when unreachable."""
    arn = target["Arn"]
    parts = arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    payload = _target_input(target, event)
    try:
        _authorize_rule_target(rule_arn, target, account)
        if service == "lambda":
            from moto.awslambda.utils import get_backend

            # Raises when the function no longer exists: EventBridge cannot deliver, as on AWS.
            function = get_backend(account, region).get_function(arn)
            spec = REGISTRY.get(arn)
            if spec is None:
                function.invoke(json.dumps(payload), {}, {})
            else:
                DISPATCHER.submit(lambda: invoke_async(spec, payload))
        elif service == "states":
            from moto.stepfunctions.parser.models import stepfunctions_parser_backends

            backend = stepfunctions_parser_backends[account][region]
            backend.start_execution(arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload))
        elif service == "sns":
            from moto.sns.models import sns_backends

            message = payload if isinstance(payload, str) else json.dumps(payload)
            sns_backends[account][region].publish(message, arn=arn)
    except Exception as exc:
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dead_letter:
            return
        if ENFORCER.delivery(
            "events.amazonaws.com", "sqs:SendMessage", dead_letter, rule_arn, account_id=account
        ):
            return  # the queue's policy refuses EventBridge: the event is lost, as on AWS
        send_to_destination(
            dead_letter,
            json.dumps(event),
            {
                "RULE_ARN": rule_arn,
                "TARGET_ARN": arn,
                "ERROR_CODE": type(exc).__name__,
                "ERROR_MESSAGE": str(exc)[:1000],
                "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
                "RETRY_ATTEMPTS": str((target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)),
            },
        )


class DeliveryRefused(Exception):
    """A resource policy or a rule's role refuses what the service would deliver."""


def _authorize_rule_target(rule_arn: str, target: dict[str, Any], account: str) -> None:
    """EventBridge reaches Lambda through its permission, Step Functions through the target's role."""
    arn = target["Arn"]
    service = arn.split(":")[2]
    if service == "lambda":
        refused = ENFORCER.delivery(
            "events.amazonaws.com", "lambda:InvokeFunction", _function_arn(arn), rule_arn, account_id=account
        )
        if refused:
            raise DeliveryRefused(refused)
    elif service == "states" and ENFORCER.active():
        role = target.get("RoleArn") or ENFORCER.rule_target_role(rule_arn, arn)
        principal = ENFORCER.principal(role) if role else None
        if principal is None:
            raise DeliveryRefused(f"the rule's target {arn} has no role EventBridge could assume")
        try:
            ENFORCER.authorize(
                principal, [AuthRequest("states:StartExecution", arn)], "AccessDeniedException"
            )
        except AccessDenied as denied:
            raise DeliveryRefused(denied.message) from denied


def _function_arn(arn: str) -> str:
    """A function ARN without its qualifier (a Lambda permission names the function)."""
    return ":".join(arn.split(":")[:7])


def _redrive(subscription: Any, message: str, attributes: dict[str, Any] | None, reason: str) -> None:
    """SNS could not deliver: the message goes to the subscription's redrive queue, if SNS may."""
    policy = json.loads(subscription.attributes.get("RedrivePolicy") or "{}")
    queue = policy.get("deadLetterTargetArn")
    topic = subscription.topic.arn
    if not queue or ENFORCER.delivery(
        "sns.amazonaws.com", "sqs:SendMessage", queue, topic, account_id=topic.split(":")[4]
    ):
        return  # no redrive queue, or its policy refuses SNS: the message is lost, as on AWS
    send_to_destination(
        queue,
        message,
        {
            **{k: str(v.get("Value")) for k, v in (attributes or {}).items()},
            "ERROR_MESSAGE": reason[:1000],
        },
    )


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    """The event EventBridge sends a schedule rule's targets at each tick."""
    parts = rule_arn.split(":")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": parts[4],
        "time": _iso(CLOCK.timestamp()),
        "region": parts[3],
        "resources": [rule_arn],
        "detail": {},
    }


def fire_schedule(rule: Any) -> dict[str, Any]:
    """Fire a moto schedule rule once, as its schedule would (a disabled rule stays silent).

    Returns the event. Lambda, Step Functions and SNS targets get it as rule targets do here
    (retries, ``DeadLetterConfig``); other targets are not delivered.
    """
    event = scheduled_event(rule.arn)
    if rule.state == "ENABLED":
        for target in rule.targets:
            if target["Arn"].split(":")[2] in _HANDLED_SERVICES:
                deliver_to_target(rule.arn, target, event)
    return event


def _sns_lambda_event(
    subscription: Any, message: str, message_id: str, subject: str | None, attributes: dict[str, Any] | None
) -> dict[str, Any]:
    timestamp = CLOCK.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    region = subscription.topic.arn.split(":")[3]
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": timestamp,
                    "Signature": "EXAMPLE",
                    # Real URLs: Powertools' SnsModel validates both as URLs, as AWS sends them.
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": {
                        k: {"Type": v.get("Type", "String"), "Value": v.get("Value")}
                        for k, v in (attributes or {}).items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                    f"&SubscriptionArn={subscription.arn}",
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                },
            }
        ]
    }


def _send_to_targets(original_send: Callable[..., None]) -> Callable[..., None]:
    """Rule.send_to_targets, delivering the targets moto does not (and no event from a disabled
    or schedule rule); moto's own delivery for the rest."""

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        # A schedule rule has no event pattern, which moto matches against every event.
        if (
            self.state != "ENABLED"
            or self.scheduled_expression
            or not self.event_pattern.matches_event(original_event)
        ):
            return
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in _HANDLED_SERVICES]
        theirs = [t for t in self.targets if t not in ours]
        if theirs:
            native = copy.copy(self)
            native.targets = theirs
            original_send(native, original_event, transform_input)
        if ours:
            event = dict(original_event)
            event["time"] = _iso(event.get("time", CLOCK.timestamp()))
            event.pop("ingestion-time", None)
            for target in ours:
                deliver_to_target(self.arn, target, event)

    return send_to_targets


def _publish(original_publish: Callable[..., None]) -> Callable[..., None]:
    """Subscription.publish, delivering to Lambda through the function's permission with a
    realistic SNS event; moto's own delivery for the other protocols."""

    def publish(
        self: Subscription,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        spec = REGISTRY.get(self.endpoint) if self.protocol == "lambda" else None
        if spec is None:
            original_publish(
                self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs
            )
            return
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return
        topic = self.topic.arn
        refused = ENFORCER.delivery(
            "sns.amazonaws.com", "lambda:InvokeFunction", spec.arn, topic, account_id=topic.split(":")[4]
        )
        if refused:
            _redrive(self, message, message_attributes, refused)
            return
        event = _sns_lambda_event(self, message, message_id, subject, message_attributes)
        DISPATCHER.submit(lambda: invoke_async(spec, event))

    return publish


def install() -> None:
    """Patch moto's EventBridge rule dispatch and SNS-to-Lambda delivery (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.events.models import Rule
    from moto.sns.models import Subscription

    send_to_targets = _send_to_targets(Rule.send_to_targets)
    publish = _publish(Subscription.publish)

    patch_object(
        Rule,
        "send_to_targets",
        send_to_targets,
        kind="wrap",
        why="Lambda, Step Functions and SNS targets delivered (moto raises); disabled rules silent",
        owner=__name__,
    )
    patch_object(
        Subscription,
        "publish",
        publish,
        kind="wrap",
        why="SNS to Lambda gets a realistic SNS event, through the function's permission",
        owner=__name__,
    )
    _installed = True
