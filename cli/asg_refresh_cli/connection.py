"""Where the CLI's AWS calls go: a profile and region (the standard credential chain), or the local
server's endpoint URL. The product's own gateway and clients are reused, pointed there."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from asg_refresh.dal.aws import AwsGateway
from asg_refresh.dal.clients import client, reset_clients
from asg_refresh.settings import Settings


class OpsError(Exception):
    """A clear, expected failure: printed without a traceback, exit code 1."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--endpoint-url",
        help="an AWS endpoint such as the local server, http://localhost:4566 (default: AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


@dataclass
class Connection:
    region: str | None
    endpoint_url: str | None

    def client(self, service: str) -> Any:
        return client(service, self.region)

    def gateway(self) -> AwsGateway:
        return AwsGateway(self.region)

    def settings(self) -> Settings:
        return Settings.from_env(os.environ)

    def find_state_machine(self, name: str, given: str | None = None) -> str:
        """``given``, or the deployed state machine whose name holds ``name``: its template name
        (``<stack>-rollout-waves``) or its logical id (CloudFormation's ``<stack>-<LogicalId>-<suffix>``)."""
        if given:
            return given
        machines = self.client("stepfunctions").list_state_machines()["stateMachines"]
        found = [m["stateMachineArn"] for m in machines if name in m["name"]]
        if len(found) != 1:
            raise OpsError(f"found {len(found)} state machines named *{name}*: pass its ARN")
        return str(found[0])

    def find_audit_table(self, given: str | None = None) -> str:
        if given or os.environ.get("AUDIT_TABLE"):
            return str(given or os.environ["AUDIT_TABLE"])
        names = self.client("dynamodb").list_tables()["TableNames"]
        found = [name for name in names if "AuditTable" in name]
        if len(found) != 1:
            raise OpsError(f"found {len(found)} tables named *AuditTable*: pass --audit-table")
        return str(found[0])


def connect(args: argparse.Namespace) -> Connection:
    """Point boto3 (and so the product's gateway) at what the options name."""
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    reset_clients()
    return Connection(region=region, endpoint_url=endpoint)
