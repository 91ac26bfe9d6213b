"""Least privilege, measured: the granted (action, resource) pairs that no test exercised.

``make iam-report`` runs the default test tier with ``ASG_REFRESH_IAM_USAGE_DIR`` set: every
allowed request is appended there as (role, action, resource), and every deployment writes the
roles' resolved policies. This script matches them: for each role, each Allow statement's action
and resource pattern that no allowed request matched is listed. Each one is either removed from
template.yaml or explained in the README's security section (``EXPLAINED`` below names those).

    python scripts/iam_unused_grants.py .iam-usage [--strict]

With --strict, an unused grant that is not explained fails (exit 1).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import cache
from pathlib import Path

#: (role, action pattern) pairs the README explains: granted, but no local test can exercise them.
EXPLAINED = {
    ("*", "logs:*"): "log delivery and Lambda's own log writing: CloudWatch Logs is not called by the code",
    ("*", "xray:*"): "X-Ray active tracing (Tracing: Active): Lambda sends the segments, not the code",
    ("*", "ec2:RunInstances"): "checked by Auto Scaling per resource the template launches",
    ("*", "ec2:CreateTags"): "checked only where a launch template tags what it launches",
    ("*", "iam:PassRole"): "checked only where a launch template names an instance profile",
    ("*", "sqs:SendMessage*"): "SAM's SQSSendMessagePolicy template (SendMessage and SendMessageBatch)",
    ("*", "sqs:SendMessage"): "the function's own dead-letter queue, used only when Lambda's retries run out",
    ("*", "dynamodb:*"): "SAM's DynamoDB policy templates grant the whole CRUD set",
    (
        "CheckWaveFunctionRole",
        "cloudwatch:DescribeAlarms",
    ): "the gate between waves reads alarms only when a rollout names some",
    (
        "PlanRolloutFunctionRole",
        "ssm:GetParameter",
    ): "a rollout may name its image by parameter (image_parameter)",
    (
        "StartWaveGroupFunctionRole",
        "ssm:GetParameter",
    ): "a rollout may name its image by parameter (image_parameter)",
    (
        "StartWaveGroupFunctionRole",
        "ec2:DeleteLaunchTemplateVersions",
    ): "only when a wave's refresh fails to start after its version was made",
    (
        "RolloutWavesStateMachineRole",
        "states:*",
    ): "distributed Map children: moto starts them without API calls",
}
#: Ids that differ from one deployment to the next (moto's key ids are random).
_VOLATILE = [(re.compile(r":key/[0-9a-f-]{36}"), ":key/*")]


def _stable(arn: str) -> str:
    for pattern, replacement in _VOLATILE:
        arn = pattern.sub(replacement, arn)
    return arn


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(
        "^" + ".*".join(re.escape(part).replace(r"\?", ".") for part in glob.split("*")) + "$", re.I
    )


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _explained(role: str, action: str) -> str | None:
    for (who, what), why in EXPLAINED.items():
        if _pattern(who).match(role) and _pattern(what).match(action):
            return why
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("usage_dir", type=Path)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()

    grants: dict[str, list[dict[str, object]]] = {}
    for path in sorted(args.usage_dir.glob("grants-*.json")):
        for role, documents in json.loads(path.read_text()).items():
            grants.setdefault(role, documents)
    used: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(args.usage_dir.glob("usage-*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            used.setdefault(record["principal"], set()).add((record["action"], _stable(record["resource"])))
    if not grants:
        print(f"no grants recorded in {args.usage_dir}: run `make iam-report`")
        return 1

    unexplained = 0
    print(f"{'role':42} {'action':38} resource (never exercised)")
    for role in sorted(grants):
        for document in grants[role]:
            for statement in document.get("Statement", []):  # type: ignore[union-attr]
                if statement.get("Effect") != "Allow":
                    continue
                for action in _as_list(statement.get("Action")):
                    for resource in map(_stable, _as_list(statement.get("Resource", "*"))):
                        hit = any(
                            _pattern(action).match(a) and _pattern(resource).match(r)
                            for a, r in used.get(role, set())
                        )
                        if hit:
                            continue
                        why = _explained(role, action)
                        unexplained += why is None
                        note = f"  -- {why}" if why else "  -- UNEXPLAINED"
                        print(f"{role:42} {action:38} {resource}{note}")
    uses = sum(len(u) for u in used.values())
    print(f"\n{unexplained} unexplained unused grant(s); {uses} distinct uses recorded")
    return 1 if args.strict and unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
