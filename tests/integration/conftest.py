"""The whole app in one process: moto, the instance-refresh emulation, the template deployed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from asg_refresh_local.clock import CLOCK
from asg_refresh_local.emulation import emulation_for
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.samples import PROJECT_ROOT


@pytest.fixture
def app() -> Iterator[LocalApp]:
    CLOCK.reset()
    with LocalApp(PROJECT_ROOT / "template.yaml") as local_app:
        local_app.record_topic("NotificationsTopic")
        yield local_app


@pytest.fixture
def fleet(app: LocalApp) -> Fleet:
    return Fleet(app.client)


@pytest.fixture
def emulation(app: LocalApp) -> Any:
    return emulation_for()


def outcomes(app: LocalApp) -> list[dict[str, Any]]:
    """The outcome documents published on the notifications topic, oldest first."""
    import json

    return [json.loads(message["Body"]["Message"]) for message in app.messages("NotificationsTopic")]


def as_entry(event: dict[str, Any]) -> dict[str, Any]:
    """A sample EventBridge event as the PutEvents entry that produces it."""
    import json

    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }


def approvals(app: LocalApp, refresh_id: str) -> list[Any]:
    """The manual approvals a refresh asked for, from the audit table (``PendingApproval``s,
    task tokens included), oldest first."""
    from asg_refresh.dal.audit import AuditStore
    from asg_refresh.dal.aws import AwsGateway

    store = AuditStore(AwsGateway(app.region), app.physical_id("AuditTable"))
    return sorted(store.approvals_of(refresh_id), key=lambda approval: approval.requested_at)
