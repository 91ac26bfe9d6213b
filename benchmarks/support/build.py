"""The size of what ``sam build`` makes: each function and the layer, and whether any of it
ships compiled bytecode (sam build copies sources without it and unzips wheels)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.support.local import ROOT, TEMPLATE


def build_sizes(quick: bool) -> dict[str, Any]:
    build = ROOT / ".aws-sam" / "build"
    note_ = "existing .aws-sam/build"
    tmp = None
    if not (build / "template.yaml").is_file():
        if quick:
            return {"skipped": "no .aws-sam/build and --quick: run `make build` (or a full run) for sizes"}
        # sam is installed beside the interpreter running the benchmark (the project's venv).
        bin_dir = Path(sys.executable).parent
        tmp = Path(tempfile.mkdtemp(prefix="asg-refresh-bench-build-"))
        env = {**os.environ, "PATH": os.environ.get("PATH", "") + os.pathsep + str(bin_dir)}
        env |= {"SAM_CLI_TELEMETRY": "0"}
        try:
            proc = subprocess.run(
                [
                    str(bin_dir / "sam"),
                    "build",
                    "--template",
                    str(TEMPLATE),
                    "--build-dir",
                    str(tmp / "build"),
                    "--cache-dir",
                    str(tmp / "cache"),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            shutil.rmtree(tmp, ignore_errors=True)
            return {"skipped": f"sam build could not run: {error}"}
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {
                "skipped": "sam build failed (needs python3.11 on PATH and the package index): "
                + " / ".join(tail)
            }
        build, note_ = tmp / "build", "sam build into a temporary directory"

    artefacts = {}
    for path in sorted(p for p in build.iterdir() if p.is_dir()):
        files = [p for p in path.rglob("*") if p.is_file()]
        artefacts[path.name] = {
            "bytes": sum(p.stat().st_size for p in files),
            "mb": round(sum(p.stat().st_size for p in files) / 1e6, 2),
            "files": len(files),
            # sam build copies sources without bytecode and unzips wheels: every import compiles.
            "py_files": sum(1 for p in files if p.suffix == ".py"),
            "pyc_files": sum(1 for p in files if p.suffix == ".pyc"),
        }
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"source": note_, "artefacts": artefacts}
