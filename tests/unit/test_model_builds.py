"""Deferred model builds: none at import, every one before StartRefresh's threads run."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    answer = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return answer.stdout.strip()


def test_importing_start_refresh_builds_no_model_and_build_all_builds_them_all() -> None:
    out = _run(
        """
        from asg_refresh.logic import start_refresh
        from asg_refresh.models.base import Model, build_all

        def every(model):
            for sub in model.__subclasses__():
                yield sub
                yield from every(sub)

        models = list(every(Model))
        print(len(models), sum(m.__pydantic_complete__ for m in models), end=" ")
        build_all()
        print(sum(m.__pydantic_complete__ for m in models))
        """
    )
    count, built_at_import, built_after = (int(n) for n in out.split())
    assert count > 20
    assert built_at_import == 0
    assert built_after == count
