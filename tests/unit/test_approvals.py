"""The manual-approval gate's rules, with in-memory fakes of the audit table and Step Functions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asg_refresh.dal.aws import TaskTokenClosed
from asg_refresh.errors import ApprovalNotFoundError, ApprovalNotPendingError, ApproverNotAllowedError
from asg_refresh.logic import approvals
from asg_refresh.logic.approvals import (
    REJECTED_ERROR,
    approval_message,
    approver_allowed,
    arn_like,
    ask_for_approval,
    decide_approval,
    find_approval,
    refused_verdict,
)
from asg_refresh.models.approval import ApprovalRequest, PendingApproval
from asg_refresh.models.watch import Approval
from asg_refresh.settings import Settings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ANA = "arn:aws:sts::111122223333:assumed-role/release-approver/ana"
BOB = "arn:aws:iam::111122223333:user/bob"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAeMHr6sb8ll5IKKfEXAMPLE"


class FakeRecords:
    """The audit table's approvals: decisions are conditional on the approval being pending."""

    def __init__(self) -> None:
        self.items: dict[str, PendingApproval] = {}
        self.outcomes: dict[str, str] = {}
        self.lose_next_race = False

    def record_approval_request(self, pending: PendingApproval) -> None:
        self.items[pending.approval_id] = pending

    def approval(self, approval_id: str) -> PendingApproval | None:
        return self.items.get(approval_id)

    def approvals_of(self, refresh_id: str) -> list[PendingApproval]:
        return [a for a in self.items.values() if a.refresh_id == refresh_id]

    def outcome_status(self, refresh_id: str) -> str | None:
        return self.outcomes.get(refresh_id)

    def record_decision(self, decided: PendingApproval) -> bool:
        if self.lose_next_race:  # another decision landed between our read and our write
            self.items[decided.approval_id] = decided.model_copy(
                update={"status": "rejected", "decided_by": BOB, "comment": "no"}
            )
            self.lose_next_race = False
        if self.items[decided.approval_id].status != "pending":
            return False
        self.items[decided.approval_id] = decided
        return True

    def expire_approval(self, decided: PendingApproval, reason: str) -> None:
        self.items[decided.approval_id] = decided.model_copy(
            update={"status": "expired", "closed_reason": reason}
        )

    def reopen_approval(self, decided: PendingApproval) -> None:
        self.items[decided.approval_id] = decided.model_copy(
            update={"status": "pending", "decided_by": None, "decided_at": None, "comment": None}
        )


class FakeCallbacks:
    def __init__(self, fails_with: Exception | None = None) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.fails_with = fails_with

    def send_task_success(self, token: str, output: str) -> None:
        self._send("success", token, output)

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        assert error == REJECTED_ERROR
        self._send("failure", token, cause)

    def _send(self, kind: str, token: str, document: str) -> None:
        if self.fails_with is not None:
            raise self.fails_with
        self.sent.append((kind, token, json.loads(document)))


def _asked(records: FakeRecords, allowed: list[str] | None = None, at: datetime = NOW) -> PendingApproval:
    request = ApprovalRequest(
        token=TOKEN, deployment_id="d-1", group="web", refresh_id="r-1", image_id="ami-1", checkpoint=50
    )
    published: list[dict[str, Any]] = []
    pending = ask_for_approval(request, allowed or [], records, lambda _s, m: published.append(m), at)
    (message,) = published
    assert message == approval_message(pending)
    return pending


def _decide(
    records: FakeRecords, callbacks: FakeCallbacks, approval: PendingApproval, caller: str = ANA, **kw: Any
) -> PendingApproval:
    return decide_approval(
        records,
        callbacks,
        approval=approval,
        caller_arn=caller,
        approve=kw.get("approve", True),
        comment=kw.get("comment", "graphs fine"),
        display_name=kw.get("display_name"),
        now=NOW + timedelta(minutes=5),
    )


def test_asking_keeps_the_token_and_publishes_only_the_approval_id() -> None:
    records = FakeRecords()
    pending = _asked(records, ["arn:aws:iam::111122223333:role/release-approver"])

    assert records.approval(pending.approval_id) == pending
    assert pending.token == TOKEN
    message = approval_message(pending)
    assert TOKEN not in json.dumps(message)
    assert message["approval_id"] == pending.approval_id
    assert message["approve"] == f"asg-refresh approve --approval-id {pending.approval_id}"
    assert "token" not in pending.model_dump()  # nor in anything printed from the record
    assert len(pending.approval_id) == 22  # 128 bits, URL-safe base64
    assert pending.approval_id != _asked(records).approval_id


