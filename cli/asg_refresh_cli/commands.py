"""The operator commands, registered on the ``asg-refresh`` parser by :func:`register`."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from asg_refresh import timeutil
from asg_refresh.dal.audit import AuditStore
from asg_refresh.errors import AsgRefreshError
from asg_refresh.logic.approvals import decide_approval, find_approval
from asg_refresh.logic.groups import ACTIVE_REFRESH_STATUSES
from asg_refresh.logic.plan import dry_run, plan_deployment
from asg_refresh.logic.triggers import request_from_message
from asg_refresh.models.rollout import RolloutMessage
from asg_refresh_cli import charts, dashboard, output, waiter
from asg_refresh_cli.connection import Connection, OpsError, add_connection_options, connect
from asg_refresh_cli.reads import (
    ROLLOUT_STATE_MACHINE,
    audit_store,
    group_status,
    held_for_window,
    rollout_items,
    rollout_state,
    shown_time,
    watch_note,
)


# --- The deploy message from options ---------------------------------------------------------
def _add_message_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--message", help="a deploy or rollout message as a JSON file ('-' for stdin)")
    parser.add_argument("--image-id", help="the AMI to roll out (ami-...)")
    parser.add_argument(
        "--image-parameter", help="an SSM parameter holding the AMI id (under AllowedImageParameterPrefix)"
    )
    parser.add_argument("--groups", nargs="+", metavar="GROUP", help="Auto Scaling groups, by name")
    parser.add_argument("--tags", nargs="+", metavar="KEY=VALUE", help="a tag selector")
    parser.add_argument("--preferences", help="Preferences JSON, PascalCase as in the API")
    parser.add_argument(
        "--supersede",
        choices=["queue", "replace", "reject"],
        help="for a group already refreshing towards another image: wait for it, cancel it, or refuse "
        "(in a rollout the default is reject: the group fails its wave)",
    )


def _message(args: argparse.Namespace) -> RolloutMessage:
    given: dict[str, Any] = {}
    if args.message:
        text = sys.stdin.read() if args.message == "-" else Path(args.message).read_text()
        given = _json(text, "the message" if args.message == "-" else args.message)
    extra = {
        "image_id": args.image_id,
        "image_parameter": args.image_parameter,
        "groups": args.groups,
        "tags": dict(pair.split("=", 1) for pair in args.tags) if args.tags else None,
        "preferences": _json(args.preferences, "--preferences") if args.preferences else None,
        "supersede": getattr(args, "supersede", None),
        "max_concurrency": getattr(args, "max_concurrency", None),
        "rollback_previous_waves": True if getattr(args, "rollback_previous_waves", False) else None,
    }
    return RolloutMessage.model_validate(given | {k: v for k, v in extra.items() if v is not None})


AUDIT_TABLE_HELP = "the audit table (default: the one table named *AuditTable*)"


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        at = f"line {error.lineno}, column {error.colno}"
        raise OpsError(f"{where}: not JSON: {error.msg} ({at})") from error


# --- plan --------------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace, conn: Connection) -> int:
    message = _message(args)
    if args.waves:
        message = RolloutMessage.model_validate(
            message.model_dump(exclude_none=True) | {"waves": _json(args.waves, "--waves")}
        )
    if message.waves or args.waves_too:
        plan = dry_run(message, conn.gateway(), conn.settings())
    else:
        plan = plan_deployment(
            request_from_message(message, "plan", "deploy"), conn.gateway(), conn.settings()
        )
    planned = [charts.series_from_plan(group) for group in plan.groups]
    if args.chart_dir:
        _write_pngs(Path(args.chart_dir), planned)
    if args.html:
        charts.write_html(planned, Path(args.html))
    if args.json:
        output.emit_json(plan.model_dump(mode="json"))
    else:
        output.plan_tables(plan)
    return 0


# --- start -------------------------------------------------------------------------------------
def cmd_start(args: argparse.Namespace, conn: Connection) -> int:
    message = _message(args)
    if args.waves:
        message = RolloutMessage.model_validate(
            message.model_dump(exclude_none=True) | {"waves": _json(args.waves, "--waves")}
        )
    _refuse_what_plan_refuses(message, conn)
    arn = conn.find_state_machine(ROLLOUT_STATE_MACHINE, args.state_machine_arn)
    name = args.name or message.deployment_id or f"rollout-{uuid.uuid4().hex[:12]}"
    started = conn.client("stepfunctions").start_execution(
        stateMachineArn=arn, name=name, input=message.model_dump_json(exclude_none=True)
    )
    answer = {
        "rollout_id": name,
        "execution_arn": started["executionArn"],
        "started_at": str(started["startDate"]),
    }
    if not args.wait:
        output.emit(args, answer, f"rollout {name} started: {started['executionArn']}")
        return 0
    if not args.json:
        print(f"rollout {name} started: {started['executionArn']}", flush=True)
    return _wait_and_report(args, conn, name)


#: Skips that are no reason to refuse a rollout: the group needs nothing, or is busy (it is
#: skipped, as StartRefresh would skip it). Every other skip (an unknown group, one not opted in,
#: a launch template not opted in or shared) would be refused when its wave starts.
PASSABLE_SKIPS = frozenset({"ALREADY_UP_TO_DATE", "REFRESH_IN_PROGRESS"})


def _refuse_what_plan_refuses(message: RolloutMessage, conn: Connection) -> None:
    """Before anything starts: the dry run's refusals (a missing or foreign image raises its own
    code from the plan), so a typo fails the command instead of a wave minutes later."""
    plan = dry_run(message, conn.gateway(), conn.settings())
    refused = [skip for skip in plan.skipped if skip.code not in PASSABLE_SKIPS]
    if refused:
        details = "; ".join(f"{skip.group}: {skip.code} ({skip.reason})" for skip in refused)
        raise OpsError(f"nothing started, {len(refused)} group(s) refused: {details}")
    if not plan.groups and not plan.skipped:
        raise OpsError("nothing started: NO_TARGET_GROUPS (no group matches the message)")


# --- wait --------------------------------------------------------------------------------------
def cmd_wait(args: argparse.Namespace, conn: Connection) -> int:
    return _wait_and_report(args, conn, args.target)


def _wait_and_report(args: argparse.Namespace, conn: Connection, target: str) -> int:
    """Block until ``target`` ends; the exit code says how (waiter.WaitOutcome)."""
    result = waiter.wait_for(
        conn,
        target,
        timeout=args.timeout,
        poll_seconds=args.poll_seconds,
        state_machine_arn=args.state_machine_arn,
        audit_table=args.audit_table,
        on_progress=None if args.json else lambda line: print(line, flush=True),
    )
    answer = {
        "target": result.target,
        "kind": result.kind,
        "outcome": result.outcome.name.lower(),
        "exit_code": result.exit_code,
        "reason": result.reason,
        "groups": result.groups,
    }
    output.emit(args, answer, waiter.describe(result))
    return result.exit_code


# --- status ------------------------------------------------------------------------------------
def _groups_of(args: argparse.Namespace, conn: Connection) -> list[str]:
    groups = list(args.groups or [])
    if args.rollout:
        groups += [item["group"] for item in rollout_items(conn, args.rollout, args.audit_table)]
    return list(dict.fromkeys(groups))


def cmd_status(args: argparse.Namespace, conn: Connection) -> int:
    if not args.groups and not args.rollout:
        raise OpsError("name groups (GROUP ...) or a rollout (--rollout ID)")

    store = audit_store(conn, args.audit_table)  # once, not at every poll

    def poll() -> output.StatusSnapshot:
        rollout = rollout_state(conn, args.rollout, args.state_machine_arn) if args.rollout else None
        rows = [group_status(conn, g) for g in _groups_of(args, conn)]
        for row in rows:
            row["waiting_for"] = watch_note(store, row)
        return output.StatusSnapshot(rollout=rollout, rows=rows)

    # The pictures' time axis is the refreshes' clock: virtual when this command moves it.
    advanced = [0.0]

    def advance() -> None:
        if args.advance_clock:
            _advance(conn, args.advance_clock)
            advanced[0] += args.advance_clock

    samples = (
        output.Samples(lambda: advanced[0], "virtual, the local server's clock")
        if args.advance_clock
        else output.Samples()
    )
    snapshot = poll()
    samples.add(snapshot.rows)
    if args.watch:
        snapshot = output.watch(
            poll,
            advance,
            samples,
            quiet=args.json,
            max_polls=args.max_polls,
            interval=args.interval,
        )
    if args.chart_dir or args.html:
        recorded = {
            row["group"]: (store.refresh(row["refresh_id"]) if store and row["refresh_id"] else None) or {}
            for row in snapshot.rows
        }
        series = samples.series(_gate_verdicts(recorded))
        if args.chart_dir:
            _write_pngs(Path(args.chart_dir), series)
        if args.html:
            dashboard.write(_dashboard(recorded, snapshot, args), series, Path(args.html))
    if args.json:
        output.emit_json({"rollout": snapshot.rollout, "groups": snapshot.rows})
    else:
        output.status_table(snapshot)
    reason = _ended_badly(snapshot)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    return 0


def _ended_badly(snapshot: output.StatusSnapshot) -> str | None:
    """One line on what ended other than successfully (a failed, stopped or rolled back rollout, or
    a refresh that ended Cancelled, Failed or rolled back); None when nothing did."""
    bad = [
        f"{row['group']} {row['status']}" + (f" ({row['status_reason']})" if row.get("status_reason") else "")
        for row in snapshot.rows
        if row["status"] not in ("Successful", None, *ACTIVE_REFRESH_STATUSES) and not held_for_window(row)
    ]
    rollout = snapshot.rollout
    if rollout is not None and rollout["status"] not in ("RUNNING", "SUCCEEDED"):
        failed = [g for verdict in rollout["verdicts"] for g in verdict.get("failed", [])]
        detail = f": failed {', '.join(failed)}" if failed else ""
        return f"rollout {rollout['rollout']} {rollout['status']}{detail}" + (
            f"; {'; '.join(bad)}" if bad else ""
        )
    return "; ".join(bad) or None


def _dashboard(
    recorded: dict[str, dict[str, Any]], snapshot: output.StatusSnapshot, args: argparse.Namespace
) -> dashboard.Dashboard:
    """The page's summary: each group's refresh as AWS and (``recorded``) the audit table know it."""
    lines = []
    for row in snapshot.rows:
        item = recorded.get(row["group"], {})
        outcome = item.get("outcome") or {}
        failed = outcome.get("failed_gate") or {}
        verdict = (
            row.get("waiting_for") or failed.get("summary") or outcome.get("reason") or outcome.get("status")
        )
        lines.append(
            dashboard.GroupLine(
                group=row["group"],
                status=row["status"],
                percentage_complete=row["percentage_complete"] or 0,
                refresh_id=row["refresh_id"],
                image_id=item.get("image_id"),
                started=row.get("started"),
                ended=row.get("ended"),
                verdict=verdict,
            )
        )
    title = (
        f"asg-refresh rollout {args.rollout}" if args.rollout else "asg-refresh: " + ", ".join(args.groups)
    )
    return dashboard.Dashboard(
        title=title,
        generated_at=timeutil.iso_seconds(timeutil.wall_now()),
        rollout=snapshot.rollout,
        groups=lines,
    )


def _gate_verdicts(recorded: dict[str, dict[str, Any]]) -> dict[str, str]:
    """What each group's watcher concluded (from its audit record), to mark on the picture; a
    group without one (no audit table, no outcome yet) goes without."""
    verdicts = {}
    for group, item in recorded.items():
        outcome = item.get("outcome")
        if outcome:
            failed = outcome.get("failed_gate")
            verdicts[group] = f"gate failed: {failed['gate']}" if failed else "gates passed"
    return verdicts


def _advance(conn: Connection, seconds: float) -> None:
    """Move the local server's virtual clock (stepped mode); never against AWS."""
    if not conn.endpoint_url:
        raise OpsError("--advance-clock needs the local server (--endpoint-url)")
    waiter.advance_clock(conn, seconds)


