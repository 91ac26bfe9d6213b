"""The demo's command line, kept free of heavy imports so ``asg-refresh --help`` stays quick."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asg_refresh_local.demo.scenarios import SCENARIO_KEYS
from asg_refresh_local.samples import PROJECT_ROOT

#: Virtual seconds per wall second: a default run (about 11 virtual minutes) takes about half a minute.
DEFAULT_SPEED = 50.0
DESCRIPTION = (
    "Roll a local fleet onto a new AMI with the real handlers and state machine, on the in-process "
    "emulation (no AWS account, no Docker), and show it live: an Image Builder rollout, an alarm at a "
    "checkpoint that rolls back, a rollback that is impossible and becomes a cancel, a malformed event."
)


def _checkpoints(text: str) -> tuple[int, ...]:
    if text.strip().lower() in {"", "none"}:
        return ()
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of percentages") from None
    if any(not 1 <= v <= 100 for v in values) or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError("checkpoints must be ascending, unique, between 1 and 100")
    return values


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _percentage(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 100")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add_fleet_arguments(parser)
    _add_preference_arguments(parser)
    _add_run_arguments(parser)


def _add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    fleet = parser.add_argument_group("fleet")
    fleet.add_argument(
        "--groups",
        type=_positive,
        default=3,
        metavar="N",
        help="opted-in groups in the rollout scenario (default: 3; one more, not opted in, is added)",
    )
    fleet.add_argument(
        "--size", type=_positive, default=4, metavar="N", help="instances per group (default: 4)"
    )


def _add_preference_arguments(parser: argparse.ArgumentParser) -> None:
    preferences = parser.add_argument_group(
        "instance refresh preferences (the template's DefaultPreferences)"
    )
    preferences.add_argument(
        "--min-healthy",
        type=_percentage,
        default=50,
        metavar="PCT",
        help="MinHealthyPercentage (default: 50)",
    )
    preferences.add_argument(
        "--warmup",
        type=int,
        default=60,
        metavar="SECONDS",
        help="InstanceWarmup in virtual seconds (default: 60)",
    )
    preferences.add_argument(
        "--checkpoints",
        type=_checkpoints,
        default=(50,),
        metavar="PCT[,PCT...]",
        help="CheckpointPercentages, or 'none' (default: 50; the alarm scenario needs one "
        "and uses 50 when none is given)",
    )
    preferences.add_argument(
        "--checkpoint-delay",
        type=int,
        default=120,
        metavar="SECONDS",
        help="CheckpointDelay in virtual seconds (default: 120)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run")
    run.add_argument(
        "--scenario",
        choices=[*SCENARIO_KEYS, "all"],
        default="all",
        help="rollout: Image Builder event rolls the fleet; alarm: an alarm at a checkpoint rolls "
        "back; cancel: rollback impossible ($Latest), so cancelled; all (default)",
    )
    run.add_argument(
        "--speed",
        type=_non_negative,
        default=None,
        metavar="X",
        help=f"virtual seconds per wall second (default: {DEFAULT_SPEED:g}; 0: flat out)",
    )
    run.add_argument(
        "--no-live",
        action="store_true",
        help="plain line output, flat out unless --speed is given (CI, logs, tests)",
    )
    run.add_argument("--verbose", action="store_true", help="let the handlers' JSON logs through")
    run.add_argument("--template", type=Path, default=PROJECT_ROOT / "template.yaml", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asg-refresh demo", description=DESCRIPTION)
    add_arguments(parser)
    return parser


def register(subcommands: Any) -> None:
    """Add ``demo`` to the ``asg-refresh`` console script's subcommands."""
    demo = subcommands.add_parser(
        "demo", help="the live demo on the in-process emulation", description=DESCRIPTION
    )
    add_arguments(demo)
    demo.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from asg_refresh_local.demo.command import run

    return run(args)[0]
