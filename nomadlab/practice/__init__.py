"""The practice agent: a local stand-in for ``nomad agent -dev`` that serves Nomad's HTTP API.

``Agent`` starts one in a child process (a context manager for tests and notebooks);
``nomadlab agent -dev`` runs one in the foreground.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "Agent":
        from nomadlab.practice.agent import Agent

        return Agent
    raise AttributeError(f"module 'nomadlab.practice' has no attribute {name!r}")


__all__ = ["Agent"]
