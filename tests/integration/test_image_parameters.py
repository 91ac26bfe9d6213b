"""A deploy message's ``image_parameter`` cannot make the product read, or repeat, a secret.

Only parameters under the allowed prefix (``/asg-refresh/`` by default) and the golden-AMI
parameters are read; a value that is not an AMI id is never repeated (in the answer, the dead
letter or the logs); a SecureString is never decrypted and never used.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.observability import logger as product_logger
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

SECRET = "hunter2-correct-horse-battery-staple"


@pytest.fixture
def parameter_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The parameters of every ssm.get_parameter call the product makes."""
    reads: list[dict[str, Any]] = []
    original = AwsGateway.call

    def recording(self: AwsGateway, service: str, operation: str, **params: Any) -> Any:
        if (service, operation) == ("ssm", "get_parameter"):
            reads.append(params)
        return original(self, service, operation, **params)

    monkeypatch.setattr(AwsGateway, "call", recording)
    return reads


@pytest.fixture
def web(fleet: Fleet) -> str:
    fleet.group("web", fleet.image("golden-1"), size=1)
    return "web"


def deploy_event(parameter: str) -> dict[str, Any]:
    return {
        "Source": "asg-refresh.deploy",
        "DetailType": "ASG Refresh Requested",
        "Detail": json.dumps({"image_parameter": parameter, "groups": ["web"]}),
        "Resources": [],
    }


def test_a_parameter_outside_the_prefix_is_refused_before_it_is_read(
    app: LocalApp, fleet: Fleet, web: str, parameter_reads: list[dict[str, Any]]
) -> None:
    # Given another team's secret, readable by the function's role
    app.client("ssm").put_parameter(Name="/team-b/db-password", Value=SECRET, Type="String")

    # When a deploy message names it
    answer = app.invoke("StartRefreshFunction", {"image_parameter": "/team-b/db-password", "groups": [web]})

    # Then it is refused by name, and never read
    assert answer["success"] is False
    assert answer["error"]["code"] == "IMAGE_PARAMETER_NOT_ALLOWED"
    assert "/asg-refresh/" in answer["error"]["message"]
    assert SECRET not in json.dumps(answer)
    assert parameter_reads == []
    assert fleet.refreshes(web) == []


@pytest.mark.parametrize("name", ["/asg-refresh/../team-b/db-password", "/asg-refresh/./x"])
def test_dot_segments_do_not_escape_the_prefix(
    app: LocalApp, web: str, name: str, parameter_reads: list[dict[str, Any]]
) -> None:
    answer = app.invoke("StartRefreshFunction", {"image_parameter": name, "groups": [web]})

    assert answer["error"]["code"] == "IMAGE_PARAMETER_NOT_ALLOWED"
    assert parameter_reads == []


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line as the handlers' logger writes it (JSON, extra keys included)."""
    return "\n".join(product_logger.registered_formatter.format(record) for record in caplog.records)


def test_a_value_that_is_not_an_ami_id_is_never_repeated(
    app: LocalApp, fleet: Fleet, web: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a secret kept, by mistake, under the allowed prefix
    app.client("ssm").put_parameter(Name="/asg-refresh/db-password", Value=SECRET, Type="String")
    caplog.clear()

    # When a deploy event names it
    app.put_events([deploy_event("/asg-refresh/db-password")])

    # Then it is dead-lettered as not an AMI id, with its Type, and its value appears nowhere
    (letter,) = app.dead_letters("DeadLetterQueue")
    assert letter["Body"]["error"]["code"] == "IMAGE_REJECTED"
    message = letter["Body"]["error"]["message"]
    assert "/asg-refresh/db-password (Type String) does not hold an AMI id" in message
    assert letter["MessageAttributes"]["ErrorMessage"] == message
    assert SECRET not in json.dumps(letter)
    assert SECRET[:8] not in json.dumps(letter)
    (invocation,) = app.invocations("StartRefreshFunction")
    assert SECRET not in json.dumps(invocation.result, default=str)
    logs = logged(caplog) + "".join(capfd.readouterr())
    assert '"code":"IMAGE_REJECTED"' in logs  # the refusal was logged, with its reason...
    assert SECRET[:8] not in logs  # ...and without the value
    assert fleet.refreshes(web) == []


def test_a_secure_string_is_not_decrypted_and_not_used(
    app: LocalApp,
    fleet: Fleet,
    web: str,
    parameter_reads: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ssm = app.client("ssm")
    ssm.put_parameter(Name="/asg-refresh/secret", Value=SECRET, Type="SecureString")
    new = fleet.image("golden-2")
    ssm.put_parameter(Name="/asg-refresh/encrypted-ami", Value=new, Type="SecureString")
    caplog.clear()

    secret = app.invoke("StartRefreshFunction", {"image_parameter": "/asg-refresh/secret", "groups": [web]})
    ami = app.invoke(
        "StartRefreshFunction", {"image_parameter": "/asg-refresh/encrypted-ami", "groups": [web]}
    )

    for answer in (secret, ami):
        assert answer["error"]["code"] == "IMAGE_REJECTED", answer
        assert "SecureString, not a plain AMI parameter" in answer["error"]["message"]
    assert SECRET[:8] not in json.dumps(secret) + logged(caplog)
    assert [read.get("WithDecryption") for read in parameter_reads] == [False, False]
    assert fleet.refreshes(web) == []


def test_a_string_list_is_not_an_ami_id(app: LocalApp, fleet: Fleet, web: str) -> None:
    new = fleet.image("golden-2")
    app.client("ssm").put_parameter(Name="/asg-refresh/amis", Value=f"{new},{new}", Type="StringList")

    answer = app.invoke("StartRefreshFunction", {"image_parameter": "/asg-refresh/amis", "groups": [web]})

    assert answer["error"]["code"] == "IMAGE_REJECTED"
    assert "(Type StringList) does not hold an AMI id" in answer["error"]["message"]
    assert new not in answer["error"]["message"]


def test_a_string_parameter_under_the_prefix_is_rolled_out(app: LocalApp, fleet: Fleet, web: str) -> None:
    new = fleet.image("golden-2")
    app.client("ssm").put_parameter(
        Name="/asg-refresh/web/ami", Value=new, Type="String", DataType="aws:ec2:image"
    )

    answer = app.invoke("StartRefreshFunction", {"image_parameter": "/asg-refresh/web/ami", "groups": [web]})

    assert answer["success"] is True, answer
    assert answer["data"]["image_id"] == new
    assert fleet.refreshes(web)[0]["Status"] in {"Pending", "InProgress"}
