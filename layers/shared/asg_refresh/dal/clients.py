"""boto3 clients, created once per process (Lambda reuses them across warm invocations)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# One attempt per call: ``retry.call_with_retry`` owns the retry policy.
_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(service: str, region: str | None = None) -> Any:
    # Keyed on the credentials too: a local harness runs several functions in one process, each
    # with its own role's credentials (in Lambda they never change within a process).
    return _client(service, region, os.environ.get("AWS_ACCESS_KEY_ID"))


@cache
def _client(service: str, region: str | None, _access_key_id: str | None) -> Any:
    return boto3.session.Session().client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or regions)."""
    _client.cache_clear()
