"""The practice agent: a local stand-in for ``nomad agent -dev`` that serves Nomad's HTTP API.

``Agent`` starts one in a child process (a context manager for tests and notebooks);
``nomadlab agent -dev`` runs one in the foreground.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The agent's classroom timers (a dead node noticed in seconds), for several-node agents.
CLASSROOM = Path(__file__).with_name("classroom.hcl")


def __getattr__(name: str) -> Any:
    # The agent's modules load on first use: a task's helpers import this package too.
    if name in ("Agent", "main"):
        from nomadlab.practice import agent

        return getattr(agent, name)
    raise AttributeError(f"module 'nomadlab.practice' has no attribute {name!r}")


__all__ = ["CLASSROOM", "Agent", "main"]
