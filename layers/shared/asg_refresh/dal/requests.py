"""The AWS request shapes logic asks for, built in one place from records and models.

StartInstanceRefresh's ``DesiredConfiguration`` and GetMetricData's queries are built here
(StartInstanceRefresh's ``Preferences`` are models/preferences.py's
``RefreshPreferences.to_api()``), so that logic, which decides what to ask, never spells AWS's
PascalCase keys itself.
"""

from __future__ import annotations

from typing import Any

from asg_refresh.dal.records import Group
from asg_refresh.models.gates import MetricGate


def desired_configuration(group: Group, template_id: str, version: int) -> dict[str, Any]:
    """The group's own configuration with only the launch template version changed. A numbered
    version (never $Latest or $Default) keeps RollbackInstanceRefresh possible."""
    spec = {"LaunchTemplateId": template_id, "Version": str(version)}
    mixed = group.mixed_instances_policy
    if not mixed:
        return {"LaunchTemplate": spec}
    launch_template = dict(mixed.get("LaunchTemplate") or {})
    launch_template["LaunchTemplateSpecification"] = spec
    policy = {"LaunchTemplate": launch_template}
    if mixed.get("InstancesDistribution"):
        policy["InstancesDistribution"] = mixed["InstancesDistribution"]
    return {"MixedInstancesPolicy": policy}


def metric_queries(gates: list[MetricGate]) -> list[dict[str, Any]]:
    """GetMetricData queries, one per gate, with ids the results are matched back by."""
    return [
        {
            "Id": f"g{index}",
            "Label": gate.name,
            "MetricStat": {
                "Metric": {
                    "Namespace": gate.namespace,
                    "MetricName": gate.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in gate.dimensions.items()],
                },
                "Period": gate.period,
                "Stat": gate.statistic,
            },
            "ReturnData": True,
        }
        for index, gate in enumerate(gates)
    ]
