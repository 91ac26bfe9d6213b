"""The dry-run plan against what the same refresh then does on the emulation, and its picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.logic.plan import plan_deployment
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.models.deploy import DeployMessage
from asg_refresh.models.plan import DeployPlan
from asg_refresh.settings import Settings
from asg_refresh_cli import charts
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp

PREFERENCES: dict[str, Any] = {"MinHealthyPercentage": 60, "MaxHealthyPercentage": 120, "InstanceWarmup": 30}


def _plan(image_id: str, groups: list[str], preferences: dict[str, Any]) -> DeployPlan:
    message = DeployMessage.model_validate(
        {"image_id": image_id, "groups": groups, "preferences": preferences}
    )
    return plan_deployment(
        request_from_message(message, "plan", "deploy"), AwsGateway("us-east-1"), Settings()
    )


def test_plan_changes_nothing_and_matches_the_refresh(
    app: LocalApp, fleet: Fleet, emulation: Any, tmp_path: Path
) -> None:
    # Given a group of ten on the old image and a group not opted in
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=10)
    fleet.group("private", old, size=2, opted_in=False)

    # When the deploy is planned
    plan = _plan(new, ["web", "private"], PREFERENCES)

    # Then nothing changed in AWS
    assert len(fleet.launch_template_versions("web")) == 1
    assert fleet.refreshes("web") == []
    assert [(s.group, s.code) for s in plan.skipped] == [("private", "GROUP_NOT_OPTED_IN")]
    (web,) = plan.groups
    assert (web.to_replace, web.min_in_service, web.max_total) == (10, 6, 12)

    # And when the same refresh runs, it does what the plan said
    answer = app.invoke(
        "StartRefreshFunction", {"image_id": new, "groups": ["web"], "preferences": PREFERENCES}
    )
    execution = app.wait_for_execution(answer["data"]["refreshes"][0]["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    timeline = emulation.timeline("web")
    batches = [row for row in timeline if row["event"] == "batch-started"]
    assert len(batches) == len(web.batches)
    assert min(row["in_service"] for row in timeline) == web.lowest_in_service
    assert max(row["total"] for row in timeline) == web.highest_total
    assert sum(1 for image in fleet.instance_images("web") if image == new) == web.to_replace
    ended = timeline[-1]["time"] - timeline[0]["time"]
    assert ended.total_seconds() == web.estimated_seconds

    # And the planned picture has the same shape as the recorded one
    planned = charts.series_from_plan(web)
    recorded = charts.series_from_timeline("web", timeline)
    assert recorded.in_service == [row["in_service"] for row in timeline]
    assert recorded.min_healthy == [6] * len(timeline)
    assert planned.times[-1] == recorded.times[-1]
    assert min(planned.in_service) == min(recorded.in_service)
    png = charts.write_png(recorded, tmp_path / "web.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    page = charts.write_html([planned, recorded], tmp_path / "fleet.html").read_text()
    assert page.count("data:image/png;base64,") == 2
