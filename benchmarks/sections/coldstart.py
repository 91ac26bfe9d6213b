"""Cold start, as Lambda runs it: each function imported in a fresh interpreter with Lambda's
environment, then its first invocation (with the clients it builds and the calls it makes),
against ``import boto3; boto3.client("autoscaling")`` and one call, in the same run.

The local server (moto, the emulation, the template deployed) runs in this process; each child
reaches it over HTTP with the function's own environment: the template's variables, its role's
credentials, ``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_EXECUTION_ENV`` and the
X-Ray variables of ``Tracing: Active`` with a sampled trace header (so Powertools' Tracer is on
and patches botocore, as in Lambda). The function's code and the layer's package are copied to a
fresh directory for each child, without bytecode, as ``sam build`` ships them (dependencies keep
their compiled bytecode, as pip installs them into the layer).

Timed in the child, from before the import to the end of the first invocation: CPU time of the
child (what the cold start itself costs; not the server's time answering) and wall time. Each
function alternates with a baseline child; the fastest of its runs is divided by the fastest of
its paired baselines. Target: at most 1.5 x the baseline for every function that builds clients.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.sections import Context
from benchmarks.support.build import build_sizes
from benchmarks.support.calls import CALLS
from benchmarks.support.local import LAYER, ROOT, START, TEMPLATE, held_executions
from benchmarks.support.output import console, note, ok, table

TITLE = "Cold start (import + first invocation, Lambda's environment)"
CHILD = Path(__file__).with_name("coldstart_child.py")
TARGET_RATIO = 1.5
#: The order the children run in each round: later events name what earlier ones created.
ORDER = (
    "start_refresh",
    "evaluate_gates",
    "request_approval",
    "alarm_rollback",
    "reconcile_watchers",
    "plan_rollout",
    "start_wave_group",
    "check_wave",
)
#: What-if variants of StartRefresh's cold start (not the product: what a change would give):
#: Powertools' Tracer off; one boto3 Session shared by all clients; the layer's package and the
#: function's code compiled to bytecode at build time; and all three.
WHAT_IFS = ("tracer-off", "shared-session", "precompiled", "precompiled+shared-session+tracer-off")
TRACE_HEADER = "Root=1-677b8f00-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1"
SAMPLE_REFRESH_ID = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"
SAMPLE_TEMPLATE_ID = "lt-0123456789abcdef0"


def _what_if_group(r: int, variant: str) -> str:
    return f"cold{r}-what-if-{WHAT_IFS.index(variant)}"


def _logical_id(function: str) -> str:
    return "".join(part.title() for part in function.split("_")) + "Function"


def _lambda_runtime_environment() -> dict[str, str]:
    """What the Lambda runtime sets besides the function's own variables (Tracing: Active)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/05/[$LATEST]0123456789abcdef",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_X_AMZN_TRACE_ID": TRACE_HEADER,
        # Lambda's file system is read-only: nothing compiled in one cold start helps the next.
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class ColdStarts:
    """The local server, its seeded fleet, and the children run against it."""

    def __init__(self, server: Any, workdir: Path) -> None:
        from asg_refresh_local.fleet import Fleet

        self.server = server
        self.app = server.app
        self.fleet = Fleet(self.app.client)
        self.workdir = workdir
        self.old = self.fleet.image("coldstart-old")
        self.new = self.fleet.image("coldstart-new")
        self.children = 0

    def environment(self, function: str | None, variant: str = "shipped") -> dict[str, str]:
        from asg_refresh_local.harness.lambda_routing import REGISTRY

        spec = self.app.functions[_logical_id(function or "start_refresh")]
        env = REGISTRY.environment_variables(spec)
        # The local server turns the Tracer off for its in-process handlers; Lambda does not.
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        env |= _lambda_runtime_environment() | {
            "AWS_CONFIG_FILE": str(self.workdir / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "no-credentials"),
        }
        if function is None:  # the baseline: the same environment, an administrator's key
            env |= {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
            }
        if "tracer-off" in variant.split("+"):
            env["POWERTOOLS_TRACE_DISABLED"] = "true"
        return env

    def _copy_code(self, function: str, *, precompiled: bool = False) -> tuple[Path, Path]:
        """The function's code and the layer's package, fresh and without bytecode (as sam
        build ships them), or compiled now (``precompiled``: a build step that sam build lacks)."""
        where = Path(tempfile.mkdtemp(prefix=f"{function}-", dir=self.workdir))
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "functions" / function, where / "task", ignore=ignore)
        shutil.copytree(LAYER / "asg_refresh", where / "layer" / "asg_refresh", ignore=ignore)
        if precompiled:
            for path in (where / "task", where / "layer"):
                compileall.compile_dir(path, quiet=1)
        return where / "task", where / "layer"

    def run(self, function: str | None, event: Any = None, variant: str = "shipped") -> dict[str, Any]:
        """One child: ``function`` (a folder of functions/) or, with None, the baseline."""
        self.children += 1
        job: dict[str, Any] = {
            "kind": "baseline" if function is None else "function",
            "variant": variant,
            "output": str(self.workdir / f"out-{self.children}.json"),
        }
        env = self.environment(function, variant)
        if function is not None:
            spec = self.app.functions[_logical_id(function)]
            task, layer = self._copy_code(function, precompiled="precompiled" in variant.split("+"))
            env["LAMBDA_TASK_ROOT"] = str(task)
            job |= {
                "task_root": str(task),
                "layer": str(layer),
                "handler": spec.handler,
                "event": event,
                "context": {
                    "function_name": spec.name,
                    "invoked_function_arn": spec.arn,
                    "memory_limit_in_mb": str(spec.memory_size),
                    "aws_request_id": str(uuid.uuid4()),
                    "timeout": str(spec.timeout),
                },
            }
        path = self.workdir / f"job-{self.children}.json"
        path.write_text(json.dumps(job, default=str))
        mark = CALLS.mark()
        proc = subprocess.run(
            [sys.executable, str(CHILD), str(path)],
            env=env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
        requests = CALLS.requests_since(mark)
        if proc.returncode != 0 or not Path(job["output"]).is_file():
            raise RuntimeError(f"cold-start child for {function or 'baseline'} failed: {proc.stderr[-2000:]}")
        out: dict[str, Any] = json.loads(Path(job["output"]).read_text())
        key = env["AWS_ACCESS_KEY_ID"]
        mine = [r for r in requests if r.access_key == key]
        out["api_calls"] = dict(Counter(r.name for r in mine))
        out["api_call_count"] = len(mine)
        out["signed_by"] = mine[0].caller if mine else None
        return out

    # -- the events each function is given ----------------------------------------------------------

    def seed_round(self, r: int) -> dict[str, str]:
        web, alarm = f"cold{r}-web", f"cold{r}-web-5xx"
        wave, wave_alarm = f"cold{r}-wave", f"cold{r}-wave-5xx"
        for name in (alarm, wave_alarm):
            self.fleet.alarm(name)
        self.fleet.group(web, self.old, size=2, alarms=[alarm])
        self.fleet.group(wave, self.old, size=2, tags={"cold-rollout": str(r)})
        for variant in WHAT_IFS:
            self.fleet.group(_what_if_group(r, variant), self.old, size=2)
        return {"web": web, "alarm": alarm, "wave": wave, "wave_alarm": wave_alarm}

    def event(self, function: str, names: dict[str, str], outputs: dict[str, Any], r: int) -> Any:
        from asg_refresh_local.samples import SAMPLE_ALARM, SAMPLE_GROUP, SAMPLE_IMAGE_ID, load_event

        started = ((outputs.get("start_refresh") or {}).get("data") or {}).get("refreshes") or [{}]
        refresh = started[0]
        replace = {
            SAMPLE_ALARM: names["alarm"],
            SAMPLE_GROUP: names["web"],
            SAMPLE_IMAGE_ID: self.new,
            SAMPLE_REFRESH_ID: str(refresh.get("refresh_id", SAMPLE_REFRESH_ID)),
            SAMPLE_TEMPLATE_ID: str(refresh.get("launch_template_id", SAMPLE_TEMPLATE_ID)),
        }
        if function == "start_refresh":
            return {"image_id": self.new, "groups": [names["web"]]}
        if function == "evaluate_gates":
            return load_event("evaluate_gates", replace)
        if function == "request_approval":
            return load_event("request_approval", replace)
        if function == "alarm_rollback":
            self.fleet.set_alarm(names["alarm"], "ALARM", "benchmark: 5xx above 5 %")
            return load_event("alarm_state_change", {SAMPLE_ALARM: names["alarm"]})
        if function == "reconcile_watchers":
            return load_event("reconcile_schedule")
        if function == "plan_rollout":
            message = {
                "image_id": self.new,
                "tags": {"cold-rollout": str(r)},
                "waves": [{"name": "all", "percent": 100}],
                "alarms": [names["wave_alarm"]],
            }
            return {"event": message, "rollout_id": f"coldstart-{r}"}
        plan = (outputs.get("plan_rollout") or {}).get("plan") or {}
        if function == "start_wave_group":
            return {
                "rollout_id": plan.get("rollout_id"),
                "wave": 0,
                "index": 0,
                "group": names["wave"],
                "message": plan.get("message"),
            }
        if function == "check_wave":
            start = outputs.get("start_wave_group") or {}
            reported = {k: start.get(k) for k in ("group", "status", "refresh_id", "previous_image_id")}
            return {
                "plan": plan,
                "check": (outputs.get("plan_rollout") or {}).get("check"),
                "results": [reported | {"refresh": {"status": "Successful"}}],
            }
        raise ValueError(f"no cold-start event for {function}")


def _best(runs: list[dict[str, Any]], key: str) -> float:
    return min(r[key] for r in runs)


def _summary(
    function: str, runs: list[dict[str, Any]], baselines: list[dict[str, Any]], variant: str = "shipped"
) -> dict[str, Any]:
    first = runs[0]
    cpu = _best(runs, "total_cpu_s") / _best(baselines, "total_cpu_s")
    wall = _best(runs, "total_wall_s") / _best(baselines, "total_wall_s")
    builds_clients = bool(first["clients"])
    return {
        "function": function,
        "variant": variant,
        "runs": len(runs),
        "import_cpu_ms": round(_best(runs, "import_cpu_s") * 1000, 1),
        "invoke_cpu_ms": round(_best(runs, "invoke_cpu_s") * 1000, 1),
        "total_cpu_ms": round(_best(runs, "total_cpu_s") * 1000, 1),
        "total_wall_ms": round(_best(runs, "total_wall_s") * 1000, 1),
        "baseline_cpu_ms": round(_best(baselines, "total_cpu_s") * 1000, 1),
        "ratio_cpu": round(cpu, 2),
        "ratio_wall": round(wall, 2),
        "import_ratio_cpu": round(_best(runs, "import_cpu_s") / _best(baselines, "import_cpu_s"), 2),
        "sessions": first["sessions"],
        "clients": first["clients"],
        "api_calls": first["api_calls"],
        "api_call_count": first["api_call_count"],
        "signed_by": first["signed_by"],
        "errored": [r["result"] for r in runs if r["errored"]],
        "success": [
            (r["result"] or {}).get("success") if isinstance(r["result"], dict) else None for r in runs
        ],
        "xray_sdk_loaded": first["xray_sdk_loaded"],
        "builds_clients": builds_clients,
        "meets_target": cpu <= TARGET_RATIO if builds_clients else None,
    }


def _top_imports(
    function: str, env: dict[str, str], task: Path, layer: Path, n: int = 8
) -> list[dict[str, Any]]:
    """Where one import's time goes: self time summed by top-level package (``-X importtime``)."""
    paths = [str(task), str(layer)]
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import sys; sys.path[:0] = {paths!r}; import app"],
        capture_output=True,
        text=True,
        env=env | {"LAMBDA_TASK_ROOT": str(task)},
        cwd=tempfile.gettempdir(),
        check=True,
    )
    by_package: Counter[str] = Counter()
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if own.isdigit():
            by_package[name.split(".")[0]] += int(own)
    return [{"package": k, "ms": round(v / 1000, 1)} for k, v in by_package.most_common(n)]


