"""How a call was made decides what a refusal becomes, and it is told by the Lambda context
(Invoke's ClientContext), never by the event's shape (invocation.py)."""

from __future__ import annotations

from typing import Any

import pytest

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.samples import load_event


def refused_letters(app: LocalApp) -> list[dict[str, Any]]:
    """The dead letters the handlers wrote themselves (Lambda's own carry ErrorCode 200)."""
    return [
        letter
        for letter in app.dead_letters("DeadLetterQueue")
        if letter["MessageAttributes"]["ErrorCode"] != "200"
    ]


def codes(letters: list[dict[str, Any]]) -> list[str]:
    return [letter["MessageAttributes"]["ErrorCode"] for letter in letters]


def test_a_direct_caller_gets_the_envelope_and_nothing_is_dead_lettered(app: LocalApp) -> None:
    # Given an EventBridge-shaped event (the shape does not make a call asynchronous)
    event = load_event("malformed_eventbridge")
    # When the operator invokes StartRefresh with the direct marker
    answer = app.invoke("StartRefreshFunction", event)
    # Then the refusal comes back, and only back
    assert answer["success"] is False
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    assert refused_letters(app) == []


def test_a_synchronous_caller_without_the_marker_also_gets_a_dead_letter_copy(app: LocalApp) -> None:
    # Given a plain deploy message (the shape of a direct call), sent without the marker
    answer = app.invoke("StartRefreshFunction", load_event("malformed_deploy_direct"), direct=False)
    # Then the caller still gets the envelope, and a copy is kept in the dead-letter queue
    assert answer["success"] is False
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    letters = refused_letters(app)
    assert codes(letters) == ["VALIDATION_ERROR"]
    assert letters[0]["MessageAttributes"]["ErrorMessage"]
    assert letters[0]["Body"]["event"] == load_event("malformed_deploy_direct")


@pytest.mark.parametrize("event", [None, {}, {"detail-type": "ASG Refresh Requested"}, [], "deploy"])
def test_an_asynchronous_event_without_a_source_is_dead_lettered_not_dropped(
    app: LocalApp, event: Any
) -> None:
    assert app.invoke_async("StartRefreshFunction", event) == 202
    assert codes(refused_letters(app)) == ["VALIDATION_ERROR"]
    # Refused for good at once: not retried into Lambda's own dead letter
    assert [i.errored for i in app.invocations("StartRefreshFunction")] == [False]


SNS_RECORD = load_event("deploy_sns")["Records"][0]


@pytest.mark.parametrize(
    ("event", "refused"),
    [
        ({"Records": [SNS_RECORD | {"Sns": None}]}, 1),
        ({"Records": [SNS_RECORD | {"Sns": ["a"]}]}, 1),
        ({"Records": [SNS_RECORD | {"Sns": "text"}]}, 1),
        ({"Records": [{k: v for k, v in SNS_RECORD.items() if k != "Sns"}]}, 1),
        # The first record is refused for its own reason (its group does not exist); the second
        # is not an object
        ({"Records": [SNS_RECORD, "not a record"]}, 2),
        ({"Records": [SNS_RECORD, None]}, 2),
    ],
)
def test_broken_sns_deliveries_are_refused_record_by_record(app: LocalApp, event: Any, refused: int) -> None:
    assert app.invoke_async("StartRefreshFunction", event) == 202
    assert len(refused_letters(app)) == refused
    assert [i.errored for i in app.invocations("StartRefreshFunction")] == [False]


def test_the_reconciler_dead_letters_an_event_that_is_not_its_schedule(app: LocalApp) -> None:
    # The reconciler's role may send to the queue (enforced: the harness evaluates its policy)
    app.invoke_async("ReconcileWatchersFunction", {"source": "aws.events", "detail-type": "Not a schedule"})
    assert codes(refused_letters(app)) == ["VALIDATION_ERROR"]
    # Its schedule's own event and a direct run are accepted
    assert app.invoke("ReconcileWatchersFunction", load_event("reconcile_schedule"))["success"] is True
    assert app.invoke("ReconcileWatchersFunction", {})["success"] is True


def test_a_task_fails_with_the_named_error_its_state_machine_catches(app: LocalApp, fleet: Fleet) -> None:
    # Given a watcher whose state carries an image id no AMI can have
    fleet.group("web-blue", fleet.image("current"), size=1)
    state = {k: v for k, v in load_event("evaluate_gates").items() if k != "describe"}
    execution_arn = app.start_execution(
        "WatchRefreshStateMachine", state | {"image_id": "not-an-ami"}, name="broken-watch"
    )
    execution = app.wait_for_execution(execution_arn)
    history = app.history(execution["executionArn"])
    # Then EvaluateGates failed as InvalidRequestError (not a pydantic ValidationError), and the
    # state machine's Catch took it
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["InvalidRequestError"]
    entered = [e.get("stateEnteredEventDetails", {}).get("name") for e in history]
    assert "Record the broken watch" in entered


def test_a_direct_call_of_a_task_gets_the_envelope(app: LocalApp) -> None:
    answer = app.invoke("EvaluateGatesFunction", {"group": "web-blue"})
    assert answer["success"] is False
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    raised = app.invoke("EvaluateGatesFunction", {"group": "web-blue"}, direct=False)
    assert raised["errorType"] == "InvalidRequestError"
