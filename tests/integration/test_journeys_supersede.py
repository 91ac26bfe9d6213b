"""Operator journeys for a newer image mid-refresh, under each supersede policy (queue, replace,
reject): the `asg-refresh` console script as a subprocess against `asg-refresh local serve`, as
in test_journeys.py, whose server and helpers these use. A module of their own, so a server of
their own: on the server the seven journeys there had used, the ninth journey onward saw that
server stop advancing rollouts (twice on a loaded machine; not yet explained). Slow tier.
"""

from __future__ import annotations

import json

import pytest

from asg_refresh_local.fleet import Fleet
from tests.integration.test_journeys import Server, asg_refresh, fleet, server, start_args

pytestmark = pytest.mark.slow
__all__ = ["fleet", "server"]  # the fixtures, a module-scoped server for this module


def test_a_newer_image_queued_behind_a_running_rollout_starts_once_it_succeeds(
    server: Server, fleet: Fleet
) -> None:
    # Given a rollout of j-q-1 running on a group
    old, first, second = fleet.image("j-q-old"), fleet.image("j-q-1"), fleet.image("j-q-2")
    fleet.group("j-queue", old, size=2)
    slow = {"MinHealthyPercentage": 50, "InstanceWarmup": 600}
    assert asg_refresh(server, *start_args(first, "j-queue", "r-q-first", slow)).returncode == 0
    server.advance(120)  # its wave has started the group's refresh

    # When a rollout of j-q-2 arrives, asking to queue behind it
    queued = asg_refresh(server, *start_args(second, "j-queue", "r-q-second"), "--supersede", "queue")
    assert queued.returncode == 0, queued.stderr
    waiting_for = None
    for _ in range(30):
        (row,) = json.loads(asg_refresh(server, "status", "j-queue", "--json").stdout)["groups"]
        waiting_for = row["waiting_for"]
        if waiting_for:
            break
        server.advance(30)

    # Then status says a deployment waits behind the running refresh, with its image
    assert waiting_for == f"1 deployment(s) waiting behind it, newest {second}"
    # And both rollouts succeed, the queued one after the first, and the group ends on j-q-2
    first_wait = asg_refresh(server, "wait", "r-q-first", "--poll-seconds", "120", "--timeout", "14400")
    assert first_wait.returncode == 0, (first_wait.stdout, first_wait.stderr)
    second_wait = asg_refresh(server, "wait", "r-q-second", "--poll-seconds", "120", "--timeout", "14400")
    assert second_wait.returncode == 0, (second_wait.stdout, second_wait.stderr)
    assert "rollout r-q-second: successful" in second_wait.stdout
    assert [r["Status"] for r in reversed(fleet.refreshes("j-queue"))] == ["Successful", "Successful"]
    assert fleet.instance_images("j-queue") == [second, second]


def test_a_newer_image_that_replaces_a_running_rollout_cancels_it_and_takes_over(
    server: Server, fleet: Fleet
) -> None:
    # Given a rollout of j-r-1 running on a group
    old, first, second = fleet.image("j-r-old"), fleet.image("j-r-1"), fleet.image("j-r-2")
    fleet.group("j-replace", old, size=2)
    slow = {"MinHealthyPercentage": 50, "InstanceWarmup": 600}
    assert asg_refresh(server, *start_args(first, "j-replace", "r-r-first", slow)).returncode == 0
    server.advance(120)

    # When a rollout of j-r-2 replaces it, and the pipeline waits for it
    replaced = asg_refresh(
        server,
        *start_args(second, "j-replace", "r-r-second"),
        "--supersede",
        "replace",
        "--wait",
        "--poll-seconds",
        "120",
        "--timeout",
        "14400",
    )

    # Then it succeeds on j-r-2, while the rollout it replaced ends cancelled (4)
    assert replaced.returncode == 0, (replaced.stdout, replaced.stderr)
    first_wait = asg_refresh(server, "wait", "r-r-first", "--poll-seconds", "120", "--timeout", "14400")
    assert first_wait.returncode == 4, (first_wait.stdout, first_wait.stderr)
    assert [r["Status"] for r in reversed(fleet.refreshes("j-replace"))] == ["Cancelled", "Successful"]
    assert fleet.instance_images("j-replace") == [second, second]


def test_a_newer_image_rejected_while_a_rollout_runs_fails_at_once(server: Server, fleet: Fleet) -> None:
    old, first, second = fleet.image("j-x-old"), fleet.image("j-x-1"), fleet.image("j-x-2")
    fleet.group("j-reject", old, size=2)
    slow = {"MinHealthyPercentage": 50, "InstanceWarmup": 600}
    assert asg_refresh(server, *start_args(first, "j-reject", "r-x-first", slow)).returncode == 0
    server.advance(120)

    rejected = asg_refresh(
        server,
        *start_args(second, "j-reject", "r-x-second"),
        "--supersede",
        "reject",
        "--wait",
        "--poll-seconds",
        "60",
    )

    assert rejected.returncode == 5, (rejected.stdout, rejected.stderr)
    said = " ".join(rejected.stdout.split())  # folded at the terminal's width
    assert "rollout r-x-second: failed (j-reject: refreshing towards another image" in said
    assert "the supersede policy is reject" in said
    assert (
        asg_refresh(server, "wait", "r-x-first", "--poll-seconds", "120", "--timeout", "14400").returncode
        == 0
    )
    assert fleet.instance_images("j-reject") == [first, first]
