"""The four actions over HTTP, in moto's server mode (ThreadedMotoServer), with the real boto3 client."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.emulation import emulation_for, install

from .conftest import NEW_AMI, OLD_AMI, REGION, START

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    install()  # before the server starts, as the server command does
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_client(service: str, endpoint: str, config: Config | None = None) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        config=config,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_the_four_actions_over_http(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    CLOCK.reset(start=START)
    ec2, asg = make_client("ec2", endpoint), make_client("autoscaling", endpoint)
    template = ec2.create_launch_template(
        LaunchTemplateName="srv", LaunchTemplateData={"ImageId": OLD_AMI, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": NEW_AMI, "InstanceType": "t3.small"}
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="srv",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=2,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        AvailabilityZones=[f"{REGION}a"],
    )
    desired = {"LaunchTemplate": {"LaunchTemplateId": template, "Version": "2"}}
    prefs = {"MinHealthyPercentage": 50, "InstanceWarmup": 30}

    first = asg.start_instance_refresh(
        AutoScalingGroupName="srv", DesiredConfiguration=desired, Preferences=prefs
    )
    with pytest.raises(ClientError) as caught:
        asg.start_instance_refresh(AutoScalingGroupName="srv")
    assert caught.value.response["Error"]["Code"] == "InstanceRefreshInProgress"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    CLOCK.advance(3600)
    row = asg.describe_instance_refreshes(AutoScalingGroupName="srv")["InstanceRefreshes"][0]
    assert (row["InstanceRefreshId"], row["Status"]) == (first["InstanceRefreshId"], "Successful")

    asg.start_instance_refresh(
        AutoScalingGroupName="srv",
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": template, "Version": "1"}},
        Preferences=prefs,
    )
    CLOCK.advance(70)
    rolled = asg.rollback_instance_refresh(AutoScalingGroupName="srv")
    CLOCK.advance(3600)
    row = asg.describe_instance_refreshes(AutoScalingGroupName="srv", MaxRecords=1)["InstanceRefreshes"][0]
    assert (row["InstanceRefreshId"], row["Status"]) == (rolled["InstanceRefreshId"], "RollbackSuccessful")
    ids = [i["InstanceId"] for i in asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]]
    images = {
        i["ImageId"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]
    }
    assert images == {NEW_AMI}

    asg.start_instance_refresh(AutoScalingGroupName="srv", Preferences=prefs)
    cancelled = asg.cancel_instance_refresh(AutoScalingGroupName="srv", WaitForTransitioningInstances=False)
    CLOCK.advance(60)
    rows = asg.describe_instance_refreshes(
        AutoScalingGroupName="srv", InstanceRefreshIds=[cancelled["InstanceRefreshId"]]
    )
    assert rows["InstanceRefreshes"][0]["Status"] == "Cancelled"


def test_faults_over_http(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    asg = make_client("autoscaling", endpoint)
    emulation_for(region=REGION).faults.contention("DescribeInstanceRefreshes", times=1)
    no_retry = make_client("autoscaling", endpoint, Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        no_retry.describe_instance_refreshes(AutoScalingGroupName="nope")
    assert caught.value.response["Error"]["Code"] == "ResourceContention"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as caught:
        asg.describe_instance_refreshes(AutoScalingGroupName="nope")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_lifecycle_actions_over_http(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    CLOCK.reset(start=START)
    ec2, asg = make_client("ec2", endpoint), make_client("autoscaling", endpoint)
    template = ec2.create_launch_template(
        LaunchTemplateName="hooked", LaunchTemplateData={"ImageId": OLD_AMI, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="hooked",
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        AvailabilityZones=[f"{REGION}a"],
    )
    asg.put_lifecycle_hook(
        AutoScalingGroupName="hooked",
        LifecycleHookName="boot",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=600,
    )
    asg.start_instance_refresh(
        AutoScalingGroupName="hooked", Preferences={"MinHealthyPercentage": 0, "InstanceWarmup": 0}
    )
    CLOCK.advance(65)
    (instance,) = asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]
    assert instance["LifecycleState"] == "Pending:Wait"

    asg.record_lifecycle_action_heartbeat(
        AutoScalingGroupName="hooked", LifecycleHookName="boot", InstanceId=instance["InstanceId"]
    )
    asg.complete_lifecycle_action(
        AutoScalingGroupName="hooked",
        LifecycleHookName="boot",
        LifecycleActionResult="CONTINUE",
        InstanceId=instance["InstanceId"],
    )
    row = asg.describe_instance_refreshes(AutoScalingGroupName="hooked")["InstanceRefreshes"][0]
    assert row["Status"] == "Successful"
    with pytest.raises(ClientError) as caught:
        asg.complete_lifecycle_action(
            AutoScalingGroupName="hooked",
            LifecycleHookName="boot",
            LifecycleActionResult="CONTINUE",
            InstanceId=instance["InstanceId"],
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
