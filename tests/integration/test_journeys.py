"""Operator journeys as an operator lives them: the `asg-refresh` console script, run as a
subprocess, against `asg-refresh local serve` running in another process. Each journey asserts
exit codes and what is printed, and the fleet as AWS then shows it.

The server's clock moves only when asked (the CLI's waiter advances it, or this test does over
HTTP), so nothing here sleeps on the wall clock except waiting for processes. Slow tier (about a
minute and a half of process starts): `pytest -m slow tests/integration/test_journeys.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asg_refresh_local.fleet import Fleet
from asg_refresh_local.samples import PROJECT_ROOT

pytestmark = pytest.mark.slow
CONSOLE_SCRIPT = str(Path(sys.executable).with_name("asg-refresh"))
FAST = {"MinHealthyPercentage": 50, "InstanceWarmup": 30, "AutoRollback": True}


class Server:
    """`asg-refresh local serve --port 0` in its own process."""

    def __init__(self) -> None:
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        env.pop("AWS_ENDPOINT_URL", None)
        self.process = subprocess.Popen(
            [
                CONSOLE_SCRIPT,
                "local",
                "serve",
                "--port",
                "0",
                "--template",
                str(PROJECT_ROOT / "template.yaml"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        assert self.process.stdout is not None
        lines = []
        for line in self.process.stdout:  # its description: an indented JSON object
            if line.startswith("{") or lines:
                lines.append(line)
            if line.rstrip() == "}":
                break
        self.description = json.loads("".join(lines))
        self.endpoint_url: str = self.description["endpoint_url"]

    def post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    def advance(self, seconds: float) -> None:
        self.post("/_asg_refresh/clock/advance", {"seconds": seconds})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def fleet(server: Server) -> Fleet:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=server.endpoint_url, region_name="us-east-1")  # type: ignore[call-overload]

    return Fleet(client)


def asg_refresh(server: Server, *argv: str) -> subprocess.CompletedProcess[str]:
    """The console script, as a pipeline runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [CONSOLE_SCRIPT, *argv, "--endpoint-url", server.endpoint_url, "--region", "us-east-1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def start_args(image: str, group: str, name: str, preferences: dict[str, Any] = FAST) -> list[str]:
    return [
        "start",
        "--image-id",
        image,
        "--groups",
        group,
        "--name",
        name,
        "--preferences",
        json.dumps(preferences),
    ]


def test_a_start_with_a_typo_starts_nothing_and_says_why(server: Server, fleet: Fleet) -> None:
    new = fleet.image("j-typo")

    done = asg_refresh(server, "start", "--image-id", new, "--groups", "j-no-such-group", "--wait")

    assert done.returncode == 1
    assert "j-no-such-group: no such Auto Scaling group" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("fault", "code", "status"), [(None, 0, "Successful"), ("fail", 3, "RollbackSuccessful")]
)
def test_start_wait_exits_with_how_the_rollout_ended(
    server: Server, fleet: Fleet, fault: str | None, code: int, status: str
) -> None:
    old, new = fleet.image("j-old"), fleet.image("j-new")
    group = f"j-wait-{code}"
    fleet.group(group, old, size=2)
    if fault:
        server.post("/_asg_refresh/faults", {"fail_launches": {"group": group, "count": 1}})

    done = asg_refresh(server, *start_args(new, group, f"r-{group}"), "--wait", "--poll-seconds", "60")

    assert done.returncode == code, done.stderr
    assert f"rollout r-{group} started" in done.stdout
    assert fleet.refreshes(group)[0]["Status"] == status
    assert fleet.instance_images(group) == ([new, new] if code == 0 else [old, old])


