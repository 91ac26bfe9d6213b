"""The one registry of everything this project changes in moto: what, why, and checked against what.

Every patch onto moto (a replaced or wrapped method, an added action, a rebound module name) is
applied through :func:`patch`, which records it. A patch whose target has moved raises
:class:`PatchTargetMissing` at once, instead of silently doing nothing; :func:`verify` checks
after installation that every recorded patch is still in place and that moto is the version the
patches were checked against (``CHECKED_AGAINST``). :func:`registry` lists them;
docs/harness.md says how to upgrade moto.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

#: The moto release every patch below was read against (pyproject.toml pins the same).
CHECKED_AGAINST = "5.2.5"

Kind = Literal["wrap", "replace", "add", "rebind"]


class PatchTargetMissing(RuntimeError):
    """The module, class or attribute a patch targets no longer exists in this moto."""


class PatchNotApplied(RuntimeError):
    """A recorded patch is no longer in place (something replaced it again)."""


@dataclass(frozen=True)
class Patch:
    target: str  # "module:Qualified.attribute"
    kind: Kind
    why: str
    owner: str  # the module of this project that applies it

    @property
    def module_name(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def path(self) -> list[str]:
        return self.target.split(":", 1)[1].split(".")


_REGISTRY: dict[str, tuple[Patch, Any]] = {}
_LOCK = threading.Lock()


def _resolve_owner(target: str) -> tuple[Any, str]:
    module_name, _, qualified = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PatchTargetMissing(f"{target}: module {module_name} is gone") from exc
    *parents, attribute = qualified.split(".")
    for name in parents:
        if not hasattr(owner, name):
            raise PatchTargetMissing(f"{target}: {name} is gone from {owner!r}")
        owner = getattr(owner, name)
    return owner, attribute


def original(target: str) -> Any:
    """What ``target`` is now (before patching it): the object a wrapper wraps."""
    owner, attribute = _resolve_owner(target)
    if not hasattr(owner, attribute):
        raise PatchTargetMissing(f"{target}: {attribute} is gone")
    return getattr(owner, attribute)


def patch(target: str, replacement: Any, *, kind: Kind, why: str, owner: str) -> Any:
    """Set ``target`` to ``replacement`` and record it; returns what was there before.

    ``add`` creates an attribute that must not exist yet (a new moto action); every other kind
    requires the target to exist, so a patch onto a moved target fails here, loudly.
    """
    holder, attribute = _resolve_owner(target)
    exists = hasattr(holder, attribute)
    if kind == "add" and exists and target not in _REGISTRY:
        raise PatchTargetMissing(f"{target}: moto now has {attribute}; review the added action")
    if kind != "add" and not exists:
        raise PatchTargetMissing(f"{target}: {attribute} is gone")
    previous = getattr(holder, attribute, None)
    with _LOCK:
        setattr(holder, attribute, replacement)
        _REGISTRY[target] = (Patch(target, kind, why, owner), replacement)
    return previous


def registry() -> list[Patch]:
    with _LOCK:
        return [entry for entry, _ in _REGISTRY.values()]


def verify(*, strict_version: bool = False) -> list[str]:
    """Check every recorded patch is in place; returns warnings (a different moto version).

    Raises :class:`PatchNotApplied` for a patch no longer in place.
    """
    problems = []
    with _LOCK:
        entries = list(_REGISTRY.values())
    for entry, replacement in entries:
        holder, attribute = _resolve_owner(entry.target)
        if getattr(holder, attribute, None) is not replacement:
            problems.append(entry.target)
    if problems:
        raise PatchNotApplied(f"patches no longer in place: {problems}")
    installed = version("moto")
    if installed != CHECKED_AGAINST:
        message = (
            f"moto {installed} is installed; the patches were checked against {CHECKED_AGAINST} "
            "(docs/harness.md: upgrading moto)"
        )
        if strict_version:
            raise PatchNotApplied(message)
        return [message]
    return []


def patch_object(holder: Any, attribute: str, replacement: Any, *, kind: Kind, why: str, owner: str) -> Any:
    """:func:`patch` on a class or module already imported (the target is named from it)."""
    if isinstance(holder, type):
        target = f"{holder.__module__}:{holder.__qualname__}.{attribute}"
    else:
        target = f"{holder.__name__}:{attribute}"
    return patch(target, replacement, kind=kind, why=why, owner=owner)
