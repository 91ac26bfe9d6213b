"""The watcher's input has one builder, and the state machine's choices match the model's actions."""

from __future__ import annotations

import json
from typing import Any, get_args

from asg_refresh.logic.watch_input import WATCH_BASE_BUDGET_SECONDS, watch_budget_seconds, watch_payload
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.watch import Action, WatchInput, WatchProgress
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
