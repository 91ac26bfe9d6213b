"""CloudWatch composite alarms, which moto 5.2.5 lacks (PutCompositeAlarm is NotImplemented).

What AWS documents (PutCompositeAlarm, DescribeAlarms, "Alarm events and EventBridge"), and this
adds to moto's CloudWatch:

* **PutCompositeAlarm** creates or updates an alarm whose ``AlarmRule`` combines other alarms'
  states: ``ALARM(x)``, ``OK(x)``, ``INSUFFICIENT_DATA(x)``, ``TRUE``, ``FALSE``, ``AND``, ``OR``,
  ``NOT`` and parentheses; ``x`` an alarm name or ARN, quoted or not. A rule that does not parse
  is refused as AWS refuses it ("Error in AlarmRule [...]"), and so is one naming alarms that do
  not exist. A new composite alarm is INSUFFICIENT_DATA, then evaluated at once: ALARM when its
  rule holds, else OK (the only time a composite is INSUFFICIENT_DATA is before that first
  evaluation). An update keeps the state and overwrites the rest.
* **Evaluation** follows every change of a child (SetAlarmState, PutMetricAlarm, DeleteAlarms),
  composites of composites included; a cycle stops the evaluation, as on AWS. A deleted or
  unknown child is in no state, so each of its functions is FALSE.
* **State changes go on the default bus** as ``CloudWatch Alarm State Change`` with the composite
  shape (``state``, ``previousState``, ``configuration.alarmRule``), timed by the virtual clock.
* **DescribeAlarms** returns composite alarms only when ``AlarmTypes`` asks for them (omitted, it
  returns metric alarms only), and only to a caller whose ``cloudwatch:DescribeAlarms`` permission
  is scoped to ``*``: "You can't return information about composite alarms if your
  cloudwatch:DescribeAlarms permission has a narrower scope".

Left out: action suppressors, ChildrenOfAlarmName / ParentsOfAlarmName, and events for metric
alarms' own state changes (the suite injects those events itself).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asg_refresh_local.moto_patches import patch_object

log = logging.getLogger(__name__)

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
_TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|"(?P<quoted>[^"]*)"|(?P<word>[^\s()"]+))')
_installed = False
_EVALUATING = threading.local()

# --- the rule ----------------------------------------------------------------------------------


class RuleError(ValueError):
    """An AlarmRule that does not parse; the message is AWS's."""


@dataclass(frozen=True)
class StateOf:
    state: str
    alarm: str  # a name (an ARN is reduced to its name)


@dataclass(frozen=True)
class Constant:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: Rule


@dataclass(frozen=True)
class BothOrEither:
    operator: str  # AND | OR
    left: Rule
    right: Rule


Rule = StateOf | Constant | Not | BothOrEither


def parse_rule(text: str) -> Rule:
    """The rule's tree; :class:`RuleError` with AWS's message if it does not parse."""
    tokens = _tokens(text)
    rule, rest = _either(tokens)
    if rest:
        token, position = rest[0]
        raise RuleError(f"Error in AlarmRule [Unsupported token '{token}' at char {position}]")
    return rule


def children(rule: Rule) -> list[str]:
    """The alarms the rule names, in order, each once."""
    if isinstance(rule, StateOf):
        return [rule.alarm]
    if isinstance(rule, Not):
        return children(rule.operand)
    if isinstance(rule, BothOrEither):
        return list(dict.fromkeys(children(rule.left) + children(rule.right)))
    return []


def holds(rule: Rule, state_of: Callable[[str], str | None]) -> bool:
    if isinstance(rule, StateOf):
        return state_of(rule.alarm) == rule.state
    if isinstance(rule, Constant):
        return rule.value
    if isinstance(rule, Not):
        return not holds(rule.operand, state_of)
    if rule.operator == "AND":
        return holds(rule.left, state_of) and holds(rule.right, state_of)
    return holds(rule.left, state_of) or holds(rule.right, state_of)


Tokens = list[tuple[str, int]]


