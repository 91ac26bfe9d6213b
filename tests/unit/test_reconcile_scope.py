"""The reconciler's scheduled run on the in-memory ports: what it asks about, and what it drops."""

from __future__ import annotations

import math

import pytest

from asg_refresh.logic.reconcile import SWEEP_GROUPS_PER_RUN, reconcile_watchers, record_sighting
from asg_refresh.parsing import parse_reconcile_request
from asg_refresh.settings import Settings
from asg_refresh_local.samples import load_event
from tests.fakes import FakeAudit, FakeAws

OPT_IN = {"asg-refresh:enabled": "true"}
SETTINGS = Settings(state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:watch")


@pytest.fixture
def aws() -> FakeAws:
    return FakeAws()


def test_the_sweep_asks_about_a_page_of_groups_a_run_and_all_of_them_in_turn(aws: FakeAws) -> None:
    for i in range(100):
        aws.add_group(f"g-{i:03d}", **OPT_IN)
    audit = FakeAudit()

    runs = math.ceil(100 / SWEEP_GROUPS_PER_RUN)
    per_run = []
    for _ in range(runs):
        before = sum(aws.described.values())
        assert reconcile_watchers(aws, SETTINGS, audit, "scheduled") == []
        per_run.append(sum(aws.described.values()) - before)

    assert per_run == [SWEEP_GROUPS_PER_RUN] * runs
    assert aws.described == {f"g-{i:03d}": 1 for i in range(100)}
    assert audit.cursor is None  # the last page: the next run starts again from the first


def test_a_sighted_refresh_is_watched_by_the_next_run_wherever_the_sweep_is(aws: FakeAws) -> None:
    for i in range(3 * SWEEP_GROUPS_PER_RUN):
        aws.add_group(f"g-{i:03d}", **OPT_IN)
    last = f"g-{3 * SWEEP_GROUPS_PER_RUN - 1:03d}"
    refresh_id = aws.add_refresh(last)
    audit = FakeAudit()

    [sighted] = record_sighting(last, refresh_id, audit)
    [check] = reconcile_watchers(aws, SETTINGS, audit, "scheduled")

    assert sighted.action == "sighted"
    assert (check.group, check.action, check.execution_name) == (last, "started", f"refresh-{refresh_id}")
    # Its group was asked about by id alone: the sweep's page is still the first
    assert aws.described[last] == 1


def test_refreshes_that_ended_or_whose_group_left_are_dropped_from_the_list(aws: FakeAws) -> None:
    aws.add_group("done", **OPT_IN)
    aws.add_group("left")  # its opt-in tag removed since
    ended = aws.add_refresh("done", status="Successful")
    active = aws.add_refresh("left")
    audit = FakeAudit(
        {
            ended: {
                "deployment_id": "d-1",
                "item": f"refresh#done#{ended}",
                "group": "done",
                "refresh_id": ended,
                "unfinished": "refresh",
            }
        }
    )
    audit.record_sighting("left", active)
    audit.record_sighting("gone", "r-404")

    assert reconcile_watchers(aws, SETTINGS, audit, "scheduled") == []
    assert audit.unfinished_refreshes() == []
    assert aws.started_executions == []


def test_the_started_event_and_the_schedule_are_told_apart() -> None:
    sighted = parse_reconcile_request(load_event("instance_refresh_started"))
    scheduled = parse_reconcile_request(load_event("reconcile_schedule"))
    direct = parse_reconcile_request({})

    assert (sighted.scope, sighted.group, sighted.refresh_id) == (
        "sighted",
        "web",
        "c613620e-07e2-4ed2-a9e2-ef8258911ade",
    )
    assert (scheduled.scope, direct.scope) == ("scheduled", "full")
