"""The HTML page of a rollout or of groups: the summary an operator attaches to a ticket (image,
groups, waves and their verdicts, statuses, times) above every group's capacity picture, in one
self-contained file (the PNGs embedded)."""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from asg_refresh_cli import charts


class GroupLine(BaseModel):
    group: str
    status: str | None
    percentage_complete: int = 0
    refresh_id: str | None = None
    image_id: str | None = None
    started: str | None = None
    ended: str | None = None
    verdict: str | None = Field(default=None, description="The watcher's outcome, or what it waits for.")


class Dashboard(BaseModel):
    title: str
    generated_at: str
    rollout: dict[str, Any] | None = None
    groups: list[GroupLine] = Field(default_factory=list)

    @property
    def summary(self) -> str:
        counts = Counter(line.status or "never refreshed" for line in self.groups)
        parts = [f"{n} {status}" for status, n in sorted(counts.items())]
        images = sorted({line.image_id for line in self.groups if line.image_id})
        text = f"{len(self.groups)} group(s): {', '.join(parts) or 'none'}"
        if images:
            text += f"; image {', '.join(images)}"
        if self.rollout:
            text = f"rollout {self.rollout['rollout']} {self.rollout['status']}; " + text
        return text


def render(board: Dashboard, series: list[charts.CapacitySeries]) -> str:
    esc = html.escape
    waves = "".join(
        f"<tr><td>{esc(str(v['name']))}</td><td>{'passed' if v['passed'] else 'FAILED'}</td>"
        f"<td>{esc(', '.join(v.get('succeeded', [])))}</td><td>{esc(', '.join(v.get('failed', [])))}</td>"
        f"<td>{esc(str(v.get('gate', '')))}</td></tr>"
        for v in (board.rollout or {}).get("verdicts", [])
    )
    waves_table = (
        "<h2>Waves</h2><table id='waves'><tr><th>wave</th><th>verdict</th><th>succeeded</th><th>failed</th>"
        f"<th>gate</th></tr>{waves}</table>"
        if waves
        else ""
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(cell))}</td>"
            for cell in (
                g.group,
                g.status or "-",
                f"{g.percentage_complete}%",
                g.image_id or "-",
                g.started or "-",
                g.ended or "-",
                g.verdict or "-",
                g.refresh_id or "-",
            )
        )
        + "</tr>"
        for g in board.groups
    )
    pictures = "".join(
        f"<section><h3>{esc(s.group)}</h3><img alt='capacity of {esc(s.group)}' "
        f"src='data:image/png;base64,{base64.b64encode(charts.draw_png(s)).decode()}'></section>"
        for s in series
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{esc(board.title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{esc(board.title)}</h1><p id='summary'>{esc(board.summary)}</p>"
        f"<p class='muted'>generated {esc(board.generated_at)} (UTC)</p>{waves_table}"
        "<h2>Groups</h2><table id='groups'><tr><th>group</th><th>status</th><th>done</th><th>image</th>"
        "<th>started</th><th>ended</th><th>verdict</th><th>refresh</th></tr>"
        f"{rows}</table><h2>Capacity</h2>{pictures}</body></html>"
    )


def write(board: Dashboard, series: list[charts.CapacitySeries], path: Path) -> Path:
    path.write_text(render(board, series))
    return path


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}"
    ".muted{color:#777}img{max-width:100%}"
)
