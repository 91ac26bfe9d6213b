"""Every command and option of ``asg-refresh`` says what it is for in --help."""

from __future__ import annotations

import argparse

from asg_refresh_cli.main import build_parser


def _undocumented(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _undocumented(sub, (*path, name))
        elif not action.help and not isinstance(action, argparse._HelpAction):
            missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_has_help_text() -> None:
    assert _undocumented(build_parser()) == []


def test_an_option_without_help_is_found() -> None:
    parser = build_parser()
    parser.add_argument("--undocumented")

    assert _undocumented(parser) == [" --undocumented"]
