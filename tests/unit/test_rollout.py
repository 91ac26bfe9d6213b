"""The gate between waves (CheckWave's decision), without AWS."""

from __future__ import annotations

import json

from asg_refresh.dal.aws import alarm_record
from asg_refresh.logic.rollout import STATE_LIMIT_BYTES, state_bytes
from asg_refresh.logic.waves import check_wave
from asg_refresh.models.rollout import GroupResult, PlannedWave, RolloutMessage, RolloutPlan, WaveVerdict

IMAGE = "ami-0123456789abcdef0"


def plan(**message: object) -> RolloutPlan:
    return RolloutPlan(
        rollout_id="r1",
        image_id=IMAGE,
        message=RolloutMessage.model_validate({"image_id": IMAGE, **message}),
        waves=[
            PlannedWave(index=0, name="canary", groups=["a"]),
            PlannedWave(index=1, name="rest", groups=["b", "c"]),
        ],
    )


def ok(group: str, previous: str = "ami-00000000") -> GroupResult:
    return GroupResult.model_validate(
        {
            "group": group,
            "status": "started",
            "refresh_id": f"r-{group}",
            "previous_image_id": previous,
            "refresh": {"status": "Successful"},
        }
    )


def test_a_passed_wave_leads_to_the_next_and_the_last_one_ends_the_rollout() -> None:
    first = check_wave(plan(), 0, [ok("a")], [], [])
    assert (first.status, first.next_wave, first.verdicts[0].passed) == ("running", 1, True)
    last = check_wave(plan(), 1, [ok("b"), ok("c")], first.verdicts, [])
    assert (last.status, last.next_wave) == ("succeeded", None)


def test_up_to_date_groups_do_not_fail_a_wave() -> None:
    skipped = GroupResult(group="b", status="skipped", code="ALREADY_UP_TO_DATE")
    assert check_wave(plan(), 1, [skipped, ok("c")], [], []).status == "succeeded"


def test_a_rolled_back_group_fails_the_wave_and_reverts_earlier_ones_only_when_asked() -> None:
    rolled_back = GroupResult.model_validate(
        {"group": "b", "status": "started", "refresh_id": "r-b", "refresh": {"status": "RollbackSuccessful"}}
    )
    earlier = [
        WaveVerdict(
            wave=0, name="canary", passed=True, succeeded=["a"], previous_images={"a": "ami-00000000"}
        )
    ]
    kept = check_wave(plan(), 1, [rolled_back, ok("c")], earlier, [])
    assert (kept.status, kept.verdicts[-1].failed, kept.reverting) == ("failed", ["b"], False)
    reverted = check_wave(plan(rollback_previous_waves=True), 1, [rolled_back, ok("c")], earlier, [])
    assert [(g.group, g.previous_image_id) for g in reverted.revert] == [("a", "ami-00000000")]
    assert reverted.reverting is True


def test_an_alarm_in_alarm_fails_the_gate_even_when_every_group_succeeded() -> None:
    alarms = [alarm_record({"AlarmName": "fleet-5xx", "StateValue": "ALARM", "StateReason": "5xx"})]
    decided = check_wave(plan(alarms=["fleet-5xx"]), 0, [ok("a")], [], alarms)
    assert decided.status == "failed"
    assert "fleet-5xx is ALARM" in decided.verdicts[0].gate


def _fleet_plan(count: int, name_length: int) -> RolloutPlan:
    names = [f"{n:05d}".rjust(name_length, "g") for n in range(count)]
    return RolloutPlan(
        rollout_id="r1",
        image_id=IMAGE,
        message=RolloutMessage.model_validate({"image_id": IMAGE}),
        waves=[
            PlannedWave(index=0, name="canary", groups=names[:10]),
            PlannedWave(index=1, name="rest", groups=names[10:]),
        ],
    )


def test_the_state_estimate_covers_the_largest_state_the_rollout_carries() -> None:
    # The state when the last wave is checked: the plan, every verdict, the wave's results
    plan = _fleet_plan(1000, 40)
    canary = check_wave(plan, 0, [ok(g, "ami-0123456789abcdef0") for g in plan.waves[0].groups], [], [])
    results = [
        ok(g, "ami-0123456789abcdef0").model_copy(
            update={"refresh_id": "6f1c2d3e-0000-4000-8000-123456789abc"}
        )
        for g in plan.waves[1].groups
    ]
    last = check_wave(plan, 1, results, canary.verdicts, [])
    state = {
        "plan": plan.model_dump(mode="json"),
        "current": {"wave": plan.waves[1].model_dump(mode="json")},
        "results": [
            # What "Report the group" keeps of a followed group (rollout_waves.asl.json)
            r.model_dump(
                mode="json",
                exclude={"execution_arn", "watchers_arn", "code", "reason"}
                | {"queued_deployment_id", "queued_looks"},
            )
            for r in results
        ],
        "check": last.model_dump(mode="json"),
    }
    actual = len(json.dumps(state, separators=(",", ":")).encode())

    assert actual <= state_bytes(plan) <= actual * 1.5


def test_a_fleet_whose_state_would_not_fit_step_functions_is_measured_as_such() -> None:
    # Five hundred groups with 40-character names fit; a thousand of them do not
    assert state_bytes(_fleet_plan(500, 40)) < STATE_LIMIT_BYTES
    assert state_bytes(_fleet_plan(1000, 40)) > STATE_LIMIT_BYTES
