"""Each function, run by `sam local invoke` in a Lambda container, against the local server.

Given a fresh local server seeded with an opted-in group on an old AMI, a newer AMI (as Image
Builder distributes it, and behind the golden-AMI parameter), an alarm, and a group that did not
opt in; when a sample event from `events/` is invoked; then the JSON the function printed says
what happened, and the server agrees. `sam local invoke` exits 0 even when the handler raises,
so every assertion reads the printed JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.samples import EVENTS_DIR, SAMPLE_ALARM, SAMPLE_GROUP, SAMPLE_IMAGE_ID, load_event
from tests.e2e.sam_cli import ClientFactory, InvokeResult, LocalServer, SamApp

pytestmark = pytest.mark.slow

IMAGE_BUILDER_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/golden-al2023/1.0.4/1"
GOLDEN_AMI_PARAMETER = "/asg-refresh/golden-ami"
NOT_OPTED_IN_GROUP = "web-green"

# Every sample event, with the function that receives it and whether it should succeed.
SAMPLES: dict[str, tuple[str, bool]] = {
    "deploy_direct": ("StartRefreshFunction", True),
    "deploy_event": ("StartRefreshFunction", True),
    "deploy_sns": ("StartRefreshFunction", True),
    "imagebuilder_available": ("StartRefreshFunction", True),
    "imagebuilder_sns": ("StartRefreshFunction", True),
    "ssm_parameter_change": ("StartRefreshFunction", True),
    "malformed_deploy_direct": ("StartRefreshFunction", False),
    "malformed_eventbridge": ("StartRefreshFunction", False),
    "unknown_event": ("StartRefreshFunction", False),
    "evaluate_gates": ("EvaluateGatesFunction", True),
    "alarm_state_change": ("AlarmRollbackFunction", True),
    "reconcile_schedule": ("ReconcileWatchersFunction", True),
    "instance_refresh_started": ("ReconcileWatchersFunction", True),
    "request_approval": ("RequestApprovalFunction", True),
}


@dataclass
class Seeded:
    """The account every test starts from."""

    fleet: Fleet
    old_image: str
    new_image: str
    launch_template_id: str

    def event_file(self, name: str, directory: Path, **extra: str) -> Path:
        """The sample `name` with its placeholder AMI replaced by the seeded new one."""
        event = load_event(name, {SAMPLE_IMAGE_ID: self.new_image, **extra})
        path = directory / f"{name}.json"
        path.write_text(json.dumps(event))
        return path


@pytest.fixture
def seeded(aws: ClientFactory) -> Seeded:
    fleet = Fleet(aws)
    old_image = fleet.image("golden-al2023 1.0.3")
    new_image = fleet.image("golden-al2023 1.0.4", builder_arn=IMAGE_BUILDER_ARN)
    aws("ssm").put_parameter(Name=GOLDEN_AMI_PARAMETER, Value=new_image, Type="String")
    fleet.alarm(SAMPLE_ALARM)
    group = fleet.group(SAMPLE_GROUP, old_image, size=2, alarms=[SAMPLE_ALARM], tags={"team": "web"})
    fleet.group(NOT_OPTED_IN_GROUP, old_image, size=1, opted_in=False, tags={"team": "web"})
    return Seeded(
        fleet=fleet, old_image=old_image, new_image=new_image, launch_template_id=group["launch_template_id"]
    )


def invoke(sam_app: SamApp, server: LocalServer, function: str, event: Path | Any) -> InvokeResult:
    result = sam_app.invoke(function, event, env_vars=server.env_vars_file)
    assert result.returncode == 0, result.describe()
    assert not result.raised, f"the handler raised instead of answering:\n{result.describe()}"
    return result


def refreshes_of(aws: ClientFactory, group: str) -> list[dict[str, Any]]:
    answer = aws("autoscaling").describe_instance_refreshes(AutoScalingGroupName=group)
    return list(answer["InstanceRefreshes"])


def assert_structured_error(result: InvokeResult, code: str) -> dict[str, Any]:
    payload = result.payload
    assert isinstance(payload, dict), result.describe()
    assert payload.get("success") is False, result.describe()
    error = payload["error"]
    assert error["code"] == code, result.describe()
    assert error["message"], result.describe()
    assert "Traceback" not in json.dumps(payload)
    return dict(error)


def test_every_sample_event_is_mapped_to_a_function() -> None:
    samples = {path.stem for path in EVENTS_DIR.glob("*.json")}
    assert samples == set(SAMPLES), "add new sample events to SAMPLES with their function"


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_sample_event_gets_an_answer(
    sample: str, sam_app: SamApp, local_server: LocalServer, seeded: Seeded, tmp_path: Path
) -> None:
    function, succeeds = SAMPLES[sample]

    result = invoke(sam_app, local_server, function, seeded.event_file(sample, tmp_path))

    payload = result.payload
    assert isinstance(payload, dict), result.describe()
    if function == "EvaluateGatesFunction":
        # The state machine's task: the watch state back, with the decision for the next step. The
        # sample's refresh is a quarter done and its alarm (seeded OK) passes: keep watching.
        assert payload["decision"]["action"] == "wait", result.describe()
        assert [v["passed"] for v in payload["watch"]["verdicts"]] == [True], result.describe()
        return
    assert payload.get("success") is succeeds, result.describe()
    if not succeeds:
        assert payload["error"]["code"], result.describe()
        assert payload["error"]["message"], result.describe()


def test_start_refresh_starts_a_refresh_on_the_local_server(
    sam_app: SamApp, local_server: LocalServer, seeded: Seeded, aws: ClientFactory, tmp_path: Path
) -> None:
    event = seeded.event_file("deploy_direct", tmp_path)

    result = invoke(sam_app, local_server, "StartRefreshFunction", event)

    assert result.payload["success"] is True, result.describe()
    started = result.payload["data"]["refreshes"]
    assert [r["group"] for r in started] == [SAMPLE_GROUP], result.describe()
    assert started[0]["image_id"] == seeded.new_image
    refreshes = refreshes_of(aws, SAMPLE_GROUP)
    assert [r["InstanceRefreshId"] for r in refreshes] == [started[0]["refresh_id"]]
    refresh = refreshes[0]
    assert refresh["Status"] in {"Pending", "InProgress"}
    assert refresh["DesiredConfiguration"]["LaunchTemplate"] == {
        "LaunchTemplateId": seeded.launch_template_id,
        "Version": str(started[0]["launch_template_version"]),
    }
    # The new launch template version carries the new AMI; the watcher runs for it.
    version = aws("ec2").describe_launch_template_versions(
        LaunchTemplateId=seeded.launch_template_id, Versions=[str(started[0]["launch_template_version"])]
    )["LaunchTemplateVersions"][0]
    assert version["LaunchTemplateData"]["ImageId"] == seeded.new_image
    execution = aws("stepfunctions").describe_execution(executionArn=started[0]["execution_arn"])
    assert execution["status"] in {"RUNNING", "SUCCEEDED"}
    # The group that did not opt in is untouched.
    assert refreshes_of(aws, NOT_OPTED_IN_GROUP) == []


def test_alarm_rolls_back_the_refresh_it_guards(
    sam_app: SamApp, local_server: LocalServer, seeded: Seeded, aws: ClientFactory, tmp_path: Path
) -> None:
    deploy = seeded.event_file("deploy_direct", tmp_path)
    started = invoke(sam_app, local_server, "StartRefreshFunction", deploy)
    refresh_id = started.payload["data"]["refreshes"][0]["refresh_id"]
    seeded.fleet.set_alarm(SAMPLE_ALARM, "ALARM", "5xx above threshold")

    alarm = seeded.event_file("alarm_state_change", tmp_path)
    result = invoke(sam_app, local_server, "AlarmRollbackFunction", alarm)

    assert result.payload["success"] is True, result.describe()
    actions = result.payload["data"]["actions"]
    assert [(a["group"], a["refresh_id"], a["action"]) for a in actions] == [
        (SAMPLE_GROUP, refresh_id, "rolled-back")
    ], result.describe()
    refresh = refreshes_of(aws, SAMPLE_GROUP)[0]
    assert refresh["Status"] in {"RollbackInProgress", "RollbackSuccessful"}


def test_malformed_direct_event_gets_a_structured_error(
    sam_app: SamApp, local_server: LocalServer, seeded: Seeded, aws: ClientFactory
) -> None:
    event = EVENTS_DIR / "malformed_deploy_direct.json"
    result = invoke(sam_app, local_server, "StartRefreshFunction", event)

    error = assert_structured_error(result, "VALIDATION_ERROR")
    assert "image_id" in error["message"]
    assert "MinHealthyPercentage" in error["message"]
    assert refreshes_of(aws, SAMPLE_GROUP) == []


@pytest.mark.parametrize(
    "event", [[], "just a string", {"image_id": 42}], ids=["list", "string", "wrong-type"]
)
def test_event_of_the_wrong_shape_gets_a_structured_error(
    event: Any, sam_app: SamApp, local_server: LocalServer
) -> None:
    result = invoke(sam_app, local_server, "StartRefreshFunction", json.dumps(event))

    assert_structured_error(result, "VALIDATION_ERROR")


def test_malformed_eventbridge_event_is_dead_lettered_with_its_reason(
    sam_app: SamApp, local_server: LocalServer, seeded: Seeded, aws: ClientFactory
) -> None:
    event = EVENTS_DIR / "malformed_eventbridge.json"
    result = invoke(sam_app, local_server, "StartRefreshFunction", event)

    assert_structured_error(result, "VALIDATION_ERROR")
    queue_url = local_server.env_vars()["StartRefreshFunction"]["DEAD_LETTER_QUEUE_URL"]
    messages = aws("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["event"]["id"] == "deadbeef-0000-4000-8000-000000000000"
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert messages[0]["MessageAttributes"]["ErrorCode"]["StringValue"] == "VALIDATION_ERROR"
