"""The local subcommands of ``asg-refresh``: ``local serve`` and ``demo``.

The console script itself is the operator CLI's (``asg_refresh_cli.main``), which adds these
where this package is installed; :func:`build_parser` and :func:`main` are kept here for tests.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asg_refresh_local.demo.options import register as add_demo


def _parameter_overrides(values: Sequence[str]) -> dict[str, str]:
    """``Key=Value`` pairs, as separate arguments or space-separated in one (like SAM)."""
    overrides: dict[str, str] = {}
    for value in values:
        for pair in value.split():
            key, sep, text = pair.partition("=")
            if not sep:
                raise argparse.ArgumentTypeError(f"parameter override {pair!r} is not Key=Value")
            overrides[key.removeprefix("ParameterKey=")] = text.removeprefix("ParameterValue=")
    return overrides


def _serve(args: argparse.Namespace) -> int:
    from asg_refresh_local.server import LocalServer

    server = LocalServer(
        host=args.host,
        port=args.port,
        template=args.template,
        parameter_overrides=_parameter_overrides(args.parameter_overrides),
        region=args.region,
        time_scale=args.time_scale,
        emulation=not args.no_emulation,
        auto_advance=args.auto_advance,
        endpoint_host=args.endpoint_host,
        verbose=args.verbose,
    )
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(json.dumps(server.description(), indent=2, default=str), flush=True)
        if args.env_vars_out:
            Path(args.env_vars_out).write_text(json.dumps(server.env_vars(), indent=2) + "\n")
        stop.wait()
    finally:
        server.stop()
        print("stopped", file=sys.stderr, flush=True)
    return 0


def _add_local_serve(local: Any) -> None:
    serve = local.add_parser(
        "serve",
        help="run moto's server with the app deployed and the emulation",
        description="Run moto's server with the SAM app deployed into it.",
    )
    serve.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--template", default="template.yaml", help="the SAM template to deploy")
    serve.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="the template's parameters"
    )
    serve.add_argument("--region", default="us-east-1", help="the region the stack is deployed in")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=0.0,
        help="virtual seconds per wall second; 0 (default): time moves only on request",
    )
    serve.add_argument(
        "--auto-advance",
        action="store_true",
        help="jump the clock to the next wake-up once every execution waits (like the tests)",
    )
    serve.add_argument("--env-vars-out", help="write a SAM --env-vars JSON file for sam local invoke")
    serve.add_argument(
        "--endpoint-host",
        help="address Lambda containers use to reach this server, "
        "e.g. 172.17.0.1 (the Docker bridge gateway)",
    )
    serve.add_argument(
        "--no-emulation", action="store_true", help="do not install the instance-refresh emulation"
    )
    serve.add_argument("--verbose", action="store_true", help="log every HTTP request")
    serve.set_defaults(func=_serve)


def register_local_commands(commands: Any) -> None:
    """Add ``local serve`` and ``demo`` to the ``asg-refresh`` parser."""
    local = commands.add_parser("local", help="local AWS: moto, the emulation, the harness")
    local_commands = local.add_subparsers(dest="local_command", required=True, help="what to run")
    _add_local_serve(local_commands)
    add_demo(commands)


def build_parser() -> argparse.ArgumentParser:
    from asg_refresh_cli.main import build_parser as operator_parser

    return operator_parser()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
