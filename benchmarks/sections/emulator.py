"""Emulator speed: ``benchmarks/emulator_speed.py``'s ``measure()``, reused as is, after one
discarded warm-up refresh (the first use of moto's backends and imports, not the emulation)."""

from __future__ import annotations

from typing import Any

from benchmarks.sections import Context
from benchmarks.support.output import note, ok, table

TITLE = "Emulator speed"


def measure(context: Context) -> dict[str, Any]:
    from asg_refresh_local.emulation import install
    from benchmarks import emulator_speed

    install()
    sizes = (10, 100) if context.quick else tuple(emulator_speed.SIZES)
    emulator_speed.measure(10)
    rows = [emulator_speed.measure(size) for size in sizes]
    hundred = next((r for r in rows if r["instances"] == 100), None)
    return {
        "reused": "benchmarks/emulator_speed.py measure()",
        "rows": rows,
        "target": "a one-hour refresh of 100 instances in under 1 wall second",
        "meets_target": bool(hundred and hundred["wall_seconds"] < 1.0),
    }


def render(data: dict[str, Any]) -> None:
    table(
        "Emulator speed (one refresh, MinHealthy 90 %, warm-up 300 s)",
        ("instances", "virtual s", "wall s", "virtual s / wall s", "status"),
        (
            (
                r["instances"],
                f"{r['virtual_seconds']:.0f}",
                f"{r['wall_seconds']:.3f}",
                f"{r['virtual_seconds_per_wall_second']:,}",
                r["status"],
            )
            for r in data["rows"]
        ),
    )
    note(f"target (100 instances, one virtual hour, < 1 s wall): {ok(data['meets_target'])}")