def test_an_approval_is_recorded_as_the_caller_and_sent_once() -> None:
    records, callbacks = FakeRecords(), FakeCallbacks()
    pending = _asked(records)

    decided = _decide(records, callbacks, pending, display_name="Ana")

    assert (decided.status, decided.decided_by, decided.display_name) == ("approved", ANA, "Ana")
    ((kind, token, output),) = callbacks.sent
    assert (kind, token) == ("success", TOKEN)
    assert output | {"decided_at": None} == {
        "approval_id": pending.approval_id,
        "approved": True,
        "by": ANA,
        "display_name": "Ana",
        "comment": "graphs fine",
        "decided_at": None,
    }
    # A second decision, whoever makes it, is refused and nothing more is sent
    with pytest.raises(ApprovalNotPendingError, match=f"was already approved by {ANA}"):
        _decide(
            records, callbacks, records.approval(pending.approval_id) or pending, caller=BOB, approve=False
        )
    assert len(callbacks.sent) == 1


def test_of_two_racing_decisions_the_one_recorded_first_wins() -> None:
    records, callbacks = FakeRecords(), FakeCallbacks()
    pending = _asked(records)
    records.lose_next_race = True

    with pytest.raises(ApprovalNotPendingError, match=f"already rejected by {BOB}"):
        _decide(records, callbacks, pending)
    assert callbacks.sent == []


def test_a_decision_on_an_ended_refresh_is_refused() -> None:
    records, callbacks = FakeRecords(), FakeCallbacks()
    pending = _asked(records)
    records.outcomes["r-1"] = "RollbackSuccessful"

    with pytest.raises(
        ApprovalNotPendingError, match=r"refresh r-1 has already ended \(RollbackSuccessful\)"
    ):
        _decide(records, callbacks, pending)
    assert records.items[pending.approval_id].status == "pending"


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("TaskTimedOut", "the gate timed out before the decision arrived (TaskTimedOut)"),
        ("TaskDoesNotExist", "the approval task no longer exists"),
        ("InvalidToken", "Step Functions no longer knows its task token"),
    ],
)
def test_a_decision_step_functions_refuses_expires_the_approval(code: str, says: str) -> None:
    records, callbacks = FakeRecords(), FakeCallbacks(TaskTokenClosed(code, "nope"))
    pending = _asked(records)

    with pytest.raises(ApprovalNotPendingError, match="can no longer be decided") as refused:
        _decide(records, callbacks, pending)

    assert says in refused.value.message
    expired = records.items[pending.approval_id]
    assert expired.status == "expired"
    with pytest.raises(ApprovalNotPendingError, match="has expired"):
        _decide(records, FakeCallbacks(), expired)


def test_a_decision_that_could_not_be_sent_can_be_made_again() -> None:
    records = FakeRecords()
    pending = _asked(records)

    with pytest.raises(PermissionError):
        _decide(records, FakeCallbacks(PermissionError("AccessDenied")), pending)

    assert records.items[pending.approval_id].status == "pending"
    assert _decide(records, FakeCallbacks(), pending).status == "approved"


def test_a_caller_not_on_the_list_is_refused_before_anything_is_recorded() -> None:
    records, callbacks = FakeRecords(), FakeCallbacks()
    pending = _asked(records, ["arn:aws:iam::111122223333:role/release-approver"])

    with pytest.raises(ApproverNotAllowedError, match=f"{BOB} may not decide approval"):
        _decide(records, callbacks, pending, caller=BOB)
    assert records.items[pending.approval_id].status == "pending"
    assert callbacks.sent == []
    assert _decide(records, callbacks, pending, caller=ANA).decided_by == ANA


