"""How a wait's end maps to the exit code a pipeline sees (pure: no server)."""

from __future__ import annotations

import pytest

from asg_refresh_cli.waiter import WaitOutcome, _Poll, _result, describe


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        ({"a": "Successful"}, WaitOutcome.SUCCESSFUL),
        ({"a": "Successful", "b": "RollbackSuccessful"}, WaitOutcome.ROLLED_BACK),
        ({"a": "Cancelled"}, WaitOutcome.CANCELLED),
        ({"a": "Failed", "b": "Cancelled"}, WaitOutcome.FAILED),
        ({"a": "RollbackFailed"}, WaitOutcome.FAILED),
    ],
)
def test_a_deployment_ends_as_its_worst_group(statuses: dict[str, str], outcome: WaitOutcome) -> None:
    result = _result("d-1", "deployment", _Poll(finished=True, groups=statuses))
    assert result.outcome is outcome
    assert result.exit_code == outcome.value


def test_a_failed_rollout_says_whether_its_groups_were_rolled_back() -> None:
    rolled_back = _Poll(
        finished=True, groups={"a": "Successful", "b": "RollbackSuccessful"}, rollout_status="FAILED"
    )
    assert _result("r", "rollout", rolled_back).exit_code == 3
    # A rollout that failed before any refresh ended badly (a refused start) is a failure, never 0.
    refused = _Poll(finished=True, groups={}, rollout_status="FAILED", reason="no group matched")
    result = _result("r", "rollout", refused)
    assert (result.exit_code, result.reason) == (5, "no group matched")
    assert _result("r", "rollout", _Poll(finished=True, groups={}, rollout_status="ABORTED")).exit_code == 4
    assert _result("r", "rollout", _Poll(finished=True, groups={}, rollout_status="SUCCEEDED")).exit_code == 0
    assert describe(result) == "rollout r: failed (no group matched)"


def test_exit_codes_are_distinct() -> None:
    codes = [outcome.value for outcome in WaitOutcome]
    assert len(set(codes)) == len(codes)
    assert WaitOutcome.SUCCESSFUL.value == 0
