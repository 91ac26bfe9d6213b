"""Fleet: one deploy event for N opted-in groups; every API call the product makes to start them,
from every thread (StartRefresh starts groups on a pool of threads), by operation.

StartRefresh is invoked once with a tag selector matching N groups (one instance each; one more
group does not match). Watcher executions are created but not run during the measurement
(``held_executions``): the figure is the start path. Target: at most 3 calls per group at 500.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.calls import CALLS, by_caller, by_operation, cross_check
from benchmarks.support.local import held_executions, local_app
from benchmarks.support.output import note, ok, table

TITLE = "Fleet: start N groups from one event"
TARGET_PER_GROUP = 3.0
SELECTOR = {"team": "bench"}


def sizes(quick: bool) -> tuple[int, ...]:
    return (10, 50) if quick else (50, 200, 500)


def _plan(app: Any, image_id: str) -> dict[str, Any]:
    """``plan_deployment`` (the dry run) with the same selector, as StartRefresh's role."""
    from asg_refresh.dal.aws import AwsGateway
    from asg_refresh.logic.plan import plan_deployment
    from asg_refresh.logic.triggers import request_from_message
    from asg_refresh.models.deploy import DeployMessage
    from asg_refresh.settings import Settings
    from asg_refresh_local.harness.lambda_routing import REGISTRY

    mark = CALLS.mark()
    with REGISTRY.environment(app.functions["StartRefreshFunction"]):
        aws = AwsGateway("us-east-1")
        request = request_from_message(DeployMessage(image_id=image_id, tags=SELECTOR), "plan", "deploy")
        wall = time.perf_counter()
        plan = plan_deployment(request, aws, Settings())
        wall = time.perf_counter() - wall
    return {"groups": len(plan.groups), "api_calls": len(CALLS.since(mark)), "wall_seconds": round(wall, 3)}


def measure_size(n: int) -> dict[str, Any]:
    with local_app() as (app, fleet):
        old, new = fleet.image("fleet-old"), fleet.image("fleet-new")
        seed = time.perf_counter()
        for i in range(n):
            fleet.group(f"fleet-{i:04d}", old, size=1, tags=SELECTOR)
        fleet.group("fleet-other", old, size=1, tags={"team": "other"})
        seed = time.perf_counter() - seed
        plan = _plan(app, new)
        with held_executions():
            mark = CALLS.mark()
            invoking_thread = threading.get_ident()  # the harness runs the handler on this thread
            wall = time.perf_counter()
            answer = app.invoke("StartRefreshFunction", {"image_id": new, "tags": SELECTOR})
            wall = time.perf_counter() - wall
        calls, requests = CALLS.since(mark), CALLS.requests_since(mark)
    product = [c for c in calls if c.product]
    data = answer.get("data") or {}
    return {
        "groups": n,
        "success": answer.get("success"),
        "started": len(data.get("refreshes", [])),
        "skipped": len(data.get("skipped", [])),
        "skipped_codes": sorted({s.get("code") for s in data.get("skipped", [])}),
        "product_calls": len(product),
        "product_calls_per_group": round(len(product) / n, 3),
        "product_by_operation": by_operation(product),
        "product_per_group_by_operation": {k: round(v / n, 3) for k, v in by_operation(product).items()},
        "product_by_caller": by_caller(product),
        "product_threads": len({c.thread for c in product}),
        # What a count of the invoking thread alone says (the previous benchmark's figure).
        "product_calls_invoking_thread_per_group": round(
            sum(1 for c in product if c.thread == invoking_thread) / n, 3
        ),
        "benchmark_calls": by_operation(c for c in calls if not c.product),
        "cross_check": cross_check(calls, requests),
        "wall_seconds": round(wall, 3),
        "wall_ms_per_group": round(wall / n * 1000, 2),
        "seed_wall_seconds": round(seed, 2),
        "plan": plan,
    }


def measure(context: Context) -> dict[str, Any]:
    rows = [measure_size(n) for n in sizes(context.quick)]
    largest = rows[-1]
    return {
        "start_via": f"StartRefresh invoked once with the tag selector {SELECTOR}",
        "counted": "every thread, client side (botocore hook on every Session) and server side "
        "(moto's dispatch); product = calls signed with a template role's credentials",
        "rows": rows,
        "target": f"<= {TARGET_PER_GROUP} product calls per group at 500 groups",
        "target_size": largest["groups"],
        "meets_target": largest["product_calls_per_group"] <= TARGET_PER_GROUP
        if largest["groups"] >= 500
        else None,
    }


def render(data: dict[str, Any]) -> None:
    rows = data["rows"]
    table(
        f"Fleet: {data['start_via']} (watchers held)",
        (
            "groups",
            "started",
            "product calls",
            "per group",
            "threads",
            "invoking thread only",
            "callers",
            "benchmark calls",
            "client = server",
            "wall s",
            "plan calls",
        ),
        (
            (
                r["groups"],
                f"{r['started']}" + (f" ({r['skipped']} skipped)" if r["skipped"] else ""),
                r["product_calls"],
                f"{r['product_calls_per_group']:.2f}",
                r["product_threads"],
                f"{r['product_calls_invoking_thread_per_group']:.2f}",
                ", ".join(f"{k} {v}" for k, v in r["product_by_caller"].items()),
                sum(r["benchmark_calls"].values()),
                ok(r["cross_check"]["agree"]),
                f"{r['wall_seconds']:.1f}",
                r["plan"]["api_calls"],
            )
            for r in rows
        ),
    )
    operations = list(dict.fromkeys(op for r in rows for op in r["product_by_operation"]))
    table(
        "Product calls per group, by operation",
        ("operation", *(f"{r['groups']} groups" for r in rows)),
        [(op, *(f"{r['product_per_group_by_operation'].get(op, 0):.3f}" for r in rows)) for op in operations]
        + [("total", *(f"{r['product_calls_per_group']:.3f}" for r in rows))],
    )
    met = data["meets_target"]
    note(
        f"target {data['target']}: "
        + (f"not graded ({data['target_size']} groups is the largest size run)" if met is None else ok(met))
    )
