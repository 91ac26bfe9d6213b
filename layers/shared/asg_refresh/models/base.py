"""The base of the product's pydantic models: built at first use, not at import.

A Lambda cold start imports every model its handler's modules name, but one invocation validates
or dumps only a few of them. Building a model's validator and serializer at class creation cost
about 130 ms of each cold start's CPU (measured: issue 13); with ``defer_build`` only the models
an invocation uses are built, on their first use. Validation, defaults and error messages are the
same: deferral changes when the schema is built, not what it is.

Building is not thread-safe in pydantic 2.13 (a rebuild removes the class's validator while it
runs, so another thread meets the parent's): code that fans out to threads calls
:func:`build_all` first.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel, ConfigDict

#: For subclasses of models from elsewhere (Powertools' ``EventBridgeModel``): the same deferral.
DEFERRED = ConfigDict(defer_build=True)


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)


_BUILD_LOCK = threading.Lock()


def build_all() -> None:
    """Build every product model not built yet (once per process), before threads use them."""
    with _BUILD_LOCK:
        pending = list(Model.__subclasses__())
        while pending:
            model = pending.pop()
            pending += model.__subclasses__()
            if not model.__pydantic_complete__:
                model.model_rebuild()
