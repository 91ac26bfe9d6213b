"""A newer image while a group refreshes towards another one: queue, replace or reject, end to end.

Each test asserts what AWS and the product show: the instances' images, the refreshes and their
statuses, StartRefresh's answer, the notifications and the audit trail of waiting deployments.
"""

from __future__ import annotations

import json
from typing import Any

from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh_local.emulation import emulation_for
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

PREFS = {"MinHealthyPercentage": 50, "InstanceWarmup": 60, "AutoRollback": True}


def deploy(app: LocalApp, image_id: str, **extra: Any) -> dict[str, Any]:
    answer = app.invoke(
        "StartRefreshFunction", {"image_id": image_id, "groups": ["web"], "preferences": PREFS, **extra}
    )
    assert answer["success"], answer
    return dict(answer["data"])


def watch_to_the_end(app: LocalApp, fleet: Fleet) -> list[str]:
    """Wait for every watcher of web, newest refreshes included, until none runs; the statuses
    of web's refreshes, oldest first."""
    while True:
        running = [e for e in app.executions("WatchRefreshStateMachine") if e["status"] == "RUNNING"]
        if not running:
            return [r["Status"] for r in reversed(fleet.refreshes("web"))]
        for execution in running:
            app.wait_for_execution(execution["executionArn"])


def queue_news(app: LocalApp) -> list[dict[str, Any]]:
    bodies = [m["Body"] for m in app.messages("NotificationsTopic")]
    return [json.loads(b["Message"]) for b in bodies if b.get("Subject", "").endswith("waiting deployments")]


def waiting_items(app: LocalApp) -> dict[str, str]:
    """deployment id -> status of every deployment that waited for web, from the audit table."""
    store = AuditStore(AwsGateway(app.region), app.physical_id("AuditTable"))
    return {item["request"]["deployment_id"]: item["status"] for item in store.deployment("queue#web")}


def test_newer_images_queue_and_only_the_newest_starts_once_the_refresh_succeeds(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given a group refreshing towards golden-2
    old, second, third, fourth = (fleet.image(f"golden-{n}") for n in (1, 2, 3, 4))
    fleet.group("web", old, size=2)
    first = deploy(app, second)

    # When golden-3, then golden-4, arrive while it runs (the default policy: queue)
    waits = [deploy(app, third, deployment_id="release-3"), deploy(app, fourth, deployment_id="release-4")]

    # Then neither starts yet, and both say what they wait for
    for answer in waits:
        assert (answer["refreshes"], answer["skipped"]) == ([], [])
        (queued,) = answer["queued"]
        assert (queued["policy"], queued["behind_refresh_id"]) == (
            "queue",
            first["refreshes"][0]["refresh_id"],
        )
    assert len(fleet.refreshes("web")) == 1

    # And when the refresh ends Successful, golden-4 starts, golden-3 is superseded, nothing lost
    assert watch_to_the_end(app, fleet) == ["Successful", "Successful"]
    assert fleet.instance_images("web") == [fourth, fourth]
    (news,) = queue_news(app)
    assert [started["image_id"] for started in news["started"]] == [fourth]
    (superseded,) = news["superseded"]
    assert superseded.startswith("release-3.q")
    statuses = waiting_items(app)
    assert sorted(statuses.values()) == ["Started", "Superseded"]


def test_queued_images_are_dropped_when_the_refresh_ahead_fails(app: LocalApp, fleet: Fleet) -> None:
    # Given a refresh that will fail (its launches fail) and roll back, and an image queued behind it
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    emulation_for().faults.fail_launches("web", count=1)
    deploy(app, second)
    deploy(app, third, deployment_id="release-3")

    # When the refresh ends rolled back
    statuses = watch_to_the_end(app, fleet)

    # Then the waiting image is not started on a group that just failed, and the news says why
    assert statuses == ["RollbackSuccessful"]
    assert fleet.instance_images("web") == [old, old]
    (news,) = queue_news(app)
    assert (news["started"], len(news["dropped"])) == ([], 1)
    assert "ended RollbackSuccessful" in news["reason"]
    assert list(waiting_items(app).values()) == ["Dropped"]


def test_replace_cancels_the_running_refresh_and_starts_the_newer_image(app: LocalApp, fleet: Fleet) -> None:
    # Given a group refreshing towards golden-2
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=4)
    deploy(app, second)

    # When golden-3 arrives with the replace policy
    answer = deploy(app, third, supersede="replace")

    # Then the running refresh is cancelled at once, and golden-3 follows when the cancel ends
    assert answer["queued"][0]["policy"] == "replace"
    assert fleet.refreshes("web")[0]["Status"] in ("Cancelling", "Cancelled")
    assert watch_to_the_end(app, fleet) == ["Cancelled", "Successful"]
    assert fleet.instance_images("web") == [third] * 4
    assert list(waiting_items(app).values()) == ["Started"]


def test_reject_refuses_before_anything_starts(app: LocalApp, fleet: Fleet) -> None:
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    deploy(app, second)

    answer = app.invoke("StartRefreshFunction", {"image_id": third, "groups": ["web"], "supersede": "reject"})

    assert answer["success"] is False
    assert answer["error"]["code"] == "REFRESH_IN_PROGRESS"
    assert "supersede policy is reject" in answer["error"]["message"]
    assert len(fleet.launch_template_versions("web")) == 2  # nothing half-started
    assert waiting_items(app) == {}
