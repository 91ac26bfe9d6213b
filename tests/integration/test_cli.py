"""Each ``asg-refresh`` operator command against the local server (moto's server in a thread)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asg_refresh.dal.clients import reset_clients
from asg_refresh_local.cli import main
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.samples import PROJECT_ROOT
from asg_refresh_local.server import LocalServer

pytestmark = pytest.mark.server
FAST = json.dumps({"MinHealthyPercentage": 50, "InstanceWarmup": 30})


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    local = LocalServer(port=0, template=PROJECT_ROOT / "template.yaml")
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def cli(server: LocalServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    # The CLI points boto3 at its endpoint through the environment: keep that inside this test.
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def run(*argv: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = main([*argv, "--endpoint-url", server.endpoint_url, "--region", "us-east-1"])
        out = capsys.readouterr()
        # The server runs the handlers in this process: drop their one-line JSON logs.
        printed = "\n".join(line for line in out.out.splitlines() if not line.startswith('{"'))
        try:
            return code, json.loads(printed)
        except json.JSONDecodeError:
            return code, printed + out.err

    yield run
    reset_clients()


@pytest.fixture
def fleet(server: LocalServer) -> Fleet:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1")  # type: ignore[call-overload]

    return Fleet(client)


def _until_refreshed(fleet: Fleet, group: str) -> None:
    """The rollout starts the refresh on the server's delivery thread: wait for it to appear."""
    deadline = time.monotonic() + 20
    while not fleet.refreshes(group):
        assert time.monotonic() < deadline, f"no refresh of {group}"
        time.sleep(0.05)


