"""How the CLI shows things: rich tables and progress bars for people, JSON for scripts."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from asg_refresh.logic.groups import ACTIVE_REFRESH_STATUSES
from asg_refresh.models.plan import DeployPlan
from asg_refresh_cli import charts
from asg_refresh_cli.reads import held_for_window

console = Console()


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        emit_json(data)
    else:
        console.print(text)


def rows_table(title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for key in rows[0] if rows else []:
        # Headers people read ("refresh id", not refresh_id); long values fold, never cut.
        table.add_column(key.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*("-" if value is None else str(value) for value in row.values()))
    console.print(table)


def plan_tables(plan: DeployPlan) -> None:
    table = Table(title=f"plan: {plan.image_id} (about {plan.estimated_seconds // 60} min)")
    for column in (
        "group",
        "why",
        "replace",
        "batches",
        "min in service",
        "max total",
        "checkpoints",
        "minutes",
    ):
        table.add_column(column)
    for group in plan.groups:
        table.add_row(
            group.group,
            group.reason,
            f"{group.to_replace}/{len(group.instances)}",
            " ".join(str(b.size) for b in group.batches),
            f"{group.lowest_in_service} (bound {group.min_in_service})",
            f"{group.highest_total} (bound {group.max_total})",
            ",".join(map(str, group.checkpoints)) or "-",
            str(group.estimated_seconds // 60),
        )
    console.print(table)
    for wave in plan.waves:
        console.print(
            f"wave {wave.name}: {len(wave.groups)} group(s), about {wave.estimated_seconds // 60} min"
        )
    if plan.rollout_estimated_seconds is not None:
        console.print(f"rollout: about {plan.rollout_estimated_seconds // 60} min")
    for note in plan.gates:
        console.print(f"gate: {note}", soft_wrap=True)
    preflight_table(plan)
    if plan.skipped:
        rows_table("skipped", [s.model_dump() for s in plan.skipped])


def preflight_table(plan: DeployPlan) -> None:
    """Every check of every group, with its verdict and evidence."""
    if not plan.preflight:
        return
    table = Table(title="pre-flight")
    for column in ("group", "check", "verdict", "evidence"):
        table.add_column(column, overflow="fold")
    for report in plan.preflight:
        for check in report.checks:
            verdict = check.verdict if check.verdict != "fail" else f"fail ({check.code})"
            table.add_row(report.group, check.name.replace("_", " "), verdict, check.evidence)
    console.print(table)


@dataclass
class StatusSnapshot:
    """One poll: the rollout's execution (when one was named) and every group's refresh."""

    rollout: dict[str, Any] | None
    rows: list[dict[str, Any]]

    @property
    def finished(self) -> bool:
        running = self.rollout is not None and self.rollout["status"] == "RUNNING"
        return not running and not any(
            row["status"] in ACTIVE_REFRESH_STATUSES or held_for_window(row) for row in self.rows
        )


def status_table(snapshot: StatusSnapshot) -> None:
    if snapshot.rollout is not None:
        rollout = snapshot.rollout
        console.print(f"rollout {rollout['rollout']}: {rollout['status']}")
        for verdict in rollout["verdicts"]:
            mark = (
                "passed"
                if verdict["passed"]
                else f"FAILED ({', '.join(verdict['failed']) or verdict['gate']})"
            )
            console.print(f"  wave {verdict['name']}: {len(verdict['succeeded'])} succeeded, {mark}")
    hidden = {"status_reason", "min_healthy", "max_healthy", "waiting_for", "holding_until"}
    rows_table("status", [{k: v for k, v in row.items() if k not in hidden} for row in snapshot.rows])
    for row in snapshot.rows:
        if row.get("waiting_for"):
            console.print(f"{row['group']}: {row['waiting_for']}", soft_wrap=True)


class Samples:
    """Capacity samples the CLI takes at each poll: the picture's data against AWS. A change of
    status (checkpoint, rollback, cancel, end) becomes a marker."""

    def __init__(self, clock: Callable[[], float] | None = None, clock_name: str = "wall clock") -> None:
        """``clock``: seconds now, on the clock the refreshes run on. Against AWS that is the wall
        clock; against the local server, the virtual time the CLI moved it by (--advance-clock)."""
        self.by_group: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        self.clock, self.clock_name = clock or time.monotonic, clock_name
        self.started = self.clock()

    def add(self, rows: list[dict[str, Any]], at: float | None = None) -> None:
        now = self.clock() - self.started if at is None else at
        for row in rows:
            self.by_group.setdefault(row["group"], []).append((now, row))

    def series(self, verdicts: dict[str, str] | None = None) -> list[charts.CapacitySeries]:
        """One series per group; ``verdicts`` (group to the watcher's gate verdict) mark the end."""
        verdicts = verdicts or {}
        out = []
        for group, points in self.by_group.items():
            rows = [row for _, row in points]
            markers = [
                charts.Marker(at=t, label=_marker_label(row))
                for (t, row), (_, before) in zip(points[1:], points, strict=False)
                if _marker_label(row) != _marker_label(before)
            ]
            out.append(
                charts.CapacitySeries(
                    group=group,
                    source="watch",
                    times=[t for t, _ in points],
                    in_service=[r["in_service"] for r in rows],
                    total=[r["total"] for r in rows],
                    min_healthy=[r["min_healthy"] for r in rows],
                    max_healthy=[r["max_healthy"] for r in rows],
                    markers=[m for m in markers if m.label]
                    + (
                        [charts.Marker(at=points[-1][0], label=verdicts[group])]
                        if group in (verdicts or {})
                        else []
                    ),
                    outcome=rows[-1]["status"],
                    clock=self.clock_name,
                )
            )
        return out


def _marker_label(row: dict[str, Any]) -> str:
    reason = (row.get("status_reason") or "").lower()
    if row["status"] == "InProgress" and "checkpoint" in reason:
        return "checkpoint"
    labels = {"RollbackInProgress": "rollback", "Cancelling": "cancel", "Baking": "bake"}
    return labels.get(row["status"], "")


def watch(
    poll: Callable[[], StatusSnapshot],
    between: Callable[[], None],
    samples: Samples,
    *,
    quiet: bool,
    max_polls: int,
    interval: float,
) -> StatusSnapshot:
    """Poll until the rollout and every refresh ended, with one progress bar per group."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]}"),
        console=console,
        disable=quiet,
    )
    snapshot = poll()
    with progress:
        tasks: dict[str, TaskID] = {}
        for _ in range(max_polls):
            for row in snapshot.rows:
                if row["group"] not in tasks:
                    tasks[row["group"]] = progress.add_task(
                        row["group"], total=100, status=row["status"] or "-"
                    )
                progress.update(
                    tasks[row["group"]], completed=row["percentage_complete"], status=row["status"] or "-"
                )
            if snapshot.finished:
                break
            between()
            if interval:
                time.sleep(interval)  # polling a real refresh: wall time is the point here
            snapshot = poll()
            samples.add(snapshot.rows)
    return snapshot
