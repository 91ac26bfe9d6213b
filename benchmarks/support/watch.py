"""One emulated refresh, watched by the shipped state machine or a baseline: what the cost and
latency sections both measure."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benchmarks.support.calls import CALLS
from benchmarks.support.local import held_executions, secs, vt

#: A refresh at least this long is one the transitions target applies to.
TARGET_MIN_REFRESH_SECONDS = 1800


@dataclass
class Scenario:
    name: str
    size: int
    preferences: dict[str, Any]
    warmup: int = 60
    note: str = ""


def scenarios(quick: bool) -> list[Scenario]:
    large, warmup, delay, cp_size = (20, 60, 120, 10) if quick else (100, 300, 600, 20)
    return [
        Scenario(
            "small",
            4,
            {"MinHealthyPercentage": 50, "InstanceWarmup": 60},
            note="4 inst, 2 batches, warm-up 60 s",
        ),
        Scenario(
            "large",
            large,
            {"MinHealthyPercentage": 90, "InstanceWarmup": warmup},
            note=f"{large} inst, 10 batches, warm-up {warmup} s",
        ),
        Scenario(
            "checkpoints",
            cp_size,
            {
                "MinHealthyPercentage": 80,
                "InstanceWarmup": 120,
                "CheckpointPercentages": [25, 50, 100],
                "CheckpointDelay": delay,
            },
            note=f"{cp_size} inst, checkpoints 25/50/100 %, delay {delay} s",
        ),
    ]


def create_machine(app: Any, name: str, definition: str) -> str:
    sfn = app.client("stepfunctions")
    arn: str = sfn.create_state_machine(
        name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/asg-refresh-bench"
    )["stateMachineArn"]
    return arn


def start_refresh(app: Any, group: str, image: str, preferences: dict[str, Any]) -> dict[str, Any]:
    answer = app.invoke(
        "StartRefreshFunction", {"image_id": image, "groups": [group], "preferences": preferences}
    )
    if not answer.get("success"):
        raise RuntimeError(f"StartRefresh failed: {answer}")
    return dict(answer["data"]["refreshes"][0])


def transitions(history: list[dict[str, Any]]) -> int:
    """State transitions as Step Functions bills them: one per state entered."""
    return sum(1 for e in history if e["type"].endswith("StateEntered"))


def lambda_tasks(history: list[dict[str, Any]]) -> int:
    return sum(
        1
        for e in history
        if e["type"] == "TaskScheduled"
        and e.get("taskScheduledEventDetails", {}).get("resourceType") == "lambda"
    ) + sum(1 for e in history if e["type"] == "LambdaFunctionScheduled")


def watch_run(app: Any, fleet: Any, sc: Scenario, mode: str, machines: dict[str, str]) -> dict[str, Any]:
    """One emulated refresh watched by ``mode``: shipped, or a baseline machine of ``machines``."""
    from asg_refresh_local.emulation import emulation_for

    group = f"{sc.name}-{mode}"
    old, new = fleet.image(f"{group}-old"), fleet.image(f"{group}-new")
    fleet.group(group, old, size=sc.size, warmup=sc.warmup)
    mark = CALLS.mark()
    wall = time.perf_counter()
    if mode == "shipped":
        started = start_refresh(app, group, new, sc.preferences)
        arn = started["execution_arn"]
    else:
        # The same refresh, started the same way, but watched by the baseline machine instead.
        with held_executions():
            started = start_refresh(app, group, new, sc.preferences)
        sfn = app.client("stepfunctions")
        watch_input = json.loads(sfn.describe_execution(executionArn=started["execution_arn"])["input"])
        # EvaluateGates counts its own (adaptive) intervals against the watch budget; the fixed
        # loop ignores them, so the budget is lifted (to the most a watch takes, a year) rather than
        # cut short after ~40 polls.
        watch_input["watch"]["budget_seconds"] = 366 * 86_400
        arn = sfn.start_execution(
            stateMachineArn=machines[mode], name=f"{group}-watch", input=json.dumps(watch_input)
        )["executionArn"]
    execution = app.wait_for_execution(arn, timeout=300)
    wall = time.perf_counter() - wall
    history = app.history(arn)
    refresh = fleet.refreshes(group)[0]
    if "EndTime" not in refresh:
        raise RuntimeError(
            f"{group}: the watch ended {execution['status']} while refresh {refresh['InstanceRefreshId']} is "
            f"{refresh['Status']} ({execution.get('error')}: {str(execution.get('cause'))[:500]})"
        )
    begin, end = vt(refresh["StartTime"]), vt(refresh["EndTime"])
    polls = [
        c.at
        for c in CALLS.since(mark, lambda c: c.operation == "DescribeInstanceRefreshes")
        if c.params.get("InstanceRefreshIds") == [started["refresh_id"]]
    ]
    hours = secs(begin, end) / 3600
    changes = status_changes(emulation_for().timeline(group))
    return {
        "scenario": sc.name,
        "watcher": mode,
        "execution_status": execution["status"],
        "refresh_status": refresh["Status"],
        "refresh_seconds": secs(begin, end),
        "transitions": transitions(history),
        "lambda_invocations": lambda_tasks(history),
        "polls": len(polls),
        "transitions_per_refresh_hour": round(transitions(history) / hours, 1),
        "lambda_invocations_per_refresh_hour": round(lambda_tasks(history) / hours, 1),
        "terminal_noticed_after_s": secs(end, polls[-1]) if polls else None,
        "poll_offsets_s": [secs(begin, p) for p in polls],
        "status_change_delays": change_delays(changes, polls),
        "wall_seconds": round(wall, 3),
    }


def status_changes(timeline: list[dict[str, Any]]) -> list[tuple[datetime, str]]:
    changes: list[tuple[datetime, str]] = []
    for sample in timeline:
        status = sample.get("status")
        if status and (not changes or changes[-1][1] != status):
            changes.append((vt(sample["time"]), str(status)))
    return changes


def change_delays(changes: list[tuple[datetime, str]], polls: list[datetime]) -> list[dict[str, Any]]:
    """For each status change: virtual seconds until the watcher's first describe that sees it."""
    out = []
    for at, status in changes:
        seen = next((p for p in polls if p >= at), None)
        out.append({"status": status, "delay_s": None if seen is None else secs(at, seen)})
    return out
