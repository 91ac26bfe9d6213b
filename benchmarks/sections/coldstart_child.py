"""One Lambda cold start in a fresh interpreter; run by coldstart.py, never imported.

``argv[1]`` names a JSON job: ``kind`` "function" (import the handler module as the Lambda
runtime does, then its first invocation) or "baseline" (``import boto3``, then
``boto3.client("autoscaling")`` and one call); ``output``, where the figures go. Only the
standard library is loaded before the clock starts; what the cold start built (botocore
Sessions, clients) is counted after it stops.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import sys
import time
import traceback
from typing import Any


class _Context:
    """The attributes and method the Python runtime gives a handler's ``context``."""

    def __init__(self, values: dict[str, str]) -> None:
        self.function_name = values["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = values["invoked_function_arn"]
        self.memory_limit_in_mb = values["memory_limit_in_mb"]
        self.aws_request_id = values["aws_request_id"]
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "2026/01/05/[$LATEST]0123456789abcdef"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(values["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _SessionCounter:
    """Counts the botocore Sessions created, without loading botocore before the clock starts:
    a finder that lets every import through, and wraps ``Session.__init__`` once
    ``botocore.session`` has loaded (then leaves ``sys.meta_path``)."""

    created = 0

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.session":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert spec.loader is not None
        exec_module = spec.loader.exec_module

        def exec_and_wrap(module: Any) -> None:
            exec_module(module)
            init = module.Session.__init__

            def counted_init(session: Any, *args: Any, **kwargs: Any) -> None:
                _SessionCounter.created += 1
                init(session, *args, **kwargs)

            module.Session.__init__ = counted_init

        spec.loader.exec_module = exec_and_wrap  # type: ignore[method-assign]
        return spec


def _share_one_session() -> None:
    """What-if (not the product): every ``boto3.session.Session()`` is one shared Session."""
    import boto3.session

    real = boto3.session.Session
    shared: list[Any] = []

    def session(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return real(*args, **kwargs)
        if not shared:
            shared.append(real())
        return shared[0]

    boto3.session.Session = session  # type: ignore[misc]


def _built() -> dict[str, Any]:
    if "botocore" not in sys.modules:
        return {"sessions": 0, "clients": []}
    from botocore.client import BaseClient
    from botocore.session import Session

    gc.collect()
    objects = gc.get_objects()
    return {
        "sessions": _SessionCounter.created,
        "sessions_alive": sum(1 for o in objects if isinstance(o, Session)),
        "clients": sorted(o.meta.service_model.service_name for o in objects if isinstance(o, BaseClient)),
    }


def main() -> None:
    with open(sys.argv[1]) as handle:
        job = json.load(handle)
    # As the Lambda runtime: the function's code first, then the layer; not this script's folder.
    sys.path[0:1] = [job["task_root"], job["layer"]] if job["kind"] == "function" else []
    out: dict[str, Any] = {"kind": job["kind"], "variant": job.get("variant", "shipped")}
    sys.meta_path.insert(0, _SessionCounter())
    result: Any = None
    wall1 = cpu1 = None
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        if job["kind"] == "baseline":
            import boto3

            wall1, cpu1 = time.perf_counter(), time.process_time()
            boto3.client("autoscaling").describe_auto_scaling_groups(MaxRecords=1)
        else:
            if "shared-session" in out["variant"].split("+"):
                _share_one_session()
            module_name, _, function = job["handler"].rpartition(".")
            module = importlib.import_module(module_name)
            wall1, cpu1 = time.perf_counter(), time.process_time()
            result = getattr(module, function)(job["event"], _Context(job["context"]))
        out["errored"] = False
    except Exception as error:  # a cold start that fails is reported, not hidden
        out["errored"] = True
        result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-2000:]}
    wall2, cpu2 = time.perf_counter(), time.process_time()
    if wall1 is None or cpu1 is None:  # failed before the import ended
        wall1, cpu1 = wall2, cpu2
    out |= {
        "import_wall_s": wall1 - wall0,
        "import_cpu_s": cpu1 - cpu0,
        "invoke_wall_s": wall2 - wall1,
        "invoke_cpu_s": cpu2 - cpu1,
        "total_wall_s": wall2 - wall0,
        "total_cpu_s": cpu2 - cpu0,
        "modules": len(sys.modules),
        "xray_sdk_loaded": "aws_xray_sdk" in sys.modules,
        "layer_from": getattr(sys.modules.get("asg_refresh"), "__file__", None),
        **_built(),
        "result": result,
    }
    with open(job["output"], "w") as handle:
        json.dump(out, handle, default=str)


if __name__ == "__main__":
    main()
