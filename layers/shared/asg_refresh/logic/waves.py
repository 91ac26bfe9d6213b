"""Cut a fleet into ordered waves: named groups, tag selectors, then cumulative shares of the fleet."""

from __future__ import annotations

import math

from asg_refresh.dal.records import Group
from asg_refresh.models.results import SkippedGroup
from asg_refresh.models.rollout import DEFAULT_WAVES, PlannedWave, WaveSpec


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
