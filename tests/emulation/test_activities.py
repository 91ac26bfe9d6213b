"""DescribeScalingActivities shows what a refresh launched and terminated, when, and why."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from asg_refresh_local.clock import CLOCK

from .conftest import Env


def test_a_refresh_leaves_a_launch_and_a_termination_per_instance(env: Env) -> None:
    # Given a group of two, refreshed one instance at a time
    env.make_group(size=2)
    old = {i["InstanceId"] for i in env.instances()}
    env.start(MinHealthyPercentage=50, InstanceWarmup=30)

    # When it runs to its end
    assert env.run_until_done(step=60) == "Successful"

    # Then each new instance's launch and each old one's termination is a Successful activity,
    # newest first, on the refresh's clock, saying it was the instance refresh
    new = {i["InstanceId"] for i in env.instances()}
    activities = env.asg.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    launched = {
        a["Description"].rsplit(" ", 1)[1] for a in activities if a["Description"].startswith("Launching")
    }
    ended = {
        a["Description"].rsplit(" ", 1)[1] for a in activities if a["Description"].startswith("Terminating")
    }
    assert (launched, ended) == (new, old)
    assert {a["StatusCode"] for a in activities} == {"Successful"}
    assert all("in response to an instance refresh" in a["Cause"] for a in activities)
    times = [a["StartTime"] for a in activities]
    assert times == sorted(times, reverse=True)
    row = env.refresh()
    assert row["StartTime"] < times[-1] <= times[0] <= row["EndTime"]


def test_activities_page_with_an_opaque_token(env: Env) -> None:
    env.make_group(size=3)
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)
    CLOCK.advance(3600)

    first = env.asg.describe_scaling_activities(AutoScalingGroupName="web", MaxRecords=4)
    rest = env.asg.describe_scaling_activities(AutoScalingGroupName="web", NextToken=first["NextToken"])

    assert (len(first["Activities"]), len(rest["Activities"])) == (4, 2)
    assert "NextToken" not in rest
    ids = [a["ActivityId"] for a in first["Activities"] + rest["Activities"]]
    assert len(set(ids)) == 6
    assert first["NextToken"] not in ids
    with pytest.raises(ClientError) as caught:
        env.asg.describe_scaling_activities(AutoScalingGroupName="web", NextToken=ids[4])
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"
    with pytest.raises(ClientError) as caught:
        env.asg.describe_scaling_activities(AutoScalingGroupName="web", MaxRecords=101)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert env.asg.describe_scaling_activities(AutoScalingGroupName="other")["Activities"] == []
