"""Deployments left waiting when the end-of-watch drain did not happen or could not start them:
the reconciler drains what a dead watcher left, and a start refused for good ends the waiting
item Failed (audit and notification) instead of leaving it Queued. End to end, IAM enforced."""

from __future__ import annotations

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.delivery import DISPATCHER
from tests.integration.test_reconcile import SCHEDULE, audit, checks
from tests.integration.test_supersede import deploy, queue_news, waiting_items, watch_to_the_end


def test_the_reconciler_starts_a_deployment_whose_watcher_died_before_draining(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given web refreshing towards golden-2 with golden-3 queued behind it
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    first = deploy(app, second)["refreshes"][0]
    assert deploy(app, third, deployment_id="release-3")["queued"]
    # And its watcher stopped before the refresh ended (so it never drains the queue)
    app.client("stepfunctions").stop_execution(executionArn=first["execution_arn"], cause="lost")
    app.advance(3600)
    app.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName="web")
    assert fleet.refreshes("web")[0]["Status"] == "Successful"
    assert list(waiting_items(app).values()) == ["Queued"]

    # When the reconciler's schedule runs
    app.fire_schedule(SCHEDULE)
    DISPATCHER.drain()  # its asynchronous invoke of StartRefresh

    # Then it asked StartRefresh to drain web, which started golden-3, and nothing waits any more
    assert [(c["group"], c["action"]) for c in checks(app)] == [("web", "drained")]
    assert watch_to_the_end(app, fleet) == ["Successful", "Successful"]
    assert fleet.instance_images("web") == [third, third]
    assert list(waiting_items(app).values()) == ["Started"]
    assert not [i for i in audit(app).unfinished_refreshes() if str(i["item"]).startswith("queued#")]


def test_the_reconciler_leaves_a_queue_alone_while_the_refresh_ahead_is_watched(
    app: LocalApp, fleet: Fleet
) -> None:
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    deploy(app, second)
    deploy(app, third, deployment_id="release-3")

    app.fire_schedule(SCHEDULE)

    assert [c["action"] for c in checks(app)] == ["watched"]
    assert list(waiting_items(app).values()) == ["Queued"]


def test_a_waiting_deployment_whose_image_is_gone_ends_failed_and_the_watcher_says_so(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given golden-3 queued behind a refresh towards golden-2, and then deregistered
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    deploy(app, second)
    deploy(app, third, deployment_id="release-3")
    app.client("ec2").deregister_image(ImageId=third)

    # When the refresh ahead succeeds and its watcher drains the queue
    assert watch_to_the_end(app, fleet) == ["Successful"]

    # Then the waiting deployment ended Failed with the refusal, and the notification says so
    assert list(waiting_items(app).values()) == ["Failed"]
    (news,) = queue_news(app)
    (failed,) = news["failed"]
    assert failed.startswith("release-3.q")
    assert news["reason"].startswith("IMAGE_REJECTED")
    assert app.dead_letters("DeadLetterQueue") == []