# --- cancel / rollback -------------------------------------------------------------------------
def cmd_stop(args: argparse.Namespace, conn: Connection) -> int:
    autoscaling = conn.client("autoscaling")
    answers = []
    if args.rollout:
        arn = conn.find_state_machine(ROLLOUT_STATE_MACHINE, args.state_machine_arn).replace(
            ":stateMachine:", ":execution:"
        )
        conn.client("stepfunctions").stop_execution(
            executionArn=f"{arn}:{args.rollout}", error="RolloutStopped", cause=f"asg-refresh {args.command}"
        )
        answers.append({"rollout": args.rollout, "action": "stopped"})
    for group in args.groups:
        try:
            if args.command == "cancel":
                refresh_id = autoscaling.cancel_instance_refresh(AutoScalingGroupName=group)[
                    "InstanceRefreshId"
                ]
            else:
                refresh_id = autoscaling.rollback_instance_refresh(AutoScalingGroupName=group)[
                    "InstanceRefreshId"
                ]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ActiveInstanceRefreshNotFound":
                raise OpsError(f"{group}: no active instance refresh to {args.command}") from error
            if code == "IrreversibleInstanceRefresh":
                raise OpsError(f"{group}: this refresh cannot be rolled back; use cancel") from error
            raise
        answers.append({"group": group, "refresh_id": refresh_id, "action": args.command})
    text = "\n".join(f"{a.get('group', a.get('rollout'))}: {a['action']}" for a in answers)
    output.emit(args, {"results": answers}, text)
    return 0


