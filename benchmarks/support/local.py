"""The local app the sections run on: moto, the instance-refresh emulation and the harness."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.support.calls import CALLS

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
TERMINAL = {"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@contextlib.contextmanager
def local_app(**overrides: str) -> Iterator[tuple[Any, Any]]:
    """``LocalApp`` on the template, the virtual clock at ``START``, and a ``Fleet`` to seed it.

    The harness fires no schedule by itself (``LocalApp.fire_schedule`` does, on request), so
    ReconcileWatchers runs only where a section fires it (reconcile.py)."""
    from asg_refresh_local.clock import CLOCK
    from asg_refresh_local.fleet import Fleet
    from asg_refresh_local.harness import LocalApp

    CALLS.install_server_side()
    CLOCK.reset(start=START)
    with LocalApp(TEMPLATE, parameter_overrides=overrides or None) as app:
        yield app, Fleet(app.client)


@contextlib.contextmanager
def held_executions() -> Iterator[None]:
    """StartExecution records the execution but does not run it (marked ABORTED, so the wait
    scheduler does not wait for it): the fleet and cold-start sections measure the start path,
    not the first polls of hundreds of watchers competing for the GIL; the cost section swaps
    in a baseline watcher. A temporary swap, undone on leaving: not a patch the harness's
    registry needs to know (nothing registers ``Execution.start``)."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.start

    def start(self: Any) -> None:
        self.exec_status = ExecutionStatus.ABORTED

    Execution.start = start  # type: ignore[method-assign]
    try:
        yield
    finally:
        Execution.start = original  # type: ignore[method-assign]


def vt(value: Any) -> datetime:
    """A virtual time from an API answer (datetime, or ISO text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def iam_status() -> str:
    # The harness first: importing asg_refresh_local.iam on its own is an import cycle.
    import asg_refresh_local.harness  # noqa: F401
    from asg_refresh_local.iam import ENFORCER

    return ENFORCER.status()
