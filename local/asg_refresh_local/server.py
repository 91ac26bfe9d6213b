"""The standalone local AWS: moto's server with the harness, the emulation and the template deployed.

Any client reaches it with an endpoint URL (boto3, the AWS CLI, ``sam local invoke`` containers).
Handlers of the template run inside this process with ``AWS_ENDPOINT_URL`` pointing back here.

Virtual time is scaled (``time_scale`` virtual seconds per wall second) or moves on request:
``POST /_asg_refresh/clock/advance`` with ``{"seconds": N}``; ``GET /_asg_refresh/clock``.

Faults for a test driving the server from outside (another process): ``POST
/_asg_refresh/faults`` with ``{"fail_launches": {"group": "web", "count": 1}}``,
``{"unhealthy_new_instances": {...}}`` (the same fields) or ``{"clear": true}``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from asg_refresh_local.clock import CLOCK

CLOCK_PATH = "/_asg_refresh/clock"
FAULTS_PATH = "/_asg_refresh/faults"
_DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def clock_state() -> dict[str, Any]:
    from asg_refresh_local.harness.wait_scheduler import SCHEDULER

    return {
        "now": CLOCK.now().isoformat().replace("+00:00", "Z"),
        "time_scale": CLOCK.time_scale,
        "waiting": [
            {"execution": arn, "wake_at": when.isoformat().replace("+00:00", "Z")}
            for arn, when in SCHEDULER.waiting()
        ],
    }


def _json_response(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def with_clock_endpoints(app: WsgiApp) -> WsgiApp:
    """Wrap moto's WSGI app with the clock endpoints."""

    def clock_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == CLOCK_PATH and method == "GET":
            return _json_response(start_response, "200 OK", clock_state())
        if path == f"{CLOCK_PATH}/advance" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                seconds = float(body.get("seconds", 0))
                if seconds < 0:
                    raise ValueError("seconds must be >= 0")
            except (ValueError, TypeError, AttributeError) as exc:
                return _json_response(start_response, "400 Bad Request", {"error": str(exc)})
            CLOCK.advance(seconds)
            return _json_response(start_response, "200 OK", clock_state())
        if path == FAULTS_PATH and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                _inject(json.loads(environ["wsgi.input"].read(length) or b"{}"))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                return _json_response(start_response, "400 Bad Request", {"error": str(exc)})
            return _json_response(start_response, "200 OK", {"injected": True})
        if path.startswith(CLOCK_PATH):
            return _json_response(start_response, "404 Not Found", {"error": f"no {method} {path}"})
        return app(environ, start_response)

    return clock_app


def _inject(body: dict[str, Any]) -> None:
    """One fault of the emulation (``emulation.faults``), as ``FAULTS_PATH`` takes it."""
    from asg_refresh_local.emulation import emulation_for

    faults = emulation_for().faults
    if body.get("clear"):
        faults.clear()
        return
    for name in ("fail_launches", "unhealthy_new_instances"):
        if name in body:
            given = body[name]
            count = int(given["count"]) if "count" in given else None
            getattr(faults, name)(str(given["group"]), count=count)
            return
    raise ValueError(f"no known fault in {sorted(body)}: fail_launches, unhealthy_new_instances or clear")


class LocalServer:
    """moto's server in a thread, with everything installed and the template deployed."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5000,
        template: str | Path = "template.yaml",
        parameter_overrides: dict[str, Any] | None = None,
        region: str = "us-east-1",
        time_scale: float = 0.0,
        emulation: bool = True,
        auto_advance: bool = False,
        endpoint_host: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.template = template
        self.parameter_overrides = parameter_overrides or {}
        self.region = region
        self.time_scale = time_scale
        self.emulation = emulation
        self.auto_advance = auto_advance
        self.endpoint_host = endpoint_host
        self.verbose = verbose
        self._server: Any = None
        self._saved_config: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self.app: Any = None

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def container_endpoint_url(self) -> str:
        return f"http://{self.endpoint_host or self.host}:{self.port}"

    def start(self) -> None:
        from moto.core.config import default_user_config
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from asg_refresh_local.harness.app import LocalApp
        from asg_refresh_local.harness.delivery import DISPATCHER
        from asg_refresh_local.harness.lambda_routing import REGISTRY
        from asg_refresh_local.harness.patches import install_all
        from asg_refresh_local.harness.wait_scheduler import SCHEDULER

        self._saved_config = {k: default_user_config.get(k) for k in ("stepfunctions", "lambda")}
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        install_all(emulation=self.emulation)
        CLOCK.set_time_scale(self.time_scale)
        SCHEDULER.auto_advance = self.auto_advance
        DISPATCHER.start_thread()

        if not self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = with_clock_endpoints(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, app, threaded=True)
        self.port = self._server.server_port
        # moto's Step Functions aws-sdk tasks call back to localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="asg-refresh-server", daemon=True
        )
        self._thread.start()

        self.app = LocalApp(
            self.template,
            parameter_overrides=self.parameter_overrides,
            region=self.region,
            emulation=self.emulation,
            endpoint_url=self.endpoint_url,
        )
        self.app.start()
        # No X-Ray daemon here: Powertools' tracer would only log discarded segments.
        REGISTRY.extra_environment = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            **_DUMMY_CREDENTIALS,
        }

    def stop(self) -> None:
        from asg_refresh_local.harness.delivery import DISPATCHER
        from asg_refresh_local.harness.lambda_routing import REGISTRY
        from asg_refresh_local.harness.wait_scheduler import SCHEDULER

        if self.app is not None:
            self.app.stop()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        DISPATCHER.stop_thread()
        REGISTRY.extra_environment = {}
        # Leave the process as it was: moto's data gone, its config restored.
        from moto.core.config import default_user_config
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        for key, value in self._saved_config.items():
            if value is None:
                default_user_config.pop(key, None)  # type: ignore[misc]
            else:
                default_user_config[key] = value  # type: ignore[literal-required]
        SCHEDULER.auto_advance = False
        CLOCK.set_time_scale(0.0)

    def description(self) -> dict[str, Any]:
        """The endpoint, every deployed physical name, whether IAM is enforced (``local serve``)."""
        from asg_refresh_local.iam import ENFORCER

        assert self.app is not None
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "clock": clock_state(),
            "resources": {k: v.physical_id for k, v in self.app.deployment.resources.items()},
            "functions": {k: spec.name for k, spec in self.app.functions.items()},
            "outputs": self.app.outputs,
            "skipped": self.app.skipped_resources,
            "iam": ENFORCER.status(),
        }

    def env_vars(self) -> dict[str, dict[str, str]]:
        """A SAM ``--env-vars`` file: each function's environment plus how to reach this server."""
        assert self.app is not None
        extra = {
            "AWS_ENDPOINT_URL": self.container_endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **_DUMMY_CREDENTIALS,
        }
        functions = {
            logical_id: {**spec.environment, **extra} for logical_id, spec in self.app.functions.items()
        }
        return {"Parameters": extra, **functions}
