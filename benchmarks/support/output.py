"""Tables on the real stdout; handler logs (Powertools writes JSON lines to fd 1) silenced."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

_REAL_STDOUT = os.fdopen(os.dup(1), "w", buffering=1)
REAL_STDERR = os.fdopen(os.dup(2), "w", buffering=1)

console = Console(file=_REAL_STDOUT, width=150)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send fds 1 and 2 (handler logs, X-Ray chatter) to /dev/null while measuring."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def ok(flag: Any) -> str:
    if flag is None:
        return "-"
    return "[green]yes[/]" if flag else "[red]NO[/]"


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    t = Table(title=title)
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(t)


def note(text: str) -> None:
    console.print(f"  {text}")
