"""Where IAM enforcement meets moto: every request's ``call_action``, and Step Functions' clients.

* ``BaseResponse.call_action`` (every service, in-process and in server mode): a request signed
  with a role's key is authorized first; a denial is serialized by moto as the service's error.
* ``boto_client_for`` (moto's Step Functions interpreter, imported by name into each task
  module): task clients sign with the execution role's key instead of moto's fixed ``ak``, so
  the state machine's role is the principal of its tasks, as on AWS.
"""

from __future__ import annotations

import re
import sys
import threading
import warnings
from typing import Any

from asg_refresh_local.iam.enforcer import ENFORCER, AccessDenied
from asg_refresh_local.iam.policies import Principal, access_key_for
from asg_refresh_local.iam.requests import RequestView
from asg_refresh_local.iam.resources import requests_for
from asg_refresh_local.moto_patches import patch_object

_ACCESS_KEY = re.compile(r"Credential=([A-Z0-9]{16,128})/")
#: The error each service returns when IAM denies a request.
DENIAL_CODES = {
    "autoscaling": "AccessDenied",
    "ec2": "UnauthorizedOperation",
    "sns": "AuthorizationError",
    "sqs": "AccessDenied",
    "cloudwatch": "AccessDenied",
    "iam": "AccessDenied",
}
_EC2_PREFIX = "You are not authorized to perform this operation. "
_installed = False


def _denial_class() -> type:
    from moto.core.exceptions import ServiceException

    # Defined outside moto's packages, so moto serializes it with the answering service's model.
    class IamDenial(ServiceException):
        pass

    return IamDenial


def principal_of(response: Any) -> Principal | None:
    """The template's role that signed the request moto answers, if any (and IAM is enforced)."""
    if not ENFORCER.active():
        return None
    match = _ACCESS_KEY.search(str(response.headers.get("Authorization", "")))
    return ENFORCER.principal_for_key(match.group(1)) if match else None


def _deny(response: Any) -> AccessDenied | None:
    principal = principal_of(response)
    if principal is None:
        return None
    view = RequestView(response)
    try:
        ENFORCER.authorize(
            principal, requests_for(view), DENIAL_CODES.get(view.service, "AccessDeniedException")
        )
    except AccessDenied as denied:
        if view.service == "ec2" and denied.code == "UnauthorizedOperation":
            denied.message = _EC2_PREFIX + denied.message
        return denied
    return None


def install() -> None:
    """Patch moto (idempotent); the targets are checked, so a moved one fails loudly."""
    global _installed
    if _installed:
        return
    from moto.core.responses import ActionResult, BaseResponse

    denial = _denial_class()

    original_call_action = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        denied = _deny(self)
        if denied is None:
            return original_call_action(self)
        with warnings.catch_warnings():
            # Access-denied codes are absent from most service models, which moto checks against.
            warnings.simplefilter("ignore")
            _status, headers, body = self.serialized(ActionResult(denial(denied.code, denied.message)))
        headers["status"] = "403"
        return 403, headers, body

    patch_object(
        BaseResponse,
        "call_action",
        call_action,
        kind="wrap",
        why="IAM and resource policies evaluated before moto answers a role's request",
        owner=__name__,
    )
    _sign_step_functions_tasks_as_their_role()
    _installed = True


def _signed_as(client: Any, role_arn: Any) -> Any:
    if role_arn:
        from botocore.credentials import Credentials

        key = access_key_for(str(role_arn))
        signer = client._request_signer
        signer._credentials = Credentials(key, "local-" + key.lower(), "local-session")
    return client


def _sign_step_functions_tasks_as_their_role() -> None:
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    # moto builds a new boto3 client for every task it runs (tens of milliseconds of CPU each,
    # a tenth of the suite's time): one client per region, service, role and endpoint is reused,
    # as clients are thread-safe. The endpoint is moto's in-process stub or its server's port.
    clients: dict[tuple[str, str, str | None, bool, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        key = (region, service, role_arn and str(role_arn), botocore_stubber.enabled, moto_server_port())
        with lock:
            if key not in clients:
                clients[key] = _signed_as(
                    original(region=region, service=service, state_credentials=state_credentials), role_arn
                )
            return clients[key]

    # Import the task modules first, so that each is rebound below.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_sfn,
        state_task_service_sns,
    )

    rebound = 0
    for name, module in list(sys.modules.items()):
        if (
            name.startswith("moto.stepfunctions.parser")
            and getattr(module, "boto_client_for", None) is original
        ):
            patch_object(
                module,
                "boto_client_for",
                boto_client_for,
                kind="rebind",
                why="Step Functions tasks sign with the execution role's credentials",
                owner=__name__,
            )
            rebound += 1
    # The aws-sdk, Lambda, SNS and Step Functions task modules must be among them, or their
    # tasks would go unchecked.
    for module in (
        lambda_eval_utils,
        state_task_service_aws_sdk,
        state_task_service_sfn,
        state_task_service_sns,
    ):
        if getattr(module, "boto_client_for", None) is not boto_client_for:
            raise RuntimeError(f"{module.__name__} no longer imports boto_client_for: IAM patch out of date")
    if rebound == 0:
        raise RuntimeError("no moto Step Functions module imports boto_client_for: IAM patch out of date")
