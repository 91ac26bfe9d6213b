"""``asg-refresh approve|reject`` against the manual-approval gate, in process: the CLI finds the
pending approval (by refresh id or approval id) in the audit table, decides it once, as the caller
STS names, and sends the decision to the waiting watcher."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from asg_refresh.dal.audit import AuditStore
from asg_refresh.dal.aws import AwsGateway
from asg_refresh.dal.clients import reset_clients
from asg_refresh_local.cli import main
from asg_refresh_local.clock import CLOCK
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.wait_scheduler import SCHEDULER
from asg_refresh_local.samples import PROJECT_ROOT
from tests.integration.conftest import approvals, outcomes

PREFS = {
    "MinHealthyPercentage": 50,
    "InstanceWarmup": 60,
    "CheckpointPercentages": [50],
    "CheckpointDelay": 600,
}
#: Who moto's STS says the tests' credentials belong to.
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"
APPROVER_ROLE = "arn:aws:iam::123456789012:role/release-approver"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Run ``asg-refresh ...`` in process against the app's mock: (exit code, stdout + stderr)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        out = capsys.readouterr()
        # The handlers run in this process too: drop their one-line JSON logs.
        printed = "\n".join(line for line in out.out.splitlines() if not line.startswith('{"level'))
        return code, printed + out.err

    yield run
    reset_clients()


def _start(app: LocalApp, fleet: Fleet) -> dict[str, Any]:
    """A group of two, and a deployment that asks a person at 50 %, for at most an hour."""
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    answer = app.invoke(
        "StartRefreshFunction",
        {
            "image_id": new,
            "groups": ["web"],
            "preferences": PREFS,
            "gates": {"approval": {"timeout_seconds": 3600}},
        },
    )
    started: dict[str, Any] = answer["data"]["refreshes"][0]
    return started


def _requests(app: LocalApp) -> list[dict[str, Any]]:
    return [o for o in outcomes(app) if o.get("kind") == "approval-request"]


def _wait_for_the_gate(app: LocalApp, started: dict[str, Any]) -> Any:
    """Let the watcher run (virtual time) until RequestApproval has stored the pending approval
    and published its request, and the watcher waits for the token; returns the approval."""
    pause = threading.Event()
    refresh_id, execution_arn = started["refresh_id"], started["execution_arn"]
    with SCHEDULER.driving():
        for _ in range(3000):
            pending = [a for a in approvals(app, refresh_id) if a.status == "pending"]
            asked = pending and any(r["approval_id"] == pending[-1].approval_id for r in _requests(app))
            if asked and any(execution == execution_arn for execution, _ in SCHEDULER.waiting()):
                return pending[-1]
            pause.wait(0.01)  # the watcher runs on its own threads
    raise AssertionError(f"refresh {refresh_id} never asked for an approval")


@pytest.mark.parametrize(("command", "final"), [("approve", "Successful"), ("reject", "RollbackSuccessful")])
def test_approve_or_reject_a_waiting_refresh_by_its_id(
    app: LocalApp, fleet: Fleet, cli: Any, command: str, final: str
) -> None:
    started = _start(app, fleet)
    code, text = cli(command, started["refresh_id"])
    assert code == 1  # nothing waits yet
    assert f"refresh {started['refresh_id']} is not waiting for an approval" in text

    _wait_for_the_gate(app, started)
    code, text = cli(command, started["refresh_id"], "--by", "bob", "--comment", "5xx up")
    execution = app.wait_for_execution(started["execution_arn"])

    assert code == 0, text
    assert fleet.refreshes("web")[0]["Status"] == final
    assert execution["status"] == ("SUCCEEDED" if command == "approve" else "FAILED")
    # The approver recorded is who STS says the caller is, not the free-text --by
    (decided,) = approvals(app, started["refresh_id"])
    assert decided.status == ("approved" if command == "approve" else "rejected")
    assert (decided.decided_by, decided.display_name, decided.comment) == (MOTO_CALLER, "bob", "5xx up")
    if command == "reject":
        # And the outcome says who rejected it and why
        failed = outcomes(app)[-1]["failed_gate"]
        assert failed["summary"] == f"checkpoint 50% rejected by {MOTO_CALLER} (bob): 5xx up"
        assert failed["evidence"] == [{"name": MOTO_CALLER, "state": "rejected", "reason": "5xx up"}]


def test_a_second_decision_is_refused_and_the_first_stands(app: LocalApp, fleet: Fleet, cli: Any) -> None:
    # Given a refresh waiting at its checkpoint, approved once by the approval id it was notified with
    started = _start(app, fleet)
    _wait_for_the_gate(app, started)
    (request,) = _requests(app)
    assert cli("approve", "--approval-id", request["approval_id"])[0] == 0

    # When someone approves it again, or rejects it, while the refresh goes on
    again = cli("approve", started["refresh_id"])
    late = cli("reject", "--approval-id", request["approval_id"], "--comment", "too late")

    # Then both are refused, saying who decided first
    for code, text in (again, late):
        assert code == 1
        assert f"approval {request['approval_id']}" in text
        assert f"was already approved by {MOTO_CALLER}" in text
    # And the refresh finishes as approved; a decision after the finish is refused the same way
    assert app.wait_for_execution(started["execution_arn"])["status"] == "SUCCEEDED"
    code, text = cli("reject", started["refresh_id"])
    assert code == 1
    assert "already approved" in text
    (decided,) = approvals(app, started["refresh_id"])
    assert (decided.status, decided.comment) == ("approved", "")


def test_a_decision_after_the_gate_timed_out_and_the_refresh_ended_is_refused(
    app: LocalApp, fleet: Fleet, cli: Any
) -> None:
    # Given a refresh whose approval nobody answered: the gate timed out and it was rolled back
    started = _start(app, fleet)
    _wait_for_the_gate(app, started)
    CLOCK.advance(3601)
    assert app.wait_for_execution(started["execution_arn"])["status"] == "FAILED"
    assert fleet.refreshes("web")[0]["Status"] == "RollbackSuccessful"

    # When someone approves it now
    code, text = cli("approve", started["refresh_id"])

    # Then it is refused: nothing waits any more
    assert code == 1
    assert f"refresh {started['refresh_id']} has already ended (RollbackSuccessful)" in text


def test_a_decision_step_functions_no_longer_takes_is_refused_and_the_approval_expires(
    app: LocalApp, fleet: Fleet, cli: Any
) -> None:
    # Given a watcher stopped (by hand) while its approval was pending: no outcome was recorded
    started = _start(app, fleet)
    _wait_for_the_gate(app, started)
    app.client("stepfunctions").stop_execution(executionArn=started["execution_arn"])
    app.wait_for_execution(started["execution_arn"])

    # When someone rejects it
    code, text = cli("reject", started["refresh_id"], "--comment", "never mind")

    # Then Step Functions' refusal (an unknown token) is said plainly, and the approval is closed
    assert code == 1
    assert "can no longer be decided: Step Functions no longer knows its task token" in text
    (expired,) = approvals(app, started["refresh_id"])
    assert expired.status == "expired"
    code, text = cli("approve", started["refresh_id"])
    assert code == 1
    assert "has expired" in text


def test_the_task_token_is_never_published(app: LocalApp, fleet: Fleet, cli: Any) -> None:
    started = _start(app, fleet)
    pending = _wait_for_the_gate(app, started)
    assert cli("approve", started["refresh_id"])[0] == 0
    app.wait_for_execution(started["execution_arn"])

    messages = app.messages("NotificationsTopic")
    (request,) = _requests(app)
    assert request["approval_id"] == pending.approval_id
    assert len(pending.approval_id) >= 22  # 128 random bits, URL-safe
    assert "task_token" not in request
    assert len(messages) == 2  # the approval request and the outcome
    assert all(pending.token not in json.dumps(message) for message in messages)


@pytest.fixture
def guarded_app() -> Iterator[LocalApp]:
    """The app deployed with AllowedApprovers naming one role."""
    CLOCK.reset()
    with LocalApp(
        PROJECT_ROOT / "template.yaml", parameter_overrides={"AllowedApprovers": APPROVER_ROLE}
    ) as local_app:
        local_app.record_topic("NotificationsTopic")
        yield local_app


def test_only_allowed_approvers_may_decide(
    guarded_app: LocalApp, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, fleet = guarded_app, Fleet(guarded_app.client)
    started = _start(app, fleet)
    pending = _wait_for_the_gate(app, started)
    assert pending.allowed_approvers == [APPROVER_ROLE]

    # When a caller outside the list approves: refused, and nothing is recorded
    code, text = cli("approve", started["refresh_id"])
    assert code == 1
    assert f"{MOTO_CALLER} may not decide approval {pending.approval_id}" in text
    assert approvals(app, started["refresh_id"])[0].status == "pending"

    # When a session of the allowed role approves: accepted, recorded as that session
    app.client("iam").create_role(RoleName="release-approver", AssumeRolePolicyDocument="{}")
    session = app.client("sts").assume_role(RoleArn=APPROVER_ROLE, RoleSessionName="ana")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", session["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", session["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", session["SessionToken"])
    code, text = cli("approve", started["refresh_id"], "--comment", "canary fine")

    assert code == 0, text
    assert app.wait_for_execution(started["execution_arn"])["status"] == "SUCCEEDED"
    (decided,) = approvals(app, started["refresh_id"])
    assert decided.decided_by == "arn:aws:sts::123456789012:assumed-role/release-approver/ana"


def test_status_says_a_refresh_waits_for_approval_who_may_answer_and_how(
    app: LocalApp, fleet: Fleet, cli: Any
) -> None:
    started = _start(app, fleet)
    asked = _wait_for_the_gate(app, started)

    code, text = cli("status", "web")
    json_code, as_json = cli("status", "web", "--json")

    assert (code, json_code) == (0, 0), text
    assert (
        f"web: waiting for approval at 50% since {asked.requested_at.strftime('%Y-%m-%dT%H:%M:%SZ')} "
        f"(may answer: anyone allowed to call SendTaskSuccess): "
        f"asg-refresh approve|reject --approval-id {asked.approval_id}"
    ) in text
    (row,) = json.loads(as_json)["groups"]
    assert row["waiting_for"].startswith("waiting for approval at 50%")
    # Once answered, nothing waits any more
    assert cli("approve", started["refresh_id"])[0] == 0
    app.wait_for_execution(started["execution_arn"])
    (row,) = json.loads(cli("status", "web", "--json")[1])["groups"]
    assert row["waiting_for"] is None


def _drive_until_paused_before(app: LocalApp, execution_arn: str, opens: datetime) -> None:
    """Move the virtual clock from wake-up to wake-up until the watcher sleeps until ``opens``
    (paused for a closed window), never past it."""
    pause = threading.Event()
    for _ in range(3000):
        wakes = [at for execution, at in SCHEDULER.waiting() if execution == execution_arn]
        if wakes and min(wakes) >= opens:
            return
        if wakes:
            CLOCK.advance((min(wakes) - CLOCK.now()).total_seconds())
        pause.wait(0.01)  # the watcher runs on its own threads
    raise AssertionError(f"{execution_arn} never paused until {opens}")


def test_status_says_a_refresh_holds_for_a_closed_window_until_it_opens(
    app: LocalApp, fleet: Fleet, cli: Any
) -> None:
    # Given Monday 08:50 UTC and a deployment whose window opens at 09:00 UTC
    CLOCK.reset(start=datetime(2026, 11, 23, 8, 50, tzinfo=UTC))
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    window = {"timezone": "UTC", "days": ["Mon"], "start": "09:00", "end": "17:00"}
    answer = app.invoke(
        "StartRefreshFunction",
        {"image_id": new, "groups": ["web"], "preferences": PREFS, "gates": {"window": window}},
    )
    started = answer["data"]["refreshes"][0]
    opens = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    # When the watcher has held the refresh (cancelled it) and sleeps until the window opens
    _drive_until_paused_before(app, started["execution_arn"], opens)
    code, text = cli("status", "web")
    json_code, as_json = cli("status", "web", "--json")

    # Then status says what it waits for and until when (UTC), and a held refresh is no failure
    assert (code, json_code) == (0, 0), text
    assert "web: holding for a time window until 2026-11-23T09:00:00Z (outside the allowed window" in text
    (row,) = json.loads(as_json)["groups"]
    assert row["status"] == "Cancelled"
    assert row["waiting_for"].startswith("holding for a time window until 2026-11-23T09:00:00Z")
    assert row["holding_until"] == "2026-11-23T09:00:00Z"

    # And once the window opened and the resumed refresh ended, the hold is gone
    assert app.wait_for_execution(started["execution_arn"])["status"] == "SUCCEEDED"
    (row,) = json.loads(cli("status", "web", "--json")[1])["groups"]
    assert (row["status"], row["waiting_for"], row["holding_until"]) == ("Successful", None, None)
    first = fleet.refreshes("web")[-1]["InstanceRefreshId"]
    held = AuditStore(AwsGateway(app.region), app.physical_id("AuditTable")).refresh(first)
    assert held is not None
    assert "holding" not in held
