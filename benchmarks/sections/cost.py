"""Cost: state transitions and Lambda invocations per refresh, shipped watcher against two fixed
15-second poll loops on the same emulated refresh.

* **plain**: ``Describe -> Choice -> Wait 15`` (no Lambda: the cheapest fixed poll, the target's
  baseline);
* **gated**: ``Describe -> EvaluateGates -> Choice -> Wait 15`` (the same Lambda at every poll).

Target: at most 0.1 of the plain loop's transitions for every refresh of 30 minutes or more, and
the terminal status noticed within 60 virtual seconds.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.local import TERMINAL, local_app
from benchmarks.support.output import console, ok, table
from benchmarks.support.watch import TARGET_MIN_REFRESH_SECONDS, create_machine, scenarios, watch_run

TITLE = "Cost per refresh (transitions, Lambda invocations)"
TARGET_RATIO = 0.1
NOTICE_TARGET_S = 60
MODES = ("shipped", "baseline-plain", "baseline-gated")


def baseline_definition(gates_arn: str | None, poll: int = 15) -> str:
    """A fixed ``poll``-second loop: with the same EvaluateGates call at every poll (gated), or
    with none, the status read in a Choice (plain)."""
    describe = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:autoscaling:describeInstanceRefreshes",
        "Parameters": {
            "AutoScalingGroupName.$": "$.group",
            "InstanceRefreshIds.$": "States.Array($.refresh_id)",
        },
        "ResultPath": "$.describe",
    }
    wait = {"Type": "Wait", "Seconds": poll, "Next": "Describe"}
    if gates_arn:
        describe |= {"ResultSelector": {"InstanceRefreshes.$": "$.InstanceRefreshes"}, "Next": "Gates"}
        states: dict[str, Any] = {
            "Describe": describe,
            "Gates": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": gates_arn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Next": "Choice",
            },
            "Choice": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.decision.action", "StringEquals": "report", "Next": "Done"}],
                "Default": "Wait",
            },
        }
    else:
        describe |= {"ResultSelector": {"Status.$": "$.InstanceRefreshes[0].Status"}, "Next": "Choice"}
        states = {
            "Describe": describe,
            "Choice": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.describe.Status", "StringEquals": status, "Next": "Done"}
                    for status in sorted(TERMINAL)
                ],
                "Default": "Wait",
            },
        }
    states |= {"Wait": wait, "Done": {"Type": "Succeed"}}
    return json.dumps(
        {"Comment": f"benchmark baseline: fixed {poll} s poll", "StartAt": "Describe", "States": states}
    )


def measure(context: Context) -> dict[str, Any]:
    rows = []
    with local_app() as (app, fleet):
        gates = app.attribute("EvaluateGatesFunction", "Arn")
        machines = {
            "baseline-gated": create_machine(app, "bench-baseline-gated", baseline_definition(gates)),
            "baseline-plain": create_machine(app, "bench-baseline-plain", baseline_definition(None)),
        }
        min_poll, max_poll = (
            int(app.environment("EvaluateGatesFunction")[k]) for k in ("MIN_POLL_SECONDS", "MAX_POLL_SECONDS")
        )
        for sc in scenarios(context.quick):
            for mode in MODES:
                rows.append(watch_run(app, fleet, sc, mode, machines))
    context.shared["shipped_runs"] = [r for r in rows if r["watcher"] == "shipped"]
    summary = []
    for sc in scenarios(context.quick):
        by = {r["watcher"]: r for r in rows if r["scenario"] == sc.name}
        shipped, plain, gated = by["shipped"], by["baseline-plain"], by["baseline-gated"]
        vs_plain = shipped["transitions"] / plain["transitions"]
        applies = shipped["refresh_seconds"] >= TARGET_MIN_REFRESH_SECONDS
        # The largest number of shipped polls that would meet the target, at the shipped
        # machine's transitions per poll (its fixed start and end states included).
        per_poll = shipped["transitions"] / max(shipped["polls"], 1)
        summary.append(
            {
                "scenario": sc.name,
                "note": sc.note,
                "shipped_polls": shipped["polls"],
                "shipped_transitions_per_poll": round(per_poll, 2),
                "polls_within_target": int(TARGET_RATIO * plain["transitions"] // per_poll),
                "refresh_seconds": shipped["refresh_seconds"],
                "transitions": {m: by[m]["transitions"] for m in MODES},
                "transitions_ratio_vs_plain": round(vs_plain, 3),
                "transitions_ratio_vs_gated": round(shipped["transitions"] / gated["transitions"], 3),
                "lambda_ratio_vs_gated": round(
                    shipped["lambda_invocations"] / gated["lambda_invocations"], 3
                ),
                "terminal_noticed_after_s": shipped["terminal_noticed_after_s"],
                "target_applies": applies,
                "meets_transitions_target": (vs_plain <= TARGET_RATIO) if applies else None,
                "transitions_over_target": round(
                    shipped["transitions"] - TARGET_RATIO * plain["transitions"], 1
                ),
                "meets_notice_target": (shipped["terminal_noticed_after_s"] or 0) <= NOTICE_TARGET_S,
            }
        )
    return {
        "compared": "shipped WatchRefresh vs fixed 15 s loops on the same refresh: "
        "Describe -> Choice -> Wait 15 (baseline-plain, the target's baseline) and "
        "Describe -> EvaluateGates -> Choice -> Wait 15 (baseline-gated)",
        "poll_bounds": {"MinPollSeconds": min_poll, "MaxPollSeconds": max_poll},
        "targets": {
            "transitions": f"<= {TARGET_RATIO} x baseline-plain, for every refresh >= "
            f"{TARGET_MIN_REFRESH_SECONDS} s",
            "terminal_noticed_within_s": NOTICE_TARGET_S,
        },
        "runs": rows,
        "summary": summary,
    }


def render(data: dict[str, Any]) -> None:
    table(
        f"Cost per refresh ({data['poll_bounds']})",
        ("scenario", "watcher", "refresh s", "transitions", "/h", "lambda", "/h", "polls", "noticed after s"),
        (
            (
                r["scenario"],
                r["watcher"],
                f"{r['refresh_seconds']:.0f}",
                r["transitions"],
                r["transitions_per_refresh_hour"],
                r["lambda_invocations"],
                r["lambda_invocations_per_refresh_hour"],
                r["polls"],
                f"{r['terminal_noticed_after_s']:.0f}",
            )
            for r in data["runs"]
        ),
    )
    table(
        "Transitions vs the 15 s loops (target: <= 0.1 x plain for refreshes >= 30 min; noticed <= 60 s)",
        (
            "scenario",
            "refresh s",
            "/ plain",
            "/ gated",
            "lambda / gated",
            "<= 0.1 x plain",
            "polls (within target)",
            "noticed s",
            "<= 60 s",
        ),
        (
            (
                r["scenario"],
                f"{r['refresh_seconds']:.0f}",
                f"{r['transitions_ratio_vs_plain']:.3f}",
                f"{r['transitions_ratio_vs_gated']:.3f}",
                f"{r['lambda_ratio_vs_gated']:.3f}",
                ok(r["meets_transitions_target"]) if r["target_applies"] else "n/a (< 30 min)",
                f"{r['shipped_polls']} ({r['polls_within_target']})",
                f"{r['terminal_noticed_after_s']:.0f}",
                ok(r["meets_notice_target"]),
            )
            for r in data["summary"]
        ),
    )
    console.print(f"  compared: {data['compared']}")