# --- history -----------------------------------------------------------------------------------
def cmd_history(args: argparse.Namespace, conn: Connection) -> int:
    if args.group:
        refreshes = conn.client("autoscaling").describe_instance_refreshes(AutoScalingGroupName=args.group)
        rows: list[dict[str, Any]] = [
            {
                "refresh_id": r["InstanceRefreshId"],
                "status": r["Status"],
                "started": shown_time(r.get("StartTime")),
                "ended": shown_time(r.get("EndTime")),
                "reason": r.get("StatusReason"),
            }
            for r in refreshes["InstanceRefreshes"][: args.limit]
        ]
    else:
        store = AuditStore(conn.gateway(), conn.find_audit_table(args.audit_table))
        rows = [
            {
                "deployment_id": d["deployment_id"],
                "created_at": shown_time(d.get("created_at")),
                "image_id": d.get("image_id"),
                "groups": list(d.get("groups", [])),
                "skipped": len(d.get("skipped", [])),
                "queued": len(d.get("queued", [])),
            }
            for d in store.recent_deployments(args.limit)
        ]
    if args.json:
        output.emit_json({"history": rows})
    elif not rows:
        print(f"no {'refreshes of ' + args.group if args.group else 'deployments'} on record")
    else:
        table = [row | {"groups": ", ".join(row["groups"])} if "groups" in row else row for row in rows]
        output.rows_table("history", table)
    return 0


