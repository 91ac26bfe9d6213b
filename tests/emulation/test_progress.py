"""A refresh moves on the virtual clock: statuses, batches, warm-up, checkpoints, bake, skip matching."""

from __future__ import annotations

from asg_refresh_local.clock import CLOCK

from .conftest import NEW_AMI, OLD_AMI, Env


def statuses_until_done(env: Env, step: int = 5) -> list[str]:
    seen: list[str] = []
    for _ in range(10_000):
        status = env.status()
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in {"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"}:
            return seen
        CLOCK.advance(step)
    raise AssertionError(seen)


def test_a_refresh_replaces_every_instance_with_the_new_version(env: Env) -> None:
    env.make_group(size=4)
    old_ids = {i["InstanceId"] for i in env.instances()}
    assert env.image_ids() == [OLD_AMI] * 4

    refresh_id = env.start(MinHealthyPercentage=50, InstanceWarmup=100)

    assert statuses_until_done(env) == ["Pending", "InProgress", "Successful"]
    row = env.refresh()
    assert row["InstanceRefreshId"] == refresh_id
    assert (row["PercentageComplete"], row["InstancesToUpdate"]) == (100, 0)
    assert row["ProgressDetails"]["LivePoolProgress"] == {"PercentageComplete": 100, "InstancesToUpdate": 0}
    assert row["ProgressDetails"]["WarmPoolProgress"] == {"PercentageComplete": 0, "InstancesToUpdate": 0}
    # Pending 5 s, then two batches of two: launch 60 s + warm-up 100 s each.
    assert (row["EndTime"] - row["StartTime"]).total_seconds() == 5 + 2 * (60 + 100)
    instances = env.instances()
    assert len(instances) == 4
    assert not old_ids & {i["InstanceId"] for i in instances}
    assert env.image_ids() == [NEW_AMI] * 4
    assert {i["InstanceType"] for i in instances} == {"t3.small"}
    assert {i["LaunchTemplate"]["Version"] for i in instances} == {"2"}
    group = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "2"  # the group took the desired configuration


def test_progress_is_reported_as_instances_finish_warming_up(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=50, InstanceWarmup=100)
    CLOCK.advance(5 + 60)  # first batch in service, warming up
    row = env.refresh()
    assert row["Status"] == "InProgress"
    # InstancesToUpdate falls when a replacement begins, PercentageComplete when it has warmed up
    assert (row["PercentageComplete"], row["InstancesToUpdate"]) == (0, 2)
    assert "warm up" in row["StatusReason"]
    CLOCK.advance(100)  # the first batch warmed up; the second began at once
    row = env.refresh()
    assert (row["Status"], row["PercentageComplete"], row["InstancesToUpdate"]) == ("InProgress", 50, 0)
    assert row["ProgressDetails"]["LivePoolProgress"] == {"PercentageComplete": 50, "InstancesToUpdate": 0}


def batches(env: Env) -> list[dict[str, object]]:
    return [s for s in env.emulation.timeline("web") if s["event"] == "batch-started"]


def test_min_healthy_100_replaces_one_at_a_time(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=100, InstanceWarmup=0)
    env.run_until_done(step=60)
    assert len(batches(env)) == 4
    assert min(s["in_service"] for s in env.emulation.timeline("web")) == 3


def test_min_healthy_0_replaces_all_at_once(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)
    env.run_until_done(step=60)
    assert len(batches(env)) == 1
    assert min(s["in_service"] for s in env.emulation.timeline("web")) == 0


def test_max_healthy_above_100_launches_before_terminating(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=100, MaxHealthyPercentage=150, InstanceWarmup=0)
    env.run_until_done(step=60)
    timeline = env.emulation.timeline("web")
    assert len(batches(env)) == 2  # two extra slots: two at a time
    assert min(s["in_service"] for s in timeline) == 4
    assert max(s["total"] for s in timeline) == 6
    assert env.image_ids() == [NEW_AMI] * 4


def test_checkpoints_pause_with_a_status_reason(env: Env) -> None:
    env.make_group(size=4)
    env.start(MinHealthyPercentage=75, InstanceWarmup=0, CheckpointPercentages=[50, 100], CheckpointDelay=600)
    CLOCK.advance(5 + 60 + 60)  # two single-instance batches
    row = env.refresh()
    assert row["PercentageComplete"] == 50
    assert "checkpoint 50%" in row["StatusReason"]
    assert "600 seconds" in row["StatusReason"]
    CLOCK.advance(599)
    assert env.refresh()["PercentageComplete"] == 50
    assert len(batches(env)) == 2
    CLOCK.advance(1)
    assert len(batches(env)) == 3
    assert env.run_until_done(step=60) == "Successful"
    events = [s["event"] for s in env.emulation.timeline("web")]
    assert events.count("checkpoint") == 1  # no checkpoint event at 100%


def test_bake_time_holds_baking_before_success(env: Env) -> None:
    env.make_group(size=2)
    env.start(MinHealthyPercentage=0, InstanceWarmup=0, BakeTime=300)
    CLOCK.advance(5 + 60)
    row = env.refresh()
    assert row["Status"] == "Baking"
    assert row["PercentageComplete"] == 100
    CLOCK.advance(299)
    assert env.status() == "Baking"
    CLOCK.advance(1)
    row = env.refresh()
    assert row["Status"] == "Successful"
    assert (row["EndTime"] - row["StartTime"]).total_seconds() == 5 + 60 + 300


