"""Every entry point handles every input: the real event shapes of ``events/``, mutated.

One deployment for the module; each case runs the handler in-process through the harness (the
function's environment, its role's credentials, IAM enforced), as a direct call (the ClientContext
marker) or as an asynchronous/Step Functions one (no marker). Generation is seeded, so a failure
names a case that can be replayed. Each case asserts:

* no unhandled exception: an asynchronous entry point (StartRefresh, AlarmRollback,
  ReconcileWatchers) never raises (nothing here is transient); a state machine task raises only
  the product's named errors, which its Catch handles;
* a structured error or a dead letter: a direct call gets an envelope; an asynchronous one that
  fails leaves exactly one dead letter with ``ErrorCode`` and ``ErrorMessage``;
* nothing started: no instance refresh, no execution, no launch template version, on any group,
  opted in or not (the only opted-in group has no image the events could name).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from asg_refresh import errors
from asg_refresh.invocation import DIRECT_CLIENT_CONTEXT
from asg_refresh_local.clock import CLOCK
from asg_refresh_local.emulation import emulation_for
from asg_refresh_local.fleet import Fleet
from asg_refresh_local.harness import LocalApp
from asg_refresh_local.harness.lambda_routing import REGISTRY, ClientContext
from asg_refresh_local.samples import PROJECT_ROOT, load_event

SEED = 20261123
CASES_PER_SAMPLE = 125
MINIMUM_CASES = 2000
#: Entry points invoked asynchronously (EventBridge, SNS, the schedule): refusals are dead-lettered.
ASYNC_ENTRY_POINTS = {"StartRefreshFunction", "AlarmRollbackFunction", "ReconcileWatchersFunction"}
#: The names a state machine task may fail with: the product's own errors.
NAMED_ERRORS = {
    cls.__name__
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.AsgRefreshError)
}
TENANT_NAMES = ["other-tenant-web", "web-blue", "*", "web-*", "%", "?", "arn:aws:autoscaling:*:*:*", "../.."]
HUGE_STRING = "x" * 300_000


def rollout_message() -> dict[str, Any]:
    return load_event("deploy_direct") | {"max_concurrency": 2}


def samples() -> list[tuple[str, str, Any]]:
    """(function, sample name, event): every real shape each handler receives."""
    deploy_event = load_event("deploy_event")
    rollout_event = deploy_event | {"detail-type": "ASG Rollout Requested", "detail": rollout_message()}
    plan = {
        "rollout_id": "manual-2026-11-23-1",
        "image_id": "ami-0abcdef1234567890",
        "message": rollout_message(),
        "waves": [{"index": 0, "name": "canary", "groups": ["web-blue"]}],
    }
    start_refresh = [
        "deploy_direct",
        "deploy_event",
        "deploy_sns",
        "imagebuilder_available",
        "imagebuilder_sns",
        "ssm_parameter_change",
        "malformed_deploy_direct",
        "malformed_eventbridge",
        "unknown_event",
    ]
    return [
        *[("StartRefreshFunction", name, load_event(name)) for name in start_refresh],
        ("AlarmRollbackFunction", "alarm_state_change", load_event("alarm_state_change")),
        ("ReconcileWatchersFunction", "reconcile_schedule", load_event("reconcile_schedule")),
        ("EvaluateGatesFunction", "evaluate_gates", load_event("evaluate_gates")),
        ("RequestApprovalFunction", "request_approval", load_event("request_approval")),
        ("PlanRolloutFunction", "rollout_event", {"event": rollout_event, "rollout_id": "exec-1"}),
        ("PlanRolloutFunction", "rollout_message", {"event": rollout_message(), "rollout_id": "exec-1"}),
        (
            "StartWaveGroupFunction",
            "wave_item",
            {"rollout_id": "manual-2026-11-23-1", "wave": 0, "index": 0, "group": "web-blue"}
            | {"message": rollout_message() | {"groups": ["web-blue"]}},
        ),
        (
            "CheckWaveFunction",
            "check_wave",
            {
                "plan": plan,
                "check": {"next_wave": 0, "verdicts": [], "status": "running"},
                "results": [{"group": "web-blue", "status": "failed", "code": "IMAGE_REJECTED"}],
            },
        ),
    ]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value, the root included; SNS messages (JSON in a string) too."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replacements(rng: random.Random) -> list[Any]:
    return [
        None,
        "",
        [],
        {},
        True,
        0,
        -1,
        2**63,
        -(10**30),
        10**300,
        1e308,
        0.5,
        "ami-0abcdef1234567890",
        "名前🚀\u202e\x00",
        HUGE_STRING if rng.random() < 0.05 else "y" * 5000,
        [None, {}, "x"],
        {"nested": {"deeper": [1, "2", None]}},
        rng.choice(TENANT_NAMES),
        [rng.choice(TENANT_NAMES)],
        "2026-13-45T99:99:99Z",
    ]


def mutate(event: Any, rng: random.Random) -> Any:
    """One to three structure-aware changes: a value replaced, a key removed or added, a list
    emptied or grown, the SNS message's JSON mutated inside its string."""
    mutated = copy.deepcopy(event)
    for _ in range(rng.randint(1, 3)):
        place = rng.choice(list(paths(mutated)))
        if not place:
            if rng.random() < 0.3:
                return rng.choice(replacements(rng))
            if isinstance(mutated, dict):
                key = rng.choice(["extra", "Records", "source", "detail-type", "*"])
                mutated[key] = rng.choice(replacements(rng))
            continue
        parent = mutated
        for step in place[:-1]:
            parent = parent[step]
        change_one(parent, place[-1], rng)
    return mutated


