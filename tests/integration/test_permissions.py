"""AWS's permissions, enforced: each check here can fail, and does when a permission goes.

The harness evaluates every call a function or a state machine makes, and every delivery between
services, against the policies SAM and CloudFormation would create from ``template.yaml``
(``asg_refresh_local.iam``). These tests take one permission away and show the product notices,
exactly where AWS would refuse.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.iam import ENFORCER, Principal
from asg_refresh_local.iam.policies import translate
from asg_refresh_local.samples import SAMPLE_IMAGE_ID, load_event

LITERAL_KEY = "aws:ResourceTag/${OptInTagKey}"


def role(app: LocalApp, logical_id: str) -> Principal:
    assert app.policies is not None
    (principal,) = [p for p in app.policies.principals.values() if p.role_logical_id == logical_id]
    return principal


def replace_principal(
    app: LocalApp, principal: Principal, policies: list[tuple[str, dict[str, Any]]]
) -> None:
    assert app.policies is not None
    app.policies.principals[principal.role_arn] = Principal(
        principal.role_logical_id, principal.role_arn, tuple(policies)
    )


def revoke(app: LocalApp, role_logical_id: str, action: str) -> None:
    """Take one action out of every statement of one role's policies."""
    principal = role(app, role_logical_id)
    policies = []
    for name, document in copy.deepcopy(list(principal.policies)):
        kept = []
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            remaining = [a for a in actions if a != action]
            if remaining:
                kept.append({**statement, "Action": remaining})
        policies.append((name, {**document, "Statement": kept}))
    replace_principal(app, principal, policies)


def without_statement(app: LocalApp, resource_arn: str, keep: Any) -> None:
    """Drop the statements of a resource policy for which ``keep`` is false."""
    assert app.policies is not None
    policy = app.policies.resource_policies[resource_arn]
    app.policies.resource_policies[resource_arn] = {
        **policy,
        "Statement": [s for s in policy["Statement"] if keep(s)],
    }


def client_as(app: LocalApp, role_logical_id: str, service: str) -> Any:
    credentials = role(app, role_logical_id).credentials()
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=app.region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )


def deploy(app: LocalApp, image_id: str, groups: list[str]) -> dict[str, Any]:
    return app.invoke("StartRefreshFunction", {"image_id": image_id, "groups": groups})


@pytest.fixture
def images(fleet: Fleet) -> tuple[str, str]:
    return fleet.image("golden-1"), fleet.image("golden-2")


def test_enforcement_is_on_in_the_suite(app: LocalApp) -> None:
    assert ENFORCER.active()
    assert "are enforced" in ENFORCER.status()


