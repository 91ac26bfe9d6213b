"""Cut a fleet into ordered waves (named groups, tag selectors, then cumulative shares of the
fleet), and judge a wave once it is done.

Apart from ``logic/rollout.py``: CheckWave judges a wave without loading what starting a group
needs (``logic/start_refresh.py`` and what it imports, about 45 ms of each cold start)."""

from __future__ import annotations

import math

from asg_refresh.dal.records import Alarm, Group
from asg_refresh.logic.gates import evaluate_alarms
from asg_refresh.models.results import SkippedGroup
from asg_refresh.models.rollout import (
    DEFAULT_WAVES,
    GroupResult,
    GroupStart,
    PlannedWave,
    RolloutPlan,
    WaveCheck,
    WaveSpec,
    WaveVerdict,
)


def plan_waves(
    targets: list[Group], specs: list[WaveSpec] | None
) -> tuple[list[PlannedWave], list[SkippedGroup]]:
    """Each target group lands in the first wave that claims it; empty waves are dropped.

    ``percent`` is cumulative (``25`` then ``100``: a quarter, then the rest) and rounds up, so a
    small fleet still gets a non-empty first wave. Groups no wave claims are skipped, not dropped
    silently.
    """
    names = sorted(group.name for group in targets)
    by_name = {group.name: group for group in targets}
    assigned: list[str] = []
    waves: list[PlannedWave] = []
    for spec in specs or list(DEFAULT_WAVES):
        free = [name for name in names if name not in set(assigned)]
        if spec.groups is not None:
            chosen = [name for name in dict.fromkeys(spec.groups) if name in by_name and name not in assigned]
        elif spec.tags is not None:
            tags = spec.tags
            chosen = [
                name
                for name in free
                if all(by_name[name].tag(k) == v for k, v in tags.items())
            ]
        else:
            wanted = math.ceil((spec.percent or 0) * len(names) / 100)
            chosen = free[: max(0, wanted - len(assigned))]
        if chosen:
            waves.append(PlannedWave(index=len(waves), name=spec.name, groups=chosen))
            assigned += chosen
    left = [name for name in names if name not in set(assigned)]
    skipped = [SkippedGroup(group=name, code="NOT_IN_A_WAVE", reason="no wave selects it") for name in left]
    return waves, skipped


def failure_reasons(results: list[GroupResult], failed: list[str]) -> dict[str, str]:
    """group -> why it failed its wave: its refusal or queue's reason, else how its refresh ended."""
    reasons = {
        r.group: r.reason or f"its refresh ended {r.refresh_status}" for r in results if r.group in failed
    }
    return {group: reason for group, reason in reasons.items() if not reason.endswith(" None")}


def check_wave(
    plan: RolloutPlan,
    wave_index: int,
    results: list[GroupResult],
    earlier: list[WaveVerdict],
    alarms: list[Alarm],
) -> WaveCheck:
    """The gate between waves: every group of the wave succeeded (or had nothing to do), and the
    rollout's own alarms are not in ALARM."""
    wave = plan.waves[wave_index]
    succeeded = [r for r in results if r.status == "started" and r.refresh_status == "Successful"]
    skipped = [r.group for r in results if r.status == "skipped"]
    failed = [r.group for r in results if r not in succeeded and r.status != "skipped"]
    gate = evaluate_alarms(plan.message.alarms or [], alarms)
    verdict = WaveVerdict(
        wave=wave_index,
        name=wave.name,
        passed=not failed and gate.passed,
        succeeded=[r.group for r in succeeded],
        skipped=skipped,
        failed=failed,
        gate=gate.summary,
        previous_images={r.group: r.previous_image_id for r in succeeded if r.previous_image_id},
        reasons=failure_reasons(results, failed),
    )
    verdicts = [*earlier, verdict]
    if not verdict.passed:
        revert: list[GroupStart] = []
        if plan.message.rollback_previous_waves:
            revert = [
                GroupStart(group=group, status="started", previous_image_id=image)
                for done in earlier
                for group, image in done.previous_images.items()
            ]
        return WaveCheck(
            next_wave=None, verdicts=verdicts, status="failed", revert=revert, reverting=bool(revert)
        )
    last = wave_index + 1 >= len(plan.waves)
    return WaveCheck(
        next_wave=None if last else wave_index + 1,
        verdicts=verdicts,
        status="succeeded" if last else "running",
    )
