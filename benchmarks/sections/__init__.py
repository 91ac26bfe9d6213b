"""One module per benchmark section, each with ``measure(context) -> dict`` and ``render(data)``.

``run.py`` keeps the registry (``SECTIONS``) and the order they run in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    """What every section is given: the size of the run and what earlier sections left to share
    (the cost section's shipped runs, which the latency section reads instead of redoing them)."""

    quick: bool
    shared: dict[str, Any] = field(default_factory=dict)
