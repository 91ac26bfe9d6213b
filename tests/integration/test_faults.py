"""AWS faults and crashes: retried, reported, and no refresh ever left without its watcher."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from asg_refresh.dal import retry
from asg_refresh.dal.aws import AwsGateway
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.wait_scheduler import SCHEDULER
from tests.integration.conftest import outcomes


@pytest.fixture(autouse=True)
def recorded_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Back-off delays are recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(retry, "sleep", delays.append)
    return delays


def deploy(app: LocalApp, image_id: str, group: str, **extra: Any) -> dict[str, Any]:
    return app.invoke("StartRefreshFunction", {"image_id": image_id, "groups": [group], **extra})


def test_throttling_and_contention_are_retried_with_backoff(
    app: LocalApp, fleet: Fleet, emulation: Any, recorded_backoff: list[float]
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    emulation.faults.throttle("StartInstanceRefresh", times=2)
    # (the start describes no refresh before starting one: contention meets its scan of the groups)
    emulation.faults.contention("DescribeAutoScalingGroups", times=1)

    answer = deploy(app, new, "web")

    assert answer["success"] is True, answer
    assert len(recorded_backoff) == 3
    assert len(fleet.refreshes("web")) == 1


def test_persistent_contention_is_retryable_and_leaves_nothing_half_started(
    app: LocalApp, fleet: Fleet, emulation: Any
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    emulation.faults.contention("StartInstanceRefresh", times=50)

    answer = deploy(app, new, "web")

    assert answer["success"] is False
    assert answer["error"]["code"] == "AWS_UNAVAILABLE"
    assert fleet.refreshes("web") == []
    assert len(fleet.launch_template_versions("web")) == 1


def test_watcher_retries_a_throttled_describe(app: LocalApp, fleet: Fleet, emulation: Any) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    answer = deploy(app, new, "web")
    emulation.faults.throttle("DescribeInstanceRefreshes", times=2)

    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert fleet.instance_images("web") == [new] * 2


def test_a_refresh_that_vanishes_is_reported(app: LocalApp, fleet: Fleet, emulation: Any) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    answer = deploy(app, new, "web")
    emulation.faults.vanish(answer["data"]["refreshes"][0]["refresh_id"])

    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])

    assert execution["status"] == "FAILED"
    assert execution["error"] == "RefreshNotFound"
    (outcome,) = outcomes(app)
    assert outcome["reason"] == "the instance refresh can no longer be found"


def test_a_crash_between_start_and_watch_is_healed(
    app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given StartRefresh dies (a timeout, say) after starting the refresh but before its watcher
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    real_start_execution = AwsGateway.start_execution

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("Task timed out after 300.00 seconds")

    monkeypatch.setattr(AwsGateway, "start_execution", crash)
    crashed = deploy(app, new, "web", deployment_id="release-7")
    assert "errorMessage" in crashed
    (refresh,) = fleet.refreshes("web")
    assert app.executions("WatchRefreshStateMachine") == []
    monkeypatch.setattr(AwsGateway, "start_execution", real_start_execution)

    # When the scheduled reconciler runs, twice
    first = app.invoke("ReconcileWatchersFunction", {})
    second = app.invoke("ReconcileWatchersFunction", {})

    # Then exactly one watcher was started, and it sees the refresh through
    assert [c["action"] for c in first["data"]["checks"]] == ["started"]
    assert [c["action"] for c in second["data"]["checks"]] == ["watched"]
    (execution,) = app.executions("WatchRefreshStateMachine")
    assert execution["name"] == f"refresh-{refresh['InstanceRefreshId']}"
    assert app.wait_for_execution(execution["executionArn"])["status"] == "SUCCEEDED"

    # And the event's redelivery (the crash released its idempotency record) changes nothing
    again = deploy(app, new, "web", deployment_id="release-7")
    assert again["data"]["skipped"][0]["code"] == "ALREADY_UP_TO_DATE"
    assert len(app.executions("WatchRefreshStateMachine")) == 1


def test_a_dead_watcher_is_replaced(app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a watcher that dies on an error it cannot get past (its alarms cannot be read)
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx")
    fleet.group("web", old, size=2, alarms=["web-5xx"])

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cloudwatch is having a bad day")

    working = AwsGateway.describe_alarms
    monkeypatch.setattr(AwsGateway, "describe_alarms", broken)
    answer = deploy(app, new, "web")
    first = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    assert first["status"] == "FAILED"
    assert json.loads(first["cause"])["status"] == "WatchFailed"
    assert fleet.refreshes("web")[0]["Status"] in {"Pending", "InProgress"}
    monkeypatch.setattr(AwsGateway, "describe_alarms", working)

    # When the reconciler runs
    checks = app.invoke("ReconcileWatchersFunction", {})["data"]["checks"]

    # Then a second watcher takes over and sees the refresh through
    assert checks[0]["action"] == "started"
    assert checks[0]["execution_name"].endswith("-2")
    replacement = next(e for e in app.executions("WatchRefreshStateMachine") if e["name"].endswith("-2"))
    assert app.wait_for_execution(replacement["executionArn"])["status"] == "SUCCEEDED"
    assert fleet.instance_images("web") == [new] * 2


def test_audit_trail_records_the_deployment_and_its_outcome(app: LocalApp, fleet: Fleet) -> None:
    from asg_refresh.dal.audit import AuditStore

    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    answer = deploy(app, new, "web", deployment_id="release-9")
    app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])

    store = AuditStore(AwsGateway("us-east-1"), app.physical_id("AuditTable"))
    items = {item["item"]: item for item in store.deployment("release-9")}

    deployment = items["deployment"]
    assert deployment["image_id"] == new
    assert deployment["groups"] == ["web"]
    (refresh_item,) = [v for k, v in items.items() if k.startswith("refresh#web#")]
    assert refresh_item["status"] == "Successful"
    assert refresh_item["launch_template_version"] == 2
    assert refresh_item["outcome"]["succeeded"] is True
    assert refresh_item["outcome"]["started_at"]
    assert store.recent_deployments()[0]["deployment_id"] == "release-9"
    assert json.dumps(items)  # everything in it is plain JSON


def test_a_failed_rollback_is_reported(app: LocalApp, fleet: Fleet, emulation: Any) -> None:
    # Given an alarm that fires during the refresh, and launches that fail from then on
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx")
    fleet.group("web", old, size=4, alarms=["web-5xx"])
    answer = deploy(
        app,
        new,
        "web",
        preferences={
            "MinHealthyPercentage": 50,
            "InstanceWarmup": 60,
            "CheckpointPercentages": [50],
            "CheckpointDelay": 600,
            "AlarmSpecification": {"Alarms": []},
        },
    )

    def break_at_checkpoint(now: Any) -> None:
        if any(sample.get("event") == "checkpoint" for sample in emulation.timeline("web")):
            fleet.set_alarm("web-5xx", "ALARM", "5xx")
            emulation.faults.fail_launches("web")

    from asg_refresh_local.clock import CLOCK

    CLOCK.add_listener(break_at_checkpoint)
    try:
        execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    finally:
        CLOCK.remove_listener(break_at_checkpoint)

    # Then the rollback fails, and the outcome says so loudly
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RefreshRollbackFailed"
    (outcome,) = outcomes(app)
    assert outcome["status"] == "RollbackFailed"
    assert outcome["requested"] == "rollback"
    assert outcome["failed_gate"]["gate"] == "cloudwatch-alarms"


def test_limit_exceeded_is_reported_and_leaves_nothing_half_started(
    app: LocalApp, fleet: Fleet, emulation: Any
) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    emulation.limits.refreshes_per_group_per_day = 0

    answer = deploy(app, new, "web")

    assert answer["success"] is False
    assert answer["error"]["code"] == "LIMIT_EXCEEDED"
    assert fleet.refreshes("web") == []
    assert len(fleet.launch_template_versions("web")) == 1


def test_a_long_watch_continues_in_fresh_executions_and_reports_once(
    app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given executions that hand over after 3 polls (Step Functions keeps 25,000 events each; the
    # product hands over after 1,000 polls), and a refresh that takes longer than that to watch
    from asg_refresh.logic import watch as watch_logic

    monkeypatch.setattr(watch_logic, "POLLS_PER_EXECUTION", 3)
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)
    answer = deploy(app, new, "web")
    first = answer["data"]["refreshes"][0]["execution_arn"]

    # When it is watched to the end
    app.wait_for_all_executions()

    # Then a chain of executions watched it, each handing over to the next, the last one reporting
    executions = sorted(app.executions("WatchRefreshStateMachine"), key=lambda e: e["startDate"])
    assert executions[0]["executionArn"] == first
    assert len(executions) >= 3
    names = [e["name"] for e in executions]
    assert names[1:] == [f"{names[0]}--{n}" for n in range(2, len(names) + 1)]
    outputs = [json.loads(app.wait_for_execution(e["executionArn"])["output"]) for e in executions]
    assert [o.get("continued_as") for o in outputs[:-1]] == names[1:]
    assert outputs[-1]["status"] == "Successful"
    assert fleet.instance_images("web") == [new] * 4
    (outcome,) = outcomes(app)
    assert outcome["polls"] > 3 * (len(executions) - 1)


def test_the_reconciler_follows_a_watch_that_continued(
    app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asg_refresh.logic import watch as watch_logic

    monkeypatch.setattr(watch_logic, "POLLS_PER_EXECUTION", 2)
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=4)
    answer = deploy(app, new, "web", preferences={"MinHealthyPercentage": 75, "InstanceWarmup": 300})
    first = answer["data"]["refreshes"][0]["execution_arn"].rsplit(":", 1)[-1]

    # When the reconciler looks once the first watcher has handed over (time stands still outside
    # `driving`, and the refresh has most of its 24 minutes to go)
    def handed_over() -> bool:
        return any(
            e["name"] == first and e["status"] == "SUCCEEDED"
            for e in app.executions("WatchRefreshStateMachine")
        )

    with SCHEDULER.driving():
        while not handed_over():
            threading.Event().wait(0.005)
    checks = app.invoke("ReconcileWatchersFunction", {})["data"]["checks"]

    # Then it sees the refresh watched, by a later generation of its watcher, and starts none of its own
    ((action, name),) = [(c["action"], c["execution_name"]) for c in checks]
    assert (action, name.partition("--")[0]) == ("watched", first)
    assert name != first
    app.wait_for_all_executions()
    names = [e["name"] for e in app.executions("WatchRefreshStateMachine")]
    assert all(n == first or n.startswith(f"{first}--") for n in names)
    assert len(outcomes(app)) == 1
