"""moto's interpreter on the virtual clock, with AWS's results and error names."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.sfn_errors import aws_sdk_error_name
from asg_refresh_local.harness.stepfunctions_patches import json_safe

from .conftest import START


def _output(described: dict[str, Any]) -> Any:
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def _until_waiting(execution_arn: str, wake_at: datetime) -> None:
    """Synchronise with the execution thread (wall-clock polling, no business time)."""
    from asg_refresh_local.harness.wait_scheduler import SCHEDULER

    deadline = time.monotonic() + 5
    while (execution_arn, wake_at) not in SCHEDULER.waiting():
        assert time.monotonic() < deadline, SCHEDULER.waiting()
        time.sleep(0.005)


def _make_group(app: LocalApp, name: str = "web") -> None:
    ec2 = app.client("ec2")
    image_id = "ami-12c6146b"  # one of the AMIs moto ships
    template_id = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    app.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "1"},
        AvailabilityZones=["us-east-1a"],
    )


def test_waits_of_hours_finish_at_once_and_advance_the_clock_exactly(app: LocalApp) -> None:
    began = time.monotonic()

    arn = app.start_execution("WatchStateMachine", {"fail": False, "wait": 1800})
    output = _output(app.wait_for_execution(arn))

    assert time.monotonic() - began < 5
    assert CLOCK.now() == START + timedelta(seconds=7200 + 1800)
    assert datetime.fromisoformat(output["clock"]["finished_at"]) == START + timedelta(seconds=9000)
    described = app.wait_for_execution(arn)
    assert described["startDate"] == START
    assert described["stopDate"] == START + timedelta(seconds=9000)
    history = app.history(arn)
    assert (history[0]["timestamp"], history[-1]["timestamp"]) == (START, START + timedelta(seconds=9000))


def test_definite_paths_through_an_index_give_the_value(app: LocalApp) -> None:
    arn = app.start_execution(
        "PathsStateMachine", {"items": [{"id": "a"}, {"id": "b"}], "probe_missing": False}
    )

    output = _output(app.wait_for_execution(arn))

    assert output == {
        "first": "a",
        "all": ["a", "b"],
        "second": {"id": "b"},
        "stage": "unit",
        "probe_missing": False,
    }


def test_states_all_does_not_catch_a_runtime_error(app: LocalApp) -> None:
    arn = app.start_execution(
        "PathsStateMachine", {"items": [{"id": "a"}, {"id": "b"}], "probe_missing": True}
    )

    described = app.wait_for_execution(arn)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"


def test_lambda_task_error_name_is_the_exception_class(app: LocalApp) -> None:
    arn = app.start_execution("WatchStateMachine", {"fail": True})

    output = _output(app.wait_for_execution(arn))

    assert output["error"]["Error"] == "RefreshRejectedError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "rejected no reason"
    assert CLOCK.now() == START


def test_concurrent_executions_wake_in_order_of_their_wake_time(app: LocalApp) -> None:
    waits = {"late": 600, "early": 60, "middle": 300}

    arns = {
        name: app.start_execution("WatchStateMachine", {"fail": False, "wait": seconds}, name=name)
        for name, seconds in waits.items()
    }
    finished = {
        name: _output(app.wait_for_execution(arn))["clock"]["finished_at"] for name, arn in arns.items()
    }

    for name, seconds in waits.items():
        assert datetime.fromisoformat(finished[name]) == START + timedelta(seconds=7200 + seconds), name
    assert CLOCK.now() == START + timedelta(seconds=7800)


def test_a_map_iteration_still_working_holds_the_clock(app: LocalApp) -> None:
    # One iteration waits ten seconds while the other is busy in a (wall-clock slow) Lambda.
    items = [{"wait": 10, "sleep": 0}, {"wait": 0, "sleep": 0.3}]

    arn = app.start_execution("MapStateMachine", {"items": items})
    output = _output(app.wait_for_execution(arn))

    assert [datetime.fromisoformat(item["at"]) for item in output] == [START + timedelta(seconds=10), START]


def test_a_running_execution_that_is_not_waiting_holds_the_clock() -> None:
    import threading

    from asg_refresh_local.harness.wait_scheduler import WaitScheduler

    running = {"a", "b"}
    scheduler = WaitScheduler(running=lambda: sorted(running))
    scheduler.auto_advance = True
    woke_at: dict[str, datetime] = {}

    def execution_a() -> None:
        scheduler.sleep_until("a", START + timedelta(hours=1))
        woke_at["a"] = CLOCK.now()
        running.discard("a")
        scheduler.notify()

    try:
        worker = threading.Thread(target=execution_a)
        worker.start()
        worker.join(timeout=0.3)
        assert worker.is_alive()  # b is busy (not waiting): time stands still
        assert CLOCK.now() == START
        scheduler.sleep_until("b", START + timedelta(hours=2))  # both wait now: a wakes first, then b
        worker.join(timeout=5)
        assert woke_at["a"] == START + timedelta(hours=1)
        assert CLOCK.now() == START + timedelta(hours=2)
    finally:
        CLOCK.remove_listener(scheduler._on_clock)


def test_a_passive_wait_lets_other_waits_run_but_is_never_jumped_to() -> None:
    import threading

    from asg_refresh_local.harness.wait_scheduler import WaitScheduler

    # Given an approval (passive) due in an hour, and another execution's poll due in two
    running = {"approval", "poll"}
    scheduler = WaitScheduler(running=lambda: sorted(running))
    scheduler.auto_advance = True
    answered = threading.Event()
    approval = threading.Thread(
        target=lambda: scheduler.sleep_until(
            "approval", START + timedelta(hours=1), lambda: not answered.is_set(), passive=True
        )
    )
    try:
        approval.start()
        # When the poll waits: the clock jumps to it, past the approval's deadline, which ends
        scheduler.sleep_until("poll", START + timedelta(hours=2))
        approval.join(timeout=5)
        assert not approval.is_alive()
        assert CLOCK.now() == START + timedelta(hours=2)

        # And an approval waiting alone holds the clock until it is answered
        running.discard("poll")
        waiting = threading.Thread(
            target=lambda: scheduler.sleep_until(
                "approval", START + timedelta(hours=3), lambda: not answered.is_set(), passive=True
            )
        )
        waiting.start()
        waiting.join(timeout=0.3)
        assert waiting.is_alive()
        assert CLOCK.now() == START + timedelta(hours=2)
        answered.set()
        scheduler.notify()
        waiting.join(timeout=5)
        assert not waiting.is_alive()
    finally:
        answered.set()
        CLOCK.remove_listener(scheduler._on_clock)


def test_scaled_clock_ends_waits_without_advancing() -> None:
    from asg_refresh_local.harness.wait_scheduler import WaitScheduler

    scheduler = WaitScheduler(running=lambda: ["a"])
    scheduler.auto_advance = False
    CLOCK.set_time_scale(36_000)  # ten virtual hours per wall second
    began = time.monotonic()
    try:
        scheduler.sleep_until("a", START + timedelta(hours=1))
    finally:
        CLOCK.set_time_scale(0)
        CLOCK.remove_listener(scheduler._on_clock)
    assert CLOCK.now() >= START + timedelta(hours=1)
    assert time.monotonic() - began < 2


def test_aws_sdk_results_are_json_safe_and_errors_are_named_like_aws(app: LocalApp) -> None:
    _make_group(app)
    until = (START + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    arn = app.start_execution("SdkStateMachine", {"group": "web", "until": until})
    output = _output(app.wait_for_execution(arn))

    group = output["described"]["AutoScalingGroups"][0]
    assert group["AutoScalingGroupName"] == "web"
    assert isinstance(group["CreatedTime"], str)
    assert group["CreatedTime"].endswith("Z")
    assert output["cancel_error"]["Error"] == "AutoScaling.ActiveInstanceRefreshNotFoundException"
    assert "Service: AutoScaling" in output["cancel_error"]["Cause"]
    # Timestamp wait to the next day, then retries backing off 3600 s and 7200 s.
    assert output["fail_error"]["Error"] == "RefreshRejectedError"
    assert CLOCK.now() == START + timedelta(days=1, seconds=3600 + 7200)
    assert len(app.invocations("FailFunction")) == 3


@pytest.mark.parametrize(
    ("service", "error_shape", "expected"),
    [
        ("autoscaling", "InstanceRefreshInProgressFault", "AutoScaling.InstanceRefreshInProgressException"),
        ("autoscaling", None, "AutoScaling.AutoScalingException"),
        ("dynamodb", "ResourceNotFoundException", "DynamoDb.ResourceNotFoundException"),
        ("ssm", "ParameterNotFound", "Ssm.ParameterNotFoundException"),
        ("cloudwatch", "ResourceNotFound", "CloudWatch.ResourceNotFoundException"),
        ("sfn", "ExecutionDoesNotExist", "Sfn.ExecutionDoesNotExistException"),
        ("ec2", None, "Ec2.Ec2Exception"),
        ("sns", "KMSThrottlingException", "Sns.KmsThrottlingException"),
        ("acmpca", "ResourceNotFoundException", "AcmPca.ResourceNotFoundException"),
    ],
)
def test_error_name_mapping(service: str, error_shape: str | None, expected: str) -> None:
    assert aws_sdk_error_name(service, error_shape) == expected


def test_service_errors_are_named_like_aws_in_every_integration(app: LocalApp) -> None:
    # Given a state machine whose aws-sdk, sns and states tasks each call for something missing
    arn = app.start_execution("ErrorNamesStateMachine", {})

    # When it runs
    output = _output(app.wait_for_execution(arn))

    # Then an undeclared code (autoscaling's ValidationError) is the service's base exception,
    # and the optimised integrations use their own prefixes and the SDK for Java 1.x class names
    assert output["refresh_error"]["Error"] == "AutoScaling.AutoScalingException"
    assert output["publish_error"]["Error"] == "SNS.NotFoundException"
    assert output["start_error"]["Error"] == "StepFunctions.StateMachineDoesNotExistException"


def test_json_safe_formats_like_step_functions() -> None:
    from datetime import UTC
    from decimal import Decimal

    value = {
        "a": [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)],
        "n": Decimal("3"),
        "f": Decimal("1.5"),
        "b": b"hi",
    }
    assert json_safe(value) == {
        "a": ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.120Z"],
        "n": 3,
        "f": 1.5,
        "b": "aGk=",
    }


def test_time_moves_only_while_the_test_waits_or_advances(app: LocalApp) -> None:
    arn = app.start_execution("WatchStateMachine", {"fail": False, "wait": 1})
    _until_waiting(arn, START + timedelta(seconds=7200))
    assert CLOCK.now() == START  # nobody waits for the execution: time stands still

    app.advance(7200)  # an explicit advance ends the wait...
    _until_waiting(arn, START + timedelta(seconds=7201))  # ...and the next one begins
    app.advance(1)

    assert app.wait_for_execution(arn)["status"] == "SUCCEEDED"
    assert CLOCK.now() == START + timedelta(seconds=7201)


def test_wait_for_execution_gives_up_after_the_safety_timeout(
    app: LocalApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asg_refresh_local.harness import ExecutionTimeout
    from asg_refresh_local.harness.wait_scheduler import SCHEDULER

    arn = app.start_execution("WatchStateMachine", {"fail": False, "wait": 1})
    with monkeypatch.context() as patched:
        patched.setattr(SCHEDULER, "_running", lambda: ["someone-busy"])  # never waits
        with pytest.raises(ExecutionTimeout):
            app.wait_for_execution(arn, timeout=0.2)

    assert app.wait_for_execution(arn)["status"] == "SUCCEEDED"


def test_wait_for_all_executions_lets_every_execution_finish(app: LocalApp) -> None:
    for seconds in (30, 10):
        app.start_execution("WatchStateMachine", {"fail": False, "wait": seconds})

    described = app.wait_for_all_executions()

    assert sorted(d["status"] for d in described) == ["SUCCEEDED", "SUCCEEDED"]
    assert CLOCK.now() == START + timedelta(seconds=7230)
