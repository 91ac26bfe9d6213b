"""Run every configured gate for one poll of the watcher."""

from __future__ import annotations

from datetime import datetime, timedelta

from asg_refresh.dal.ports import GatePorts
from asg_refresh.dal.requests import metric_queries
from asg_refresh.logic.gates import evaluate_alarms, evaluate_metrics, evaluate_window
from asg_refresh.models.watch import GateVerdict, WatchState


def evaluate_gates(state: WatchState, aws: GatePorts, now: datetime) -> list[GateVerdict]:
    verdicts = []
    if state.alarms:
        verdicts.append(evaluate_alarms(state.alarms, aws.describe_alarms(state.alarms)))
    if state.gates.metrics:
        window = max(gate.window_seconds for gate in state.gates.metrics)
        results = aws.metric_data(metric_queries(state.gates.metrics), now - timedelta(seconds=window), now)
        verdicts.append(evaluate_metrics(state.gates.metrics, results))
    if state.gates.window is not None:
        verdicts.append(evaluate_window(state.gates.window, now))
    return verdicts
