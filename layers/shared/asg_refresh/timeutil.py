"""The current time, as one replaceable function: local runs point it at the virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime


def wall_now() -> datetime:
    return datetime.now(UTC)


#: Replaced by the local harness (``asg_refresh_local``) with the virtual clock's ``now``.
now = wall_now


def iso_seconds(moment: datetime) -> str:
    """``moment`` in UTC, ISO 8601 to the second (``2026-12-03T08:00:00Z``), as the CLI shows time."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