def _rounds(cold: ColdStarts, repeats: int) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    runs: dict[str, list[Any]] = {name: [] for name in (*ORDER, *WHAT_IFS)}
    baselines: dict[str, list[Any]] = {name: [] for name in runs}
    for r in range(repeats):
        names = cold.seed_round(r)
        outputs: dict[str, Any] = {}
        for function in ORDER:
            baselines[function].append(cold.run(None))
            run = cold.run(function, cold.event(function, names, outputs, r))
            outputs[function] = run["result"]
            runs[function].append(run)
        for variant in WHAT_IFS:
            group = _what_if_group(r, variant)
            baselines[variant].append(cold.run(None))
            runs[variant].append(
                cold.run("start_refresh", {"image_id": cold.new, "groups": [group]}, variant)
            )
    return runs, baselines


def measure(context: Context) -> dict[str, Any]:
    from asg_refresh_local.clock import CLOCK
    from asg_refresh_local.server import LocalServer

    repeats = 1 if context.quick else 5
    CALLS.install_server_side()
    CLOCK.reset(start=START)
    workdir = Path(tempfile.mkdtemp(prefix="asg-refresh-bench-coldstart-"))
    server = LocalServer(port=0, template=TEMPLATE)
    try:
        # Watchers the children start are recorded, not run: their polls would compete for the CPU.
        with held_executions():
            server.start()
            cold = ColdStarts(server, workdir)
            runs, baselines = _rounds(cold, repeats)
            slowest = max(ORDER, key=lambda f: _best(runs[f], "import_cpu_s"))
            task, layer = cold._copy_code(slowest)
            breakdown = {
                "function": slowest,
                "self_ms_by_package": _top_imports(slowest, cold.environment(slowest), task, layer),
            }
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [_summary(f, runs[f], baselines[f]) for f in ORDER]
    what_ifs = [_summary("start_refresh", runs[v], baselines[v], v) for v in WHAT_IFS]
    with_clients = [r for r in rows if r["builds_clients"]]
    return {
        "repeats": repeats,
        "baseline": 'import boto3; boto3.client("autoscaling").describe_auto_scaling_groups(MaxRecords=1)',
        "baseline_cpu_ms": round(min(b["total_cpu_s"] for v in baselines.values() for b in v) * 1000, 1),
        "baseline_import_cpu_ms": round(
            min(b["import_cpu_s"] for v in baselines.values() for b in v) * 1000, 1
        ),
        "rows": rows,
        "what_ifs": what_ifs,
        "target": f"import + first invocation <= {TARGET_RATIO} x the baseline (CPU time), "
        "for every function that builds clients",
        "meets_target": all(r["meets_target"] for r in with_clients),
        "slowest_import_breakdown": breakdown,
        "build": build_sizes(context.quick),
    }


