"""Invocations reach the project's handlers on every path, failures land where AWS puts them."""

from __future__ import annotations

import json
import os
import threading

from asg_refresh_local.harness import LocalApp


def test_invoke_api_runs_the_handler_with_its_environment_and_context(app: LocalApp) -> None:
    result = app.invoke("EchoFunction", {"hello": "world"})

    assert result["event"] == {"hello": "world"}
    assert result["stage"] == "unit"
    assert result["function_name"] == app.function_name("EchoFunction")
    assert 0 < result["remaining_ms"] <= 30_000
    assert len(result["request_id"]) == 36


def test_handler_error_is_the_lambda_error_payload(app: LocalApp) -> None:
    response = app.client("lambda").invoke(
        FunctionName=app.function_name("FailFunction"), Payload=json.dumps({"reason": "bad ami"}).encode()
    )
    payload = json.loads(response["Payload"].read())

    assert response["FunctionError"]
    assert payload["errorType"] == "RefreshRejectedError"
    assert payload["errorMessage"] == "rejected bad ami"
    assert any("fail/app.py" in line for line in payload["stackTrace"])


def test_environment_is_restored_after_an_invocation(app: LocalApp) -> None:
    app.invoke("EchoFunction", {})
    assert "STAGE" not in os.environ


def test_environment_is_the_invocations_own_and_its_pool_tasks(app: LocalApp) -> None:
    result = app.invoke("EchoFunction", {})

    # As in Lambda, the handler's thread pool shares its process environment; a thread that is
    # not part of the invocation (moto's workers) sees the process's.
    assert result["stage_in_pool_task"] == "unit"
    assert result["stage_in_other_thread"] is None


def test_threads_copying_the_environment_during_invocations_never_fail(app: LocalApp) -> None:
    # moto's workers copy os.environ whenever botocore builds a client; handler variables once
    # vanished mid-copy and failed executions with KeyError. Copy hard while handlers run.
    stop, failures, leaked = threading.Event(), [], []

    def copy_environment() -> None:
        while not stop.is_set():
            try:
                if "STAGE" in os.environ.copy():
                    leaked.append(True)
            except Exception as exc:  # any failure is the finding
                failures.append(exc)

    copier = threading.Thread(target=copy_environment)
    copier.start()
    try:
        for _ in range(30):
            app.invoke("EchoFunction", {})
    finally:
        stop.set()
        copier.join()

    assert failures == []
    assert leaked == []


def test_sns_subscription_delivers_a_realistic_sns_event(app: LocalApp) -> None:
    app.client("sns").publish(
        TopicArn=app.physical_id("EventsTopic"),
        Message="hi",
        Subject="s",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "deploy"}},
    )

    [invocation] = app.invocations("EchoFunction")
    record = invocation.event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == app.physical_id("EventsTopic")
    assert record["Sns"]["Message"] == "hi"
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "deploy"}}
    assert record["Sns"]["Timestamp"] == "2026-01-01T12:00:00.000Z"


def test_eventbridge_rule_invokes_the_function_with_input_path(app: LocalApp) -> None:
    app.put_events([{"Source": "fixture.record", "DetailType": "Recorded", "Detail": {"n": 1}}])

    [invocation] = app.invocations("RecordFunction")
    assert invocation.event == {"n": 1}
    assert invocation.result == {"ok": True, "stage": "unit"}


def test_disabled_rule_does_not_fire(app: LocalApp) -> None:
    app.put_events([{"Source": "fixture.disabled", "DetailType": "Ignored", "Detail": {}}])

    assert app.invocations("RecordFunction") == []


def test_async_failure_goes_to_the_dead_letter_queue_after_retries(app: LocalApp) -> None:
    app.put_events([{"Source": "fixture.fail", "DetailType": "Rejected", "Detail": {"reason": "bad ami"}}])

    assert len(app.invocations("FailFunction")) == 3  # first attempt + 2 retries, as AWS
    [dead] = app.dead_letters("FailuresQueue")
    assert dead["Body"]["detail"] == {"reason": "bad ami"}
    assert dead["Body"]["source"] == "fixture.fail"
    assert dead["MessageAttributes"]["ErrorMessage"] == "rejected bad ami"
    assert dead["MessageAttributes"]["ErrorCode"] == "200"


