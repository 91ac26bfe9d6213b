"""Per-backend emulation state: refresh history, instance configs, timers, faults, timeline.

It hangs off moto's AutoScalingBackend object, so moto's reset (end of ``mock_aws``, the server's
``/moto-api/reset``) throws it away with everything else.
"""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .faults import Faults
from .models import InstanceConfig, LifecycleAction, Refresh

if TYPE_CHECKING:
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup

#: One lock for all emulation state: the clock listener, test threads and server threads all mutate it.
LOCK = threading.RLock()
ATTRIBUTE = "_asg_refresh_emulation"


@dataclass
class Timings:
    """Virtual durations AWS does not let you choose; tests may change them."""

    pending_seconds: int = 5
    launch_seconds: int = 60
    cancel_seconds: int = 5
    blocked_poll_seconds: int = 60
    blocked_timeout_seconds: int = 3600


@dataclass
class Limits:
    """The emulated LimitExceeded rule and the history Describe keeps (AWS: six weeks)."""

    refreshes_per_group_per_day: int = 50
    history_days: int = 42


@dataclass(order=True)
class Timer:
    """An instance finishing its launch (Pending -> InService) at ``at``."""

    at: datetime
    seq: int
    group_name: str = field(compare=False)
    instance_id: str = field(compare=False)
    healthy: bool = field(compare=False, default=True)
    #: False for a root volume replacement, which lifecycle hooks for launches do not hold.
    hooks: bool = field(compare=False, default=True)


class EmulationState:
    def __init__(self, backend: AutoScalingBackend) -> None:
        self.backend = backend
        self.account_id: str = backend.account_id
        self.region: str = backend.region_name
        self.refreshes: dict[str, list[Refresh]] = {}
        self.instance_configs: dict[str, InstanceConfig] = {}
        self.timers: list[Timer] = []
        self._timer_seq = 0
        self.faults = Faults()
        self.timings = Timings()
        self.limits = Limits()
        self._timeline: dict[str, list[dict[str, Any]]] = {}
        #: Scaling activities of the refreshes' launches and terminations, oldest first.
        self.activities: list[dict[str, Any]] = []
        #: Events waiting for delivery (see events.deliver).
        self.outbox: list[dict[str, Any]] = []
        #: Lifecycle actions under way, by LifecycleActionToken (see hooks.py).
        self.lifecycle_actions: dict[str, LifecycleAction] = {}
        #: Launches a lifecycle hook abandoned: the refresh that made them counts them as failed.
        self.abandoned_launches: set[str] = set()

    # Lookups

    def group(self, name: str) -> FakeAutoScalingGroup | None:
        return self.backend.autoscaling_groups.get(name)

    def history(self, group_name: str) -> list[Refresh]:
        return self.refreshes.setdefault(group_name, [])

    def active(self, group_name: str) -> Refresh | None:
        return next((r for r in self.history(group_name) if r.active), None)

    def all_refreshes(self) -> list[Refresh]:
        return [r for rs in self.refreshes.values() for r in rs]

    # Instance launch timers

    def add_timer(
        self, at: datetime, group_name: str, instance_id: str, healthy: bool = True, hooks: bool = True
    ) -> None:
        self._timer_seq += 1
        heapq.heappush(self.timers, Timer(at, self._timer_seq, group_name, instance_id, healthy, hooks))

    def next_timer_at(self) -> datetime | None:
        return self.timers[0].at if self.timers else None

    def pop_timer(self) -> Timer:
        return heapq.heappop(self.timers)

    def pending_in(self, group_name: str) -> list[Timer]:
        return [t for t in self.timers if t.group_name == group_name]

    # Timeline

    def record(self, refresh: Refresh, when: datetime, event: str | None = None) -> None:
        group = self.group(refresh.group_name)
        in_service = total = desired = 0
        min_healthy = max_healthy = 0
        if group is not None:
            desired = int(group.desired_capacity or 0)
            for s in group.instance_states:
                if s.lifecycle_state == "InService":
                    total += 1
                    if s.health_status == "Healthy":
                        in_service += 1
                elif s.lifecycle_state.startswith("Pending"):
                    total += 1  # Pending, or held by a lifecycle hook (Pending:Wait, Pending:Proceed)
            min_healthy = refresh.preferences.min_in_service(desired)
            max_healthy = refresh.preferences.max_total(desired)
        self._timeline.setdefault(refresh.group_name, []).append(
            {
                "time": when,
                "refresh_id": refresh.refresh_id,
                "status": refresh.status.value,
                "in_service": in_service,
                "total": total,
                "desired": desired,
                "min_healthy": min_healthy,
                "max_healthy": max_healthy,
                "percentage_complete": refresh.percentage_complete,
                "event": event,
            }
        )

    def timeline(self, group_name: str) -> list[dict[str, Any]]:
        """Samples of every refresh of the group over virtual time, oldest first."""
        with LOCK:
            return [dict(s) for s in self._timeline.get(group_name, [])]

    def step(self, until: datetime | None = None) -> None:
        """Catch every refresh up to ``until`` (default: the clock's now)."""
        from asg_refresh_local.clock import CLOCK

        from .engine import catch_up

        catch_up(self, until or CLOCK.now())


def state_of(backend: AutoScalingBackend) -> EmulationState:
    with LOCK:
        state = backend.__dict__.get(ATTRIBUTE)
        if state is None:
            state = EmulationState(backend)
            setattr(backend, ATTRIBUTE, state)
        return state


def existing_states() -> list[EmulationState]:
    """States already created (iterating never instantiates new moto backends)."""
    from moto.autoscaling.models import autoscaling_backends

    found = []
    for regions in list(autoscaling_backends.values()):
        for backend in list(regions.values()):
            state = backend.__dict__.get(ATTRIBUTE)
            if state is not None:
                found.append(state)
    return found
