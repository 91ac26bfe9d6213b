"""``asg-refresh demo``: the quiet environment the handlers run in, the scenarios in turn."""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console

from asg_refresh_local.demo.options import DEFAULT_SPEED, build_parser
from asg_refresh_local.demo.runner import ScenarioResult, run_scenario
from asg_refresh_local.demo.scenarios import SCENARIO_KEYS, Preferences, build_scenarios
from asg_refresh_local.demo.view import LiveView, PlainView, summary_table

QUIET_LOGGERS = ("asg_refresh", "moto", "botocore")
#: Plain output (pipes, CI) is this wide at least, so that lines and the summary do not wrap.
MIN_PLAIN_WIDTH = 150
#: The summary shows whole refresh ids from this width on (the log lines always do).
FULL_ID_WIDTH = 140


@contextmanager
def _quiet_handlers(verbose: bool) -> Iterator[None]:
    """The handlers use Powertools: no X-Ray here, and their logs and metrics would drown the view."""
    quiet = {"POWERTOOLS_TRACE_DISABLED": "true"}
    if not verbose:
        quiet |= {"POWERTOOLS_LOG_LEVEL": "CRITICAL", "POWERTOOLS_METRICS_DISABLED": "true"}
    saved = {key: os.environ.get(key) for key in quiet}
    os.environ.update(quiet)
    # The shared package's module loggers and moto's Step Functions interpreter (which logs every
    # failed state, e.g. the watcher's deliberate Fail) would print through logging's last resort.
    loggers = {name: logging.getLogger(name) for name in QUIET_LOGGERS}
    levels = {name: logger.level for name, logger in loggers.items()}
    if not verbose:
        for logger in loggers.values():
            logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Powertools: "No application metrics to publish"
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


def run(args: argparse.Namespace, console: Console | None = None) -> tuple[int, list[ScenarioResult]]:
    console = console or Console()
    if not console.is_terminal and console.width < MIN_PLAIN_WIDTH:
        console = Console(file=console.file, width=MIN_PLAIN_WIDTH)
    live = not args.no_live
    speed = args.speed if args.speed is not None else (DEFAULT_SPEED if live else 0.0)
    keys = list(SCENARIO_KEYS) if args.scenario == "all" else [args.scenario]
    preferences = Preferences(
        min_healthy=args.min_healthy,
        warmup=args.warmup,
        checkpoints=args.checkpoints,
        checkpoint_delay=args.checkpoint_delay,
    )
    scenarios = build_scenarios(keys, args.groups, args.size, preferences)
    view: LiveView | PlainView = LiveView(console, speed) if live else PlainView(console)
    from asg_refresh_local.iam import ENFORCER

    enforced = "are enforced" in ENFORCER.status()
    console.print(f"[{'green' if enforced else 'yellow'}]{ENFORCER.status()}[/]")
    results: list[ScenarioResult] = []
    started = time.monotonic()
    with _quiet_handlers(args.verbose):
        for index, scenario in enumerate(scenarios, start=1):
            view.begin(scenario, index, len(scenarios))
            result = run_scenario(scenario, args.template, speed, view, live=live)
            view.end(result)
            results.append(result)
    console.print(summary_table(results, full_ids=console.width >= FULL_ID_WIDTH))
    problems = [f"{r.scenario.key}: {p}" for r in results for p in r.problems]
    elapsed = time.monotonic() - started
    if problems:
        console.print(
            f"[bold red]{len(problems)} thing(s) did not end as expected[/] ({elapsed:.1f} s wall):"
        )
        for problem in problems:
            console.print(f"  [red]- {problem}[/]")
        return 1, results
    console.print(
        f"[bold green]Every scenario ended as expected[/] ({elapsed:.1f} s wall in all, setup included)."
    )
    return 0, results


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)[0]
