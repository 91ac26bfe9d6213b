"""What AWS authorizes for one API request: actions, resource ARNs and context keys.

Each request a principal makes to moto is turned into the authorization requests AWS would
evaluate: the action (``service:Action``), the resource ARN of the target, and the context keys
AWS supplies (the target's tags as ``aws:ResourceTag/<key>`` and the service's own
``<service>:ResourceTag/<key>``, transport and principal keys). Some actions are authorized on
more than one thing: StartInstanceRefresh with a desired launch template also checks that the
caller may launch from it (ec2:RunInstances, ec2:CreateTags where the template tags what it
launches, iam:PassRole where it names an instance profile), as Auto Scaling documents for
every request that sets a launch template.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

#: moto's service names that differ from IAM's service prefix.
_IAM_PREFIX = {"awslambda": "lambda", "stepfunctions": "states", "ssm": "ssm"}
#: Operations whose IAM action is named differently.
_IAM_ACTION = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeAsync"}
#: Actions that need no permission (AWS answers every authenticated caller).
UNAUTHORIZED_ACTIONS = {"sts:GetCallerIdentity"}


@dataclass(frozen=True)
class AuthRequest:
    action: str
    resource: str
    context: dict[str, str | list[str]] = field(default_factory=dict)
    #: The resource-based policy AWS evaluates with the identity's (queue, topic, key, function).
    resource_policy_arn: str | None = None
    #: AWS's error for a denial of this check, when it is not the service's AccessDenied.
    denial_code: str | None = None
    denial_message: str | None = None


class RequestView:
    """A request's parameters by their dotted path, for the query and the JSON protocols alike."""

    def __init__(self, response: Any) -> None:
        self.service = str(response.service_name)
        self.operation = str(response._get_action())
        self.path = unquote(str(getattr(response, "path", "") or ""))
        body = getattr(response, "body", None)
        params = getattr(response, "params", None)
        self._json: dict[str, Any] | None = None
        if isinstance(params, dict) and params:
            self._json = params  # moto parsed them with botocore's model
        elif isinstance(body, dict):
            self._json = body
        elif isinstance(body, str | bytes) and body[:1] in ("{", b"{"):
            try:
                parsed = json.loads(body)
                self._json = parsed if isinstance(parsed, dict) else None
            except ValueError:
                self._json = None
        self._query = {k: v[0] if isinstance(v, list) and v else v for k, v in response.querystring.items()}
        self.region = str(getattr(response, "region", "us-east-1"))
        self.account_id = str(getattr(response, "current_account", "123456789012"))

    @property
    def iam_action(self) -> str:
        prefix = _IAM_PREFIX.get(self.service, self.service)
        return f"{prefix}:{_IAM_ACTION.get((prefix, self.operation), self.operation)}"

    def get(self, dotted: str) -> Any:
        if self._json is not None:
            value: Any = self._json
            for part in dotted.split("."):
                if not isinstance(value, dict):
                    return None
                value = value.get(part)
            return value
        return self._query.get(dotted)

    def members(self, prefix: str) -> list[str]:
        """A list parameter (``Names.member.1``... in the query protocol, a JSON array otherwise)."""
        if self._json is not None:
            value = self.get(prefix)
            return [str(v) for v in value] if isinstance(value, list) else []
        pattern = re.compile(rf"^{re.escape(prefix)}\.(member\.)?\d+$")
        return [str(v) for k, v in sorted(self._query.items()) if pattern.match(k)]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        where = self.region if region else ""
        owner = self.account_id if account else ""
        return f"arn:aws:{service}:{where}:{owner}:{resource}"


def tag_context(service: str, tags: dict[str, str]) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {}
    for key, value in tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        context[f"{service}:ResourceTag/{key}"] = value
    return context
