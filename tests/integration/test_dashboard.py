"""The HTML dashboard of `asg-refresh status --html`, opened in headless Chromium: what a person
sees on it (text, tables, decoded pictures, a full-page screenshot), not its pixels.

Run with `make browser` (CI installs Debian's chromium first); the page checker is
tools/browser-check/check.mjs.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asg_refresh.dal.clients import reset_clients
from asg_refresh_local.cli import main
from asg_refresh_local.emulation import emulation_for
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.samples import PROJECT_ROOT

pytestmark = pytest.mark.browser
CHECKER = PROJECT_ROOT / "tools" / "browser-check" / "check.mjs"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def run(*argv: str) -> int:
        code = main(list(argv))
        capsys.readouterr()
        return code

    yield run
    reset_clients()


def seen_in_chromium(page: Path, screenshot: Path) -> dict[str, Any]:
    answer = subprocess.run(
        ["node", str(CHECKER), str(page), str(screenshot)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(answer.stdout))


def test_the_dashboard_shows_the_image_the_groups_their_verdicts_and_times(
    app: LocalApp, fleet: Fleet, cli: Any, tmp_path: Path
) -> None:
    # Given one group refreshed successfully and one rolled back by a failed launch
    old, new = fleet.image("golden-1"), fleet.image("golden-2")
    fleet.group("web", old, size=2)
    fleet.group("api", old, size=2)
    emulation_for().faults.fail_launches("api", count=1)
    prefs = {"MinHealthyPercentage": 50, "InstanceWarmup": 30, "AutoRollback": True}
    answer = app.invoke(
        "StartRefreshFunction", {"image_id": new, "groups": ["web", "api"], "preferences": prefs}
    )
    for started in answer["data"]["refreshes"]:
        app.wait_for_execution(started["execution_arn"])

    # When the operator writes the page and a person opens it
    page = tmp_path / "status.html"
    assert cli("status", "web", "api", "--html", str(page)) == 1  # api rolled back: exit 1
    seen = seen_in_chromium(page, tmp_path / "status.png")

    # Then it says what happened, in words and tables, above a picture per group
    assert seen["title"] == "asg-refresh: web, api"
    assert seen["summary"] == f"2 group(s): 1 RollbackSuccessful, 1 Successful; image {new}"
    header, *rows = seen["tables"]["groups"]
    assert header == ["group", "status", "done", "image", "started", "ended", "verdict", "refresh"]
    by_group = {row[0]: row for row in rows}
    assert by_group["web"][1:4] == ["Successful", "100%", new]
    assert by_group["api"][1] == "RollbackSuccessful"
    assert all(re.fullmatch(ISO, row[4]) and re.fullmatch(ISO, row[5]) for row in rows)
    assert by_group["api"][6] != "-"  # the watcher's reason
    assert [h for h in seen["headings"] if h in ("web", "api")] == ["web", "api"]
    assert {image["alt"]: image["width"] > 0 for image in seen["images"]} == {
        "capacity of web": True,
        "capacity of api": True,
    }
    assert (tmp_path / "status.png").stat().st_size > 10_000
    assert seen["screenshot"]["height"] > 900  # the whole page, pictures included