# --- approve / reject --------------------------------------------------------------------------
def cmd_decide(args: argparse.Namespace, conn: Connection) -> int:
    """Decide a pending approval as the caller STS names (logic/approvals.py has the rules)."""
    if not args.refresh_id and not args.approval_id:
        raise OpsError("give a refresh id or --approval-id")
    gateway = conn.gateway()
    store = AuditStore(gateway, conn.find_audit_table(args.audit_table))
    if args.refresh_id and not args.approval_id and store.refresh(args.refresh_id) is None:
        raise OpsError(f"unknown refresh {args.refresh_id}: the audit table records no refresh of that id")
    pending = find_approval(store, args.approval_id, args.refresh_id)
    caller = gateway.caller_arn()
    decided = decide_approval(
        store,
        gateway,
        approval=pending,
        caller_arn=caller,
        approve=args.command == "approve",
        comment=args.comment,
        display_name=args.by,
        now=timeutil.now(),
    )
    text = (
        f"{decided.status} checkpoint {decided.checkpoint}% of {decided.group} "
        f"(refresh {decided.refresh_id}, approval {decided.approval_id}) as {caller}"
    )
    output.emit(args, decided.model_dump(mode="json"), text)
    return 0


# --- pictures and registration -----------------------------------------------------------------
def _write_pngs(folder: Path, series: list[charts.CapacitySeries]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for one in series:
        charts.write_png(one, folder / f"{one.group}.png")


def _run(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(handler(args, connect(args)))
        except ERRORS as error:  # every expected failure: one line on stderr, exit 1
            print(f"error: {one_line(error)}", file=sys.stderr)
        return 1

    return run


ERRORS = (OpsError, AsgRefreshError, ValidationError, ClientError, BotoCoreError, OSError, ValueError)


def one_line(error: Exception) -> str:
    """An error as an operator reads it: what failed and where (the file, the field, the AWS
    call), on one line; never a stack trace or a dump of the input."""
    if isinstance(error, AsgRefreshError):
        return f"{error.message} ({error.code})"
    if isinstance(error, ValidationError):
        fields = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'message'}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
        return f"the message is not valid: {fields}"
    if isinstance(error, ClientError):
        body = error.response.get("Error", {})
        return f"{error.operation_name}: {body.get('Code', 'error')}: {body.get('Message', '')}".rstrip(": ")
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return " ".join(str(error).split())


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=6 * 3600.0,
        help="give up after this many seconds (exit 6); virtual seconds against the local server",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=30.0,
        help="seconds between polls (the local server's clock is advanced by as much instead)",
    )


def _register_wait(command: Any) -> None:
    wait = command(
        "wait",
        "block until a rollout, a deployment or a group's refresh ends; exit 0 successful, "
        "3 rolled back, 4 cancelled, 5 failed, 6 timed out",
        cmd_wait,
    )
    wait.add_argument(
        "target", metavar="TARGET", help="a rollout id, a deployment id or an Auto Scaling group"
    )
    wait.add_argument("--state-machine-arn", help="the RolloutWaves state machine (default: found by name)")
    wait.add_argument("--audit-table", help="the audit table (default: found by name)")
    _add_wait_options(wait)


