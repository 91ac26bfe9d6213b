"""Gate verdicts: each gate says pass or fail, with its evidence and the effect of failing.

Alarms and metric thresholds fail closed (a configured alarm that does not exist blocks the
rollout, because a typo in an alarm name must not silently switch protection off). A time window
only holds progress; it never rolls back.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from asg_refresh.dal.records import Alarm, Group, MetricResult
from asg_refresh.models.gates import Freeze, MetricGate, TimeWindowGate, parse_time
from asg_refresh.models.watch import GateEvidence, GateVerdict

COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def alarm_names_for(group: Group, requested: list[str], alarm_tag_key: str, defaults: list[str]) -> list[str]:
    """Alarms guarding ``group``: those of the event, the group's alarm tag, then the defaults."""
    return alarm_names_tagged(group.tag(alarm_tag_key), requested, defaults)


def alarm_names_tagged(tagged: str | None, requested: list[str], defaults: list[str]) -> list[str]:
    """Alarms of the event, then of the alarm tag's value ``tagged``, then the defaults."""
    names = [*requested, *(n.strip() for n in (tagged or "").split(",")), *defaults]
    return list(dict.fromkeys(name for name in names if name))


def evaluate_alarms(names: list[str], described: list[Alarm]) -> GateVerdict:
    """Pass unless one of ``names`` is in ALARM or missing. INSUFFICIENT_DATA passes: new
    instances often have no datapoints yet, and AWS's own AlarmSpecification treats it alike."""
    by_name = {alarm.name: alarm for alarm in described}
    evidence = [
        GateEvidence(
            name=name,
            state=by_name[name].state if name in by_name else "MISSING",
            reason=by_name[name].reason if name in by_name else "no such alarm",
        )
        for name in names
    ]
    failing = [item for item in evidence if item.state in {"ALARM", "MISSING"}]
    if not names:
        summary = "no alarms configured"
    elif failing:
        summary = "; ".join(f"{item.name} is {item.state}" for item in failing)
    else:
        summary = f"{len(names)} alarm(s) OK"
    return GateVerdict(gate="cloudwatch-alarms", passed=not failing, summary=summary, evidence=evidence)


def evaluate_metrics(gates: list[MetricGate], results: list[MetricResult]) -> GateVerdict:
    """Each gate's datapoints in its window (GetMetricData results, newest first): the worst one
    decides, because one bad minute of 5xx is a bad minute."""
    by_id = {result.id: result for result in results}
    evidence, failing = [], []
    for index, gate in enumerate(gates):
        found = by_id.get(f"g{index}")
        values = list(found.values) if found else []
        breached = [v for v in values if COMPARE[gate.comparison](v, gate.threshold)]
        if not values:
            state, reason = (
                ("OK" if gate.missing_data == "pass" else "BREACHING"),
                "no datapoints in the window",
            )
        elif breached:
            worst = max(breached) if gate.comparison.startswith("Greater") else min(breached)
            state, reason = "BREACHING", f"{gate.statistic} {worst:g} vs threshold {gate.threshold:g}"
        else:
            state, reason = "OK", f"{len(values)} datapoint(s) within threshold {gate.threshold:g}"
        evidence.append(GateEvidence(name=gate.name, state=state, reason=reason))
        if state == "BREACHING":
            failing.append(f"{gate.name}: {reason}")
    summary = "; ".join(failing) if failing else f"{len(gates)} metric(s) within thresholds"
    return GateVerdict(gate="metric-threshold", passed=not failing, summary=summary, evidence=evidence)


def evaluate_window(window: TimeWindowGate, now: datetime) -> GateVerdict:
    local = now.astimezone(ZoneInfo(window.timezone))
    freeze = _freeze_at(window, now)
    if freeze is not None:
        summary = f"change freeze until {freeze.end.isoformat()}: {freeze.reason}"
        return _window_verdict(False, summary, local, next_opening(window, now))
    if not _inside_hours(window, now):
        hours = f"{','.join(window.days)} {window.start}-{window.end} {window.timezone}"
        summary = f"outside the allowed window ({hours})"
        return _window_verdict(False, summary, local, next_opening(window, now))
    return _window_verdict(True, "inside the allowed window", local, None)


def next_opening(window: TimeWindowGate, now: datetime) -> datetime | None:
    """The first instant from ``now`` at which the window is open (allowed day and hours, no
    freeze), or None if none comes within a year (freezes back to back)."""
    zone = ZoneInfo(window.timezone)
    moment = now
    while moment < now + timedelta(days=366):
        freeze = _freeze_at(window, moment)
        if freeze is not None:
            moment = freeze.end
            continue
        if _inside_hours(window, moment):
            return moment
        # The window opens at a day's start time or, for one that runs past midnight, at midnight.
        day = moment.astimezone(zone).date()
        start = time(*parse_time(window.start))
        candidates = [
            datetime.combine(day + timedelta(days=offset), at, zone)
            for offset in range(9)
            for at in (start, time(0, 0))
        ]
        moment = min(c for c in candidates if c > moment and _inside_hours(window, c))
    return None


def _freeze_at(window: TimeWindowGate, now: datetime) -> Freeze | None:
    return next((f for f in window.freezes if f.start <= now < f.end), None)


def _inside_hours(window: TimeWindowGate, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(window.timezone))
    start, end = time(*parse_time(window.start)), time(*parse_time(window.end))
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock <= end if start <= end else (clock >= start or clock <= end)
    return DAYS[local.weekday()] in window.days and inside


def _window_verdict(passed: bool, summary: str, local: datetime, opens_at: datetime | None) -> GateVerdict:
    evidence = [GateEvidence(name="now", state="OPEN" if passed else "CLOSED", reason=local.isoformat())]
    if opens_at is not None:
        evidence.append(GateEvidence(name="opens", state="SCHEDULED", reason=opens_at.isoformat()))
    return GateVerdict(
        gate="time-window",
        effect="hold",
        passed=passed,
        summary=summary,
        evidence=evidence,
        retry_after_seconds=None if opens_at is None else max(0, int((opens_at - local).total_seconds())),
    )
