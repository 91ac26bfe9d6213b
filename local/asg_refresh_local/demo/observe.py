"""What the demo shows, read back from AWS: refresh progress, instances, the watcher's steps.

Everything comes through the public APIs (DescribeInstanceRefreshes, DescribeAutoScalingGroups,
DescribeInstances, GetExecutionHistory), as an operator's console would read it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asg_refresh.models.refresh import ACTIVE_STATUSES
from asg_refresh_local.clock import CLOCK
from asg_refresh_local.demo.scenarios import Scenario
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

#: Steps worth a line of their own (the poll loop is summarised once per poll instead).
NOTABLE_STEPS = {
    "Roll back the refresh": "red",
    "Cancel the refresh": "red",
    "Record the broken watch": "red",
    "Publish the outcome": "cyan",
}

#: The refresh statuses at which the watcher checks its gates (logic/watch.py, needs_gates).
GATED_STATUSES = ACTIVE_STATUSES


#: Statuses whose PercentageComplete counts replaced instances (forward, or back down on rollback).
PROGRESSING = frozenset({"InProgress", "Baking", "RollbackInProgress"})
TERMINAL = frozenset({"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"})


@dataclass
class LogLine:
    virtual_seconds: float
    group: str
    text: str
    style: str = ""
    #: A poll that changed nothing: shown live, left out of the plain output.
    minor: bool = False


@dataclass
class GroupView:
    name: str
    size: int
    opted_in: bool
    status: str = "-"
    percentage: int = 0
    replaced: int = 0
    peak_replaced: int = 0
    rolling_back: bool = False
    counted: bool = False
    refresh_id: str | None = None
    execution_arn: str | None = None
    step: str = ""
    execution_status: str | None = None
    steps_seen: set[str] = field(default_factory=set)
    finished_virtual: float | None = None
    finished_wall: float | None = None
    history_seen: int = 0
    last_poll: tuple[Any, ...] | None = None
    pending_describe: dict[str, Any] = field(default_factory=dict)


class Observer:
    def __init__(self, app: LocalApp, fleet: Fleet, scenario: Scenario, new_image: str) -> None:
        self.app = app
        self.fleet = fleet
        self.scenario = scenario
        self.new_image = new_image
        self.groups = {plan.name: GroupView(plan.name, plan.size, plan.opted_in) for plan in scenario.groups}
        self.log: list[LogLine] = []
        self.start_virtual: datetime = CLOCK.now()
        self.start_wall = time.monotonic()

    # -- time ----------------------------------------------------------------------------------------

    def virtual_elapsed(self) -> float:
        return (CLOCK.now() - self.start_virtual).total_seconds()

    def wall_elapsed(self) -> float:
        return time.monotonic() - self.start_wall

    def note(self, group: str, text: str, style: str = "", *, minor: bool = False) -> None:
        self.log.append(LogLine(self.virtual_elapsed(), group, text, style, minor))

    # -- reading AWS ---------------------------------------------------------------------------------

    def watch(self, group: str, refresh_id: str, execution_arn: str | None) -> None:
        view = self.groups[group]
        view.refresh_id, view.execution_arn = refresh_id, execution_arn

    def poll(self) -> None:
        """Read progress (DescribeInstanceRefreshes) and the watchers' new steps."""
        for view in self.groups.values():
            self._poll_refresh(view)
        self.poll_history()

    def poll_history(self) -> None:
        """Read the watchers' new steps; cheap, so it runs before every move of the clock and each
        line gets the exact virtual time it happened at."""
        for view in self.groups.values():
            if view.execution_arn and view.finished_virtual is None:
                self._read_history(view)

    def _poll_refresh(self, view: GroupView) -> None:
        refreshes = self.fleet.refreshes(view.name)
        if not refreshes:
            return
        latest = refreshes[0]
        view.refresh_id = view.refresh_id or str(latest["InstanceRefreshId"])
        view.status = str(latest.get("Status", "-"))
        view.percentage = int(latest.get("PercentageComplete") or 0)
        view.rolling_back = "RollbackDetails" in latest
        if view.status in PROGRESSING:
            view.replaced = round(view.size * view.percentage / 100)
        elif view.status in TERMINAL and not view.counted:
            # Count once at the end: a refresh cancelled while Pending reports 100 %.
            view.counted = True
            view.replaced = self.fleet.instance_images(view.name).count(self.new_image)
        view.peak_replaced = max(view.peak_replaced, view.replaced)

    def _read_history(self, view: GroupView) -> None:
        assert view.execution_arn is not None
        events = execution_history(self.app, view.execution_arn)
        for event in events[view.history_seen :]:
            self._history_event(view, event)
        view.history_seen = len(events)

    def _history_event(self, view: GroupView, event: dict[str, Any]) -> None:
        kind = str(getattr(event["type"], "value", event["type"]))
        if entered := event.get("stateEnteredEventDetails"):
            view.step = str(entered["name"])
            view.steps_seen.add(view.step)
            if view.step in NOTABLE_STEPS:
                self.note(view.name, f"state machine: {view.step}", NOTABLE_STEPS[view.step])
        elif exited := event.get("stateExitedEventDetails"):
            self._state_exited(view, str(exited["name"]), _json(exited.get("output")))
        elif failed := event.get("taskFailedEventDetails"):
            cause = _json(failed.get("cause"))
            message = (
                next((cause[k] for k in ("Message", "message", "errorMessage") if cause.get(k)), None)
                if isinstance(cause, dict)
                else cause
            )
            self.note(view.name, f"  {failed.get('error')}: {message or ''}".rstrip(": "), "yellow")
        elif kind in {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}:
            view.execution_status = kind.removeprefix("Execution").upper()
            view.finished_virtual, view.finished_wall = self.virtual_elapsed(), self.wall_elapsed()
            error = (event.get("executionFailedEventDetails") or {}).get("error")
            style = "green" if kind == "ExecutionSucceeded" else "red"
            self.note(
                view.name,
                f"watcher {view.execution_status.lower()}" + (f" ({error})" if error else ""),
                style,
            )

    def _state_exited(self, view: GroupView, name: str, output: Any) -> None:
        if not isinstance(output, dict):
            return
        if name == "Describe the refresh":
            refreshes = (output.get("describe") or {}).get("InstanceRefreshes") or [{}]
            view.pending_describe = refreshes[0]
        elif name == "Evaluate the gates":
            refresh, decision = view.pending_describe, output.get("decision") or {}
            verdicts = [v for v in (output.get("watch") or {}).get("verdicts") or [] if isinstance(v, dict)]
            status, percentage = refresh.get("Status", "?"), refresh.get("PercentageComplete", 0)
            if status not in GATED_STATUSES:
                # The watcher checks no gate while a refresh rolls back, cancels or has ended: its
                # verdicts are the last ones it took, which would read as "OK" after an ALARM.
                verdicts = []
            gate = "; ".join(str(v.get("summary", v.get("gate", "?"))) for v in verdicts) or (
                "-" if status in GATED_STATUSES else "not checked now"
            )
            action = str(decision.get("action", "?"))
            then = f"wait {decision.get('wait_seconds')} s" if action == "wait" else action
            poll = (status, percentage, gate, action)
            minor = poll == view.last_poll
            view.last_poll = poll
            style = "" if all(v.get("passed", True) for v in verdicts) else "red"
            self.note(view.name, f"poll: {status} {percentage}% · gates: {gate} → {then}", style, minor=minor)

    # -- results ---------------------------------------------------------------------------------

    def outcomes(self) -> list[dict[str, Any]]:
        """The outcome documents the watcher published on the notifications topic."""
        found = []
        for message in self.app.messages("NotificationsTopic"):
            body = message["Body"]
            text = body.get("Message") if isinstance(body, dict) else None
            if isinstance(text, str):
                found.append(json.loads(text))
        return found


def execution_history(app: LocalApp, execution_arn: str) -> list[dict[str, Any]]:
    """GetExecutionHistory's events, read in-process from moto's backend when it runs here.

    moto has no paging for this call and serialises the whole history every time (about 0.3 s for
    a watcher's hundred events): read before every move of the clock, that alone would make a
    flat-out run take a minute. The backend's answer is the same document, unserialised.
    """
    if app.endpoint_url is not None:
        return app.history(execution_arn)
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[app.account_id][app.region]
    events: list[dict[str, Any]] = [
        dict(event) for event in backend.get_execution_history(execution_arn)["events"]
    ]
    return events


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