def change_one(parent: Any, key: Any, rng: random.Random) -> None:
    current, operation = parent[key], rng.random()
    if isinstance(current, str) and current.startswith("{") and operation < 0.5:
        try:
            parent[key] = json.dumps(mutate(json.loads(current), rng))
            return
        except ValueError:
            pass
    if operation < 0.6:
        parent[key] = rng.choice(replacements(rng))
    elif operation < 0.75 and isinstance(parent, dict):
        del parent[key]
    elif operation < 0.85 and isinstance(parent, dict):
        parent[f"{key}-extra" if rng.random() < 0.5 else "unexpected"] = rng.choice(replacements(rng))
    elif isinstance(current, list):
        parent[key] = current * rng.randint(0, 200)
    else:
        parent[key] = [current]


def sns_shapes() -> list[Any]:
    """The SNS deliveries that crashed StartRefresh: ``Sns`` null, a list, a string or missing,
    a second record that is not an object, no records at all."""
    sns = load_event("deploy_sns")
    record = sns["Records"][0]
    shapes: list[Any] = [None, [], "deploy", 7, {}, {"Records": None}, {"Records": []}]
    for value in (None, [], "text", 3, {}):
        shapes.append({"Records": [record | {"Sns": value}]})
    shapes.append({"Records": [{k: v for k, v in record.items() if k != "Sns"}]})
    for second in (None, "text", 3, [], [record]):
        shapes.append({"Records": [record, second]})
    shapes.append({"Records": [record | {"Sns": record["Sns"] | {"MessageId": ["a", "b"]}}]})
    shapes.append({"source": None, "detail-type": None})
    shapes.append({"detail-type": "ASG Refresh Requested", "detail": load_event("deploy_direct")})
    return shapes


@dataclass
class Case:
    function: str
    name: str
    event: Any
    direct: bool


def cases() -> list[Case]:
    rng = random.Random(SEED)
    generated = []
    for function, name, event in samples():
        for number in range(CASES_PER_SAMPLE):
            generated.append(Case(function, f"{name}#{number}", mutate(event, rng), rng.random() < 0.4))
    for number, shape in enumerate(sns_shapes()):
        for direct in (True, False):
            generated.append(Case("StartRefreshFunction", f"sns-shape#{number}", shape, direct))
    for function in sorted({function for function, _, _ in samples()}):
        for shape in (None, [], "text", 0, {}, {"source": HUGE_STRING}, {"image_id": HUGE_STRING * 3}):
            generated.append(Case(function, f"bare#{str(shape)[:20]}", shape, False))
    return generated


