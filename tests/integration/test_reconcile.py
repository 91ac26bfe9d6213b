"""ReconcileWatchers at the scale of a fleet: a run's calls follow the refreshes under way, not the
groups, and every active refresh of an opted-in group still gets exactly one watcher, whether the
product started it or not (its started event, or the sweep when the event is lost).

Calls are counted with a botocore event hook (``before-call``) on every Session built during the
test, and attributed to the reconciler by its role's access key: no timing anywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.handlers
import pytest

from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.dal.clients import reset_clients
from asg_refresh.logic.reconcile import SWEEP_GROUPS_PER_RUN
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.delivery import DISPATCHER

SCHEDULE = "ReconcileWatchersFunctionEvery5Minutes"
STARTED_RULE = "ReconcileWatchersFunctionRefreshStarted"
ROLE = "ReconcileWatchersFunctionRole"


class CallCounter:
    """Every API call made on a Session built after :meth:`install`, with its access key."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def _record(self, model: Any, request_signer: Any, **_: Any) -> None:
        credentials = getattr(request_signer, "_credentials", None)
        key = getattr(credentials, "access_key", None) if credentials is not None else None
        self.calls.append((model.name, key))

    def install(self) -> None:
        botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self._record))
        reset_clients()  # the product's cached Sessions were built before the hook

    def uninstall(self) -> None:
        botocore.handlers.BUILTIN_HANDLERS.remove(("before-call", self._record))
        reset_clients()

    def by(self, access_key: str) -> Counter[str]:
        return Counter(name for name, key in self.calls if key == access_key)


@pytest.fixture
def counter() -> Iterator[CallCounter]:
    counting = CallCounter()
    counting.install()
    try:
        yield counting
    finally:
        counting.uninstall()


def reconciler_key(app: LocalApp) -> str:
    assert app.policies is not None
    (principal,) = [p for p in app.policies.principals.values() if p.role_logical_id == ROLE]
    return principal.access_key_id


def audit(app: LocalApp) -> AuditStore:
    return AuditStore(AwsGateway(app.region), app.physical_id("AuditTable"))


def start_by_hand(app: LocalApp, group: str) -> str:
    """StartInstanceRefresh as an operator would, then let its started event be delivered."""
    autoscaling = app.client("autoscaling")
    refresh_id = str(
        autoscaling.start_instance_refresh(
            AutoScalingGroupName=group, Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 60}
        )["InstanceRefreshId"]
    )
    app.advance(30)  # Pending, then InProgress: the started event
    autoscaling.describe_instance_refreshes(AutoScalingGroupName=group)
    DISPATCHER.drain()
    return refresh_id


def checks(app: LocalApp) -> list[dict[str, Any]]:
    answer = app.invocations("ReconcileWatchersFunction")[-1]
    assert not answer.errored
    return list((answer.result or {})["data"]["checks"])


def scheduled_run(app: LocalApp) -> list[dict[str, Any]]:
    app.fire_schedule(SCHEDULE)
    return checks(app)