def _tokens(text: str) -> Tokens:
    tokens, position = [], 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            start = len(text) - len(text[position:].lstrip())
            raise RuleError(f"Error in AlarmRule [Unsupported token '{text[start]}' at char {start}]")
        value = match.group("paren") or match.group("word")
        if value is None:
            value = f'"{match.group("quoted")}"'
        start = match.start(match.lastgroup or 0) - (0 if match.group("quoted") is None else 1)
        tokens.append((value, start))
        position = match.end()
    return tokens


def _either(tokens: Tokens) -> tuple[Rule, Tokens]:
    rule, rest = _both(tokens)
    while rest and rest[0][0] == "OR":
        right, rest = _both(rest[1:])
        rule = BothOrEither("OR", rule, right)
    return rule, rest


def _both(tokens: Tokens) -> tuple[Rule, Tokens]:
    rule, rest = _negation(tokens)
    while rest and rest[0][0] == "AND":
        right, rest = _negation(rest[1:])
        rule = BothOrEither("AND", rule, right)
    return rule, rest


def _negation(tokens: Tokens) -> tuple[Rule, Tokens]:
    if tokens and tokens[0][0] == "NOT":
        operand, rest = _negation(tokens[1:])
        return Not(operand), rest
    return _primary(tokens)


def _primary(tokens: Tokens) -> tuple[Rule, Tokens]:
    if not tokens:
        raise RuleError("Error in AlarmRule [Unexpected end of expression]")
    (token, position), rest = tokens[0], tokens[1:]
    if token in ("TRUE", "FALSE"):
        return Constant(token == "TRUE"), rest  # noqa: S105 (a rule's keyword, not a secret)
    if token == "(":  # noqa: S105
        rule, rest = _either(rest)
        _expect(rest, ")")
        return rule, rest[1:]
    if token in STATES:
        _expect(rest, "(")
        if len(rest) < 2:
            raise RuleError("Error in AlarmRule [Unexpected end of expression, expected an alarm name]")
        name, name_at = rest[1]
        if name in ("(", ")"):
            raise RuleError(f"Error in AlarmRule [Unsupported token '{name}' at char {name_at}]")
        _expect(rest[2:], ")")
        return StateOf(token, _alarm_name(name)), rest[3:]
    raise RuleError(f"Error in AlarmRule [Unsupported token '{token}' at char {position}]")


def _expect(tokens: Tokens, wanted: str) -> None:
    if not tokens:
        raise RuleError(f"Error in AlarmRule [Unexpected end of expression, expected {wanted}]")
    if tokens[0][0] != wanted:
        token, position = tokens[0]
        raise RuleError(f"Error in AlarmRule [Unsupported token '{token}' at char {position}]")


def _alarm_name(reference: str) -> str:
    name = reference[1:-1] if reference.startswith('"') else reference
    return name.split(":alarm:", 1)[1] if name.startswith("arn:") and ":alarm:" in name else name


# --- moto --------------------------------------------------------------------------------------


def install() -> None:
    """Patch moto's CloudWatch (idempotent); each target is registered and checked."""
    global _installed
    if _installed:
        return
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    patch_object(
        CloudWatchResponse,
        "put_composite_alarm",
        _put_composite_alarm,
        kind="add",
        why="PutCompositeAlarm is NotImplemented in moto",
        owner=__name__,
    )
    _wrap_describe_alarms(CloudWatchResponse)
    for method in ("set_alarm_state", "put_metric_alarm", "delete_alarms"):
        _reevaluate_after(CloudWatchBackend, method)
    _installed = True


