"""Per-group work a few groups at a time: a fleet of hundreds would not fit a Lambda timeout one
group after another (boto3 clients are thread-safe)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from asg_refresh.dal.records import Group
from asg_refresh.models.base import build_all

#: Groups worked on at once.
PARALLEL_GROUPS = 8
T = TypeVar("T")


def in_parallel(groups: list[Group], work: Callable[[Group], T]) -> list[T]:
    """``work`` for every group, a few at a time, results in the groups' order."""
    if len(groups) <= 1:
        return [work(group) for group in groups]
    build_all()  # deferred models are not built safely by several threads at once
    with ThreadPoolExecutor(max_workers=min(PARALLEL_GROUPS, len(groups))) as pool:
        return list(pool.map(work, groups))
