"""The IAM policy evaluation engine: ``@cloud-copilot/iam-simulate``, in a Node.js process.

We do not evaluate IAM ourselves: the simulator implements every condition operator, validates
actions, resources and context keys against AWS's service reference, and evaluates resource and
KMS key policies. It is AGPL-licensed, so it is a test-time tool only (``tools/iam-simulate``,
installed by ``make iam-engine``), never part of the Lambda layer.

One long-lived ``node`` process answers one JSON line per request; answers are cached, since a
test run asks the same questions many times.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

TOOL_DIR = Path(__file__).resolve().parents[3] / "tools" / "iam-simulate"
SERVER = TOOL_DIR / "server.mjs"
ALLOWED = "Allowed"


class EngineUnavailable(RuntimeError):
    """Node.js or the simulator package is not installed."""


class EngineError(RuntimeError):
    """The simulator refused a request (an unknown action, a malformed policy or ARN...)."""


def engine_missing_reason() -> str | None:
    """Why the engine cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (TOOL_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        return f"the simulator is not installed: run `make iam-engine` (npm ci in {TOOL_DIR})"
    return None


class PolicyEngine:
    """A thread-safe client of one simulator process, with a cache of every answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._cache: dict[str, str] = {}
        self._next_id = 0
        self.evaluations = 0

    def evaluate(self, simulation: dict[str, Any]) -> str:
        """``Allowed``, ``ImplicitlyDenied`` or ``ExplicitlyDenied`` for one request."""
        key = json.dumps(simulation, sort_keys=True, separators=(",", ":"))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._lock:
            answer = self._ask(simulation)
            self.evaluations += 1
        result = str(answer.get("result"))
        if result == "Error":
            raise EngineError(f"iam-simulate refused the request: {answer.get('errors')} ({key[:2000]})")
        self._cache[key] = result
        return result

    def _ask(self, simulation: dict[str, Any]) -> dict[str, Any]:
        process = self._started()
        self._next_id += 1
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps({"id": self._next_id, "simulation": simulation}) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            self._process = None
            raise EngineUnavailable("the iam-simulate process ended unexpectedly")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            reason = engine_missing_reason()
            if reason:
                raise EngineUnavailable(reason)
            self._process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
                ["node", str(SERVER)],  # noqa: S607 - node from PATH, as npm installed it
                cwd=TOOL_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
        return self._process

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.kill()
                self._process.wait()
                self._process = None
