"""ReconcileWatchers: the API calls of scheduled runs over N opted-in groups, none refreshing.

The schedule (every 5 minutes) is fired :data:`RUNS` times through the harness
(``LocalApp.fire_schedule``), as EventBridge would: the first run starts the sweep of the fleet
from its first page, the next ones go on from where the last stopped. Every call of every thread
is counted (the benchmark's botocore hook). Target: the calls of a run do not grow with the number
of idle groups.
"""

from __future__ import annotations

import math
import time
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.calls import CALLS, by_operation, cross_check
from benchmarks.support.local import local_app
from benchmarks.support.output import note, ok, table

TITLE = "ReconcileWatchers over idle groups"
SCHEDULE = "ReconcileWatchersFunctionEvery5Minutes"
RUNS_PER_DAY = 24 * 12
#: Scheduled runs fired per size: the first page of the sweep, then pages further on.
RUNS = 3


def sizes(quick: bool) -> tuple[int, ...]:
    # Both quick sizes hold a full page of the sweep (SWEEP_GROUPS_PER_RUN) or more.
    return (25, 50) if quick else (50, 200, 500)


def measure_size(n: int) -> dict[str, Any]:
    from asg_refresh.logic.reconcile import SWEEP_GROUPS_PER_RUN  # after run.py's hook is in place

    with local_app() as (app, fleet):
        image = fleet.image("reconcile-image")
        seed = time.perf_counter()
        for i in range(n):
            # No instances: an idle group's instances change nothing the reconciler reads.
            fleet.group(f"idle-{i:04d}", image, size=0)
        seed = time.perf_counter() - seed
        runs = []
        for _ in range(RUNS):
            mark = CALLS.mark()
            wall = time.perf_counter()
            app.fire_schedule(SCHEDULE)
            wall = time.perf_counter() - wall
            calls, requests = CALLS.since(mark), CALLS.requests_since(mark)
            run = app.invocations("ReconcileWatchersFunction")[-1]
            runs.append((run, calls, requests, wall))
    per_run = [[c for c in calls if c.product] for _, calls, _, _ in runs]
    every = [c for _, calls, _, _ in runs for c in calls]
    product = max(per_run, key=len)
    return {
        "idle_groups": n,
        "runs": RUNS,
        "errored": any(run.errored for run, *_ in runs),
        "checks": sum(len(((run.result or {}).get("data") or {}).get("checks", [])) for run, *_ in runs),
        "product_calls_per_run": [len(calls) for calls in per_run],
        "product_calls": len(product),
        "product_by_operation": by_operation(product),
        "threads": len({c.thread for calls in per_run for c in calls}),
        "calls_per_day": len(product) * RUNS_PER_DAY,
        "benchmark_calls": by_operation(c for c in every if not c.product),
        "cross_check": cross_check(every, [r for _, _, requests, _ in runs for r in requests]),
        "wall_seconds": round(max(wall for *_, wall in runs), 3),
        "seed_wall_seconds": round(seed, 2),
        "sweep_groups_per_run": SWEEP_GROUPS_PER_RUN,
        "runs_to_sweep_every_group": math.ceil(n / SWEEP_GROUPS_PER_RUN),
    }


def measure(context: Context) -> dict[str, Any]:
    rows = [measure_size(n) for n in sizes(context.quick)]
    first, last = rows[0], rows[-1]
    growth = (last["product_calls"] - first["product_calls"]) / (last["idle_groups"] - first["idle_groups"])
    return {
        "fired": f"{SCHEDULE} {RUNS} times, as EventBridge would",
        "rows": rows,
        "calls_per_extra_idle_group": round(growth, 3),
        "target": "calls per run do not grow with the number of idle groups",
        "meets_target": last["product_calls"] <= first["product_calls"],
    }


def render(data: dict[str, Any]) -> None:
    table(
        f"ReconcileWatchers: scheduled runs ({data['fired']}) over idle opted-in groups",
        (
            "idle groups",
            "product calls a run",
            "by operation (the largest run)",
            "per day (every 5 min)",
            "every group swept in",
            "client = server",
            "wall s",
        ),
        (
            (
                r["idle_groups"],
                " / ".join(str(n) for n in r["product_calls_per_run"]),
                ", ".join(f"{k} {v}" for k, v in r["product_by_operation"].items()),
                f"{r['calls_per_day']:,}",
                f"{r['runs_to_sweep_every_group']} runs ({r['runs_to_sweep_every_group'] * 5} min)",
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
