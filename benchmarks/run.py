"""asg-refresh benchmarks: one section per module of benchmarks/sections/, run in order.

    python benchmarks/run.py [--quick] [--only SECTION ...]       (or: make bench ARGS=...)

Prints each section's tables and writes every figure to benchmarks/results/latest.json.
Everything runs locally (moto, the instance-refresh emulation, the harness) on the virtual
clock. These machines are noisy: counts, virtual times and ratios are what to read; wall times
are indicative and never asserted. ``--quick`` uses smaller sizes (a smoke run). See
docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # not needed, and slow to load
# The in-process sections run handlers without an X-Ray daemon; the cold-start children have
# the Tracer on, as in Lambda (sections/coldstart.py sets their environment).
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

ROOT = Path(__file__).resolve().parent.parent
# This checkout's code, whatever an installed (editable) copy of the packages points to.
for path in (ROOT / "local", ROOT / "layers" / "shared", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Before anything creates a botocore Session: every Session made from now on is counted.
from benchmarks.support.calls import CALLS  # noqa: E402

CALLS.install_client_side()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.sections import Context, coldstart, cost, emulator, fleet, latency, reconcile, warm  # noqa: E402
from benchmarks.support.local import iam_status  # noqa: E402
from benchmarks.support.output import REAL_STDERR, console, quiet  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
#: The sections, in the order they run: each module has TITLE, measure(context) and render(data).
SECTIONS: dict[str, ModuleType] = {
    "cost": cost,
    "latency": latency,
    "coldstart": coldstart,
    "warm": warm,
    "emulator": emulator,
    "fleet": fleet,
    "reconcile": reconcile,
}


def _machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "python": platform.python_version(),
    }


def run_section(name: str, context: Context) -> dict[str, Any]:
    wall = time.perf_counter()
    try:
        with quiet():
            data = SECTIONS[name].measure(context)
    except Exception as error:  # one broken section must not hide the others
        data = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        REAL_STDERR.write(data["traceback"])
    data["section_wall_seconds"] = round(time.perf_counter() - wall, 2)
    if "error" in data:
        console.print(f"[red]{name}: failed: {data['error']}[/]")
    else:
        SECTIONS[name].render(data)
    console.print(f"  [dim]{name}: {data['section_wall_seconds']} s wall[/]\n")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SECTIONS),
        metavar="SECTION",
        help=f"one of {', '.join(SECTIONS)} (repeatable)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(ROOT)})"
    )
    args = parser.parse_args(argv)
    chosen = [s for s in SECTIONS if not args.only or s in args.only]
    results: dict[str, Any] = {
        "command": "benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "iam": iam_status(),
        "quick": args.quick,
        "sections": {},
    }
    console.print(f"[dim]{results['iam']}; {results['machine']}[/]\n")
    context = Context(quick=args.quick)
    total = time.perf_counter()
    for name in chosen:
        results["sections"][name] = run_section(name, context)
    results["total_wall_seconds"] = round(time.perf_counter() - total, 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    console.print(f"results: {args.output} ({results['total_wall_seconds']} s)")
    return 1 if any("error" in d for d in results["sections"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