@dataclass
class World:
    """What the fuzzing must leave untouched, read straight from the emulation and moto."""

    app: LocalApp
    groups: list[str]
    count: Callable[[], tuple[int, int, int]]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    CLOCK.reset()
    with LocalApp(PROJECT_ROOT / "template.yaml") as app:
        fleet = Fleet(app.client)
        image = fleet.image("current")
        # The events' own group, and another tenant's, exist but are not opted in; the only
        # opted-in group runs an image no event names.
        fleet.group("web-blue", image, size=1, opted_in=False, alarms=["web-blue-5xx"])
        fleet.group("other-tenant-web", image, size=1, opted_in=False)
        fleet.group("opted-in", image, size=1)
        fleet.alarm("web-blue-5xx", "ALARM")
        groups = ["web-blue", "other-tenant-web", "opted-in"]
        from moto.ec2.models import ec2_backends
        from moto.stepfunctions.models import stepfunctions_backends

        ec2 = ec2_backends[app.account_id][app.region]
        sfn = stepfunctions_backends[app.account_id][app.region]

        def count() -> tuple[int, int, int]:
            refreshes = len(emulation_for(app.account_id, app.region).all_refreshes())
            executions = sum(len(machine.executions) for machine in sfn.state_machines)
            versions = sum(len(template.versions) for template in ec2.launch_templates.values())
            return refreshes, executions, versions

        yield World(app, groups, count)


def dead_letter_queue(app: LocalApp) -> Any:
    from moto.sqs.models import sqs_backends

    queue_name = app.physical_id("DeadLetterQueue").rsplit("/", 1)[-1]
    return sqs_backends[app.account_id][app.region].queues[queue_name]


def clear_dead_letters(app: LocalApp) -> None:
    # Emptied before each case: moto's queue walks every message on each send.
    dead_letter_queue(app)._messages.clear()


def dead_letter_count(app: LocalApp) -> int:
    return len(dead_letter_queue(app)._messages)


def last_dead_letter(app: LocalApp) -> Any:
    return dead_letter_queue(app)._messages[-1]


def run_case(world: World, case: Case) -> None:
    app = world.app
    spec = app.functions[case.function]
    clear_dead_letters(app)
    before = world.count()
    caller = ClientContext(copy.deepcopy(DIRECT_CLIENT_CONTEXT)) if case.direct else None
    payload, errored, _logs = REGISTRY.run(spec, case.event, caller)
    answer = json.loads(payload)
    where = f"{case.function} {case.name} ({'direct' if case.direct else 'async'})"
    if case.direct:
        assert not errored, f"{where} raised: {answer}"
        answers = answer.get("results", [answer]) if isinstance(answer, dict) else [answer]
        for one in answers:
            if isinstance(one, dict) and one.get("success") is False:
                assert one["error"]["code"], where
                assert one["error"]["message"], where
    elif case.function in ASYNC_ENTRY_POINTS:
        assert not errored, f"{where} raised: {answer}"
        assert isinstance(answer, dict), where
        failed = answer.get("success") is False or any(
            not r.get("success") for r in answer.get("results", [])
        )
        added = dead_letter_count(app)
        expected = len([r for r in answer.get("results", [answer]) if not r.get("success")]) if failed else 0
        assert added == expected, f"{where}: {added} dead letters for {answer}"
        if added:
            attributes = last_dead_letter(app).message_attributes
            assert attributes["ErrorCode"]["StringValue"], where
            assert attributes["ErrorMessage"]["StringValue"], where
    elif errored:
        assert answer["errorType"] in NAMED_ERRORS, f"{where} raised {answer['errorType']}: {answer}"
    assert world.count() == before, f"{where} started something: {before} -> {world.count()}"


def test_every_handler_survives_mutated_events(world: World) -> None:
    all_cases = cases()
    for case in all_cases:
        run_case(world, case)
    assert len(all_cases) >= MINIMUM_CASES
    assert {case.function for case in all_cases} == {
        "StartRefreshFunction",
        "AlarmRollbackFunction",
        "EvaluateGatesFunction",
        "RequestApprovalFunction",
        "ReconcileWatchersFunction",
        "PlanRolloutFunction",
        "StartWaveGroupFunction",
        "CheckWaveFunction",
    }
    # Nothing that is not opted in was touched, and the opted-in group was left alone too.
    for group in world.groups:
        assert (
            world.app.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=group)[
                "InstanceRefreshes"
            ]
            == []
        )
