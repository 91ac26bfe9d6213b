"""Fleet rollouts in waves: the RolloutWaves state machine end to end on the emulation."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import Any

import pytest

from asg_refresh_local.emulation import emulation_for
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

FAST = {"MinHealthyPercentage": 0, "InstanceWarmup": 0}


def rollout(app: LocalApp, message: dict[str, Any]) -> dict[str, Any]:
    arn = app.start_execution("RolloutWavesStateMachine", message)
    # Wall-clock safety net only: 200 groups, each StartWaveGroup scanning the region (issue 13).
    return app.wait_for_execution(arn, timeout=400)


def rollout_outcomes(app: LocalApp) -> list[dict[str, Any]]:
    bodies = [message["Body"] for message in app.messages("NotificationsTopic")]
    return [
        json.loads(b["Message"]) for b in bodies if b.get("Subject", "").startswith("asg-refresh rollout")
    ]


def start_times(fleet: Fleet, groups: list[str]) -> dict[str, tuple[datetime, datetime]]:
    spans = {}
    for group in groups:
        (refresh,) = fleet.refreshes(group)
        spans[group] = (refresh["StartTime"], refresh["EndTime"])
    return spans


def test_canary_then_shares_of_the_fleet_in_order_under_the_cap(app: LocalApp, fleet: Fleet) -> None:
    # Given two canaries and ten other groups of one instance
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    names = [f"fleet-{n:02d}" for n in range(12)]
    for n, name in enumerate(names):
        fleet.group(name, old, size=1, tags={"asg-refresh:wave": "canary"} if n < 2 else None)

    # When they are rolled out canaries first, then half the fleet, then the rest, three at a time
    execution = rollout(
        app,
        {
            "image_id": new,
            "preferences": FAST,
            "max_concurrency": 3,
            "waves": [
                {"name": "canary", "tags": {"asg-refresh:wave": "canary"}},
                {"name": "half", "percent": 50},
                {"name": "rest", "percent": 100},
            ],
        },
    )

    # Then the waves ran in order, each after the previous one ended, never more than three at once
    assert execution["status"] == "SUCCEEDED", execution
    verdicts = json.loads(execution["output"])["verdicts"]
    assert [(v["name"], v["succeeded"]) for v in verdicts] == [
        ("canary", names[:2]),
        ("half", names[2:6]),
        ("rest", names[6:]),
    ]
    spans = start_times(fleet, names)
    waves = [[spans[g] for g in v["succeeded"]] for v in verdicts]
    for earlier, later in itertools.pairwise(waves):
        assert max(end for _, end in earlier) <= min(start for start, _ in later)
    assert 1 < most_at_once(list(spans.values())) <= 3
    assert all(fleet.instance_images(g) == [new] for g in names)
    (outcome,) = rollout_outcomes(app)
    assert outcome["status"] == "succeeded"
    # Each group's output carries only what the wave's gate reads: the largest wave's results
    # must fit the execution's 256 KB state
    results = [r for check in app.invocations("CheckWaveFunction") for r in check.event["results"]]
    assert len(results) == len(names)
    assert {tuple(sorted(r)) for r in results} == {
        ("group", "previous_image_id", "refresh", "refresh_id", "status")
    }


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of refreshes active at the same instant."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:  # ends sort before starts at the same instant: back-to-back is not overlap
        running += step
        peak = max(peak, running)
    return peak


# About two minutes of wall time (moto's interpreter runs ~1,000 executions and Lambda tasks), so
# it runs in the slow tier; the test above holds the same rules on twelve groups.
@pytest.mark.slow
def test_two_hundred_groups_in_waves_under_the_cap(app: LocalApp, fleet: Fleet) -> None:
    # Given 200 opted-in groups of one instance, four of them canaries
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    names = [f"fleet-{n:03d}" for n in range(200)]
    for n, name in enumerate(names):
        fleet.group(name, old, size=1, tags={"asg-refresh:wave": "canary"} if n < 4 else None)

    # When they are rolled out canary first, then 25%, then the rest, 20 at a time
    execution = rollout(
        app,
        {
            "image_id": new,
            "preferences": FAST,
            "max_concurrency": 20,
            "waves": [
                {"name": "canary", "tags": {"asg-refresh:wave": "canary"}},
                {"name": "25%", "percent": 25},
                {"name": "rest", "percent": 100},
            ],
        },
    )

    # Then every wave succeeded, in order, and never more than 20 refreshes ran at once
    assert execution["status"] == "SUCCEEDED"
    verdicts = json.loads(execution["output"])["verdicts"]
    assert [(v["name"], len(v["succeeded"])) for v in verdicts] == [("canary", 4), ("25%", 46), ("rest", 150)]
    spans = start_times(fleet, names)
    waves = [[spans[g] for g in v["succeeded"]] for v in verdicts]
    for earlier, later in itertools.pairwise(waves):
        assert max(end for _, end in earlier) <= min(start for start, _ in later)
    assert most_at_once(list(spans.values())) <= 20
    assert most_at_once(list(spans.values())) > 1


def test_a_failed_wave_stops_the_rollout_and_reverts_earlier_waves_when_asked(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a canary, a wave whose second group cannot launch, and a last wave
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    for name in ("canary", "mid-a", "mid-b", "last"):
        fleet.group(name, old, size=1)
    emulation_for().faults.fail_launches("mid-b", count=1)

    # When the rollout runs, asking for earlier waves to be reverted on failure
    execution = rollout(
        app,
        {
            "image_id": new,
            "preferences": FAST | {"AutoRollback": True},
            "rollback_previous_waves": True,
            "waves": [
                {"name": "canary", "groups": ["canary"]},
                {"name": "mid", "groups": ["mid-a", "mid-b"]},
                {"name": "last", "groups": ["last"]},
            ],
        },
    )

    # Then it stops at the failed wave: the failed group was rolled back by AWS, the last wave
    # never started, and the canary is being refreshed back onto the old image
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RolloutFailed"
    check = json.loads(execution["cause"])
    assert [(v["name"], v["passed"], v["failed"]) for v in check["verdicts"]] == [
        ("canary", True, []),
        ("mid", False, ["mid-b"]),
    ]
    assert fleet.refreshes("mid-b")[0]["Status"] == "RollbackSuccessful"
    assert fleet.instance_images("mid-b") == [old]
    assert fleet.refreshes("last") == []
    revert = fleet.refreshes("canary")[0]
    assert len(fleet.refreshes("canary")) == 2
    watcher = next(
        e for e in app.executions("WatchRefreshStateMachine") if revert["InstanceRefreshId"] in e["name"]
    )
    assert app.wait_for_execution(watcher["executionArn"])["status"] == "SUCCEEDED"
    assert fleet.instance_images("canary") == [old]
    (outcome,) = rollout_outcomes(app)
    assert outcome["status"] == "failed"


def test_a_fleet_too_large_for_the_rollouts_state_is_refused_before_anything_starts(
    app: LocalApp, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a state limit that twelve groups exceed (Step Functions' is 256 KB: ~500 groups)
    from asg_refresh.logic import rollout as rollout_logic

    monkeypatch.setattr(rollout_logic, "STATE_LIMIT_BYTES", 2048)
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    names = [f"fleet-{n:02d}" for n in range(12)]
    for name in names:
        fleet.group(name, old, size=1)

    execution = rollout(
        app, {"image_id": new, "preferences": FAST, "waves": [{"name": "all", "percent": 100}]}
    )

    # Then the plan says why, and no group was touched
    assert execution["status"] == "FAILED"
    (outcome,) = rollout_outcomes(app)
    assert "KB of state, over Step Functions' 2 KB" in outcome["reason"]
    assert all(fleet.refreshes(name) == [] for name in names)


def test_a_wave_follows_its_groups_watchers_through_promotes_at_checkpoints(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given two groups whose deployment holds at a checkpoint: their watchers promote it (cancel
    # the refresh at 50 %, start another for the rest), so the refresh a wave started is Cancelled
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    for name in ("canary", "rest"):
        fleet.group(name, old, size=2)

    # When they are rolled out in two waves
    execution = rollout(
        app,
        {
            "image_id": new,
            "preferences": FAST | {"CheckpointPercentages": [50], "CheckpointDelay": 3600},
            "gates": {"hold_at_checkpoints": True},
            "waves": [{"name": "canary", "groups": ["canary"]}, {"name": "rest", "groups": ["rest"]}],
        },
    )

    # Then each wave is judged by its watcher's outcome, not by the first segment's refresh
    assert execution["status"] == "SUCCEEDED", execution
    verdicts = json.loads(execution["output"])["verdicts"]
    assert [(v["name"], v["succeeded"], v["failed"]) for v in verdicts] == [
        ("canary", ["canary"], []),
        ("rest", ["rest"], []),
    ]
    for name in ("canary", "rest"):
        first, resumed = sorted(fleet.refreshes(name), key=lambda r: r["StartTime"])
        assert (first["Status"], resumed["Status"]) == ("Cancelled", "Successful")
        assert fleet.instance_images(name) == [new, new]
    (outcome,) = rollout_outcomes(app)
    assert outcome["status"] == "succeeded"
