"""A rollout wave whose group is busy towards another image, under ``supersede: queue``: the wave
follows the queued deployment until it starts and its watcher ends, or fails the group with the
reason it never started. End to end on the emulation, IAM enforced."""

from __future__ import annotations

import json
from typing import Any

from asg_refresh_local.emulation import emulation_for
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from tests.integration.test_supersede import waiting_items

PREFS = {"MinHealthyPercentage": 50, "InstanceWarmup": 60, "AutoRollback": True}


def busy_web_then_rollout(app: LocalApp, fleet: Fleet, image_ahead: str, rolled: str) -> dict[str, Any]:
    """web refreshing towards ``image_ahead``; then a rollout of ``rolled`` to web, then api, whose
    message queues behind what runs; returns the rollout's execution once it ended."""
    answer = app.invoke(
        "StartRefreshFunction", {"image_id": image_ahead, "groups": ["web"], "preferences": PREFS}
    )
    assert answer["success"], answer
    message = {
        "image_id": rolled,
        "preferences": PREFS,
        "supersede": "queue",
        "waves": [{"name": "first", "groups": ["web"]}, {"name": "second", "groups": ["api"]}],
    }
    arn = app.start_execution("RolloutWavesStateMachine", message)
    return app.wait_for_execution(arn, timeout=300)


def test_a_wave_waits_for_its_queued_group_and_follows_the_deployment_once_it_starts(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given web refreshing towards golden-2, and a rollout of golden-3 that queues behind it
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    fleet.group("api", old, size=2)

    # When the refresh ahead succeeds, so the queued deployment starts
    execution = busy_web_then_rollout(app, fleet, second, third)

    # Then the first wave waited for it and passed on its watcher's outcome, and the second ran after
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    verdicts = json.loads(execution["output"])["verdicts"]
    assert [(v["name"], v["passed"], v["succeeded"], v["skipped"]) for v in verdicts] == [
        ("first", True, ["web"], []),
        ("second", True, ["api"], []),
    ]
    assert [r["Status"] for r in reversed(fleet.refreshes("web"))] == ["Successful", "Successful"]
    assert fleet.instance_images("web") == [third, third]
    assert fleet.instance_images("api") == [third, third]
    ahead, queued = reversed(fleet.refreshes("web"))
    assert ahead["EndTime"] <= queued["StartTime"]
    assert fleet.refreshes("api")[0]["StartTime"] >= queued["EndTime"]
    assert sorted(waiting_items(app).values()) == ["Started"]


def test_a_queued_group_dropped_behind_a_failed_refresh_fails_its_wave_with_the_reason(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given web refreshing towards golden-2, which cannot launch (AWS rolls it back)
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    fleet.group("api", old, size=2)
    emulation_for().faults.fail_launches("web", count=1)

    # When a rollout of golden-3 queues behind it
    execution = busy_web_then_rollout(app, fleet, second, third)

    # Then the queued deployment was dropped, the first wave failed saying so, api never started
    assert execution["status"] == "FAILED"
    (verdict,) = json.loads(execution["cause"])["verdicts"]
    assert (verdict["name"], verdict["passed"], verdict["failed"]) == ("first", False, ["web"])
    assert verdict["reasons"]["web"].startswith("the waiting deployment was dropped: the refresh ahead")
    assert "RollbackSuccessful" in verdict["reasons"]["web"]
    assert sorted(waiting_items(app).values()) == ["Dropped"]
    assert [r["Status"] for r in fleet.refreshes("web")] == ["RollbackSuccessful"]
    assert fleet.refreshes("api") == []


def test_a_wave_that_replaces_a_running_refresh_cancels_it_and_follows_its_own(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given web refreshing towards golden-2, and a rollout of golden-3 that replaces it
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    fleet.group("api", old, size=2)
    answer = app.invoke("StartRefreshFunction", {"image_id": second, "groups": ["web"], "preferences": PREFS})
    assert answer["success"], answer
    message = {
        "image_id": third,
        "preferences": PREFS,
        "supersede": "replace",
        "waves": [{"name": "first", "groups": ["web"]}, {"name": "second", "groups": ["api"]}],
    }

    # When the rollout runs
    execution = app.wait_for_execution(app.start_execution("RolloutWavesStateMachine", message), timeout=300)

    # Then the refresh ahead was cancelled (not rolled back), and the wave followed golden-3's
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert [r["Status"] for r in reversed(fleet.refreshes("web"))] == ["Cancelled", "Successful"]
    assert fleet.instance_images("web") == [third, third]
    assert fleet.instance_images("api") == [third, third]
    assert sorted(waiting_items(app).values()) == ["Started"]
