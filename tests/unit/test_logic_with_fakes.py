"""Alarm rollback and the reconciler on the in-memory ports (tests/fakes): no moto, milliseconds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asg_refresh.dal.records import Execution
from asg_refresh.logic.alarm_rollback import roll_back_for_alarm
from asg_refresh.logic.reconcile import MAX_WATCHERS_PER_REFRESH, reconcile_watchers
from asg_refresh.models.queue import QueueDrain
from asg_refresh.settings import Settings
from tests.fakes import FakeAudit, FakeAws

OPT_IN = {"asg-refresh:enabled": "true"}
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:watch"
DRAINING = Settings(state_machine_arn=MACHINE, start_refresh_function="start-refresh")


@pytest.fixture
def aws() -> FakeAws:
    return FakeAws()


# --- alarm rollback ---------------------------------------------------------------------------


def test_an_alarm_rolls_back_the_active_refresh_of_each_group_its_tag_names(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN, **{"asg-refresh:alarms": "web-5xx, shared"})
    aws.add_group("api", **OPT_IN, **{"asg-refresh:alarms": "api-5xx"})
    web_refresh = aws.add_refresh("web")
    aws.add_refresh("api")

    result = roll_back_for_alarm("shared", "5xx above 1%", aws, Settings())

    assert [(a.group, a.action, a.refresh_id) for a in result.actions] == [
        ("web", "rolled-back", web_refresh)
    ]
    assert aws.rolled_back == ["web"]
    assert aws.describe_refreshes("api")[0]["Status"] == "InProgress"


def test_an_irreversible_refresh_is_cancelled_instead(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN, **{"asg-refresh:alarms": "web-5xx"})
    refresh_id = aws.add_refresh("web")
    aws.irreversible.add("web")

    [action] = roll_back_for_alarm("web-5xx", "5xx", aws, Settings()).actions

    assert (action.action, action.refresh_id) == ("cancelled", refresh_id)
    assert action.reason is not None
    assert "cancelled instead" in action.reason
    assert (aws.rolled_back, aws.cancelled) == ([], ["web"])


def test_groups_not_opted_in_or_with_nothing_active_are_left_alone(aws: FakeAws) -> None:
    aws.add_group("manual", **{"asg-refresh:alarms": "web-5xx"})
    aws.add_group("idle", **OPT_IN, **{"asg-refresh:alarms": "web-5xx"})
    aws.add_refresh("manual")
    aws.add_refresh("idle", status="Successful")

    actions = roll_back_for_alarm("web-5xx", "5xx", aws, Settings()).actions

    assert sorted((a.group, a.action) for a in actions) == [
        ("idle", "nothing-active"),
        ("manual", "not-opted-in"),
    ]
    assert aws.rolled_back == aws.cancelled == []


def test_a_default_alarm_guards_every_opted_in_group(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN)
    aws.add_group("manual")
    aws.add_refresh("web")
    aws.add_refresh("manual")

    actions = roll_back_for_alarm(
        "fleet-5xx", "5xx", aws, Settings(default_alarm_names=["fleet-5xx"])
    ).actions

    assert [(a.group, a.action) for a in actions] == [("web", "rolled-back")]
    assert aws.rolled_back == ["web"]


# --- reconciler -------------------------------------------------------------------------------


def adopted(aws: FakeAws) -> tuple[str, dict[str, object]]:
    [(name, payload)] = aws.started_executions
    return name, payload


def test_a_refresh_without_a_watcher_is_adopted_with_its_own_budget(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN, **{"asg-refresh:alarms": "web-5xx"})
    aws.templates["lt-1"] = {7: "ami-0123456789abcdef0"}
    preferences = {"CheckpointPercentages": [50], "CheckpointDelay": 172_800}
    refresh_id = aws.add_refresh(
        "web",
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "7"}},
        Preferences=preferences,
    )

    [check] = reconcile_watchers(aws, Settings(state_machine_arn=MACHINE), FakeAudit())

    assert (check.action, check.execution_name) == ("started", f"refresh-{refresh_id}")
    name, payload = adopted(aws)
    assert name == f"refresh-{refresh_id}"
    assert payload["group"] == "web"
    assert payload["refresh_id"] == refresh_id
    assert payload["deployment_id"] == f"adopted-{refresh_id}"
    assert (payload["image_id"], payload["launch_template_version"]) == ("ami-0123456789abcdef0", 7)
    assert payload["alarms"] == ["web-5xx"]
    # 6 h base + one checkpoint of 48 h: more than the model's default of 24 h
    assert payload["watch"]["budget_seconds"] == 6 * 3600 + 172_800  # type: ignore[index]


def test_a_watched_refresh_is_left_alone_even_through_a_continued_watch(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN)
    refresh_id = aws.add_refresh("web")
    base = f"refresh-{refresh_id}"
    aws.executions[base] = Execution(
        name=base, status="SUCCEEDED", output=json.dumps({"continued_as": f"{base}--2"})
    )
    aws.executions[f"{base}--2"] = Execution(name=f"{base}--2", status="RUNNING")

    [check] = reconcile_watchers(aws, Settings(state_machine_arn=MACHINE), FakeAudit())

    assert (check.action, check.execution_name) == ("watched", f"{base}--2")
    assert aws.started_executions == []


def test_a_watcher_that_ended_is_replaced_by_the_next_name(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN)
    refresh_id = aws.add_refresh("web")
    base = f"refresh-{refresh_id}"
    aws.executions[base] = Execution(name=base, status="FAILED")

    [check] = reconcile_watchers(aws, Settings(state_machine_arn=MACHINE), FakeAudit())

    assert (check.action, check.execution_name) == ("started", f"{base}-2")
    assert adopted(aws)[0] == f"{base}-2"


def test_the_audited_watcher_and_deployment_are_kept(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN)
    refresh_id = aws.add_refresh("web")
    aws.executions["resumed"] = Execution(name="resumed", status="RUNNING")
    audit = FakeAudit({refresh_id: {"watcher": "resumed", "deployment_id": "d-1"}})

    [check] = reconcile_watchers(aws, Settings(state_machine_arn=MACHINE), audit)

    assert (check.action, check.execution_name) == ("watched", "resumed")
    assert aws.started_executions == []


def test_the_reconciler_gives_up_after_its_watchers_all_ended(aws: FakeAws) -> None:
    aws.add_group("web", **OPT_IN)
    refresh_id = aws.add_refresh("web")
    base = f"refresh-{refresh_id}"
    for attempt in range(1, MAX_WATCHERS_PER_REFRESH + 1):
        name = base if attempt == 1 else f"{base}-{attempt}"
        aws.executions[name] = Execution(name=name, status="ABORTED")

    [check] = reconcile_watchers(aws, Settings(state_machine_arn=MACHINE), None)

    assert check.action == "gave-up"
    assert aws.started_executions == []


def test_groups_not_opted_in_idle_or_without_a_state_machine_are_not_reconciled(aws: FakeAws) -> None:
    aws.add_group("manual")
    aws.add_group("idle", **OPT_IN)
    aws.add_refresh("manual")
    aws.add_refresh("idle", status="Successful")

    assert reconcile_watchers(aws, Settings(state_machine_arn=MACHINE), None) == []
    aws.add_refresh("idle")
    assert reconcile_watchers(aws, Settings(), None) == []
    assert aws.started_executions == []


# --- reconcile: queues a lost drain left waiting ---------------------------------------------
class Drains:
    def __init__(self) -> None:
        self.asked: list[tuple[str, QueueDrain]] = []

    def request_drain(self, function: str, drain: QueueDrain) -> None:
        self.asked.append((function, drain))


def _queued_behind(aws: FakeAws, status: str, **recorded: Any) -> tuple[str, FakeAudit]:
    aws.add_group("web", **OPT_IN)
    refresh_id = aws.add_refresh("web", status=status)
    queued = {"deployment_id": "queue#web", "item": "queued#d-2.qabc", "group": "web"}
    queued["unfinished"] = "refresh"
    return refresh_id, FakeAudit({refresh_id: {"deployment_id": "d-1", **recorded}, "queued#d-2": queued})


def test_a_queue_whose_watcher_died_is_drained_with_how_the_refresh_ended(aws: FakeAws) -> None:
    refresh_id, audit = _queued_behind(aws, "Successful", watcher="w-1")
    aws.executions["w-1"] = Execution(name="w-1", status="ABORTED")
    drains = Drains()

    checks = reconcile_watchers(aws, DRAINING, audit, drains=drains)

    assert [(c.group, c.action) for c in checks] == [("web", "drained")]
    expected = QueueDrain(group="web", refresh_id=refresh_id, status="Successful")
    assert drains.asked == [("start-refresh", expected)]


def test_a_reported_outcome_is_what_the_drain_is_told(aws: FakeAws) -> None:
    _, audit = _queued_behind(aws, "Cancelled", watcher="w-1", outcome={"status": "RollbackSuccessful"})
    aws.executions["w-1"] = Execution(name="w-1", status="FAILED")
    drains = Drains()

    reconcile_watchers(aws, DRAINING, audit, drains=drains)

    assert [drain.status for _, drain in drains.asked] == ["RollbackSuccessful"]


@pytest.mark.parametrize("status", ["InProgress", "Cancelled"])
def test_a_queue_is_left_to_a_running_refresh_or_a_watcher_that_still_runs(aws: FakeAws, status: str) -> None:
    # InProgress: its watcher drains at the end; Cancelled with a running watcher: a hold
    _, audit = _queued_behind(aws, status, watcher="w-1")
    aws.executions["w-1"] = Execution(name="w-1", status="RUNNING")
    drains = Drains()

    checks = reconcile_watchers(aws, DRAINING, audit, drains=drains)

    assert drains.asked == []
    assert "drained" not in [c.action for c in checks]


def test_a_watcher_that_reported_but_still_runs_drains_its_queue_itself(aws: FakeAws) -> None:
    _, audit = _queued_behind(aws, "Successful", watcher="w-1", outcome={"status": "Successful"})
    aws.executions["w-1"] = Execution(name="w-1", status="RUNNING")
    drains = Drains()

    reconcile_watchers(aws, DRAINING, audit, drains=drains)

    assert drains.asked == []
