"""The watcher's input has one builder, and the state machine's choices match the model's actions."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from pydantic import BaseModel

from asg_refresh.logic.watch_input import WATCH_BASE_BUDGET_SECONDS, watch_budget_seconds, watch_payload
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.watch import (
    Action,
    ApproveDecision,
    Decision,
    RestartDecision,
    WatchInput,
    WatchProgress,
    WatchState,
)
from asg_refresh_local.samples import PROJECT_ROOT

HOURS = 3600


def watch(**preferences: Any) -> WatchInput:
    return WatchInput(
        deployment_id="d",
        group="web",
        refresh_id="r",
        image_id="ami-0123456789abcdef0",
        launch_template_id="lt-1",
        preferences=preferences,
    )


def test_the_budget_covers_every_checkpoint_delay_and_the_bake() -> None:
    preferences = {"CheckpointPercentages": [50, 100], "CheckpointDelay": 48 * HOURS, "BakeTime": 600}

    budget = watch_budget_seconds(preferences, GateConfig())

    assert budget == WATCH_BASE_BUDGET_SECONDS + 2 * 48 * HOURS + 600
    assert budget > 96 * HOURS  # the model's 24-hour default would cancel such a refresh halfway


def test_held_checkpoints_are_not_waited_out_but_approvals_are() -> None:
    preferences = {"CheckpointPercentages": [50], "CheckpointDelay": 48 * HOURS}
    gates = GateConfig.model_validate({"hold_at_checkpoints": True, "approval": {"timeout_seconds": 7200}})

    assert watch_budget_seconds(preferences, gates) == WATCH_BASE_BUDGET_SECONDS + 7200


def test_an_adopted_watch_keeps_its_progress_and_gets_the_budget() -> None:
    progress = WatchProgress(requested="rollback", reason="adopted")

    payload = watch_payload(watch(CheckpointPercentages=[50], CheckpointDelay=48 * HOURS), progress)

    assert payload["watch"]["requested"] == "rollback"
    assert payload["watch"]["budget_seconds"] == WATCH_BASE_BUDGET_SECONDS + 48 * HOURS
    assert payload["group"] == "web"


def _choice_actions(states: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for state in states.values():
        for choice in state.get("Choices", []):
            if choice.get("Variable") == "$.decision.action":
                found.add(choice["StringEquals"])
        for nested in ("Iterator", "ItemProcessor"):
            if nested in state:
                found |= _choice_actions(state[nested]["States"])
    return found


def test_the_state_machine_chooses_only_actions_the_model_knows_and_misses_none() -> None:
    definition = json.loads((PROJECT_ROOT / "statemachine" / "watch_refresh.asl.json").read_text())

    chosen = _choice_actions(definition["States"])

    assert chosen <= set(get_args(Action))
    # "report" is the Choice's default branch: every other action has its own.
    assert set(get_args(Action)) - chosen == {"report"}


#: Each action's model, by its ``action`` literal.
DECISIONS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["action"].annotation)[0]: model for model in get_args(get_args(Decision)[0])
}
DECISION_PATH = re.compile(r"\$\.decision\.(\w+)")
#: The task that replaces the decision: what follows it reads the next one.
DECIDES = "Evaluate the gates"


def _successors(state: dict[str, Any]) -> list[str]:
    found = [state.get("Next"), state.get("Default")]
    found += [branch.get("Next") for branch in state.get("Choices", []) + state.get("Catch", [])]
    return [name for name in found if name]


def _decision_fields_read_from(states: dict[str, Any], start: str) -> set[str]:
    """The ``$.decision`` fields every state reachable from ``start`` reads, up to the next decision."""
    read: set[str] = set()
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name == DECIDES:
            continue
        seen.add(name)
        read |= set(DECISION_PATH.findall(json.dumps(states[name])))
        todo += _successors(states[name])
    return read


def _required(model: type[BaseModel]) -> set[str]:
    return {name for name, field in model.model_fields.items() if field.is_required()}


def test_every_action_carries_exactly_the_decision_fields_the_state_machine_reads_after_it() -> None:
    states = json.loads((PROJECT_ROOT / "statemachine" / "watch_refresh.asl.json").read_text())["States"]
    [choice] = [s for s in states.values() if s["Type"] == "Choice" and "decision" in json.dumps(s)]
    branches = {c["StringEquals"]: c["Next"] for c in choice["Choices"]} | {"report": choice["Default"]}

    read = {action: _decision_fields_read_from(states, start) for action, start in branches.items()}

    assert set(DECISIONS) == set(get_args(Action)) == set(read)
    # Required (never missing where a path reads it: Step Functions fails on a missing path),
    # and nothing required that no state reads.
    assert {action: _required(model) for action, model in DECISIONS.items()} == read
    assert read["report"] == set()
    assert read["wait"] == {"wait_seconds"}


def test_a_decision_written_before_the_union_is_read_as_its_actions_model() -> None:
    # An execution in flight across an upgrade carries the single model's every field.
    before = {"wait_seconds": 0, "checkpoint": None, "restart_preferences": None, "continue_as": None}
    approve = WatchState.model_validate(
        watch().model_dump() | {"decision": before | {"action": "approve", "checkpoint": 50}}
    )
    restart = WatchState.model_validate(
        watch().model_dump()
        | {"decision": before | {"action": "restart", "wait_seconds": 15, "restart_preferences": {}}}
    )

    assert approve.decision == ApproveDecision(checkpoint=50)
    assert restart.decision == RestartDecision(wait_seconds=15, restart_preferences={})
    # and what it writes now is what it reads back
    assert WatchState.model_validate(restart.model_dump(mode="json")) == restart
    assert restart.model_dump(mode="json")["decision"] == {
        "action": "restart",
        "wait_seconds": 15,
        "restart_preferences": {},
    }
