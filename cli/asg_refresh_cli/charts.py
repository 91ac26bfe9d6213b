"""The picture of a rollout: per group, in-service capacity over time against the healthy bounds,
with checkpoints, gate verdicts and rollback/cancel marked. PNG per group, one HTML page per fleet.

The data comes from a plan (what would happen), the emulation's timeline (what happened, locally),
or samples the CLI took while watching (what happened, against AWS); drawing is the same for all.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt
from pydantic import BaseModel, Field

from asg_refresh.models.plan import GroupPlan

MARKED_EVENTS = {
    "checkpoint": "checkpoint",
    "rollback-started": "rollback",
    "cancel-requested": "cancel",
    "gate-failed": "gate failed",
    "gate-passed": "gate passed",
    "baking-started": "bake",
}


class Marker(BaseModel):
    at: float
    label: str


class CapacitySeries(BaseModel):
    """One group's capacity over time (seconds from the first sample)."""

    group: str
    source: str = Field(description="plan, emulation, or watch")
    times: list[float]
    in_service: list[int]
    total: list[int]
    min_healthy: list[int]
    max_healthy: list[int]
    markers: list[Marker] = Field(default_factory=list)
    outcome: str | None = None
    clock: str = Field(
        default="refresh time", description="What the time axis counts: the plan's, virtual or wall time."
    )


def series_from_plan(plan: GroupPlan) -> CapacitySeries:
    samples = plan.samples
    return CapacitySeries(
        group=plan.group,
        source="plan",
        times=[float(s.at) for s in samples],
        in_service=[s.in_service for s in samples],
        total=[s.total for s in samples],
        min_healthy=[plan.min_in_service] * len(samples),
        max_healthy=[plan.max_total] * len(samples),
        markers=[Marker(at=s.at, label=MARKED_EVENTS[s.event]) for s in samples if s.event in MARKED_EVENTS],
        outcome="planned",
    )


def series_from_timeline(
    group: str, timeline: list[dict[str, Any]], refresh_id: str | None = None
) -> CapacitySeries:
    """The emulation's recorded samples (``emulation_for().timeline(group)``) of one refresh
    (the latest when ``refresh_id`` is not given)."""
    if not timeline:
        return CapacitySeries(
            group=group, source="emulation", times=[], in_service=[], total=[], min_healthy=[], max_healthy=[]
        )
    wanted = refresh_id or timeline[-1]["refresh_id"]
    rows = [row for row in timeline if row["refresh_id"] == wanted]
    start: datetime = rows[0]["time"]
    times = [(row["time"] - start).total_seconds() for row in rows]
    return CapacitySeries(
        group=group,
        source="emulation",
        times=times,
        in_service=[row["in_service"] for row in rows],
        total=[row["total"] for row in rows],
        min_healthy=[row["min_healthy"] for row in rows],
        max_healthy=[row["max_healthy"] for row in rows],
        markers=[
            Marker(at=t, label=MARKED_EVENTS[row["event"]])
            for t, row in zip(times, rows, strict=True)
            if row.get("event") in MARKED_EVENTS
        ],
        outcome=rows[-1]["status"],
    )


def draw_png(series: CapacitySeries) -> bytes:
    figure, axes = plt.subplots(figsize=(7, 3), dpi=100)
    try:
        minutes = [t / 60 for t in series.times]
        axes.step(minutes, series.in_service, where="post", label="in service", color="tab:blue", linewidth=2)
        axes.step(
            minutes,
            series.total,
            where="post",
            label="in service + launching",
            color="tab:cyan",
            linestyle=":",
        )
        axes.step(
            minutes, series.min_healthy, where="post", label="min healthy", color="tab:red", linestyle="--"
        )
        axes.step(
            minutes, series.max_healthy, where="post", label="max healthy", color="tab:orange", linestyle="--"
        )
        colours = {"rollback": "tab:red", "cancel": "tab:purple", "gates passed": "tab:green"}
        for marker in series.markers:
            colour = (
                "tab:red" if marker.label.startswith("gate failed") else colours.get(marker.label, "tab:gray")
            )
            axes.axvline(marker.at / 60, color=colour, alpha=0.6, linewidth=1)
            axes.annotate(marker.label, (marker.at / 60, 0), rotation=90, fontsize=7, va="bottom")
        axes.set_title(f"{series.group} ({series.source}: {series.outcome or 'in progress'})", fontsize=10)
        axes.set_xlabel(f"minutes ({series.clock})")
        axes.set_ylabel("instances")
        axes.set_ylim(bottom=0, top=max([*series.total, *series.max_healthy, 1]) + 1)
        axes.legend(fontsize=7, loc="lower right")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def write_png(series: CapacitySeries, path: Path) -> Path:
    path.write_bytes(draw_png(series))
    return path


def write_html(all_series: list[CapacitySeries], path: Path, title: str = "asg-refresh rollout") -> Path:
    """One page for the fleet, the PNGs embedded (a single file to attach to a ticket)."""
    sections = []
    for series in all_series:
        encoded = base64.b64encode(draw_png(series)).decode()
        name = html.escape(series.group)
        image = f'<img alt="capacity of {name}" src="data:image/png;base64,{encoded}">'
        sections.append(f"<section><h2>{name}</h2>{image}</section>")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )
    path.write_text(page)
    return path
