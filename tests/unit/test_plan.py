"""The dry-run plan's arithmetic and the cutting of a fleet into waves, without AWS."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from asg_refresh.dal.records import Group
from asg_refresh.logic.plan import gate_notes, simulate
from asg_refresh.logic.waves import plan_waves
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.preferences import RefreshPreferences
from asg_refresh.models.rollout import RolloutMessage, WaveSpec


def group(name: str, **tags: str) -> Group:
    return Group(name=name, tags=tags)


def test_min_healthy_rounds_up_and_max_healthy_down() -> None:
    prefs = RefreshPreferences(min_healthy_percentage=90, max_healthy_percentage=110, instance_warmup=60)
    schedule = simulate(desired=7, in_service=7, total=7, to_replace=7, preferences=prefs, warmup=60)
    assert (schedule.min_in_service, schedule.max_total) == (7, 7)  # ceil(6.3), floor(7.7)
    # Both bounds cannot hold: AWS launches one first, going one above desired.
    assert [b.size for b in schedule.batches] == [1] * 7
    assert max(s.total for s in schedule.samples) == 8


def test_checkpoints_cut_batches_and_add_their_delay() -> None:
    prefs = RefreshPreferences(
        min_healthy_percentage=0, instance_warmup=0, checkpoint_percentages=[50, 100], checkpoint_delay=600
    )
    schedule = simulate(desired=4, in_service=4, total=4, to_replace=4, preferences=prefs, warmup=0)
    assert [b.size for b in schedule.batches] == [2, 2]
    assert [s.event for s in schedule.samples].count("checkpoint") == 1
    assert schedule.samples[-1].at == 5 + 60 + 600 + 60


@given(
    desired=st.integers(1, 40),
    min_pct=st.integers(0, 100),
    extra=st.one_of(st.none(), st.integers(0, 100)),
)
def test_the_plan_never_breaks_the_bounds_it_reports(desired: int, min_pct: int, extra: int | None) -> None:
    max_pct = None if extra is None else max(100, min(200, min_pct + extra))
    prefs = RefreshPreferences(min_healthy_percentage=min_pct, max_healthy_percentage=max_pct)
    schedule = simulate(
        desired=desired, in_service=desired, total=desired, to_replace=desired, preferences=prefs, warmup=0
    )
    assert sum(b.size for b in schedule.batches) == desired
    low = math.ceil(min_pct * desired / 100)
    floor = low if max_pct is not None else min(low, desired - 1)
    assert all(s.in_service >= floor for s in schedule.samples)
    # Without MaxHealthyPercentage nothing launches before a termination; with it, the fallback
    # may go one above desired when both bounds cannot hold.
    high = desired if max_pct is None else max(math.floor(max_pct * desired / 100), desired + 1)
    assert all(s.total <= high for s in schedule.samples)


def test_waves_take_named_tagged_then_cumulative_shares() -> None:
    fleet = [group("c1", **{"asg-refresh:wave": "canary"})] + [group(f"g{n}") for n in range(8)]
    waves, skipped = plan_waves(
        fleet,
        [
            WaveSpec(name="canary", tags={"asg-refresh:wave": "canary"}),
            WaveSpec(name="pinned", groups=["g7", "missing"]),
            WaveSpec(name="half", percent=50),
            WaveSpec(name="rest", percent=100),
        ],
    )
    assert [(w.name, w.groups) for w in waves] == [
        ("canary", ["c1"]),
        ("pinned", ["g7"]),
        ("half", ["g0", "g1", "g2"]),
        ("rest", ["g3", "g4", "g5", "g6"]),
    ]
    assert skipped == []


def test_groups_no_wave_claims_are_reported() -> None:
    waves, skipped = plan_waves([group("a"), group("b")], [WaveSpec(name="only-a", groups=["a"])])
    assert [w.groups for w in waves] == [["a"]]
    assert [(s.group, s.code) for s in skipped] == [("b", "NOT_IN_A_WAVE")]


def test_default_waves_put_tagged_canaries_first() -> None:
    waves, _ = plan_waves([group("b"), group("a", **{"asg-refresh:wave": "canary"})], None)
    assert [(w.name, w.groups) for w in waves] == [("canary", ["a"]), ("rest", ["b"])]


@pytest.mark.parametrize(
    "message",
    [
        {"image_id": "ami-12345678", "waves": [{"name": "x", "percent": 10, "groups": ["a"]}]},
        {"image_id": "ami-12345678", "waves": [{"name": "x", "percent": 10}, {"name": "x", "percent": 100}]},
        {"image_id": "ami-12345678", "max_concurrency": 0},
        {"image_id": "ami-12345678", "waves": []},
        {"image_id": "ami-12345678", "surprise": True},
    ],
)
def test_rollout_messages_are_bounded(message: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RolloutMessage.model_validate(message)


def test_the_plan_names_each_gate_and_the_waits_its_estimate_leaves_out() -> None:
    gates = GateConfig.model_validate(
        {
            "alarms": ["web-5xx"],
            "approval": {"timeout_seconds": 3600},
            "window": {"days": ["Mon", "Tue"], "start": "09:00", "end": "17:00", "timezone": "Europe/Paris"},
        }
    )

    notes = gate_notes(gates, RefreshPreferences(checkpoint_percentages=[25, 50]))

    assert notes == [
        "manual approval at 25%, 50%: a person answers within 3600s or the refresh rolls back; "
        "the estimates do not include that wait",
        "runs only Mon,Tue 09:00-17:00 Europe/Paris: a closed window pauses it, which the estimates "
        "do not include",
        "rolls back if any of 1 alarm(s) goes to ALARM or any of 0 metric gate(s) fails (plus each "
        "group's tagged alarms)",
    ]
    assert gate_notes(GateConfig(hold_at_checkpoints=True), RefreshPreferences()) == [
        "holds at 50% until the gates pass, then goes on at once (promote)"
    ]
    assert gate_notes(GateConfig(), RefreshPreferences()) == []
