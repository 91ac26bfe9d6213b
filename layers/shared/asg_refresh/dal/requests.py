"""The AWS request shapes logic asks for, built in one place from records and models.

StartInstanceRefresh's ``DesiredConfiguration`` and GetMetricData's queries are built here, and
so is a resumed refresh's ``Preferences`` (a deployment's own are models/preferences.py's
``RefreshPreferences.to_api()``); the watcher reads the ``Preferences`` it carries through the
helpers here too. So logic, which decides what to ask, never spells AWS's PascalCase keys.
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


def checkpoints_of(preferences: dict[str, Any]) -> list[int]:
    """A ``Preferences`` dict's ``CheckpointPercentages`` (none: an empty list)."""
    return list(preferences.get("CheckpointPercentages") or [])


def checkpoint_delay_of(preferences: dict[str, Any], default: int) -> int:
    """A ``Preferences`` dict's ``CheckpointDelay``, ``default`` when it sets none."""
    return int(preferences.get("CheckpointDelay", default))


def bake_time_of(preferences: dict[str, Any]) -> int:
    return int(preferences.get("BakeTime", 0))


def resumed_preferences(preferences: dict[str, Any], checkpoints: list[int]) -> dict[str, Any]:
    """``preferences`` for the refresh that resumes another: SkipMatching, and ``checkpoints``
    (none left: no checkpoints and no delay)."""
    resumed = dict(preferences) | {"SkipMatching": True}
    if checkpoints:
        resumed["CheckpointPercentages"] = checkpoints
    else:
        resumed.pop("CheckpointPercentages", None)
        resumed.pop("CheckpointDelay", None)
    return resumed
