"""The typed instance refresh (models/refresh.py) against botocore's model and the sample event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import botocore.session
import pytest
from pydantic import ValidationError

from asg_refresh.models.refresh import DescribedRefreshes, InstanceRefresh, RefreshStatus
from asg_refresh_local.samples import load_event


def _shape(name: str) -> Any:
    model = botocore.session.get_session().get_service_model("autoscaling")
    return model.shape_for(name)


def test_status_is_exactly_the_api_enum() -> None:
    assert set(get_args(RefreshStatus)) == set(_shape("InstanceRefreshStatus").enum)


def test_every_field_of_the_api_item_is_modelled() -> None:
    assert set(_shape("InstanceRefresh").members) == {f.alias for f in InstanceRefresh.model_fields.values()}


def test_the_watchers_sample_parses_and_round_trips() -> None:
    # Given the describe output the state machine hands to EvaluateGates (timestamps as strings)
    described = DescribedRefreshes.model_validate(load_event("evaluate_gates.json")["describe"])
    refresh = described.find("08b91cf7-8fa6-48af-b6a6-d227f40f1b9b")
    assert refresh is not None
    assert refresh.status == "InProgress"
    assert refresh.active
    assert refresh.start_time == datetime(2026, 11, 23, 9, 20, 1, tzinfo=UTC)
    assert refresh.preferences is not None
    assert refresh.preferences.checkpoint_percentages == [50, 100]
    assert refresh.to_api()["Preferences"]["CheckpointDelay"] == 600
    assert InstanceRefresh.model_validate(refresh.to_api()) == refresh


def test_snake_case_names_are_accepted_and_new_aws_fields_ignored() -> None:
    refresh = InstanceRefresh.model_validate(
        {"instance_refresh_id": "r-1", "status": "Baking", "SomeFieldAwsAddsLater": 1}
    )
    assert refresh.status == "Baking"
    assert not refresh.terminal


@pytest.mark.parametrize(
    "change",
    [
        {"Status": "Running"},
        {"Status": None},
        {"PercentageComplete": 101},
        {"PercentageComplete": -1},
        {"PercentageComplete": "lots"},
        {"InstanceRefreshId": ""},
        {"InstanceRefreshId": "x" * 256},
        {"StatusReason": "x" * 1024},
        {"Preferences": {"CheckpointDelay": 172_801}},
        {"Preferences": {"CheckpointPercentages": [0]}},
        {"Preferences": {"MaxHealthyPercentage": 99}},
        {"Preferences": {"BakeTime": 1e300}},
        {"Preferences": ["not", "an", "object"]},
        {"StartTime": "not a time"},
    ],
)
def test_out_of_bounds_is_refused(change: dict[str, Any]) -> None:
    item = {"InstanceRefreshId": "r-1", "Status": "InProgress"} | change
    with pytest.raises(ValidationError):
        InstanceRefresh.model_validate(item)
