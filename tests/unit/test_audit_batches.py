"""The deployment's audit items are written in batches, and none is lost when DynamoDB hands some
back unprocessed (throttled): those are written again, with back-off, until none is left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from asg_refresh.dal import retry
from asg_refresh.dal.audit import BATCH_WRITE_ATTEMPTS, AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.errors import AwsUnavailableError
from asg_refresh.models.deploy import DeployRequest, ImageSource
from asg_refresh.models.results import StartedRefresh, StartResult

TABLE = "audit"
NEW = "ami-00000000000000002"


class BatchingDynamo(AwsGateway):
    """A DynamoDB that takes BatchWriteItem only, and leaves the last ``unprocessed`` items of
    the first ``throttled`` calls unprocessed, as DynamoDB does under throttling."""

    def __init__(self, throttled: int, unprocessed: int = 3) -> None:
        super().__init__("eu-west-1")
        self.throttled, self.unprocessed = throttled, unprocessed
        self.batches: list[int] = []
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        assert (service, operation) == ("dynamodb", "batch_write_item")
        [(table, requests)] = params["RequestItems"].items()
        assert table == TABLE
        assert 1 <= len(requests) <= 25
        self.batches.append(len(requests))
        kept = requests
        if self.throttled:
            self.throttled -= 1
            kept, requests = requests[: -self.unprocessed], requests[-self.unprocessed :]
        else:
            requests = []
        for request in kept:
            item = request["PutRequest"]["Item"]
            self.stored[(item["deployment_id"]["S"], item["item"]["S"])] = item
        return {"UnprocessedItems": {TABLE: requests} if requests else {}}


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry, "sleep", slept.append)
    return slept


def result(groups: int) -> tuple[DeployRequest, StartResult]:
    request = DeployRequest(deployment_id="d-1", trigger="deploy", image=ImageSource(image_id=NEW))
    started = StartResult(
        id="d-1",
        created_at=datetime(2026, 12, 3, tzinfo=UTC),
        trigger="deploy",
        image_id=NEW,
        refreshes=[
            StartedRefresh(
                group=f"g-{n:02d}",
                refresh_id=f"r-{n}",
                image_id=NEW,
                launch_template_id="lt-1",
                launch_template_version=2,
            )
            for n in range(groups)
        ],
    )
    return request, started


def test_sixty_refreshes_and_their_deployment_are_three_batches(delays: list[float]) -> None:
    dynamo = BatchingDynamo(throttled=0)

    AuditStore(dynamo, TABLE).record_deployment(*result(60))

    assert dynamo.batches == [25, 25, 11]
    assert len(dynamo.stored) == 61
    assert dynamo.stored[("d-1", "refresh#g-07#r-7")]["unfinished"] == {"S": "refresh"}
    assert delays == []


def test_unprocessed_items_are_written_again_after_a_backoff(delays: list[float]) -> None:
    dynamo = BatchingDynamo(throttled=2)

    AuditStore(dynamo, TABLE).record_deployment(*result(30))

    # the first batch hands 3 back, and those 3 come back once more before they are written
    assert dynamo.batches == [25, 3, 3, 6]
    assert len(dynamo.stored) == 31
    assert len(delays) == 2


def test_items_still_unprocessed_after_every_attempt_are_an_error_not_a_loss(delays: list[float]) -> None:
    dynamo = BatchingDynamo(throttled=BATCH_WRITE_ATTEMPTS, unprocessed=1)

    with pytest.raises(AwsUnavailableError, match="1 audit items unprocessed"):
        AuditStore(dynamo, TABLE).record_deployment(*result(2))

    assert dynamo.batches == [3] + [1] * (BATCH_WRITE_ATTEMPTS - 1)
    assert len(delays) == BATCH_WRITE_ATTEMPTS - 1