def test_deploy_fails_with_access_denied_without_start_instance_refresh(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    # Given StartRefresh's role without autoscaling:StartInstanceRefresh
    old, new = images
    fleet.group("web", old, size=2)
    revoke(app, "StartRefreshFunctionRole", "autoscaling:StartInstanceRefresh")

    # When a deploy is requested
    answer = deploy(app, new, ["web"])

    # Then AWS's denial is the answer, nothing started, and the new version is gone again
    assert answer["success"] is False
    assert answer["error"]["code"] == "AWS_REQUEST_FAILED"
    assert answer["error"]["details"]["aws_code"] == "AccessDenied"
    assert "autoscaling:StartInstanceRefresh" in answer["error"]["message"]
    assert fleet.refreshes("web") == []
    assert [v["LaunchTemplateData"]["ImageId"] for v in fleet.launch_template_versions("web")] == [old]


def test_the_fleets_versions_are_read_only_with_describe_launch_template_versions_on_every_resource(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    # Given StartRefresh's role without ec2:DescribeLaunchTemplateVersions (which IAM grants on
    # "*" only: the template-less read of every template's $Latest and $Default names none)
    old, new = images
    fleet.group("web", old, size=2)
    revoke(app, "StartRefreshFunctionRole", "ec2:DescribeLaunchTemplateVersions")

    # When a deploy is requested
    answer = deploy(app, new, ["web"])

    # Then the bulk read is denied before any version is made
    assert answer["success"] is False
    assert answer["error"]["details"]["aws_code"] == "UnauthorizedOperation"
    assert "ec2:DescribeLaunchTemplateVersions" in answer["error"]["message"]
    assert fleet.refreshes("web") == []
    assert len(fleet.launch_template_versions("web")) == 1


def test_the_same_deploy_passes_with_the_template_as_written(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)

    answer = deploy(app, new, ["web"])

    assert answer["success"] is True, answer
    assert [r["Status"] for r in fleet.refreshes("web")] == ["Pending"]
    assert ENFORCER.denials() == []


def test_the_opt_in_condition_as_first_written_is_denied(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    # Given the condition key as a YAML map key, which reaches IAM with a literal ${OptInTagKey}
    old, new = images
    fleet.group("web", old, size=2)
    principal = role(app, "StartRefreshFunctionRole")
    literal = json.loads(
        json.dumps([list(p) for p in principal.policies]).replace(
            '"aws:ResourceTag/asg-refresh:enabled"', json.dumps(LITERAL_KEY)
        )
    )
    assert LITERAL_KEY in json.dumps(literal)
    replace_principal(app, principal, [(name, document) for name, document in literal])

    answer = deploy(app, new, ["web"])

    assert answer["success"] is False
    assert answer["error"]["details"]["aws_code"] == "AccessDenied"
    assert fleet.refreshes("web") == []


def test_no_policy_reaches_iam_with_an_unsubstituted_key(app: LocalApp) -> None:
    assert app.policies is not None
    documents = [doc for p in app.policies.principals.values() for _, doc in p.policies]
    documents += list(app.policies.resource_policies.values())
    for document in documents:
        for statement in document["Statement"]:
            for keys in (statement.get("Condition") or {}).values():
                assert not [k for k in keys if "${" in k], statement
    # And the raw translation still shows why it matters: its keys are never substituted later.
    translated = json.dumps(translate(app.template))
    assert '"aws:ResourceTag/${OptInTagKey}"' not in translated


def test_a_group_that_is_not_opted_in_is_refused_by_iam_itself(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, _ = images
    fleet.group("private", old, size=1, opted_in=False)

    with pytest.raises(ClientError) as refused:
        client_as(app, "StartRefreshFunctionRole", "autoscaling").start_instance_refresh(
            AutoScalingGroupName="private"
        )

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert fleet.refreshes("private") == []


PRE_FLIGHT_READS = {
    "ec2:DescribeInstanceTypes": ("describe_instance_types", {"InstanceTypes": ["t3.micro"]}),
    "ec2:DescribeSubnets": ("describe_subnets", {}),
}


@pytest.mark.parametrize("role_id", ["StartRefreshFunctionRole", "StartWaveGroupFunctionRole"])
@pytest.mark.parametrize("action", list(PRE_FLIGHT_READS))
def test_the_pre_flight_reads_are_refused_without_their_grant(
    app: LocalApp, role_id: str, action: str
) -> None:
    # Given the roles that start refreshes, as written: the pre-flight read is allowed
    operation, params = PRE_FLIGHT_READS[action]
    ec2 = client_as(app, role_id, "ec2")
    getattr(ec2, operation)(**params)

    # When the action is taken away, EC2 refuses it
    revoke(app, role_id, action)
    with pytest.raises(ClientError) as refused:
        getattr(ec2, operation)(**params)
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"


@pytest.mark.parametrize("action", list(PRE_FLIGHT_READS))
def test_a_deploy_without_a_pre_flight_grant_fails_before_anything_is_created(
    app: LocalApp, fleet: Fleet, images: tuple[str, str], action: str
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    revoke(app, "StartRefreshFunctionRole", action)

    answer = deploy(app, new, ["web"])

    # A check that cannot read is not passed: the deploy fails with EC2's denial, nothing made
    assert answer["success"] is False
    assert answer["error"]["details"]["aws_code"] == "UnauthorizedOperation"
    assert action in answer["error"]["message"]
    assert fleet.refreshes("web") == []
    assert len(fleet.launch_template_versions("web")) == 1


def test_launch_templates_that_are_not_opted_in_get_no_new_versions(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=1)
    fleet.group("loose", old, size=1, template_opted_in=False)
    ec2 = client_as(app, "StartRefreshFunctionRole", "ec2")

    ec2.create_launch_template_version(LaunchTemplateName="web-lt", LaunchTemplateData={"ImageId": new})
    with pytest.raises(ClientError) as refused:
        ec2.create_launch_template_version(LaunchTemplateName="loose-lt", LaunchTemplateData={"ImageId": new})

    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert len(fleet.launch_template_versions("loose")) == 1


def test_parameters_outside_the_allowed_prefix_cannot_be_read(app: LocalApp) -> None:
    ssm = app.client("ssm")
    ssm.put_parameter(Name="/team-b/db-password", Value="hunter2-secret", Type="String")
    ssm.put_parameter(Name="/asg-refresh/web", Value="ami-0123456789abcdef0", Type="String")
    as_start_refresh = client_as(app, "StartRefreshFunctionRole", "ssm")

    assert as_start_refresh.get_parameter(Name="/asg-refresh/web")["Parameter"]["Value"].startswith("ami-")
    with pytest.raises(ClientError) as refused:
        as_start_refresh.get_parameter(Name="/team-b/db-password")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_refused_sns_delivery_is_redriven_to_the_dead_letter_queue(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    # Given SNS may not invoke StartRefresh (its permission gone)
    old, new = images
    fleet.group("web", old, size=2)
    function_arn = app.attribute("StartRefreshFunction", "Arn")
    without_statement(app, function_arn, lambda s: s["Principal"] != {"Service": "sns.amazonaws.com"})
    message = json.dumps({"image_id": new, "groups": ["web"]})

    # When a deploy message is published
    app.client("sns").publish(TopicArn=app.physical_id("DeployTopic"), Message=message)

    # Then StartRefresh never ran, and the queue's policy let SNS redrive the message
    assert app.invocations("StartRefreshFunction") == []
    [dead] = app.dead_letters("DeadLetterQueue")
    assert dead["Body"] == {"image_id": new, "groups": ["web"]}


def test_without_the_redrive_statement_the_message_is_lost(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    function_arn = app.attribute("StartRefreshFunction", "Arn")
    without_statement(app, function_arn, lambda s: s["Principal"] != {"Service": "sns.amazonaws.com"})
    without_statement(
        app, app.attribute("DeadLetterQueue", "Arn"), lambda s: s.get("Sid") != "DeployTopicRedrive"
    )

    app.client("sns").publish(
        TopicArn=app.physical_id("DeployTopic"), Message=json.dumps({"image_id": new, "groups": ["web"]})
    )

    assert app.invocations("StartRefreshFunction") == []
    assert app.dead_letters("DeadLetterQueue") == []


def test_image_builder_notifications_reach_the_encrypted_topic(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    message = load_event("imagebuilder_sns", {SAMPLE_IMAGE_ID: new})["Records"][0]["Sns"]["Message"]

    assert app.publish_as_image_builder("DeployTopic", message) is True
    assert [r["Status"] for r in fleet.refreshes("web")] == ["Pending"]


def test_without_its_key_policy_statement_image_builder_cannot_publish(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    key_arn = app.attribute("EncryptionKey", "Arn")
    without_statement(app, key_arn, lambda s: s.get("Sid") != "ImageBuilderPublishesEncrypted")
    message = load_event("imagebuilder_sns", {SAMPLE_IMAGE_ID: new})["Records"][0]["Sns"]["Message"]

    assert app.publish_as_image_builder("DeployTopic", message) is False
    assert app.invocations("StartRefreshFunction") == []
    assert fleet.refreshes("web") == []


def test_eventbridge_without_its_permission_dead_letters_the_event(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    rule_arn = app.attribute("StartRefreshFunctionDeployRequested", "Arn")
    without_statement(
        app,
        app.attribute("StartRefreshFunction", "Arn"),
        lambda s: (s.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn") != rule_arn,
    )

    app.put_events(
        [
            {
                "Source": "asg-refresh.deploy",
                "DetailType": "ASG Refresh Requested",
                "Detail": {"image_id": new, "groups": ["web"]},
            }
        ]
    )

    assert app.invocations("StartRefreshFunction") == []
    [dead] = app.dead_letters("DeadLetterQueue")
    assert dead["MessageAttributes"]["RULE_ARN"] == rule_arn
    assert dead["Body"]["detail"] == {"image_id": new, "groups": ["web"]}


def test_a_watcher_denied_its_poll_fails_with_the_name_aws_gives(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=2)
    revoke(app, "WatchRefreshStateMachineRole", "autoscaling:DescribeInstanceRefreshes")

    answer = deploy(app, new, ["web"])
    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])

    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in app.history(execution["executionArn"])
        if event["type"] == "TaskFailed"
    ]
    assert "AutoScaling.AutoScalingException" in failures
    assert any(d.request.action == "autoscaling:DescribeInstanceRefreshes" for d in ENFORCER.denials())


def test_a_rollout_requested_on_the_bus_starts_through_the_rules_role(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=1)
    request = {"image_id": new, "preferences": {"MinHealthyPercentage": 0, "InstanceWarmup": 0}}

    app.put_events(
        [{"Source": "asg-refresh.deploy", "DetailType": "ASG Rollout Requested", "Detail": request}]
    )
    [execution] = app.executions("RolloutWavesStateMachine")
    finished = app.wait_for_execution(execution["executionArn"], timeout=120)

    assert finished["status"] == "SUCCEEDED", finished
    assert fleet.instance_images("web") == [new]


def test_without_its_rules_role_the_rollout_request_is_dead_lettered(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    old, new = images
    fleet.group("web", old, size=1)
    revoke(app, "RolloutWavesStateMachineRolloutRequestedRole", "states:StartExecution")

    app.put_events(
        [{"Source": "asg-refresh.deploy", "DetailType": "ASG Rollout Requested", "Detail": {"image_id": new}}]
    )

    assert app.executions("RolloutWavesStateMachine") == []
    [dead] = app.dead_letters("DeadLetterQueue")
    assert dead["MessageAttributes"]["TARGET_ARN"] == app.physical_id("RolloutWavesStateMachine")


def without_statement_sid(app: LocalApp, role_logical_id: str, sid: str) -> None:
    """Drop the one statement named ``sid`` from a role's policies (the action may stay granted
    elsewhere, on other resources)."""
    principal = role(app, role_logical_id)
    policies, dropped = [], 0
    for name, document in copy.deepcopy(list(principal.policies)):
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        dropped += len(document["Statement"]) - len(kept)
        policies.append((name, {**document, "Statement": kept}))
    assert dropped == 1, f"{role_logical_id} has {dropped} statements named {sid}"
    replace_principal(app, principal, policies)


def test_without_following_its_watchers_a_wave_cannot_judge_its_group(
    app: LocalApp, fleet: Fleet, images: tuple[str, str]
) -> None:
    # Given the rollout's role without its grant to describe the groups' watchers
    old, new = images
    fleet.group("web", old, size=1)
    without_statement_sid(app, "RolloutWavesStateMachineRole", "FollowWatchers")

    # When a rollout runs
    arn = app.start_execution(
        "RolloutWavesStateMachine", {"image_id": new, "preferences": {"MinHealthyPercentage": 0}}
    )
    execution = app.wait_for_execution(arn, timeout=200)

    # Then the wave cannot take its group's outcome and fails it, refused where AWS refuses it
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RolloutFailed"
    (verdict,) = json.loads(execution["cause"])["verdicts"]
    assert verdict["failed"] == ["web"]
    denied = [d.request for d in ENFORCER.denials()]
    assert {request.action for request in denied} == {"states:DescribeExecution"}
    assert all(":execution:asg-refresh-watch-refresh:" in request.resource for request in denied)


def test_without_its_query_grant_no_waiting_deployment_starts_and_the_drain_is_dead_lettered(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given StartRefresh's role without dynamodb:Query on the audit table, and an image queued
    # behind a running refresh
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    without_statement_sid(app, "StartRefreshFunctionRole", "FindDeploymentsWaitingForAGroup")
    first = deploy(app, second, ["web"])
    queued = app.invoke("StartRefreshFunction", {"image_id": third, "groups": ["web"]})
    assert queued["data"]["queued"][0]["policy"] == "queue"

    # When the refresh ahead ends Successful
    app.wait_for_execution(first["data"]["refreshes"][0]["execution_arn"])

    # Then the waiting deployment cannot be found: nothing starts, and the drain is dead-lettered
    assert [r["Status"] for r in fleet.refreshes("web")] == ["Successful"]
    assert fleet.instance_images("web") == [second, second]
    assert [d.request.action for d in ENFORCER.denials()] == ["dynamodb:Query"]
    (dead,) = app.dead_letters("DeadLetterQueue")
    assert "start_queued" in dead["Body"]["event"]
    assert "dynamodb.query: AccessDeniedException" in dead["Body"]["error"]["message"]


def test_without_its_cancel_grant_a_replacing_image_is_refused_and_the_refresh_runs_on(
    app: LocalApp, fleet: Fleet
) -> None:
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=4)
    revoke(app, "StartRefreshFunctionRole", "autoscaling:CancelInstanceRefresh")
    deploy(app, second, ["web"])

    answer = app.invoke(
        "StartRefreshFunction", {"image_id": third, "groups": ["web"], "supersede": "replace"}
    )

    assert answer["success"] is False
    assert answer["error"]["details"]["aws_code"] == "AccessDenied"
    assert "autoscaling:CancelInstanceRefresh" in answer["error"]["message"]
    assert [r["Status"] for r in fleet.refreshes("web")] == ["Pending"]
    assert [d.request.action for d in ENFORCER.denials()] == ["autoscaling:CancelInstanceRefresh"]


def test_without_its_invoke_grant_the_reconciler_cannot_drain_a_lost_queue(
    app: LocalApp, fleet: Fleet
) -> None:
    from asg_refresh_local.harness.delivery import DISPATCHER
    from tests.integration.test_reconcile import SCHEDULE
    from tests.integration.test_supersede import deploy as deploy_web
    from tests.integration.test_supersede import waiting_items

    # Given golden-3 queued behind a refresh whose watcher died, and the reconciler's role
    # without its grant to invoke StartRefresh
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    first = deploy_web(app, second)["refreshes"][0]
    deploy_web(app, third, deployment_id="release-3")
    app.client("stepfunctions").stop_execution(executionArn=first["execution_arn"], cause="lost")
    app.advance(3600)
    app.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName="web")
    without_statement_sid(app, "ReconcileWatchersFunctionRole", "DrainLostQueues")

    # When its schedule runs
    app.fire_schedule(SCHEDULE)
    DISPATCHER.drain()

    # Then the drain is refused where AWS refuses it, and the deployment still waits
    assert {d.request.action for d in ENFORCER.denials()} == {"lambda:InvokeFunction"}
    assert list(waiting_items(app).values()) == ["Queued"]
    assert [r["Status"] for r in fleet.refreshes("web")] == ["Successful"]


def test_without_its_query_grant_a_wave_cannot_follow_a_queued_group(app: LocalApp, fleet: Fleet) -> None:
    from tests.integration.test_supersede import deploy as deploy_web

    # Given web refreshing towards golden-2, and StartWaveGroup's role without its Query grant
    old, second, third = (fleet.image(f"golden-{n}") for n in (1, 2, 3))
    fleet.group("web", old, size=2)
    deploy_web(app, second)
    without_statement_sid(app, "StartWaveGroupFunctionRole", "FollowDeploymentsWaitingForAGroup")

    # When a rollout of golden-3 queues web behind it
    arn = app.start_execution(
        "RolloutWavesStateMachine",
        {"image_id": third, "groups": ["web"], "supersede": "queue", "preferences": {"InstanceWarmup": 60}},
    )
    execution = app.wait_for_execution(arn, timeout=300)

    # Then the wave cannot read the queued deployment, refused where AWS refuses it
    assert execution["status"] == "FAILED"
    assert "dynamodb:Query" in {d.request.action for d in ENFORCER.denials()}
