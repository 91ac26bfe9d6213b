"""The standalone server: moto's server with the app deployed, reached over HTTP."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from asg_refresh_local.cli import build_parser
from asg_refresh_local.server import LocalServer

from .conftest import TEMPLATE

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    local = LocalServer(
        port=0, template=TEMPLATE, parameter_overrides={"Environment": "served"}, endpoint_host="172.17.0.1"
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


def _client(server: LocalServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",  # type: ignore[call-overload]
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _http(server: LocalServer, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.endpoint_url + path, data=data, method="GET" if data is None else "POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _status_when_settled(server: LocalServer, arn: str, *, waiting: bool) -> str:
    """Poll until the execution finishes or sits in a wait (wall-clock sync, no business time)."""
    sfn = _client(server, "stepfunctions")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        if status != "RUNNING":
            return status
        if waiting and any(w["execution"] == arn for w in _http(server, "/_asg_refresh/clock")["waiting"]):
            return status
        time.sleep(0.01)
    raise AssertionError(f"{arn} did not settle")


def test_lambda_invoke_runs_the_handler_in_the_server(server: LocalServer) -> None:
    name = server.description()["functions"]["EchoFunction"]

    response = _client(server, "lambda").invoke(FunctionName=name, Payload=b'{"x": 1}')

    payload = json.loads(response["Payload"].read())
    assert payload["event"] == {"x": 1}
    assert payload["stage"] == "served"
    assert payload["endpoint_url"] == server.endpoint_url  # over the template's empty AWS_ENDPOINT_URL


def test_clock_endpoints_move_time_and_release_waits(server: LocalServer) -> None:
    start = datetime.fromisoformat(_http(server, "/_asg_refresh/clock")["now"])
    sfn = _client(server, "stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=server.description()["outputs"]["StateMachineArn"],
        name="served-1",
        input=json.dumps({"fail": False, "wait": 60}),
    )["executionArn"]

    assert _status_when_settled(server, arn, waiting=True) == "RUNNING"
    advanced = _http(server, "/_asg_refresh/clock/advance", {"seconds": 7200})
    assert datetime.fromisoformat(advanced["now"]) == start + timedelta(seconds=7200)
    assert advanced["time_scale"] == 0.0
    assert _status_when_settled(server, arn, waiting=True) == "RUNNING"  # now in the 60 s wait
    _http(server, "/_asg_refresh/clock/advance", {"seconds": 60})

    assert _status_when_settled(server, arn, waiting=False) == "SUCCEEDED"
    output = json.loads(sfn.describe_execution(executionArn=arn)["output"])
    assert datetime.fromisoformat(output["clock"]["finished_at"]) == start + timedelta(seconds=7260)


def test_bad_advance_is_rejected(server: LocalServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        _http(server, "/_asg_refresh/clock/advance", {"seconds": -1})
    assert raised.value.code == 400


def test_env_vars_file_points_containers_at_the_server(server: LocalServer) -> None:
    env = server.env_vars()

    assert env["EchoFunction"]["AWS_ENDPOINT_URL"] == f"http://172.17.0.1:{server.port}"
    assert env["EchoFunction"]["STAGE"] == "served"
    assert env["EchoFunction"]["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["EchoFunction"]["AWS_ACCESS_KEY_ID"]
    assert env["Parameters"]["AWS_ENDPOINT_URL"] == env["EchoFunction"]["AWS_ENDPOINT_URL"]  # every function


def test_cli_parses_serve_options() -> None:
    args = build_parser().parse_args(
        [
            "local",
            "serve",
            "--port",
            "0",
            "--time-scale",
            "60",
            "--parameter-overrides",
            "A=1 B=2",
            "--env-vars-out",
            "env.json",
        ]
    )
    assert (args.port, args.time_scale, args.parameter_overrides, args.env_vars_out) == (
        0,
        60.0,
        ["A=1 B=2"],
        "env.json",
    )


def test_iam_is_enforced_over_http_too(server: LocalServer) -> None:
    # Given the Echo function's role, which the template grants nothing on Auto Scaling
    assert server.app is not None
    assert server.app.policies is not None
    assert "are enforced" in server.description()["iam"]
    (principal,) = [
        p for p in server.app.policies.principals.values() if p.role_logical_id == "EchoFunctionRole"
    ]
    keys = principal.credentials()
    as_echo = boto3.client(
        "autoscaling",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
    )

    # When it asks the server for an Auto Scaling write, it is refused as AWS refuses it
    with pytest.raises(as_echo.exceptions.ClientError) as refused:
        as_echo.start_instance_refresh(AutoScalingGroupName="anything")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "EchoFunctionRole" in refused.value.response["Error"]["Message"]
