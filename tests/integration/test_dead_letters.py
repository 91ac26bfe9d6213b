"""The reconciler's schedule, an asynchronous path like the others: what EventBridge cannot deliver
and what keeps failing both end up in the dead-letter queue (template.yaml, docs/harness.md "How
delivery behaves")."""

from __future__ import annotations

from typing import Any

import pytest

from asg_refresh.dal.aws import AwsGateway
from asg_refresh_local.harness import LocalApp

SCHEDULE = "ReconcileWatchersFunctionEvery5Minutes"


def test_a_reconciler_run_that_cannot_be_delivered_is_dead_lettered(app: LocalApp) -> None:
    # Given the reconciler's function is gone (deleted by hand, a broken deployment)
    app.client("lambda").delete_function(FunctionName=app.function_name("ReconcileWatchersFunction"))

    # When its schedule fires
    event = app.fire_schedule(SCHEDULE)

    # Then EventBridge could not deliver the run, and the event is in the queue, saying why
    assert app.invocations("ReconcileWatchersFunction") == []
    [dead] = app.dead_letters("DeadLetterQueue")
    assert dead["Body"] == event
    assert dead["MessageAttributes"]["RULE_ARN"] == app.attribute(SCHEDULE, "Arn")
    assert dead["MessageAttributes"]["TARGET_ARN"] == app.attribute("ReconcileWatchersFunction", "Arn")


def test_a_reconciler_run_that_keeps_failing_is_retried_once_then_dead_lettered(
    app: LocalApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a reconciler that runs on its schedule
    app.fire_schedule(SCHEDULE)
    [ran] = app.invocations("ReconcileWatchersFunction")
    assert not ran.errored
    assert app.dead_letters("DeadLetterQueue") == []

    # When it fails at every attempt
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("autoscaling is having a bad day")

    monkeypatch.setattr(AwsGateway, "groups_with_tags", broken)
    monkeypatch.setattr(AwsGateway, "tagged_groups_page", broken)  # the scheduled run reads a page
    event = app.fire_schedule(SCHEDULE)

    # Then Lambda retried it once (EventInvokeConfig) and dead-lettered the scheduled event
    runs = app.invocations("ReconcileWatchersFunction")[1:]
    assert [r.errored for r in runs] == [True, True]
    [dead] = app.dead_letters("DeadLetterQueue")
    assert dead["Body"] == event
    assert dead["MessageAttributes"]["ErrorMessage"] == "autoscaling is having a bad day"
