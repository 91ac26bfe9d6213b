"""The two ways the demo shows itself: a live rich display, or plain lines (CI, logs, tests)."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.demo.observe import GroupView, LogLine, Observer
from asg_refresh_local.demo.runner import GroupResult, ScenarioResult
from asg_refresh_local.demo.scenarios import Scenario

LOG_LINES_SHOWN = 14
STATUS_STYLES = {
    "Successful": "green",
    "InProgress": "cyan",
    "Pending": "cyan",
    "Baking": "cyan",
    "RollbackInProgress": "yellow",
    "RollbackSuccessful": "yellow",
    "Cancelling": "yellow",
    "Cancelled": "yellow",
    "Failed": "red",
    "RollbackFailed": "red",
}


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def log_line(line: LogLine) -> Text:
    text = Text(f"{clock_text(line.virtual_seconds)}  ", style="dim")
    text.append(f"{line.group:<13} ", style="bold")
    text.append(line.text, style="dim" if line.minor else line.style)
    return text


class LiveView:
    def __init__(self, console: Console, speed: float) -> None:
        self.console = console
        self.speed = speed
        self._live: Live | None = None
        self._scenario: Scenario | None = None
        self._title = ""

    def begin(self, scenario: Scenario, index: int, total: int) -> None:
        self._scenario = scenario
        self._title = f"Scenario {index}/{total} · {scenario.key}: {scenario.title}"
        self._live = Live(
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def frame(self, observer: Observer) -> None:
        if self._live is not None:
            self._live.update(self._render(observer), refresh=True)

    def end(self, result: ScenarioResult) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.console.print(verdict_text(result))
        self.console.print()

    def _render(self, observer: Observer) -> RenderableType:
        assert self._scenario is not None
        speed = f"{self.speed:g} virtual s per wall s" if self.speed else "flat out"
        header = Text.assemble(
            (self._scenario.story, "italic"),
            "\n",
            ("virtual ", "dim"),
            (clock_text(observer.virtual_elapsed()), "bold"),
            ("   wall ", "dim"),
            (f"{observer.wall_elapsed():.1f} s", "bold"),
            ("   pace ", "dim"),
            speed,
            ("   clock ", "dim"),
            CLOCK.now().strftime("%H:%M:%S"),
        )
        groups = Table(box=None, expand=False, pad_edge=False)
        for column in ("group", "refresh", "progress", "", "replaced", "watcher (Step Functions)"):
            groups.add_column(column, no_wrap=True)
        for view in observer.groups.values():
            groups.add_row(*_group_row(view))
        log = Table.grid(padding=(0, 1))
        log.add_column()
        for line in observer.log[-LOG_LINES_SHOWN:]:
            log.add_row(log_line(line))
        return Panel(Group(header, Text(), groups, Text(), log), title=self._title, title_align="left")


def _group_row(view: GroupView) -> tuple[RenderableType, ...]:
    if not view.opted_in:
        return (
            Text(view.name, style="dim"),
            Text("not opted in", style="dim"),
            Text("untouched", style="dim"),
            "",
            Text(f"{view.replaced}/{view.size}", style="dim"),
            "",
        )
    style = STATUS_STYLES.get(view.status, "")
    bar = ProgressBar(
        total=100, completed=view.percentage, width=28, complete_style=style or "cyan", finished_style="green"
    )
    if view.rolling_back and view.status not in {"RollbackSuccessful", "RollbackFailed"}:
        bar.complete_style = "yellow"
    step = view.step or "-"
    if view.execution_status:
        step = f"{view.execution_status.lower()}"
    return (
        Text(view.name, style="bold"),
        Text(view.status, style=style),
        bar,
        f"{view.percentage:>3}%",
        f"{view.replaced}/{view.size}",
        step,
    )


class PlainView:
    """Prints each notable line once, as it happens; no cursor movement."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._printed = 0

    def begin(self, scenario: Scenario, index: int, total: int) -> None:
        self._printed = 0
        self.console.rule(f"Scenario {index}/{total} · {scenario.key}: {scenario.title}", align="left")
        self.console.print(Text(scenario.story, style="italic"))

    def frame(self, observer: Observer) -> None:
        for line in observer.log[self._printed :]:
            if not line.minor:
                self.console.print(log_line(line), soft_wrap=True)
        self._printed = len(observer.log)

    def end(self, result: ScenarioResult) -> None:
        self.console.print(verdict_text(result))
        self.console.print()


def verdict_text(result: ScenarioResult) -> Text:
    name = result.scenario.key
    # One meaning per figure: the refresh's run (as in the panel and the summary), then the
    # scenario's whole wall time, the app's deployment included.
    refresh_walls = [g.wall_seconds for g in result.groups if g.wall_seconds is not None]
    refresh = f"{max(refresh_walls):.1f} s wall for the refreshes, " if refresh_walls else ""
    timing = f"({clock_text(result.virtual_seconds)} virtual, {refresh}{result.wall_seconds:.1f} s in all)"
    if not result.problems:
        return Text(f"✔ {name}: every group ended as expected {timing}", style="bold green")
    text = Text(f"✘ {name}: did not end as expected {timing}", style="bold red")
    for problem in result.problems:
        text.append(f"\n  - {problem}", style="red")
    return text


def summary_table(results: list[ScenarioResult], *, full_ids: bool = True) -> Table:
    table = Table(title="asg-refresh demo: summary", title_justify="left")
    for column, justify in (
        ("scenario", "left"),
        ("group", "left"),
        ("refresh id", "left"),
        ("outcome", "left"),
        ("instances replaced", "right"),
        ("virtual time", "right"),
        ("refresh wall time", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for result in results:
        for group in result.groups:
            table.add_row(*_summary_row(group, full_ids=full_ids))
    return table


def _summary_row(group: GroupResult, *, full_ids: bool) -> tuple[RenderableType, ...]:
    matched = group.outcome == group.expected
    outcome = Text(group.outcome, style="green" if matched else "bold red")
    if not matched:
        outcome.append(f" (expected {group.expected})", style="red")
    replaced = f"{group.replaced}/{group.size}"
    if group.replaced != group.on_new_image:
        replaced += " (rolled back)" if group.on_new_image == 0 else f" ({group.on_new_image} kept)"
    wall = f"{group.wall_seconds:.1f} s" if group.wall_seconds is not None else "-"
    refresh_id = group.refresh_id or "-"
    if group.refresh_id and not full_ids:
        refresh_id = group.refresh_id[:8] + "…"
    return (
        group.scenario,
        group.group,
        refresh_id,
        outcome,
        replaced,
        clock_text(group.virtual_seconds),
        wall,
    )