def test_async_failure_goes_to_the_on_failure_destination(app: LocalApp) -> None:
    app.put_events([{"Source": "fixture.record", "DetailType": "Recorded", "Detail": {"fail": True}}])

    assert len(app.invocations("RecordFunction")) == 1  # MaximumRetryAttempts: 0
    [record] = app.dead_letters("FailuresQueue")
    assert record["Body"]["requestContext"]["condition"] == "RetriesExhausted"
    assert record["Body"]["requestPayload"] == {"fail": True}
    assert record["Body"]["responsePayload"]["errorType"] == "ValueError"


def test_rule_starts_the_state_machine_with_the_event(app: LocalApp) -> None:
    app.put_events([{"Source": "fixture.start", "DetailType": "Go", "Detail": {"fail": False, "wait": 1}}])

    [execution] = app.executions("WatchStateMachine")
    described = app.wait_for_execution(execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["input"]) == {"fail": False, "wait": 1}


def test_unreachable_rule_target_goes_to_the_rule_dead_letter_queue(app: LocalApp) -> None:
    app.client("stepfunctions").delete_state_machine(stateMachineArn=app.physical_id("WatchStateMachine"))

    app.put_events([{"Source": "fixture.start", "DetailType": "Go", "Detail": {"fail": False}}])

    [dead] = app.dead_letters("RuleDeadLetters")
    assert dead["Body"]["detail"] == {"fail": False}
    assert dead["MessageAttributes"]["TARGET_ARN"] == app.physical_id("WatchStateMachine")
    assert dead["MessageAttributes"]["RULE_ARN"] == app.attribute("WatchStateMachineStarted", "Arn")


def test_a_schedule_rule_fires_when_asked_with_the_scheduled_event(app: LocalApp) -> None:
    # put_events never fires a schedule rule (it has no pattern); the harness fires it on request
    app.put_events([{"Source": "fixture.anything", "DetailType": "Ignored", "Detail": {}}])
    assert app.invocations("RecordFunction") == []

    event = app.fire_schedule("RecordFunctionHourly")

    [invocation] = app.invocations("RecordFunction")
    assert invocation.event == event
    assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
    assert event["resources"] == [app.attribute("RecordFunctionHourly", "Arn")]
    targets = app.client("events").list_targets_by_rule(Rule=app.physical_id("RecordFunctionHourly"))[
        "Targets"
    ]
    assert targets[0]["DeadLetterConfig"]["Arn"] == app.attribute("RuleDeadLetters", "Arn")
    assert targets[0]["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300}


def test_a_schedule_that_cannot_reach_its_function_dead_letters_the_event(app: LocalApp) -> None:
    app.client("lambda").delete_function(FunctionName=app.function_name("RecordFunction"))

    event = app.fire_schedule("RecordFunctionHourly")

    assert app.invocations("RecordFunction") == []
    [dead] = app.dead_letters("RuleDeadLetters")
    assert dead["Body"] == event
    assert dead["MessageAttributes"]["RULE_ARN"] == app.attribute("RecordFunctionHourly", "Arn")
    assert dead["MessageAttributes"]["TARGET_ARN"] == app.attribute("RecordFunction", "Arn")


def test_messages_records_what_a_topic_received(app: LocalApp) -> None:
    app.record_topic("EventsTopic")
    app.client("sns").publish(TopicArn=app.physical_id("EventsTopic"), Message=json.dumps({"a": 1}))

    [message] = app.messages("EventsTopic")
    assert json.loads(message["Body"]["Message"]) == {"a": 1}


def test_event_invocation_applies_retries_and_the_dead_letter_queue(app: LocalApp) -> None:
    status = app.invoke_async("FailFunction", {"reason": "async"})

    assert status == 202
    assert len(app.invocations("FailFunction")) == 3
    [dead] = app.dead_letters("FailuresQueue")
    assert dead["Body"] == {"reason": "async"}
    assert dead["MessageAttributes"]["ErrorMessage"] == "rejected async"


def test_function_error_is_unhandled_like_aws(app: LocalApp) -> None:
    response = app.client("lambda").invoke(FunctionName=app.function_name("FailFunction"), Payload=b"{}")

    assert response["FunctionError"] == "Unhandled"
