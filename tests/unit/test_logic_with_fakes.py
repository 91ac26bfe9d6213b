"""Alarm rollback and the reconciler on the in-memory ports (tests/fakes): no moto, milliseconds."""

from __future__ import annotations

import json

import pytest

from asg_refresh.dal.records import Execution
from asg_refresh.logic.alarm_rollback import roll_back_for_alarm
from asg_refresh.logic.reconcile import MAX_WATCHERS_PER_REFRESH, reconcile_watchers
from asg_refresh.settings import Settings
from tests.fakes import FakeAudit, FakeAws

OPT_IN = {"asg-refresh:enabled": "true"}
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:watch"


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
