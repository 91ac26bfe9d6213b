"""The base of the product's pydantic models: built at first use, not at import.

A Lambda cold start imports every model its handler's modules name, but one invocation validates
or dumps only a few of them. Building a model's validator and serializer at class creation cost
about 130 ms of each cold start's CPU (measured: issue 13); with ``defer_build`` only the models
an invocation uses are built, on their first use. Validation, defaults and error messages are the
same: deferral changes when the schema is built, not what it is.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: For subclasses of models from elsewhere (Powertools' ``EventBridgeModel``): the same deferral.
DEFERRED = ConfigDict(defer_build=True)


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