def render(data: dict[str, Any]) -> None:
    columns = (
        "function",
        "import ms",
        "1st invoke ms",
        "total ms",
        "x baseline (CPU)",
        "x (wall)",
        "import x",
        "sessions",
        "clients",
        "calls",
        "<= 1.5",
    )

    def line(r: dict[str, Any], label: str) -> tuple[Any, ...]:
        flag = ok(r["meets_target"]) if r["builds_clients"] else "n/a (no client)"
        if r["errored"]:
            flag += " [red](errored)[/]"
        return (
            label,
            f"{r['import_cpu_ms']:.0f}",
            f"{r['invoke_cpu_ms']:.0f}",
            f"{r['total_cpu_ms']:.0f}",
            f"{r['ratio_cpu']:.2f}",
            f"{r['ratio_wall']:.2f}",
            f"{r['import_ratio_cpu']:.2f}",
            r["sessions"],
            ", ".join(r["clients"]) or "-",
            r["api_call_count"],
            flag,
        )

    table(
        f"Cold start in Lambda's environment, CPU ms of the child (fastest of {data['repeats']}); baseline: "
        f"{data['baseline']} = {data['baseline_cpu_ms']} ms",
        columns,
        (line(r, r["function"]) for r in data["rows"]),
    )
    table(
        "What-if (not the product): StartRefresh's cold start with a change",
        columns,
        (line(r, r["variant"]) for r in data["what_ifs"]),
    )
    b = data["slowest_import_breakdown"]
    note(
        f"import self time by package (-X importtime), {b['function']}: "
        + ", ".join(f"{p['package']} {p['ms']}" for p in b["self_ms_by_package"])
        + " ms"
    )
    build = data["build"]
    if "skipped" in build:
        note(f"build sizes: skipped ({build['skipped']})")
    else:
        table(
            f"Built artefacts ({build['source']})",
            ("artefact", "KB", "files", ".py", ".pyc"),
            (
                (k, f"{v['bytes'] / 1000:,.0f}", v["files"], v["py_files"], v["pyc_files"])
                for k, v in build["artefacts"].items()
            ),
        )
    console.print(f"  target ({data['target']}): {ok(data['meets_target'])}")