def test_plan_start_status_history(cli: Any, fleet: Fleet, tmp_path: Path) -> None:
    old, new = fleet.image("cli-1"), fleet.image("cli-2")
    fleet.group("cli-web", old, size=2)

    code, plan = cli(
        "plan",
        "--image-id",
        new,
        "--groups",
        "cli-web",
        "--preferences",
        FAST,
        "--json",
        "--html",
        str(tmp_path / "plan.html"),
    )
    assert code == 0
    assert plan["groups"][0]["to_replace"] == 2
    assert fleet.refreshes("cli-web") == []
    assert (tmp_path / "plan.html").read_text().count("data:image/png") == 1

    fleet.group("cli-canary", old, size=1, tags={"asg-refresh:wave": "canary"})
    code, plan = cli(
        "plan",
        "--image-id",
        new,
        "--tags",
        "asg-refresh:enabled=true",
        "--preferences",
        FAST,
        "--waves-too",
        "--max-concurrency",
        "1",
        "--json",
    )
    assert code == 0, plan
    waves = {wave["name"]: wave for wave in plan["waves"]}
    assert waves["canary"]["groups"] == ["cli-canary"]
    assert "cli-web" in waves["rest"]["groups"]
    assert plan["rollout_estimated_seconds"] >= sum(w["estimated_seconds"] for w in plan["waves"])

    code, started = cli(
        "start",
        "--image-id",
        new,
        "--groups",
        "cli-web",
        "--preferences",
        FAST,
        "--name",
        "cli-rollout",
        "--json",
    )
    assert code == 0, started
    assert started["rollout_id"] == "cli-rollout"

    code, status = cli(
        "status",
        "--rollout",
        "cli-rollout",
        "--watch",
        "--interval",
        "0",
        "--advance-clock",
        "60",
        "--json",
        "--chart-dir",
        str(tmp_path),
    )
    assert code == 0, status
    assert status["rollout"]["status"] == "SUCCEEDED"
    # No group is tagged as a canary: the default waves leave one wave, the rest.
    assert [(v["name"], v["succeeded"]) for v in status["rollout"]["verdicts"]] == [("rest", ["cli-web"])]
    (row,) = status["groups"]
    assert (row["group"], row["status"], row["percentage_complete"]) == ("cli-web", "Successful", 100)
    assert fleet.instance_images("cli-web") == [new, new]
    assert (tmp_path / "cli-web.png").read_bytes().startswith(b"\x89PNG")
    code, _ = cli("status", "cli-web", "--json", "--html", str(tmp_path / "status.html"))
    assert code == 0
    assert "data:image/png;base64," in (tmp_path / "status.html").read_text()

    code, history = cli("history", "--json")
    assert code == 0
    assert any(item["deployment_id"].startswith("cli-rollout.") for item in history["history"])
    # JSON types as they are (a list of groups), every time ISO 8601 UTC to the second
    ours = next(item for item in history["history"] if item["deployment_id"].startswith("cli-rollout."))
    assert ours["groups"] == ["cli-web"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ours["created_at"])
    code, history = cli("history", "--group", "cli-web", "--json")
    assert [item["status"] for item in history["history"]] == ["Successful"]
    (refresh,) = history["history"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", refresh[key]) for key in ("started", "ended"))
    fleet.group("cli-never-refreshed", fleet.image("cli-idle"), size=1)
    code, text = cli("history", "--group", "cli-never-refreshed")
    assert (code, text.strip()) == (0, "no refreshes of cli-never-refreshed on record")


def test_cancel_rollback_and_clear_errors(cli: Any, fleet: Fleet, server: LocalServer) -> None:
    old, new = fleet.image("cli-3"), fleet.image("cli-4")
    for name in ("cli-a", "cli-b"):
        fleet.group(name, old, size=2)
        code, _ = cli(
            "start",
            "--image-id",
            new,
            "--groups",
            name,
            "--name",
            f"r-{name}",
            "--preferences",
            json.dumps({"MinHealthyPercentage": 50, "InstanceWarmup": 3600}),
        )
        assert code == 0
        _until_refreshed(fleet, name)
    server.app.advance(120)

    assert cli("rollback", "cli-a", "--json")[0] == 0
    assert cli("cancel", "cli-b", "--rollout", "r-cli-b", "--json")[0] == 0
    server.app.advance(7200)
    assert fleet.refreshes("cli-a")[0]["Status"] in ("RollbackInProgress", "RollbackSuccessful")
    assert fleet.refreshes("cli-b")[0]["Status"] in ("Cancelling", "Cancelled")

    code, text = cli("cancel", "cli-b")
    assert code == 1
    assert "no active instance refresh" in text
    code, text = cli("status", "no-such-group")
    assert code == 1
    assert "no Auto Scaling group" in text


def test_approve_and_reject_need_a_waiting_gate(cli: Any) -> None:
    code, text = cli("approve", "no-such-refresh")
    assert code == 1
    assert "error: unknown refresh no-such-refresh" in text
    code, text = cli("reject", "--approval-id", "not-an-approval-id")
    assert code == 1
    assert "error: no approval not-an-approval-id" in text


def test_plan_shows_the_launch_template_refusals(cli: Any, fleet: Fleet) -> None:
    old, new = fleet.image("cli-lt-1"), fleet.image("cli-lt-2")
    fleet.group("cli-shared", old, size=1)
    fleet.group("cli-shared-legacy", old, size=1, opted_in=False, shares="cli-shared", version="$Latest")
    fleet.group("cli-untagged", old, size=1, template_opted_in=False)
    try:
        code, plan = cli("plan", "--image-id", new, "--groups", "cli-shared", "cli-untagged", "--json")

        assert code == 0, plan
        assert plan["groups"] == []
        skipped = {item["group"]: item for item in plan["skipped"]}
        assert skipped["cli-shared"]["code"] == "SHARED_LAUNCH_TEMPLATE"
        assert "cli-shared-legacy ($Latest, not opted in)" in skipped["cli-shared"]["reason"]
        assert skipped["cli-untagged"]["code"] == "LAUNCH_TEMPLATE_NOT_OPTED_IN"
        assert fleet.launch_template_versions("cli-shared")[-1]["VersionNumber"] == 1
    finally:
        for name in ("cli-shared", "cli-shared-legacy", "cli-untagged"):
            fleet.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_plan_lists_the_pre_flight_verdicts_and_start_refuses_a_failing_group(cli: Any, fleet: Fleet) -> None:
    old, arm = fleet.image("cli-pf-1"), fleet.image("cli-pf-arm", architecture="arm64")
    fleet.group("cli-pf", old, size=1)
    try:
        code, plan = cli("plan", "--image-id", arm, "--groups", "cli-pf", "--json")
        assert code == 0, plan
        (report,) = plan["preflight"]
        checks = {check["name"]: check for check in report["checks"]}
        assert list(checks) == [
            "architecture",
            "headroom",
            "rollback",
            "launch_template_not_shared",
            "subnet_addresses",
        ]
        assert checks["architecture"]["verdict"] == "fail"
        assert checks["architecture"]["evidence"] == f"{arm} is arm64; t3.micro supports x86_64 only"
        assert [(s["group"], s["code"]) for s in plan["skipped"]] == [("cli-pf", "ARCHITECTURE_MISMATCH")]

        code, shown = cli("plan", "--image-id", arm, "--groups", "cli-pf")
        assert code == 0, shown
        assert "pre-flight" in shown
        assert "supports x86_64" in shown

        code, refused = cli("start", "--image-id", arm, "--groups", "cli-pf")
        assert code != 0
        assert "ARCHITECTURE_MISMATCH" in refused
        assert fleet.refreshes("cli-pf") == []
        assert len(fleet.launch_template_versions("cli-pf")) == 1
    finally:
        fleet.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="cli-pf", ForceDelete=True)


def test_start_wait_blocks_until_the_rollout_succeeds(cli: Any, fleet: Fleet) -> None:
    old, new = fleet.image("cli-w1"), fleet.image("cli-w2")
    fleet.group("cli-wait", old, size=2)

    code, waited = cli(
        "start",
        "--image-id",
        new,
        "--groups",
        "cli-wait",
        "--preferences",
        FAST,
        "--name",
        "cli-wait-rollout",
        "--wait",
        "--poll-seconds",
        "60",
        "--json",
    )
    assert code == 0, waited
    assert (waited["kind"], waited["outcome"], waited["exit_code"]) == ("rollout", "successful", 0)
    assert waited["groups"] == {"cli-wait": "Successful"}
    assert fleet.instance_images("cli-wait") == [new, new]

    code, text = cli("wait", "cli-wait-rollout")
    assert code == 0
    assert "rollout cli-wait-rollout: successful" in text


