"""Typed records of the AWS resources logic reads, as the data-access layer returns them."""

from __future__ import annotations

from pydantic import ConfigDict, Field, SecretStr

from asg_refresh.models.base import Model


class LaunchTemplateRecord(Model):
    """A launch template as DescribeLaunchTemplates describes it (which, unlike
    DescribeLaunchTemplateVersions, includes its tags)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    tags: dict[str, str] = Field(default_factory=dict)
    #: ``LatestVersionNumber`` and ``DefaultVersionNumber``: what ``$Latest`` and ``$Default`` are now.
    latest_version: int | None = None
    default_version: int | None = None

    def resolve(self, version: str) -> int | None:
        """The number a group's ``$Latest``, ``$Default`` or numbered version stands for."""
        if version == "$Latest":
            return self.latest_version
        if version == "$Default":
            return self.default_version
        return int(version) if version.isdigit() else None


class ParameterRecord(Model):
    """An SSM parameter read without decryption. ``value`` is a :class:`SecretStr`, so that no
    repr, log line or error message can show it by accident; it is None for a SecureString, whose
    (encrypted) value is never kept."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str = Field(description="String, StringList or SecureString")
    data_type: str | None = Field(default=None, description="text or aws:ec2:image")
    value: SecretStr | None = None