@pytest.mark.parametrize(
    ("caller", "allowed", "expected"),
    [
        (BOB, [], True),  # no list: anyone who may call SendTaskSuccess
        (BOB, [BOB], True),
        (BOB, ["arn:aws:iam::111122223333:user/*"], True),
        (BOB, ["arn:aws:iam::111122223333:user/bo?"], True),
        (BOB, ["arn:aws:iam::111122223333:user/b"], False),
        (BOB, ["arn:aws:iam::444455556666:user/*"], False),
        (ANA, ["arn:aws:iam::111122223333:role/release-approver"], True),  # a session of the role
        (ANA, [ANA], True),
        (ANA, ["arn:aws:sts::111122223333:assumed-role/release-approver/*"], True),
        (ANA, ["arn:aws:sts::111122223333:assumed-role/release-approver/bob"], False),
        (ANA, ["arn:aws:iam::111122223333:role/release"], False),
        (
            "arn:aws:sts::111122223333:assumed-role/admin/x",
            ["arn:aws:iam::111122223333:role/release-*"],
            False,
        ),
    ],
)
def test_who_is_an_allowed_approver(caller: str, allowed: list[str], expected: bool) -> None:
    assert approver_allowed(caller, allowed) is expected


@given(st.text(alphabet="arn:aws/-.[]()+^$\\|{}", max_size=30))
def test_arn_patterns_match_themselves_literally_but_for_wildcards(text: str) -> None:
    assert arn_like(text, text)
    assert arn_like("*", text)
    assert not arn_like(text + "x", text)


def test_by_refresh_id_the_pending_approval_is_found_else_the_latest() -> None:
    records = FakeRecords()
    with pytest.raises(ApprovalNotFoundError, match="refresh r-1 is not waiting for an approval"):
        find_approval(records, None, "r-1")
    with pytest.raises(ApprovalNotFoundError, match="no approval nope"):
        find_approval(records, "nope", None)
    first = _asked(records)
    _decide(records, FakeCallbacks(), first)
    assert find_approval(records, None, "r-1").status == "approved"
    second = _asked(records, at=NOW + timedelta(hours=1))
    assert find_approval(records, None, "r-1") == second
    assert find_approval(records, first.approval_id, None).approval_id == first.approval_id


def test_a_rejection_keeps_who_and_why_in_the_verdict() -> None:
    cause = json.dumps(
        {"approval_id": "x", "approved": False, "by": BOB, "display_name": "bob", "comment": "5xx up"}
    )

    verdict = refused_verdict(50, None, {"Error": REJECTED_ERROR, "Cause": cause})

    assert verdict.summary == f"checkpoint 50% rejected by {BOB} (bob): 5xx up"
    assert [e.model_dump() for e in verdict.evidence] == [
        {"name": BOB, "state": "rejected", "reason": "5xx up"}
    ]


@pytest.mark.parametrize(
    ("approval", "error", "summary"),
    [
        (
            None,
            {"Error": "States.Timeout"},
            "checkpoint 50% not approved: nobody answered before the gate timed out",
        ),
        (None, {"Error": "Rejected", "Cause": "p99"}, "checkpoint 50% not approved: Rejected: p99"),
        (
            None,
            {"Error": REJECTED_ERROR, "Cause": "not json"},
            "checkpoint 50% not approved: ApprovalRejected",
        ),
        (Approval(approved=False, by=BOB, comment="no"), None, f"checkpoint 50% rejected by {BOB}: no"),
    ],
)
def test_other_refusals_say_what_happened(
    approval: Approval | None, error: dict[str, Any] | None, summary: str
) -> None:
    assert refused_verdict(50, approval, error).summary.startswith(summary)


def test_allowed_approvers_come_from_the_environment_and_must_be_arns() -> None:
    settings = Settings.from_env({"ALLOWED_APPROVERS": f" {BOB}, arn:aws:iam::111122223333:role/* "})
    assert settings.allowed_approvers == [BOB, "arn:aws:iam::111122223333:role/*"]
    assert Settings.from_env({"ALLOWED_APPROVERS": ""}).allowed_approvers == []
    with pytest.raises(ValueError, match="not an ARN or ARN pattern: bob"):
        Settings.from_env({"ALLOWED_APPROVERS": "bob"})


def test_an_approval_id_never_reads_as_a_command_line_option(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-looks-like-an-option", "fine-id-0000000000000"])
    monkeypatch.setattr(approvals.secrets, "token_urlsafe", lambda _: next(drawn))
    assert approvals.new_approval_id() == "fine-id-0000000000000"
