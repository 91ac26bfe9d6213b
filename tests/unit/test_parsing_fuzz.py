"""Fuzzing the trigger parsers: whatever arrives, the answer is a DeployRequest or a
VALIDATION_ERROR, never an unhandled exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asg_refresh.errors import InvalidRequestError
from asg_refresh.invocation import source_of
from asg_refresh.models.deploy import DeployRequest
from asg_refresh.parsing import MAX_DELIVERY_ID, parse_deploy_trigger, split_deliveries
from asg_refresh_local.samples import load_event, sample_names

SAMPLES = [load_event(name) for name in sample_names() if name != "evaluate_gates"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def mutate(event: Any, path: list[str], value: Any) -> Any:
    """``event`` with the value at ``path`` (as deep as it exists) replaced by ``value``."""
    if not path or not isinstance(event, dict) or not event:
        return value
    key = sorted(event)[sum(map(ord, path[0])) % len(event)]
    return {**event, key: mutate(event[key], path[1:], value)}


def assert_parses_or_refuses(event: Any) -> None:
    outcome: DeployRequest | InvalidRequestError
    try:
        outcome = parse_deploy_trigger(event, source_of(event), "fuzz", "us-east-1")
    except InvalidRequestError as error:
        outcome = error
    if isinstance(outcome, InvalidRequestError):
        assert outcome.code == "VALIDATION_ERROR"
        json.dumps(outcome.message)
    else:
        assert isinstance(outcome, DeployRequest)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.lists(st.text(max_size=3), max_size=4), json_values)
def test_mutated_samples(sample: Any, path: list[str], value: Any) -> None:
    assert_parses_or_refuses(mutate(sample, path, value))


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_arbitrary_json(event: Any) -> None:
    assert_parses_or_refuses(event)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_sns_messages_that_are_not_json(message: str) -> None:
    event = load_event("deploy_sns")
    event["Records"][0]["Sns"]["Message"] = message
    assert_parses_or_refuses(event)


SNS_RECORD = load_event("deploy_sns")["Records"][0]


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values | st.just(SNS_RECORD), min_size=1, max_size=3), json_values)
def test_any_sns_delivery_splits_into_records_each_parsed_or_refused(records: list[Any], sns: Any) -> None:
    # The first record decides the shape (an SNS delivery); the others, and its ``Sns``, are anything
    event = {"Records": [SNS_RECORD | {"Sns": sns}, *records]}
    deliveries = split_deliveries(event, "request-1")
    assert len(deliveries) == len(event["Records"])
    for delivery in deliveries:
        assert delivery.shape == "sns"
        assert 0 < len(delivery.deployment_id) <= MAX_DELIVERY_ID
        assert_parses_or_refuses(delivery.event)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_event_splits_into_deliveries_with_usable_ids(event: Any) -> None:
    deliveries = split_deliveries(event, "request-1")
    assert deliveries
    assert all(0 < len(d.deployment_id) <= MAX_DELIVERY_ID for d in deliveries)