def _put_composite_alarm(self: Any) -> Any:
    from moto.cloudwatch.exceptions import ValidationError
    from moto.core.responses import EmptyResult

    name, text = self._get_param("AlarmName"), self._get_param("AlarmRule")
    backend = self.cloudwatch_backend
    try:
        rule = parse_rule(text)
    except RuleError as error:
        raise ValidationError(str(error)) from error
    missing = [child for child in children(rule) if child not in backend.alarms and child != name]
    if missing:
        names = ", ".join(missing)
        raise ValidationError(
            f"Could not save the composite alarm as alarms [{names}] in the alarm rule do not exist"
        )
    existing = backend.alarms.get(name)
    _EVALUATING.active = True  # evaluated below, once its state is set
    try:
        alarm = _store(self, backend, name, text, existing)
    finally:
        _EVALUATING.active = False
    if existing is not None:  # an update keeps the state
        alarm.state_value, alarm.state_reason = existing.state_value, existing.state_reason
        alarm.state_reason_data, alarm.state_updated_timestamp = (
            existing.state_reason_data,
            existing.state_updated_timestamp,
        )
        alarm.history = existing.history
    else:
        alarm.state_value = "INSUFFICIENT_DATA"
        alarm.state_reason = "Unchecked: Initial alarm creation"
    _evaluate_composites(backend)
    return EmptyResult()


def _store(self: Any, backend: Any, name: str, text: str, existing: Any) -> Any:
    """The composite in moto's store: moto keeps a composite as an alarm with a rule."""
    return backend.put_metric_alarm(
        name=name,
        namespace=None,
        metric_name=None,
        metric_data_queries=None,
        comparison_operator=None,
        evaluation_periods=None,
        datapoints_to_alarm=None,
        period=None,
        threshold=None,
        statistic=None,
        extended_statistic=None,
        description=self._get_param("AlarmDescription"),
        dimensions=[],
        alarm_actions=self._get_param("AlarmActions", []),
        ok_actions=self._get_param("OKActions", []),
        insufficient_data_actions=self._get_param("InsufficientDataActions", []),
        actions_enabled=self._get_bool_param("ActionsEnabled"),
        rule=text,
        tags=[] if existing else self._get_param("Tags", []),
    )


def _wrap_describe_alarms(response_class: Any) -> None:
    original = response_class.describe_alarms

    def describe_alarms(self: Any) -> Any:
        answer = original(self)
        wanted = self._get_param("AlarmTypes") or ["MetricAlarm"]
        result = answer.result
        if "MetricAlarm" not in wanted:
            result["MetricAlarms"] = []
        if "CompositeAlarm" not in wanted or not _may_see_composites(self):
            result["CompositeAlarms"] = []
        return answer

    patch_object(
        response_class,
        "describe_alarms",
        describe_alarms,
        kind="wrap",
        why="AlarmTypes decides which alarms are returned, and composites need the permission on *",
        owner=__name__,
    )


def _may_see_composites(response: Any) -> bool:
    """Whether the caller's cloudwatch:DescribeAlarms permission is scoped to ``*``: the policy
    engine decides on the caller's statements whose Resource is ``*`` (every Deny kept)."""
    from asg_refresh_local.iam.enforcer import ENFORCER
    from asg_refresh_local.iam.moto_hooks import principal_of
    from asg_refresh_local.iam.policies import Principal
    from asg_refresh_local.iam.requests import AuthRequest

    principal = principal_of(response)
    if principal is None:
        return True
    scoped = tuple(
        (name, {**document, "Statement": [s for s in _statements(document) if _scoped_to_all(s)]})
        for name, document in principal.policies
    )
    alarms = f"arn:aws:cloudwatch:{response.region}:{response.current_account}:alarm:*"
    return ENFORCER.permits(
        Principal(principal.role_logical_id, principal.role_arn, scoped),
        AuthRequest("cloudwatch:DescribeAlarms", alarms),
    )


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _scoped_to_all(statement: dict[str, Any]) -> bool:
    resources = statement.get("Resource", [])
    listed = resources if isinstance(resources, list) else [resources]
    return statement.get("Effect") == "Deny" or "*" in listed


