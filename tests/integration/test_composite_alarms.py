"""Groups guarded by a composite alarm: the watcher's gate reads it, its state change on the bus
rolls the refresh back, and it is visible only to roles whose DescribeAlarms is scoped to ``*``."""

from __future__ import annotations

import copy
import json
from typing import Any

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from tests.integration.conftest import outcomes
from tests.integration.test_permissions import replace_principal, role

PREFS = {"MinHealthyPercentage": 50, "InstanceWarmup": 60, "AlarmSpecification": {"Alarms": []}}


def guarded_group(fleet: Fleet) -> tuple[str, str]:
    """web, on golden-1, guarded by web-health = ALARM(web-5xx) OR ALARM(web-latency)."""
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.alarm("web-5xx")
    fleet.alarm("web-latency")
    fleet.composite_alarm("web-health", "ALARM(web-5xx) OR ALARM(web-latency)")
    fleet.group("web", old, size=4, alarms=["web-health"])
    return old, new


def deploy(app: LocalApp, image_id: str) -> dict[str, Any]:
    request = {"image_id": image_id, "groups": ["web"], "preferences": PREFS}
    answer = app.invoke("StartRefreshFunction", request)
    assert answer["success"], answer
    return dict(answer["data"]["refreshes"][0])


def test_a_composite_alarm_in_ok_lets_the_refresh_finish(app: LocalApp, fleet: Fleet) -> None:
    _, new = guarded_group(fleet)

    started = deploy(app, new)
    execution = app.wait_for_execution(started["execution_arn"])

    assert started["alarms"] == ["web-health"]
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert fleet.instance_images("web") == [new] * 4
    assert app.invocations("AlarmRollbackFunction") == []


def test_a_child_entering_alarm_rolls_back_through_the_composites_state_change(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given web refreshing, guarded by the composite
    old, new = guarded_group(fleet)
    started = deploy(app, new)

    # When one of the composite's children enters ALARM (nobody puts an event by hand)
    fleet.set_alarm("web-latency", "ALARM", "p99 above 2 s")

    # Then CloudWatch's state change of the composite reaches AlarmRollback, which rolls web back
    (invocation,) = app.invocations("AlarmRollbackFunction")
    assert invocation.event["detail"]["alarmName"] == "web-health"
    assert invocation.event["detail"]["configuration"]["alarmRule"] == "ALARM(web-5xx) OR ALARM(web-latency)"
    assert [a["action"] for a in invocation.result["data"]["actions"]] == ["rolled-back"]
    execution = app.wait_for_execution(started["execution_arn"])
    assert json.loads(execution["cause"])["status"] == "RollbackSuccessful"
    assert fleet.instance_images("web") == [old] * 4


def test_a_role_whose_describe_alarms_is_scoped_to_alarm_arns_cannot_see_the_composite(
    app: LocalApp, fleet: Fleet
) -> None:
    # Given EvaluateGates' role with DescribeAlarms on arn:...:alarm:* instead of "*" (the scope
    # AWS requires for composite alarms to be returned at all)
    _, new = guarded_group(fleet)
    principal = role(app, "EvaluateGatesFunctionRole")
    policies = []
    for name, document in copy.deepcopy(list(principal.policies)):
        for statement in document["Statement"]:
            if statement.get("Sid") == "ReadAlarms":
                statement["Resource"] = f"arn:aws:cloudwatch:{app.region}:123456789012:alarm:*"
        policies.append((name, document))
    replace_principal(app, principal, policies)

    # When web is refreshed
    started = deploy(app, new)
    execution = app.wait_for_execution(started["execution_arn"])

    # Then the composite is missing to the watcher's gate, which rolls the healthy refresh back
    assert execution["status"] == "FAILED"
    (outcome,) = outcomes(app)
    assert outcome["failed_gate"]["evidence"][0] == {
        "name": "web-health",
        "state": "MISSING",
        "reason": "no such alarm",
    }
