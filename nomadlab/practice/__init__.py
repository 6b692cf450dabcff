"""The practice agent: a local stand-in for ``nomad agent -dev`` that serves Nomad's HTTP API.

``Agent`` starts one in a child process (a context manager for tests and notebooks);
``nomadlab agent -dev`` runs one in the foreground; ``CLASSROOM`` is the path of the agent's
classroom timers (a dead node noticed in seconds), for several-node agents.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported: see below
if TYPE_CHECKING:
    from typing import Any


def __getattr__(name: str) -> Any:
    # Everything here loads on first use: the watchdog that starts with every agent, and a
    # task's helpers, import this package and need none of it (not even pathlib).
    if name in ("Agent", "main"):
        from nomadlab.practice import agent

        return getattr(agent, name)
    if name == "CLASSROOM":
        from pathlib import Path

        return Path(__file__).with_name("classroom.hcl")
    raise AttributeError(f"module 'nomadlab.practice' has no attribute {name!r}")


__all__ = ["CLASSROOM", "Agent", "main"]