def _reevaluate_after(backend_class: Any, method: str) -> None:
    original = getattr(backend_class, method)

    def changed_then_reevaluated(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = original(self, *args, **kwargs)
        if not getattr(_EVALUATING, "active", False):
            _evaluate_composites(self)
        return answer

    patch_object(
        backend_class,
        method,
        changed_then_reevaluated,
        kind="wrap",
        why="composite alarms follow their children's states",
        owner=__name__,
    )


def _evaluate_composites(backend: Any) -> None:
    """Evaluate every composite until none changes; a cycle stops after one round per alarm."""
    _EVALUATING.active = True
    changes: list[dict[str, Any]] = []
    try:
        composites = [alarm for alarm in backend.alarms.values() if alarm.rule is not None]
        for _ in range(len(composites) + 1):
            changed = [c for c in (_evaluate(backend, alarm) for alarm in composites) if c]
            if not changed:
                break
            changes += changed
    finally:
        _EVALUATING.active = False
    for change in changes:
        _publish(backend, change)


def _evaluate(backend: Any, alarm: Any) -> dict[str, Any] | None:
    from asg_refresh_local.clock import CLOCK

    try:
        rule = parse_rule(alarm.rule)
    except RuleError:
        return None
    alarms = backend.alarms

    def state_of(name: str) -> str | None:
        child = alarms.get(name)
        return None if child is None else str(child.state_value)

    value = "ALARM" if holds(rule, state_of) else "OK"
    if value == alarm.state_value:
        return None
    now = CLOCK.now()
    triggering = [
        alarms[name] for name in children(rule) if name in alarms and _satisfies(rule, name, state_of)
    ]
    previous = _state_detail(alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm)
    reason = _reason(triggering, value, now)
    reason_data = json.dumps(
        {
            "triggeringAlarms": [
                {"arn": c.alarm_arn, "state": {"value": c.state_value, "timestamp": _stamp(now)}}
                for c in triggering
            ]
        }
    )
    alarm.history.append(("StateUpdate", alarm.state_reason, alarm.state_reason_data, alarm.state_value, now))
    alarm.state_value, alarm.state_reason, alarm.state_reason_data = value, reason, reason_data
    alarm.state_updated_timestamp = now
    alarm.state_transitioned_timestamp = now
    return {
        "alarm": alarm,
        "time": now,
        "state": {**_state_detail(value, reason, reason_data, alarm), "timestamp": _stamp(now)},
        "previousState": previous,
    }


def _satisfies(rule: Rule, name: str, state_of: Callable[[str], str | None]) -> bool:
    """Whether ``name``'s state satisfies one of the rule's functions of it (a triggering child)."""
    if isinstance(rule, StateOf):
        return rule.alarm == name and state_of(name) == rule.state
    if isinstance(rule, Not):
        return _satisfies(rule.operand, name, state_of)
    if isinstance(rule, BothOrEither):
        return _satisfies(rule.left, name, state_of) or _satisfies(rule.right, name, state_of)
    return False


def _reason(triggering: list[Any], value: str, now: datetime) -> str:
    if not triggering:
        return f"The alarm rule evaluated to {'TRUE' if value == 'ALARM' else 'FALSE'}"
    when = now.strftime("%A %d %B, %Y %H:%M:%S UTC")
    child = triggering[0]
    return f"{child.alarm_arn} transitioned to {child.state_value} at {when}"


def _state_detail(value: str, reason: str, reason_data: str, alarm: Any) -> dict[str, Any]:
    stamp = alarm.state_updated_timestamp
    detail = {"value": value, "reason": reason, "reasonData": reason_data}
    if isinstance(stamp, datetime):
        detail["timestamp"] = _stamp(stamp)
    return detail


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def _publish(backend: Any, change: dict[str, Any]) -> None:
    """The state change on the default bus, as CloudWatch sends it (best effort here: a target
    moto cannot reach must not fail the alarm's own call)."""
    from moto.events.models import events_backends

    alarm = change["alarm"]
    detail = {
        "alarmName": alarm.name,
        "state": change["state"],
        "previousState": change["previousState"],
        "configuration": {"alarmRule": alarm.rule, "description": alarm.description or ""},
    }
    entry = {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Detail": json.dumps(detail),
        "Resources": [alarm.alarm_arn],
        "Time": int(change["time"].timestamp()),
    }
    try:
        events_backends[backend.account_id][backend.region_name].put_events([entry])
    except Exception:
        log.warning("could not deliver the state change of %s", alarm.name, exc_info=True)
