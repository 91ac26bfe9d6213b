"""Pre-flight verdicts: what each check found for a group, before anything is created."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from asg_refresh.models.base import Model

#: pass: the check holds; fail: it does not (the start is refused with the check's code);
#: unknown: it could not be established from what AWS answers (shown, never refused on).
EVIDENCE_LIMIT = 2000
Verdict = Literal["pass", "fail", "unknown"]
CheckName = Literal["architecture", "headroom", "rollback", "launch_template_not_shared", "subnet_addresses"]


class PreflightCheck(Model):
    name: CheckName
    verdict: Verdict
    evidence: str = Field(max_length=EVIDENCE_LIMIT)
    #: The error code a failing check refuses the start with.
    code: str

    @field_validator("evidence", mode="before")
    @classmethod
    def _cut(cls, evidence: str) -> str:
        """Forty overrides' verdicts fit; beyond the bound the evidence is cut, not refused."""
        return evidence if len(evidence) <= EVIDENCE_LIMIT else evidence[: EVIDENCE_LIMIT - 1] + "…"


class GroupPreflight(Model):
    group: str
    checks: list[PreflightCheck] = Field(default_factory=list)

    @property
    def failed(self) -> list[PreflightCheck]:
        return [check for check in self.checks if check.verdict == "fail"]
