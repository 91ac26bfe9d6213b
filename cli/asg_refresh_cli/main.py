"""The ``asg-refresh`` console script: the operator commands, plus the local tools where installed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from asg_refresh_cli.commands import register as add_operator_commands


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asg-refresh")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asg-refresh", description="asg-refresh tools")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_operator_commands(commands)
    try:
        from asg_refresh_local.cli import register_local_commands
    except ImportError:  # an operator's install: no local AWS, no demo
        return parser
    register_local_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