def test_a_cancelled_rollout_exits_4_and_the_group_can_be_put_back(server: Server, fleet: Fleet) -> None:
    # Given a rollout onto a new image, cancelled while its refresh runs
    old, new = fleet.image("j-c-old"), fleet.image("j-c-new")
    fleet.group("j-cancel", old, size=4)
    held = {"MinHealthyPercentage": 50, "InstanceWarmup": 60}
    held |= {"CheckpointPercentages": [50], "CheckpointDelay": 3600}
    assert asg_refresh(server, *start_args(new, "j-cancel", "r-cancel", held)).returncode == 0
    for _ in range(60):
        refreshes = fleet.refreshes("j-cancel")
        if refreshes and refreshes[0].get("PercentageComplete", 0) >= 50:
            break
        server.advance(60)
    cancelled = asg_refresh(server, "cancel", "j-cancel", "--rollout", "r-cancel")
    assert cancelled.returncode == 0, cancelled.stderr

    # Then waiting for the rollout, and for the group's refresh, says cancelled
    for target in ("r-cancel", "j-cancel"):
        waited = asg_refresh(server, "wait", target, "--poll-seconds", "60", "--timeout", "7200")
        assert waited.returncode == 4, (target, waited.stdout, waited.stderr)
    assert set(fleet.instance_images("j-cancel")) == {old, new}  # half-way: some of each

    # And a deploy of the old image brings the replaced instances back, though the template names it
    back = asg_refresh(server, *start_args(old, "j-cancel", "r-back"), "--wait", "--poll-seconds", "60")
    assert back.returncode == 0, back.stderr
    assert fleet.instance_images("j-cancel") == [old] * 4


@pytest.mark.parametrize(("decision", "code", "image"), [("approve", 0, "new"), ("reject", 3, "old")])
def test_a_rollout_with_an_approval_gate_approved_or_rejected(
    server: Server, fleet: Fleet, tmp_path: Path, decision: str, code: int, image: str
) -> None:
    # Given a rollout whose deployment asks a person at 50 %
    images = {"old": fleet.image("j-a-old"), "new": fleet.image("j-a-new")}
    group = f"j-approval-{decision}"
    fleet.group(group, images["old"], size=2)
    message = tmp_path / "rollout.json"
    message.write_text(
        json.dumps(
            {
                "image_id": images["new"],
                "groups": [group],
                "preferences": FAST | {"CheckpointPercentages": [50]},
                "gates": {"approval": {"timeout_seconds": 3600}},
            }
        )
    )
    assert asg_refresh(server, "start", "--message", str(message), "--name", f"r-{group}").returncode == 0

    # When status shows the approval it waits for, and the person answers with its command
    waiting_for = None
    for _ in range(60):
        status = asg_refresh(server, "status", group, "--json")
        (row,) = json.loads(status.stdout)["groups"]
        waiting_for = row["waiting_for"]
        if waiting_for:
            break
        server.advance(30)
    assert waiting_for is not None
    assert waiting_for.startswith("waiting for approval at 50%"), waiting_for
    approval_id = waiting_for.rsplit(" ", 1)[-1]
    answered = asg_refresh(server, decision, "--approval-id", approval_id, "--comment", "looked at it")
    assert answered.returncode == 0, answered.stderr

    # Then the rollout ends as the person decided, and wait says so
    waited = asg_refresh(server, "wait", f"r-{group}", "--poll-seconds", "60", "--timeout", "7200")
    assert waited.returncode == code, (waited.stdout, waited.stderr)
    assert fleet.instance_images(group) == [images[image]] * 2


def test_a_rollout_onto_a_group_busy_towards_another_image_fails_and_leaves_it_alone(
    server: Server, fleet: Fleet
) -> None:
    old, first, second = fleet.image("j-s-old"), fleet.image("j-s-1"), fleet.image("j-s-2")
    fleet.group("j-busy", old, size=2)
    slow = {"MinHealthyPercentage": 50, "InstanceWarmup": 600}
    assert asg_refresh(server, *start_args(first, "j-busy", "r-first", slow)).returncode == 0
    server.advance(120)  # its wave has started the group's refresh

    second_try = asg_refresh(
        server, *start_args(second, "j-busy", "r-second"), "--wait", "--poll-seconds", "60"
    )

    assert second_try.returncode == 5, (second_try.stdout, second_try.stderr)  # the wave failed
    assert (
        asg_refresh(server, "wait", "r-first", "--poll-seconds", "120", "--timeout", "14400").returncode == 0
    )
    assert fleet.instance_images("j-busy") == [first, first]