def test_a_refresh_started_by_hand_is_sighted_from_its_event_and_watched_at_the_next_run(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given an opted-in group whose refresh an operator starts by hand
    fleet.group("web", fleet.image("golden-1"), size=2)
    refresh_id = start_by_hand(app, "web")

    # Then its started event reached the reconciler, which noted the refresh and started nothing yet
    [event_run] = app.invocations("ReconcileWatchersFunction")
    assert event_run.event["detail-type"] == "EC2 Auto Scaling Instance Refresh Started"
    assert checks(app) == [
        {"group": "web", "refresh_id": refresh_id, "action": "sighted", "execution_name": None}
    ]
    [sighting] = audit(app).unfinished_refreshes()
    assert (sighting["item"], sighting["group"], sighting["refresh_id"]) == ("sighting", "web", refresh_id)
    assert app.executions("WatchRefreshStateMachine") == []

    # When the schedule runs, twice
    first, second = scheduled_run(app), scheduled_run(app)

    # Then one watcher, named after the refresh, was started and then left alone
    assert [(c["action"], c["execution_name"]) for c in first] == [("started", f"refresh-{refresh_id}")]
    assert [(c["action"], c["execution_name"]) for c in second] == [("watched", f"refresh-{refresh_id}")]
    (execution,) = app.executions("WatchRefreshStateMachine")
    assert app.wait_for_execution(execution["executionArn"])["status"] == "SUCCEEDED"

    # And once the refresh has ended, the next run takes it off the list and asks about it no more
    assert scheduled_run(app) == []
    assert audit(app).unfinished_refreshes() == []


def test_a_refresh_whose_event_was_lost_is_found_by_the_sweep(app: LocalApp, fleet: Fleet) -> None:
    # Given more opted-in groups than a run sweeps, and the started events lost (the rule off)
    image = fleet.image("golden-1")
    names = [f"g-{i:02d}" for i in range(SWEEP_GROUPS_PER_RUN + 5)]
    for name in names:
        fleet.group(name, image, size=0 if name != names[-1] else 2)
    app.client("events").disable_rule(Name=app.physical_id(STARTED_RULE))
    refresh_id = start_by_hand(app, names[-1])
    assert app.invocations("ReconcileWatchersFunction") == []

    # When the schedule runs: the first run sweeps the first page of groups, the second the rest
    first, second = scheduled_run(app), scheduled_run(app)

    # Then the second run found the refresh, started its watcher and noted the refresh
    assert first == []
    assert [(c["group"], c["action"]) for c in second] == [(names[-1], "started")]
    [sighting] = audit(app).unfinished_refreshes()
    assert sighting["refresh_id"] == refresh_id

    # And the next run, back on the first page of the sweep, still looks after it through the note
    assert [(c["group"], c["action"]) for c in scheduled_run(app)] == [(names[-1], "watched")]
    assert len(app.executions("WatchRefreshStateMachine")) == 1


def test_the_dead_watcher_of_a_refresh_started_by_hand_is_replaced(
    app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a refresh started by hand on a group its alarm guards, whose watcher dies on an error
    # it cannot get past (its alarms cannot be read)
    fleet.alarm("web-5xx")
    fleet.group("web", fleet.image("golden-1"), size=2, alarms=["web-5xx"])
    refresh_id = start_by_hand(app, "web")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cloudwatch is having a bad day")

    working = AwsGateway.describe_alarms
    monkeypatch.setattr(AwsGateway, "describe_alarms", broken)
    [started] = scheduled_run(app)
    assert started["action"] == "started"
    (execution,) = app.executions("WatchRefreshStateMachine")
    assert app.wait_for_execution(execution["executionArn"])["status"] == "FAILED"
    assert fleet.refreshes("web")[0]["Status"] in {"Pending", "InProgress"}
    monkeypatch.setattr(AwsGateway, "describe_alarms", working)

    # When the schedule runs again
    replaced = scheduled_run(app)

    # Then a second watcher takes over, and sees the refresh through
    assert [(c["action"], c["execution_name"]) for c in replaced] == [("started", f"refresh-{refresh_id}-2")]
    replacement = next(e for e in app.executions("WatchRefreshStateMachine") if e["name"].endswith("-2"))
    assert app.wait_for_execution(replacement["executionArn"])["status"] == "SUCCEEDED"
    assert scheduled_run(app) == []


def test_an_idle_fleet_costs_the_same_calls_a_run_at_any_size(
    app: LocalApp, fleet: Fleet, counter: CallCounter
) -> None:
    key = reconciler_key(app)
    image = fleet.image("golden-1")

    def run_over(size: int) -> Counter[str]:
        for i in range(len(fleet_groups), size):
            fleet.group(f"idle-{i:03d}", image, size=0)
            fleet_groups.append(i)
        before = counter.by(key)
        app.fire_schedule(SCHEDULE)
        assert checks(app) == []
        return counter.by(key) - before

    fleet_groups: list[int] = []
    # Given idle opted-in groups, a page of the sweep or more; when the schedule runs over each size
    runs = {
        size: run_over(size)
        for size in (SWEEP_GROUPS_PER_RUN, 3 * SWEEP_GROUPS_PER_RUN, 7 * SWEEP_GROUPS_PER_RUN)
    }

    # Then every run makes the same calls: the unfinished refreshes (one query), the sweep's place
    # (read and written), one page of groups and one DescribeInstanceRefreshes per group of the page
    expected = Counter(
        {
            "Query": 1,
            "GetItem": 1,
            "PutItem": 1,
            "DescribeAutoScalingGroups": 1,
            "DescribeInstanceRefreshes": SWEEP_GROUPS_PER_RUN,
        }
    )
    assert all(calls == expected for calls in runs.values()), runs


def test_a_refresh_the_product_started_keeps_its_one_watcher_through_its_event(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a deployment StartRefresh started and watches, whose started event is delivered too
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    answer = app.invoke("StartRefreshFunction", {"image_id": new, "groups": ["web"], "deployment_id": "d-1"})
    [refresh] = answer["data"]["refreshes"]
    app.advance(30)
    app.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName="web")
    DISPATCHER.drain()
    assert {item["item"] for item in audit(app).unfinished_refreshes()} == {
        "sighting",
        f"refresh#web#{refresh['refresh_id']}",
    }

    # When the schedule runs
    [check] = scheduled_run(app)

    # Then the product's watcher is the one, and the sighting is dropped as redundant
    assert (check["action"], check["execution_name"]) == ("watched", f"refresh-{refresh['refresh_id']}")
    [item] = audit(app).unfinished_refreshes()
    assert (item["item"], item["deployment_id"]) == (f"refresh#web#{refresh['refresh_id']}", "d-1")

    # And once the watcher has reported the outcome, nothing is left to look after
    assert app.wait_for_execution(refresh["execution_arn"])["status"] == "SUCCEEDED"
    assert audit(app).unfinished_refreshes() == []
    assert len(app.executions("WatchRefreshStateMachine")) == 1


def test_a_sweep_token_that_no_longer_works_starts_the_sweep_again(app: LocalApp, fleet: Fleet) -> None:
    # Given the sweep's place names a page that is gone (its group deleted since)
    # and a refresh whose started event was lost
    fleet.group("web", fleet.image("golden-1"), size=2)
    app.client("events").disable_rule(Name=app.physical_id(STARTED_RULE))
    refresh_id = start_by_hand(app, "web")
    audit(app).record_sweep_cursor("a-group-deleted-since")

    # When the schedule runs, it sweeps from the first page instead of failing at every run
    assert [(c["group"], c["refresh_id"]) for c in scheduled_run(app)] == [("web", refresh_id)]
    assert audit(app).sweep_cursor() is None