def test_skip_matching_leaves_matching_instances_alone(env: Env) -> None:
    env.make_group(size=2, version="1")
    env.asg.update_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": env.template_id, "Version": "2"},
        DesiredCapacity=4,
    )
    on_v2 = {i["InstanceId"] for i in env.instances() if i["LaunchTemplate"]["Version"] == "2"}
    assert len(on_v2) == 2
    env.start(MinHealthyPercentage=50, InstanceWarmup=0, SkipMatching=True)
    CLOCK.advance(5)  # one batch of two takes both instances off version 2; four would leave two
    assert env.refresh()["InstancesToUpdate"] == 0
    assert env.run_until_done(step=60) == "Successful"
    ids = {i["InstanceId"] for i in env.instances()}
    assert on_v2 <= ids
    assert env.image_ids() == [NEW_AMI] * 4


def test_without_skip_matching_everything_is_replaced(env: Env) -> None:
    env.make_group(size=2, version="2")
    before = {i["InstanceId"] for i in env.instances()}
    env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    CLOCK.advance(5)  # the first of two one-instance batches began
    assert env.refresh()["InstancesToUpdate"] == 1
    env.run_until_done(step=60)
    assert not before & {i["InstanceId"] for i in env.instances()}


def test_mixed_instances_policy_sets_the_instance_types(env: Env) -> None:
    env.make_group(size=2)
    policy = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": env.template_id, "Version": "2"},
            "Overrides": [{"InstanceType": "c5.large"}, {"InstanceType": "m5.large"}],
        }
    }
    env.asg.start_instance_refresh(
        AutoScalingGroupName="web",
        DesiredConfiguration={"MixedInstancesPolicy": policy},
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0},
    )
    assert env.run_until_done(step=60) == "Successful"
    assert {i["InstanceType"] for i in env.instances()} == {"c5.large"}
    assert env.image_ids() == [NEW_AMI] * 2
    stored = env.refresh()["DesiredConfiguration"]["MixedInstancesPolicy"]
    assert stored["LaunchTemplate"]["Overrides"][1]["InstanceType"] == "m5.large"
    group = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"][0]["InstanceType"] == "c5.large"


def test_a_mixed_group_refreshed_with_its_own_policy_copied_back(env: Env) -> None:
    # DescribeAutoScalingGroups shows both LaunchTemplateId and LaunchTemplateName; callers copy it.
    env.asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=2,
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": env.template_id, "Version": "1"},
                "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}],
            }
        },
        AvailabilityZones=["us-east-1a"],
    )
    group = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    policy = group["MixedInstancesPolicy"]
    assert set(policy["LaunchTemplate"]["LaunchTemplateSpecification"]) >= {
        "LaunchTemplateId",
        "LaunchTemplateName",
    }
    policy["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"] = "2"
    env.asg.start_instance_refresh(
        AutoScalingGroupName="web",
        DesiredConfiguration={"MixedInstancesPolicy": policy},
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0, "AutoRollback": True},
    )
    assert env.run_until_done(step=60) == "Successful"
    assert env.image_ids() == [NEW_AMI] * 2
    group = env.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]["Version"] == "2"


def test_no_desired_configuration_replaces_with_the_group_config(env: Env) -> None:
    env.make_group(size=2)
    before = {i["InstanceId"] for i in env.instances()}
    env.asg.start_instance_refresh(AutoScalingGroupName="web", Preferences={"InstanceWarmup": 0})
    assert env.run_until_done(step=60) == "Successful"
    assert not before & {i["InstanceId"] for i in env.instances()}
    assert env.image_ids() == [OLD_AMI] * 2
    assert "DesiredConfiguration" not in env.refresh()


def test_replace_root_volume_keeps_instance_ids(env: Env) -> None:
    env.make_group(size=2)
    before = {i["InstanceId"] for i in env.instances()}
    env.asg.start_instance_refresh(
        AutoScalingGroupName="web",
        Strategy="ReplaceRootVolume",
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": env.template_id, "Version": "2"}},
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0},
    )
    assert env.run_until_done(step=60) == "Successful"
    assert {i["InstanceId"] for i in env.instances()} == before
    assert env.image_ids() == [NEW_AMI] * 2


def test_api_calls_catch_up_without_a_clock_listener_firing(env: Env) -> None:
    # Scaled time moves without CLOCK.advance; a jump with no listener call stands in for it.
    env.make_group(size=2)
    env.start(MinHealthyPercentage=0, InstanceWarmup=0)
    later = CLOCK.now().replace(hour=5)
    CLOCK.reset(start=later)
    row = env.refresh()
    assert row["Status"] == "Successful"
    assert (row["EndTime"] - row["StartTime"]).total_seconds() == 5 + 60


def test_explicit_step_and_the_timeline(env: Env) -> None:
    env.make_group(size=2)
    refresh_id = env.start(MinHealthyPercentage=50, InstanceWarmup=0)
    CLOCK.reset(start=CLOCK.now().replace(hour=1))
    env.emulation.step()
    timeline = env.emulation.timeline("web")
    assert {s["refresh_id"] for s in timeline} == {refresh_id}
    assert timeline[0]["status"] == "Pending"
    assert timeline[-1]["status"] == "Successful"
    assert timeline[-1]["percentage_complete"] == 100
    times = [s["time"] for s in timeline]
    assert times == sorted(times)
