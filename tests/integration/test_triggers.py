"""Every trigger shape reaches StartRefresh the way AWS delivers it, and bad ones reach the DLQ."""

from __future__ import annotations

import pytest

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.samples import SAMPLE_GROUP, SAMPLE_IMAGE_ID, load_event
from tests.integration.conftest import as_entry

BUILD_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/golden-al2023/1.0.4/1"


def started_groups(app: LocalApp) -> list[str]:
    return sorted(
        refresh["group"]
        for invocation in app.invocations("StartRefreshFunction")
        for answer in [invocation.result]
        if isinstance(answer, dict) and answer.get("success")
        for refresh in answer["data"]["refreshes"]
    )


@pytest.fixture
def images(fleet: Fleet) -> tuple[str, str]:
    return fleet.image("golden-1"), fleet.image("golden-2", builder_arn=BUILD_ARN)


def test_image_builder_event_rolls_every_opted_in_group_of_that_recipe(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    fleet.group("api", old, size=2, tags={"asg-refresh:source": BUILD_ARN.rsplit("/", 2)[0]})
    fleet.group("batch", old, size=2, tags={"asg-refresh:source": "/other/parameter"})
    fleet.group("private", old, size=2, opted_in=False)

    app.put_events([as_entry(load_event("imagebuilder_available"))])

    assert started_groups(app) == ["api", "web"]
    for group in ("api", "web"):
        refresh = fleet.refreshes(group)[0]
        version = refresh["DesiredConfiguration"]["LaunchTemplate"]["Version"]
        (data,) = [
            v["LaunchTemplateData"]
            for v in fleet.launch_template_versions(group)
            if str(v["VersionNumber"]) == version
        ]
        assert data["ImageId"] == new
    assert fleet.refreshes("batch") == []
    assert fleet.refreshes("private") == []


def test_image_builder_sns_notification(app: LocalApp, fleet: Fleet, images: tuple[str, str]) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    message = load_event("imagebuilder_sns", {SAMPLE_IMAGE_ID: new})["Records"][0]["Sns"]["Message"]

    # Image Builder publishes as its service-linked role, through the topic key's policy.
    assert app.publish_as_image_builder("DeployTopic", message) is True

    assert started_groups(app) == ["web"]
    assert fleet.refreshes("web")[0]["Status"] in {"Pending", "InProgress"}


def test_plain_json_deploy_message_on_the_topic(app: LocalApp, fleet: Fleet, images: tuple[str, str]) -> None:
    old, new = images
    fleet.group("web", old, size=2, tags={"team": "web"})
    fleet.group("api", old, size=2, tags={"team": "api"})
    message = load_event("deploy_sns", {SAMPLE_IMAGE_ID: new})["Records"][0]["Sns"]["Message"]

    app.client("sns").publish(TopicArn=app.physical_id("DeployTopic"), Message=message)

    assert started_groups(app) == ["web"]


def test_golden_ami_parameter_change(app: LocalApp, fleet: Fleet, images: tuple[str, str]) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    app.client("ssm").put_parameter(Name="/asg-refresh/golden-ami", Value=new, Type="String")

    app.put_events([as_entry(load_event("ssm_parameter_change"))])

    assert started_groups(app) == ["web"]


def test_custom_deploy_event(app: LocalApp, fleet: Fleet, images: tuple[str, str]) -> None:
    old, new = images
    fleet.alarm("web-blue-5xx")
    fleet.group(SAMPLE_GROUP, old, size=4)

    app.put_events([as_entry(load_event("deploy_event", {SAMPLE_IMAGE_ID: new}))])

    assert started_groups(app) == [SAMPLE_GROUP]
    refresh = fleet.refreshes(SAMPLE_GROUP)[0]
    assert refresh["Preferences"]["CheckpointPercentages"] == [50, 100]
    assert refresh["Preferences"]["AlarmSpecification"] == {"Alarms": ["web-blue-5xx"]}


def test_malformed_event_goes_to_the_dead_letter_queue_with_its_reason(app: LocalApp, fleet: Fleet) -> None:
    app.put_events([as_entry(load_event("malformed_eventbridge"))])

    (letter,) = app.dead_letters("DeadLetterQueue")
    body = letter["Body"]
    assert body["event"]["detail-type"] == "ASG Refresh Requested"
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "surprise" in body["error"]["message"]
    assert letter["MessageAttributes"]["ErrorCode"] == "VALIDATION_ERROR"


def test_deploy_to_a_missing_group_by_event_is_dead_lettered_not_retried(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    _, new = images
    event = load_event("deploy_event", {SAMPLE_IMAGE_ID: new})

    app.put_events([as_entry(event)])

    assert len(app.invocations("StartRefreshFunction")) == 1
    (letter,) = app.dead_letters("DeadLetterQueue")
    assert letter["Body"]["error"]["code"] == "GROUP_NOT_FOUND"


def test_unknown_event_invoked_directly_gets_a_structured_error(app: LocalApp) -> None:
    answer = app.invoke("StartRefreshFunction", load_event("unknown_event"))

    assert answer["success"] is False
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    assert "detail-type" in answer["error"]["message"] or "detail_type" in answer["error"]["message"]
