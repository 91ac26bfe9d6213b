"""The picture's data: what the CLI samples while watching, and what a plan draws."""

from __future__ import annotations

from typing import Any

from asg_refresh.logic.plan import simulate
from asg_refresh.models.preferences import RefreshPreferences
from asg_refresh_cli import charts
from asg_refresh_cli.output import Samples


def row(status: str, in_service: int, reason: str | None = None) -> dict[str, Any]:
    return {
        "group": "web",
        "status": status,
        "status_reason": reason,
        "in_service": in_service,
        "total": in_service + 1,
        "min_healthy": 2,
        "max_healthy": 4,
    }


def test_watch_samples_mark_checkpoints_rollbacks_and_the_verdict() -> None:
    samples = Samples()
    polls = [
        row("InProgress", 4),
        row("InProgress", 3, "Checkpoint 50% reached, waiting"),
        row("RollbackInProgress", 3),
        row("RollbackSuccessful", 4),
    ]
    for at, polled in enumerate(polls):
        samples.add([polled], at=at * 60.0)

    (series,) = samples.series({"web": "gate failed: cloudwatch-alarms"})

    assert series.times == [0.0, 60.0, 120.0, 180.0]
    assert series.in_service == [4, 3, 3, 4]
    assert (series.min_healthy, series.max_healthy) == ([2] * 4, [4] * 4)
    assert [(m.at, m.label) for m in series.markers] == [
        (60.0, "checkpoint"),
        (120.0, "rollback"),
        (180.0, "gate failed: cloudwatch-alarms"),
    ]
    assert charts.draw_png(series).startswith(b"\x89PNG")


def test_a_plan_draws_its_samples_between_its_bounds() -> None:
    prefs = RefreshPreferences(min_healthy_percentage=50, checkpoint_percentages=[50], checkpoint_delay=300)
    schedule = simulate(desired=4, in_service=4, total=4, to_replace=4, preferences=prefs, warmup=30)
    assert min(s.in_service for s in schedule.samples) >= schedule.min_in_service
    assert max(s.total for s in schedule.samples) <= schedule.max_total
    assert [s.event for s in schedule.samples].count("checkpoint") == 1


def test_watch_samples_are_timed_on_the_refreshes_clock_and_say_which() -> None:
    from asg_refresh_cli.output import Samples

    virtual = [0.0]
    samples = Samples(lambda: virtual[0], "virtual, the local server's clock")
    row = {"group": "web", "status": "InProgress", "in_service": 2, "total": 3}
    row |= {"min_healthy": 1, "max_healthy": 4}
    for advanced in (0.0, 300.0, 840.0):  # polls 5 and 14 virtual minutes in
        virtual[0] = advanced
        samples.add([row])

    (series,) = samples.series()

    assert series.times == [0.0, 300.0, 840.0]
    assert series.clock == "virtual, the local server's clock"
    assert Samples().series() == []
