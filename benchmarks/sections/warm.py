"""Warm overhead: EvaluateGates called directly and warm, against the same moto call made bare;
and with no alarms (no AWS call at all), where all of the time is ours."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.calls import CALLS
from benchmarks.support.local import local_app
from benchmarks.support.output import table

TITLE = "Warm overhead (EvaluateGates)"


def _interleaved(fns: dict[str, Callable[[], Any]], n: int, batches: int = 10) -> dict[str, float]:
    """Seconds per call of each fn: batches alternate between the fns (so load drifts hit all
    alike) and the fastest batch counts (the least disturbed by a noisy machine)."""
    best = dict.fromkeys(fns, float("inf"))
    per_batch = max(1, n // batches)
    for _ in range(batches):
        for label, fn in fns.items():
            t = time.perf_counter()
            for _ in range(per_batch):
                fn()
            best[label] = min(best[label], (time.perf_counter() - t) / per_batch)
    return best


def _event(alarms: list[str]) -> dict[str, Any]:
    refresh_id = "11111111-2222-3333-4444-555555555555"
    return {
        "deployment_id": "bench",
        "group": "web",
        "refresh_id": refresh_id,
        "image_id": "ami-0abcdef1234567890",
        "launch_template_id": "lt-0123456789abcdef0",
        "launch_template_version": 2,
        "alarms": alarms,
        "watch": {"budget_seconds": 21600},
        "describe": {
            "InstanceRefreshes": [
                {
                    "InstanceRefreshId": refresh_id,
                    "AutoScalingGroupName": "web",
                    "Status": "InProgress",
                    "PercentageComplete": 40,
                    "Preferences": {"MinHealthyPercentage": 90, "InstanceWarmup": 300},
                }
            ]
        },
    }


def measure(context: Context) -> dict[str, Any]:
    from asg_refresh_local.harness.lambda_routing import REGISTRY, LambdaContext

    n = 100 if context.quick else 500
    with local_app() as (app, fleet):
        alarms = [fleet.alarm(f"warm-{i}") for i in range(3)]
        spec = app.functions["EvaluateGatesFunction"]
        handler = REGISTRY.handler_for(spec)
        event, no_alarms = _event(alarms), _event([])
        with REGISTRY.environment(spec):
            from asg_refresh.dal.clients import client

            cloudwatch = client("cloudwatch", "us-east-1")
            lambda_context = LambdaContext(spec, "bench")
            calls: dict[str, list[str]] = {}
            for label, payload in (("alarms", event), ("none", no_alarms)):
                for _ in range(10):
                    handler(payload, lambda_context)
                mark = CALLS.mark()
                decided = handler(payload, lambda_context)
                calls[label] = [c.name for c in CALLS.since(mark)]
            timings = _interleaved(
                {
                    "handler": lambda: handler(event, lambda_context),
                    "bare": lambda: cloudwatch.describe_alarms(AlarmNames=alarms),
                    "handler_no_alarms": lambda: handler(no_alarms, lambda_context),
                },
                n,
            )
    ms = {k: v * 1000 for k, v in timings.items()}
    return {
        "invocations": n,
        "rows": [
            {
                "function": "EvaluateGates, 3 alarms",
                "aws_calls_per_invocation": calls["alarms"],
                "handler_ms": round(ms["handler"], 3),
                "bare_calls_ms": round(ms["bare"], 3),
                "own_ms": round(ms["handler"] - ms["bare"], 3),
                "ratio": round(ms["handler"] / ms["bare"], 2),
            },
            {
                "function": "EvaluateGates, no alarms",
                "aws_calls_per_invocation": calls["none"],
                "handler_ms": round(ms["handler_no_alarms"], 3),
                "bare_calls_ms": 0.0,
                "own_ms": round(ms["handler_no_alarms"], 3),
                "ratio": None,
            },
        ],
        "decision": decided.get("decision"),
    }


def render(data: dict[str, Any]) -> None:
    table(
        f"Warm overhead, in-process on moto ({data['invocations']} invocations)",
        ("function", "AWS calls", "handler ms", "bare calls ms", "ours ms", "ratio"),
        (
            (
                r["function"],
                ", ".join(r["aws_calls_per_invocation"]),
                f"{r['handler_ms']:.2f}",
                f"{r['bare_calls_ms']:.2f}",
                f"{r['own_ms']:.2f}",
                None if r["ratio"] is None else f"{r['ratio']:.2f}",
            )
            for r in data["rows"]
        ),
    )