def test_wait_exits_with_how_the_refresh_ended(cli: Any, fleet: Fleet, server: LocalServer) -> None:
    old, new = fleet.image("cli-w3"), fleet.image("cli-w4")
    slow = json.dumps({"MinHealthyPercentage": 50, "InstanceWarmup": 3600})
    for name in ("cli-wait-rb", "cli-wait-cx", "cli-wait-slow"):
        fleet.group(name, old, size=2)
        code, _ = cli(
            "start", "--image-id", new, "--groups", name, "--name", f"r-{name}", "--preferences", slow
        )
        assert code == 0
        _until_refreshed(fleet, name)
    server.app.advance(120)

    # A pipeline gives up after its own timeout: exit 6, the refresh left running.
    code, text = cli("wait", "cli-wait-slow", "--timeout", "120", "--poll-seconds", "60")
    assert code == 6, text
    assert "timed out" in text
    assert fleet.refreshes("cli-wait-slow")[0]["Status"] == "InProgress"

    assert cli("rollback", "cli-wait-rb", "--json")[0] == 0
    assert cli("cancel", "cli-wait-cx", "--json")[0] == 0
    # Polls 10 virtual minutes apart: the rollback of an hour's warm-up in a few polls, not sixty.
    code, waited = cli("wait", "cli-wait-rb", "--poll-seconds", "600", "--json")
    assert (code, waited["kind"], waited["outcome"]) == (3, "group", "rolled_back"), waited
    assert waited["groups"] == {"cli-wait-rb": "RollbackSuccessful"}

    code, waited = cli("wait", "cli-wait-cx", "--poll-seconds", "600", "--json")
    assert (code, waited["outcome"], waited["groups"]) == (4, "cancelled", {"cli-wait-cx": "Cancelled"}), (
        waited
    )

    # status says what ended badly, in one line, with a non-zero exit; a group never refreshed is null.
    code, text = cli("status", "cli-wait-rb")
    assert code == 1
    assert "error: cli-wait-rb RollbackSuccessful" in text
    fleet.group("cli-never", old, size=1)
    code, status = cli("status", "cli-never", "--json")
    assert code == 0
    assert status["groups"][0]["status"] is None

    code, text = cli("wait", "no-such-thing")
    assert code == 1
    assert "no rollout, deployment or Auto Scaling group named no-such-thing" in text


def test_start_refuses_what_plan_refuses_before_starting_anything(cli: Any, fleet: Fleet) -> None:
    old, new = fleet.image("cli-p1"), fleet.image("cli-p2")
    fleet.group("cli-pre", old, size=1)
    fleet.group("cli-pre-out", old, size=1, opted_in=False)

    code, text = cli("start", "--image-id", new, "--groups", "cli-pre", "cli-prre", "--name", "pre-typo")
    assert code == 1
    assert "error: nothing started, 1 group(s) refused: cli-prre: GROUP_NOT_FOUND" in text
    code, text = cli("start", "--image-id", new, "--groups", "cli-pre-out", "--name", "pre-out")
    assert code == 1
    assert "error: no group to roll out (cli-pre-out: not opted in" in text
    code, text = cli(
        "start", "--image-id", "ami-0123456789abcdef0", "--groups", "cli-pre", "--name", "pre-ami"
    )
    assert code == 1
    assert "IMAGE_REJECTED" in text or "does not exist" in text, text

    # Nothing started: no rollout execution, no refresh, the launch template untouched.
    assert fleet.refreshes("cli-pre") == []
    for name in ("pre-typo", "pre-out", "pre-ami"):
        assert cli("status", "--rollout", name)[0] == 1


def test_bad_input_is_one_line_naming_the_file_or_the_field(cli: Any, tmp_path: Path) -> None:
    broken = tmp_path / "rollout.json"
    broken.write_text('{"image_id": "ami-0123456789abcdef0",')

    missing, ami = tmp_path / "missing.json", "ami-0123456789abcdef0"
    cases = {
        ("plan", "--message", str(broken)): f"error: {broken}: not JSON: ",
        ("plan", "--message", str(missing)): f"error: {missing}: No such file",
        ("plan", "--image-id", ami, "--preferences", "{"): "error: --preferences: not JSON",
        ("plan", "--image-id", "not-an-ami"): "error: the message is not valid: image_id: String should",
    }
    for argv, expected in cases.items():
        code, text = cli(*argv)
        assert code == 1, argv
        (line,) = [line for line in text.splitlines() if line.strip()]
        assert line.startswith(expected), (argv, line)
