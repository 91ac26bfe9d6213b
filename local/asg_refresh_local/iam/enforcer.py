"""IAM on every call, locally: the principal's policies evaluated before moto answers.

A request signed with a role's access key (a Lambda function's, a state machine's) is evaluated
against that role's identity policies and the target's resource policy; a denied request gets
the service's access-denied error, as from AWS. Requests signed with any other key (the tests'
own set-up, the operator CLI) are the account's administrator's and pass.

Deliveries between services (EventBridge to Lambda, SNS to Lambda, redrive to SQS...) are
checked with the service principal and the source ARN AWS presents (:meth:`Enforcer.delivery`).

Switch: ``ASG_REFRESH_IAM=off`` turns enforcement off (it is on wherever the engine is installed;
``ASG_REFRESH_IAM=required`` makes a missing engine an error, as the test suite does).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asg_refresh_local.iam.engine import ALLOWED, PolicyEngine, engine_missing_reason
from asg_refresh_local.iam.policies import PolicySet, Principal
from asg_refresh_local.iam.requests import UNAUTHORIZED_ACTIONS, AuthRequest

ENV_SWITCH = "ASG_REFRESH_IAM"
#: Where each test process appends the (principal, action, resource) it was allowed, for the
#: least-privilege report (scripts/iam_unused_grants.py).
ENV_USAGE_DIR = "ASG_REFRESH_IAM_USAGE_DIR"


class AccessDenied(Exception):
    """A request AWS would refuse: ``code`` and ``message`` as the service words them."""

    def __init__(self, code: str, message: str, request: AuthRequest, principal: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request = request
        self.principal = principal


@dataclass
class Decision:
    principal: str
    request: AuthRequest
    result: str


@dataclass
class Enforcer:
    engine: PolicyEngine = field(default_factory=PolicyEngine)
    policies: PolicySet | None = None
    decisions: list[Decision] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- switch ------------------------------------------------------------------------------------

    @staticmethod
    def mode() -> str:
        return os.environ.get(ENV_SWITCH, "on").strip().lower()

    def active(self) -> bool:
        if self.policies is None or self.mode() in {"off", "0", "false", "no"}:
            return False
        missing = engine_missing_reason()
        if missing and self.mode() == "required":
            raise RuntimeError(f"IAM enforcement is required ({ENV_SWITCH}=required) but {missing}")
        return missing is None

    @staticmethod
    def status() -> str:
        """One line for people: is IAM enforced here, and if not, why."""
        if Enforcer.mode() in {"off", "0", "false", "no"}:
            return f"IAM policies are NOT enforced ({ENV_SWITCH}=off)"
        missing = engine_missing_reason()
        if missing:
            return f"IAM policies are NOT enforced: {missing}"
        return "IAM policies are enforced (iam-simulate evaluates every call and delivery)"

    def use(self, policies: PolicySet | None) -> None:
        self.policies = policies
        self.decisions.clear()
        usage_dir = os.environ.get(ENV_USAGE_DIR)
        if usage_dir and policies is not None:
            grants = {p.role_logical_id: [doc for _, doc in p.policies] for p in policies.principals.values()}
            Path(usage_dir, f"grants-{os.getpid()}.json").write_text(json.dumps(grants))

    # -- principals --------------------------------------------------------------------------------

    def principal_for_key(self, access_key_id: str) -> Principal | None:
        if self.policies is None:
            return None
        return self.policies.principal_for_key(access_key_id)

    def principal(self, role_arn: str) -> Principal | None:
        return None if self.policies is None else self.policies.principals.get(role_arn)

    def rule_target_role(self, rule_arn: str, target_arn: str) -> str | None:
        """The role SAM gave an EventBridge rule's target (a state machine's, say)."""
        return None if self.policies is None else self.policies.rule_target_roles.get((rule_arn, target_arn))

    # -- evaluation --------------------------------------------------------------------------------

    def authorize(self, principal: Principal, requests: Iterable[AuthRequest], default_code: str) -> None:
        """Raise :class:`AccessDenied` for the first request the principal may not make."""
        for request in requests:
            if request.action in UNAUTHORIZED_ACTIONS:
                continue
            result = self._evaluate(principal.session_arn, principal.policies, request)
            self._record(principal.role_logical_id, request, result)
            if result != ALLOWED:
                raise AccessDenied(
                    request.denial_code or default_code,
                    request.denial_message or denial_message(principal.session_arn, request, result),
                    request,
                    principal.session_arn,
                )

    def permits(self, principal: Principal, request: AuthRequest) -> bool:
        """Whether the principal's policies allow ``request``, for what a service decides from the
        caller's permissions without refusing the call (a grant used this way is recorded; a
        refusal is not a denial of the call)."""
        result = self._evaluate(principal.session_arn, principal.policies, request)
        if result == ALLOWED:
            self._record(principal.role_logical_id, request, result)
        return result == ALLOWED

    def delivery(
        self, service_principal: str, action: str, resource: str, source_arn: str, *, account_id: str
    ) -> str | None:
        """A service's delivery to a resource: None if allowed, else why it is refused."""
        if not self.active():
            return None
        request = AuthRequest(
            action,
            resource,
            {"aws:SourceArn": source_arn, "aws:SourceAccount": account_id},
            resource_policy_arn=resource,
        )
        result = self._evaluate(service_principal, (), request)
        self._record(service_principal, request, result)
        if result == ALLOWED:
            return None
        return f"{service_principal} may not {action} on {resource} (from {source_arn}): {result}"

    def _evaluate(
        self, principal_arn: str, policies: Iterable[tuple[str, dict[str, Any]]], request: AuthRequest
    ) -> str:
        assert self.policies is not None
        account = self.policies.account_id
        simulation: dict[str, Any] = {
            "request": {
                "principal": principal_arn,
                "action": request.action,
                "resource": {"resource": request.resource, "accountId": account},
                "contextVariables": {
                    "aws:SecureTransport": "true",
                    "aws:PrincipalAccount": account,
                    "aws:ResourceAccount": account,
                    "aws:RequestedRegion": self.policies.region,
                    **({"aws:PrincipalArn": _role_arn(principal_arn)} if ":" in principal_arn else {}),
                    **request.context,
                },
            },
            "identityPolicies": [{"name": name, "policy": policy} for name, policy in policies],
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
        }
        if request.resource_policy_arn:
            policy = self.policies.resource_policies.get(request.resource_policy_arn)
            if policy is not None:
                simulation["resourcePolicy"] = policy
        return self.engine.evaluate(simulation)

    def _record(self, principal: str, request: AuthRequest, result: str) -> None:
        with self._lock:
            self.decisions.append(Decision(principal, request, result))
        usage_dir = os.environ.get(ENV_USAGE_DIR)
        if usage_dir and result == ALLOWED:
            path = Path(usage_dir) / f"usage-{os.getpid()}.jsonl"
            line = json.dumps(
                {"principal": principal, "action": request.action, "resource": request.resource}
            )
            with self._lock, path.open("a") as out:
                out.write(line + "\n")

    def denials(self) -> list[Decision]:
        return [d for d in self.decisions if d.result != ALLOWED]


def _role_arn(session_arn: str) -> str:
    """``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`` -> ``arn:aws:iam::ACCOUNT:role/NAME``."""
    if ":assumed-role/" not in session_arn:
        return session_arn
    account = session_arn.split(":")[4]
    name = session_arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    return f"arn:aws:iam::{account}:role/{name}"


def denial_message(principal: str, request: AuthRequest, result: str) -> str:
    reason = (
        "with an explicit deny in a policy"
        if result == "ExplicitlyDenied"
        else f"because no identity-based policy allows the {request.action} action"
    )
    return (
        f"User: {principal} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {reason}"
    )


#: The process-wide enforcer the moto patches consult.
ENFORCER = Enforcer()
