"""Lifecycle hooks hold a refresh's launches in Pending:Wait and its terminations in Terminating:Wait,
until CompleteLifecycleAction or the heartbeat timeout (DefaultResult), on the virtual clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asg_refresh_local.clock import CLOCK

from .conftest import NEW_AMI, START, Env, fresh_env
from .test_events import drain, subscribe
from .test_properties import check_capacity, preferences, run_to_end

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# The refresh starts 5 s after the request; a launch leaves Pending 60 s later.
FIRST_LAUNCH_WAITS_AT = 65


def put_hook(
    env: Env, transition: str = LAUNCHING, timeout: int = 600, default: str = "ABANDON", **extra: Any
) -> str:
    name = "boot" if transition == LAUNCHING else "drain"
    env.asg.put_lifecycle_hook(
        AutoScalingGroupName="web",
        LifecycleHookName=name,
        LifecycleTransition=transition,
        HeartbeatTimeout=timeout,
        DefaultResult=default,
        **extra,
    )
    return name


def lifecycle_states(env: Env) -> dict[str, str]:
    return {i["InstanceId"]: i["LifecycleState"] for i in env.instances()}


def in_state(env: Env, state: str) -> list[str]:
    return [i for i, s in lifecycle_states(env).items() if s == state]


def complete(env: Env, hook: str, result: str = "CONTINUE", **target: str) -> None:
    env.asg.complete_lifecycle_action(
        AutoScalingGroupName="web", LifecycleHookName=hook, LifecycleActionResult=result, **target
    )


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_a_launch_waits_in_pending_wait_until_completed_and_warm_up_starts_after(env: Env) -> None:
    # Given a group of two with a launch hook, refreshed one instance at a time
    env.make_group(size=2)
    hook = put_hook(env)
    env.start(MinHealthyPercentage=50, InstanceWarmup=60)

    # When the first replacement has launched
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT + 100)

    # Then it waits in Pending:Wait, in both describes, and the refresh waits with it
    waiting = in_state(env, "Pending:Wait")
    assert len(waiting) == 1
    described = env.asg.describe_auto_scaling_instances(InstanceIds=waiting)["AutoScalingInstances"]
    assert described[0]["LifecycleState"] == "Pending:Wait"
    assert (env.refresh()["Status"], env.refresh()["PercentageComplete"]) == ("InProgress", 0)

    # When the action is completed by instance id, the instance enters service, and only then the
    # 60 s warm-up starts
    complete(env, hook, InstanceId=waiting[0])
    assert lifecycle_states(env)[waiting[0]] == "InService"
    CLOCK.advance(59)
    assert env.refresh()["PercentageComplete"] == 0
    CLOCK.advance(1)
    assert env.refresh()["PercentageComplete"] == 50

    # And the second replacement waits too, until completed
    CLOCK.advance(120)
    second = in_state(env, "Pending:Wait")
    assert len(second) == 1
    assert second != waiting
    complete(env, hook, InstanceId=second[0])
    assert env.run_until_done(step=60) == "Successful"
    assert set(lifecycle_states(env).values()) == {"InService"}


def test_the_heartbeat_timeout_applies_default_result_continue(env: Env) -> None:
    env.make_group(size=2)
    put_hook(env, timeout=300, default="CONTINUE")
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)

    assert env.run_until_done(step=60) == "Successful"

    # After the 5 s Pending, each of the two batches: 60 s launching, then the whole 300 s
    # heartbeat timeout.
    row = env.refresh()
    assert row["StartTime"] == START
    assert row["EndTime"] == START + timedelta(seconds=5 + 2 * (60 + 300))


def test_an_abandoned_launch_fails_the_refresh(env: Env) -> None:
    env.make_group(size=2)
    hook = put_hook(env)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)
    (waiting,) = in_state(env, "Pending:Wait")

    complete(env, hook, "ABANDON", InstanceId=waiting)

    # The abandoned instance is terminated, its launch activity Cancelled, and the refresh Failed
    row = env.refresh()
    assert row["Status"] == "Failed"
    assert "instances failed to launch" in row["StatusReason"]
    assert waiting not in lifecycle_states(env)
    activities = env.asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    launch = next(a for a in activities if a["Description"] == f"Launching a new EC2 instance: {waiting}")
    assert launch["StatusCode"] == "Cancelled"
    assert "was abandoned: Lifecycle Action Completed with ABANDON Result" in launch["StatusMessage"]


def test_an_abandoned_launch_rolls_back_with_auto_rollback_and_the_rollback_waits_too(env: Env) -> None:
    env.make_group(size=2)
    hook = put_hook(env)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0, AutoRollback=True)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)
    (waiting,) = in_state(env, "Pending:Wait")

    complete(env, hook, "ABANDON", InstanceId=waiting)
    assert env.status() == "RollbackInProgress"
    assert "instances failed to launch" in env.refresh()["RollbackDetails"]["RollbackReason"]

    # The rollback's own launch (on v1) waits in Pending:Wait as well
    CLOCK.advance(60)
    (relaunch,) = in_state(env, "Pending:Wait")
    assert env.status() == "RollbackInProgress"
    complete(env, hook, InstanceId=relaunch)
    assert env.run_until_done(step=60) == "RollbackSuccessful"
    assert sorted(lifecycle_states(env).values()) == ["InService", "InService"]


def test_a_heartbeat_restarts_the_timeout_within_the_global_timeout(env: Env) -> None:
    env.make_group(size=1)
    put_hook(env, timeout=300, default="ABANDON")
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT + 200)
    (waiting,) = in_state(env, "Pending:Wait")

    # A heartbeat at 200 s moves the timeout from 300 s to 500 s after the wait began
    env.asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="web", LifecycleHookName="boot", InstanceId=waiting
    )
    CLOCK.advance(299)
    assert lifecycle_states(env)[waiting] == "Pending:Wait"
    CLOCK.advance(1)
    assert waiting not in lifecycle_states(env)
    assert env.status() == "Failed"


def test_heartbeats_never_pass_the_global_timeout(env: Env) -> None:
    env.make_group(size=1)
    put_hook(env, timeout=30, default="CONTINUE")
    hook = env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"][0]
    assert hook["GlobalTimeout"] == 3000  # 100 x HeartbeatTimeout, under 48 hours
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)
    (waiting,) = in_state(env, "Pending:Wait")

    for _ in range(3000 // 20 - 1):
        CLOCK.advance(20)
        env.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="web", LifecycleHookName="boot", InstanceId=waiting
        )
    assert lifecycle_states(env)[waiting] == "Pending:Wait"
    CLOCK.advance(20)
    assert lifecycle_states(env)[waiting] == "InService"


def test_terminations_wait_in_terminating_wait_and_the_batch_with_them(env: Env) -> None:
    env.make_group(size=2)
    old = sorted(lifecycle_states(env))
    hook = put_hook(env, TERMINATING, timeout=900, default="ABANDON")
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)

    # The first old instance waits in Terminating:Wait; its replacement is in service, but the
    # batch is not done until the old one is gone
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT + 60)
    (first,) = in_state(env, "Terminating:Wait")
    assert first in old
    assert env.refresh()["PercentageComplete"] == 0

    complete(env, hook, InstanceId=first)
    assert first not in lifecycle_states(env)
    assert env.refresh()["PercentageComplete"] == 50

    # ABANDON terminates as well; so does the timeout
    (second,) = in_state(env, "Terminating:Wait")
    complete(env, hook, "ABANDON", InstanceId=second)
    assert env.run_until_done(step=60) == "Successful"
    reservations = env.ec2.describe_instances(InstanceIds=old)["Reservations"]
    assert {i["State"]["Name"] for r in reservations for i in r["Instances"]} == {"terminated"}
    activities = env.asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    ended = {
        a["Description"].rsplit(" ", 1)[1] for a in activities if a["Description"].startswith("Terminating")
    }
    assert ended == set(old)


def test_lifecycle_events_on_the_default_bus(env: Env) -> None:
    queue_url = subscribe(env)
    env.make_group(size=1)
    group_arn = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0][
        "AutoScalingGroupARN"
    ]
    (old,) = lifecycle_states(env)
    put_hook(env, LAUNCHING, NotificationMetadata='{"role": "web"}')
    put_hook(env, TERMINATING)
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)

    events = [e for e in drain(queue_url) if "Lifecycle Action" in e["detail-type"]]
    assert [e["detail-type"] for e in events] == [
        "EC2 Instance-terminate Lifecycle Action",
        "EC2 Instance-launch Lifecycle Action",
    ]
    terminate, launch = events
    (new,) = in_state(env, "Pending:Wait")
    assert terminate["detail"] == {
        "LifecycleActionToken": terminate["detail"]["LifecycleActionToken"],
        "AutoScalingGroupName": "web",
        "LifecycleHookName": "drain",
        "EC2InstanceId": old,
        "LifecycleTransition": TERMINATING,
        "Origin": "AutoScalingGroup",
        "Destination": "EC2",
    }
    assert launch["detail"]["EC2InstanceId"] == new
    assert launch["detail"]["NotificationMetadata"] == '{"role": "web"}'
    assert (launch["detail"]["Origin"], launch["detail"]["Destination"]) == ("EC2", "AutoScalingGroup")
    assert launch["source"] == "aws.autoscaling"
    assert launch["resources"] == [group_arn]
    assert (terminate["time"], launch["time"]) == ("2025-01-01T00:00:05Z", "2025-01-01T00:01:05Z")

    # The tokens complete the actions
    for event in events:
        complete(
            env,
            event["detail"]["LifecycleHookName"],
            LifecycleActionToken=event["detail"]["LifecycleActionToken"],
        )
    assert lifecycle_states(env) == {new: "InService"}
    assert env.run_until_done(step=60) == "Successful"


def test_lifecycle_action_errors_as_aws_gives_them(env: Env) -> None:
    env.make_group(size=1)
    (instance,) = lifecycle_states(env)
    put_hook(env)

    with pytest.raises(ClientError) as caught:
        complete(env, "boot", InstanceId=instance)
    assert error_of(caught) == (
        "ValidationError",
        f"No active Lifecycle Action found with instance ID {instance}",
    )
    token = "12345678-1234-1234-1234-123456789012"
    with pytest.raises(ClientError) as caught:
        env.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="web", LifecycleHookName="boot", LifecycleActionToken=token
        )
    assert error_of(caught) == ("ValidationError", f"No active Lifecycle Action found with token {token}")
    with pytest.raises(ClientError) as caught:
        complete(env, "boot", "MAYBE", InstanceId=instance)
    assert error_of(caught)[0] == "ValidationError"
    with pytest.raises(ClientError) as caught:
        put_hook(env, timeout=10)
    assert error_of(caught)[0] == "ValidationError"

    # DescribeLifecycleHooks shows what was put, and no role or target that was not
    hook = env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"][0]
    assert (hook["HeartbeatTimeout"], hook["GlobalTimeout"], hook["DefaultResult"]) == (600, 60000, "ABANDON")
    assert "RoleARN" not in hook
    assert "NotificationTargetARN" not in hook


def test_deleting_a_hook_abandons_the_launches_it_holds(env: Env) -> None:
    env.make_group(size=2)
    put_hook(env)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)
    (waiting,) = in_state(env, "Pending:Wait")

    env.asg.delete_lifecycle_hook(AutoScalingGroupName="web", LifecycleHookName="boot")

    assert waiting not in lifecycle_states(env)
    assert env.status() == "Failed"
    assert env.asg.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"] == []


@pytest.mark.usefixtures("_mocked")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(1, 8),
    prefs=preferences(),
    launch_timeout=st.sampled_from([None, 30, 900]),
    terminate_timeout=st.sampled_from([None, 30, 900]),
)
def test_with_hooks_capacity_stays_within_bounds_and_the_refresh_completes(
    size: int, prefs: dict[str, Any], launch_timeout: int | None, terminate_timeout: int | None
) -> None:
    env = fresh_env()
    env.make_group(size=size)
    for transition, timeout in ((LAUNCHING, launch_timeout), (TERMINATING, terminate_timeout)):
        if timeout is not None:
            put_hook(env, transition, timeout=timeout, default="CONTINUE")
    env.start(**prefs)
    assert run_to_end(env) == "Successful"
    check_capacity(env, prefs)
    assert env.image_ids() == [NEW_AMI] * size
    assert set(lifecycle_states(env).values()) == {"InService"}


def test_a_cancel_waits_for_transitioning_instances_held_by_a_hook(env: Env) -> None:
    env.make_group(size=2)
    hook = put_hook(env)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)
    (waiting,) = in_state(env, "Pending:Wait")

    # WaitForTransitioningInstances (default true): Cancelling until the launch is through
    env.asg.cancel_instance_refresh(AutoScalingGroupName="web")
    CLOCK.advance(300)
    assert env.status() == "Cancelling"
    complete(env, hook, InstanceId=waiting)
    assert env.status() == "Cancelled"
    assert lifecycle_states(env)[waiting] == "InService"


def test_a_rollback_drops_launches_held_by_a_hook(env: Env) -> None:
    env.make_group(size=2)
    old = set(lifecycle_states(env))
    put_hook(env)
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    CLOCK.advance(FIRST_LAUNCH_WAITS_AT)
    (waiting,) = in_state(env, "Pending:Wait")

    env.asg.rollback_instance_refresh(AutoScalingGroupName="web")

    # The held launch is terminated at once; the relaunch on v1 waits on the hook in its turn
    assert waiting not in lifecycle_states(env)
    CLOCK.advance(60)
    (relaunch,) = in_state(env, "Pending:Wait")
    complete(env, "boot", InstanceId=relaunch)
    assert env.run_until_done(step=60) == "RollbackSuccessful"
    remaining = lifecycle_states(env)
    assert sorted(remaining.values()) == ["InService", "InService"]
    assert len(set(remaining) & old) == 1  # the old instance the first batch did not terminate
    assert relaunch in remaining
