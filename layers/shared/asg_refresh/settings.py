"""Settings, validated once from the environment at cold start and passed down as an argument."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from asg_refresh.models.base import Model
from asg_refresh.models.deploy import SupersedePolicy
from asg_refresh.models.gates import GateConfig
from asg_refresh.models.preferences import RefreshPreferences

_CSV_FIELDS = (
    "allowed_image_owners",
    "default_alarm_names",
    "golden_ami_parameter_names",
    "allowed_approvers",
)
_PARAMETER_PATH = r"^[a-zA-Z0-9_.\-/]+$"


class Settings(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    region: str | None = None
    opt_in_tag_key: Annotated[str, Field(min_length=1, max_length=128)] = "asg-refresh:enabled"
    opt_in_tag_value: Annotated[str, Field(max_length=256)] = "true"
    alarm_tag_key: Annotated[str, Field(min_length=1, max_length=128)] = "asg-refresh:alarms"
    source_tag_key: Annotated[str, Field(min_length=1, max_length=128)] = "asg-refresh:source"
    #: Account ids whose AMIs may be rolled out; "self" is the account the function runs in.
    allowed_image_owners: list[str] = Field(default_factory=lambda: ["self"])
    #: A deploy message's ``image_parameter`` must start with this (end it with "/"); anything
    #: else is refused before it is read. The golden-AMI parameters are always allowed.
    allowed_image_parameter_prefix: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=_PARAMETER_PATH)
    ] = "/asg-refresh/"
    golden_ami_parameter_names: list[Annotated[str, Field(max_length=2048, pattern=_PARAMETER_PATH)]] = Field(
        default_factory=lambda: ["/asg-refresh/golden-ami"]
    )
    default_preferences: RefreshPreferences = Field(
        default_factory=lambda: RefreshPreferences(
            min_healthy_percentage=90, auto_rollback=True, skip_matching=True, instance_warmup=300
        )
    )
    default_alarm_names: list[str] = Field(default_factory=list)
    default_gates: GateConfig = Field(default_factory=GateConfig)
    state_machine_arn: str | None = None
    #: StartRefresh, which the reconciler asks to start the deployments a lost drain left waiting.
    start_refresh_function: str | None = None
    notifications_topic_arn: str | None = None
    min_poll_seconds: int = Field(default=15, ge=1, le=3600)
    max_poll_seconds: int = Field(default=300, ge=1, le=3600)
    #: Who may decide a manual approval: IAM/STS ARNs or ARN patterns with ``*``; empty = anyone
    #: who may call SendTaskSuccess. Kept with each pending approval, checked by the CLI.
    allowed_approvers: list[str] = Field(default_factory=list)
    #: A deployment's ``supersede`` when it names none.
    supersede_policy: SupersedePolicy = "queue"

    @field_validator(*_CSV_FIELDS, mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_approvers")
    @classmethod
    def _arns_only(cls, value: list[str]) -> list[str]:
        # A typo must not turn into "nobody may approve" silently, nor into "anyone may".
        wrong = [item for item in value if not item.startswith("arn:") or len(item) > 2048]
        if wrong:
            raise ValueError(f"not an ARN or ARN pattern: {', '.join(wrong)}")
        return value

    @field_validator("default_preferences", "default_gates", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    dead_letter_queue_url: str | None = None
    idempotency_table: str | None = None
    audit_table: str | None = None

    @classmethod
    def current(cls) -> Settings:
        """Settings for the present environment, validated once per distinct environment
        (once per cold start on Lambda; local runs switch environments between functions)."""
        return _settings_for(tuple((var, os.environ.get(var, "")) for var in _ENV_VARS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {field: env[var] for field, var in _ENV_NAMES.items() if env.get(var)}
        if "region" not in values and env.get(_FALLBACK_REGION):
            values["region"] = env[_FALLBACK_REGION]
        return cls.model_validate(values)


_ENV_NAMES = {
    "region": "AWS_REGION",
    "opt_in_tag_key": "OPT_IN_TAG_KEY",
    "opt_in_tag_value": "OPT_IN_TAG_VALUE",
    "alarm_tag_key": "ALARM_TAG_KEY",
    "source_tag_key": "SOURCE_TAG_KEY",
    "allowed_image_owners": "ALLOWED_IMAGE_OWNERS",
    "allowed_image_parameter_prefix": "ALLOWED_IMAGE_PARAMETER_PREFIX",
    "golden_ami_parameter_names": "GOLDEN_AMI_PARAMETER_NAMES",
    "default_preferences": "DEFAULT_PREFERENCES",
    "default_alarm_names": "DEFAULT_ALARM_NAMES",
    "default_gates": "DEFAULT_GATES",
    "state_machine_arn": "STATE_MACHINE_ARN",
    "start_refresh_function": "START_REFRESH_FUNCTION",
    "notifications_topic_arn": "NOTIFICATIONS_TOPIC_ARN",
    "min_poll_seconds": "MIN_POLL_SECONDS",
    "max_poll_seconds": "MAX_POLL_SECONDS",
    "allowed_approvers": "ALLOWED_APPROVERS",
    "supersede_policy": "SUPERSEDE_POLICY",
    "dead_letter_queue_url": "DEAD_LETTER_QUEUE_URL",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "audit_table": "AUDIT_TABLE",
}
#: Lambda sets AWS_REGION; local tools often only AWS_DEFAULT_REGION.
_FALLBACK_REGION = "AWS_DEFAULT_REGION"
_ENV_VARS = (*_ENV_NAMES.values(), _FALLBACK_REGION)


@lru_cache(maxsize=16)
def _settings_for(environment: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(environment))
