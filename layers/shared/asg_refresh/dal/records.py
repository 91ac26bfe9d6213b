"""Typed records of what logic reads from AWS: the vocabulary of the ports (dal/ports.py).

They live in dal/, not models/, because they are the data-access layer's contract: models/
holds what crosses the product's own boundaries (events, state machine payloads, results),
while these are views of AWS resources that only the ports hand out. dal/aws.py is the one
place that builds them from AWS's PascalCase answers; logic and the fakes only read them.
The instance refresh is models/refresh.py's ``InstanceRefresh`` (the watcher's describe
validates into it too), re-exported here so that logic finds every record in one place.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from asg_refresh.models.refresh import InstanceRefresh

__all__ = ["Execution", "Group", "InstanceRefresh", "TemplateVersion"]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Group(Record):
    """An Auto Scaling group: its name and tags (the opt-in and alarm tags logic reads)."""

    name: str
    tags: dict[str, str] = {}

    def tag(self, key: str) -> str | None:
        return self.tags.get(key)

    def is_opted_in(self, key: str, value: str) -> bool:
        return self.tags.get(key) == value

    def tag_list(self, key: str) -> list[str]:
        """A comma-separated tag's values, stripped (the alarm tag)."""
        return [name.strip() for name in (self.tags.get(key) or "").split(",")]


class TemplateVersion(Record):
    """One version of a launch template, and the image it launches."""

    template_id: str
    version: int
    image_id: str = ""


class Execution(Record):
    """A Step Functions execution as DescribeExecution describes it."""

    name: str
    status: str
    output: str | None = None

    @property
    def continued_as(self) -> str | None:
        """The execution a long watch handed over to (its output's ``continued_as``)."""
        handed_over: Any = json.loads(self.output or "{}").get("continued_as")
        return str(handed_over) if handed_over else None
