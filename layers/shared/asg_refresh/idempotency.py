"""One deployment per event, however many times and however concurrently it is delivered.

EventBridge and SNS deliver at least once. Powertools Idempotency records each deployment id
(the event id, the SNS message id, or the id the caller gave) in DynamoDB: the first delivery does
the work and stores its result; copies that arrive later get that result back without touching
AWS; a copy that arrives while the first is still running is refused as retryable, so Lambda
tries it again and then gets the stored result.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

from asg_refresh.dal.clients import shared_session
from asg_refresh.errors import DeploymentInProgressError
from asg_refresh.models.deploy import DeployRequest
from asg_refresh.models.results import StartResult

#: How long a deployment id is remembered: longer than EventBridge's and Lambda's retry windows.
REMEMBER_SECONDS = 24 * 3600


@cache
def _persistence(table_name: str) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_session=shared_session())


def run_once(
    work: Callable[[DeployRequest], StartResult],
    request: DeployRequest,
    table_name: str | None,
    lambda_context: Any = None,
) -> StartResult:
    """``work(request)``, at most once per ``request.deployment_id`` (when a table is configured)."""
    if not table_name:
        return work(request)
    config = IdempotencyConfig(
        event_key_jmespath="deployment_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=REMEMBER_SECONDS,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    def start_deployment_once(request: DeployRequest) -> StartResult:
        return work(request)

    once = idempotent_function(
        data_keyword_argument="request",
        persistence_store=_persistence(table_name),
        config=config,
        output_serializer=PydanticSerializer(model=StartResult),
    )(start_deployment_once)
    try:
        return once(request=request)
    except IdempotencyAlreadyInProgressError as error:
        raise DeploymentInProgressError(
            f"deployment {request.deployment_id} is being started by another delivery",
            deployment_id=request.deployment_id,
        ) from error
