"""boto3 clients, created once per process (Lambda reuses them across warm invocations)."""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

# One attempt per call: ``retry.call_with_retry`` owns the retry policy.
_SESSION_LOCK = threading.Lock()
_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(service: str, region: str | None = None) -> Any:
    # Keyed on the credentials too: a local harness runs several functions in one process, each
    # with its own role's credentials (in Lambda they never change within a process).
    return _client(service, region, os.environ.get("AWS_ACCESS_KEY_ID"))


@cache
def _client(service: str, region: str | None, access_key_id: str | None) -> Any:
    # One Session for every client: building a Session (its loaders, its credential chain) is
    # most of a client's cold-start cost. Sessions are not thread-safe, so creation is serialized.
    with _SESSION_LOCK:
        return session(access_key_id).client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


@cache
def session(_access_key_id: str | None = None) -> boto3.session.Session:
    """The process's boto3 Session (per credentials, for in-process harnesses), shared by all."""
    core, loader = botocore.session.get_session(), _model_loader()
    core.register_component("data_loader", loader)
    made = boto3.session.Session(botocore_session=core)
    loader.search_paths[:] = dict.fromkeys(loader.search_paths)  # each Session adds boto3's path again
    return made


@cache
def _model_loader() -> botocore.loaders.Loader:
    # botocore's service models, read once per process: each Session's own loader would parse
    # them again (the JSON of EC2's alone takes a tenth of a second), for every Session made per
    # credentials and again after every reset_clients.
    return botocore.loaders.create_loader()


def shared_session() -> boto3.session.Session:
    """The Session the clients above use, for libraries that take one (Powertools)."""
    return session(os.environ.get("AWS_ACCESS_KEY_ID"))


def reset_clients() -> None:
    """Forget cached clients and sessions (tests that switch endpoints or regions)."""
    _client.cache_clear()
    session.cache_clear()
