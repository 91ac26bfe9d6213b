"""At-least-once delivery: ten concurrent copies of one event start one refresh and one watcher."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.errors import DeploymentInProgressError
from asg_refresh.idempotency import run_once
from asg_refresh.logic.start_refresh import start_and_record
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.models.results import StartResult
from asg_refresh.settings import Settings
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp


def test_ten_concurrent_deliveries_start_one_refresh_and_one_watcher(app: LocalApp, fleet: Fleet) -> None:
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    settings = Settings.from_env(app.environment("StartRefreshFunction"))
    request = DeployRequest(
        deployment_id="event-1234", trigger="deploy", image=ImageSource(image_id=new), groups=["web"]
    )

    def deliver(_: int) -> StartResult | DeploymentInProgressError:
        aws = AwsGateway("us-east-1")
        audit = AuditStore(aws, settings.audit_table) if settings.audit_table else None
        try:
            return run_once(
                lambda r: start_and_record(r, aws, settings, datetime.now(UTC), audit),
                request,
                settings.idempotency_table,
            )
        except DeploymentInProgressError as busy:
            return busy

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(deliver, range(10)))

    results = [a for a in answers if isinstance(a, StartResult)]
    busy = [a for a in answers if isinstance(a, DeploymentInProgressError)]
    assert len(results) + len(busy) == 10
    assert {r.refreshes[0].refresh_id for r in results} == {fleet.refreshes("web")[0]["InstanceRefreshId"]}
    assert len(fleet.refreshes("web")) == 1
    assert len(fleet.launch_template_versions("web")) == 2
    assert len(app.executions("WatchRefreshStateMachine")) == 1
    # A copy that was told to retry gets the first delivery's result, and changes nothing.
    retried = deliver(0)
    assert isinstance(retried, StartResult)
    assert retried == results[0]
    assert len(fleet.refreshes("web")) == 1