def register(commands: Any) -> None:
    """Add the operator commands to the ``asg-refresh`` subparsers."""

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
        add_connection_options(parser)
        parser.set_defaults(func=_run(handler))
        return parser

    # In the order `asg-refresh --help` lists them.
    _register_plan(command)
    _register_start(command)
    _register_wait(command)
    _register_status(command)
    _register_stop(command)
    _register_history(command)
    _register_decide(command)


def _add_picture_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chart-dir", help="write one capacity PNG per group here")
    parser.add_argument("--html", help="write one HTML page with every group's picture")


def _register_plan(command: Any) -> None:
    plan = command("plan", "what a deploy would do (changes nothing)", cmd_plan)
    _add_message_options(plan)
    plan.add_argument("--waves", help="waves JSON: also plan the rollout's waves")
    plan.add_argument("--max-concurrency", type=int, help="groups refreshed at once in a wave")
    plan.add_argument(
        "--waves-too",
        action="store_true",
        help="cut the fleet into the default waves (canary tag, then the rest)",
    )
    _add_picture_options(plan)


def _register_start(command: Any) -> None:
    start = command("start", "start a fleet rollout in waves", cmd_start)
    _add_message_options(start)
    start.add_argument(
        "--waves", help='waves JSON, e.g. [{"name":"canary","groups":["a"]},{"name":"rest","percent":100}]'
    )
    start.add_argument("--max-concurrency", type=int, help="groups refreshed at once in a wave")
    start.add_argument(
        "--rollback-previous-waves",
        action="store_true",
        help="if a wave fails, refresh the groups of earlier waves back onto the image they ran",
    )
    start.add_argument("--name", help="the rollout id (execution name)")
    start.add_argument("--state-machine-arn", help="the RolloutWaves state machine (default: found by name)")
    start.add_argument(
        "--wait", action="store_true", help="block until the rollout ends; the exit code says how (see wait)"
    )
    start.add_argument("--audit-table", help="the audit table (default: found by name)")
    _add_wait_options(start)


def _register_status(command: Any) -> None:
    status = command("status", "refresh status of groups or of a rollout", cmd_status)
    status.add_argument("groups", nargs="*", metavar="GROUP", help="Auto Scaling groups, by name")
    status.add_argument("--rollout", help="a rollout id: its groups, from the audit table")
    status.add_argument("--audit-table", help=AUDIT_TABLE_HELP)
    status.add_argument("--state-machine-arn", help="the RolloutWaves state machine (default: found by name)")
    status.add_argument(
        "--watch", action="store_true", help="poll with progress bars until every refresh ends"
    )
    status.add_argument("--interval", type=float, default=5.0, help="wall seconds between polls")
    status.add_argument(
        "--max-polls", type=int, default=10_000, help="with --watch: stop after this many polls"
    )
    status.add_argument(
        "--advance-clock", type=float, metavar="SECONDS", help="local server: advance virtual time each poll"
    )
    _add_picture_options(status)


def _register_stop(command: Any) -> None:
    for name, text in (("cancel", "cancel the active refresh"), ("rollback", "roll back the active refresh")):
        stop = command(name, f"{text} of groups (and stop a rollout)", cmd_stop)
        stop.add_argument("groups", nargs="*", metavar="GROUP", help="Auto Scaling groups, by name")
        stop.add_argument("--rollout", help="also stop this rollout's waves execution")
        stop.add_argument(
            "--state-machine-arn", help="the RolloutWaves state machine (default: found by name)"
        )


def _register_history(command: Any) -> None:
    history = command("history", "recent deployments (audit table) or a group's refreshes", cmd_history)
    history.add_argument("--group", help="one group's instance refreshes, as AWS keeps them")
    history.add_argument("--limit", type=int, default=20, help="at most this many rows, newest first")
    history.add_argument("--audit-table", help=AUDIT_TABLE_HELP)


def _register_decide(command: Any) -> None:
    for name, text in (
        ("approve", "let a refresh waiting at a gate go on"),
        ("reject", "stop a waiting refresh"),
    ):
        decide = command(name, text, cmd_decide)
        decide.add_argument("refresh_id", nargs="?", help="the refresh whose pending approval to decide")
        decide.add_argument("--approval-id", help="the approval id of the notification")
        decide.add_argument("--audit-table", help=AUDIT_TABLE_HELP)
        decide.add_argument(
            "--by",
            help="a display name shown beside your identity; who decided is always the caller's ARN "
            "(STS GetCallerIdentity)",
        )
        decide.add_argument("--comment", default="", help="why: kept with the decision and in the outcome")
