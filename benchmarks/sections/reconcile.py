"""ReconcileWatchers: the API calls of one scheduled run over N opted-in groups, none refreshing.

The schedule (every 5 minutes) is fired once through the harness (``LocalApp.fire_schedule``), as
EventBridge would. Target: the calls of a run do not grow with the number of idle groups.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.calls import CALLS, by_operation, cross_check
from benchmarks.support.local import local_app
from benchmarks.support.output import note, ok, table

TITLE = "ReconcileWatchers over idle groups"
SCHEDULE = "ReconcileWatchersFunctionEvery5Minutes"
RUNS_PER_DAY = 24 * 12


def sizes(quick: bool) -> tuple[int, ...]:
    return (10, 50) if quick else (50, 200, 500)


def measure_size(n: int) -> dict[str, Any]:
    with local_app() as (app, fleet):
        image = fleet.image("reconcile-image")
        seed = time.perf_counter()
        for i in range(n):
            # No instances: an idle group's instances change nothing the reconciler reads.
            fleet.group(f"idle-{i:04d}", image, size=0)
        seed = time.perf_counter() - seed
        mark = CALLS.mark()
        wall = time.perf_counter()
        app.fire_schedule(SCHEDULE)
        wall = time.perf_counter() - wall
        calls, requests = CALLS.since(mark), CALLS.requests_since(mark)
        [run] = app.invocations("ReconcileWatchersFunction")
    product = [c for c in calls if c.product]
    return {
        "idle_groups": n,
        "errored": run.errored,
        "checks": len(((run.result or {}).get("data") or {}).get("checks", [])),
        "product_calls": len(product),
        "product_by_operation": by_operation(product),
        "calls_per_day": len(product) * RUNS_PER_DAY,
        "benchmark_calls": by_operation(c for c in calls if not c.product),
        "cross_check": cross_check(calls, requests),
        "wall_seconds": round(wall, 3),
        "seed_wall_seconds": round(seed, 2),
    }


def measure(context: Context) -> dict[str, Any]:
    rows = [measure_size(n) for n in sizes(context.quick)]
    first, last = rows[0], rows[-1]
    growth = (last["product_calls"] - first["product_calls"]) / (last["idle_groups"] - first["idle_groups"])
    return {
        "fired": f"{SCHEDULE} once, as EventBridge would",
        "rows": rows,
        "calls_per_extra_idle_group": round(growth, 3),
        "target": "calls per run do not grow with the number of idle groups",
        "meets_target": last["product_calls"] <= first["product_calls"],
    }


def render(data: dict[str, Any]) -> None:
    table(
        f"ReconcileWatchers: one run ({data['fired']}) over idle opted-in groups",
        (
            "idle groups",
            "product calls",
            "by operation",
            "per day (every 5 min)",
            "client = server",
            "wall s",
        ),
        (
            (
                r["idle_groups"],
                r["product_calls"],
                ", ".join(f"{k} {v}" for k, v in r["product_by_operation"].items()),
                f"{r['calls_per_day']:,}",
                ok(r["cross_check"]["agree"]),
                f"{r['wall_seconds']:.2f}",
            )
            for r in data["rows"]
        ),
    )
    note(
        f"target ({data['target']}): {ok(data['meets_target'])}; "
        f"{data['calls_per_extra_idle_group']} more calls per extra idle group"
    )
