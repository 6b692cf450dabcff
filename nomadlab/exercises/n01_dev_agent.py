"""Notebook 01: the dev agent. The exercise reads which drivers each node can use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nomadlab.exercises import Verdict, clean_slate

if TYPE_CHECKING:
    from nomadlab.lab import Lab


def usable_drivers(node: dict) -> list[str]:
    """The node's drivers that are both detected and healthy (the exercise's answer)."""
    drivers = node.get("Drivers") or {}
    return sorted(n for n, d in drivers.items() if d.get("Detected") and d.get("Healthy"))


def check(lab: Lab) -> Verdict:
    """A ready node with a usable driver to answer about; docker only with an engine."""
    with lab._api():
        stubs = lab.nomad.nodes.get_nodes()
        nodes = [lab.nomad.node.get_node(s["ID"]) for s in stubs if s.get("Status") == "ready"]
    if not nodes:
        return Verdict.hint(
            f"the agent at {lab.address} has no ready node yet; a dev agent registers one a "
            "moment after it starts. Ask again in a few seconds."
        )
    answers = {node["Name"]: usable_drivers(node) for node in nodes}
    if not any(answers.values()):
        return Verdict.hint("no node has a detected and healthy driver; read the agent's log.")
    docker = any("docker" in drivers for drivers in answers.values())
    listed = "; ".join(f"{name}: {', '.join(d)}" for name, d in answers.items())
    return Verdict.ok(
        f"usable drivers per node: {listed}. The Docker job "
        + ("can run here." if docker else "cannot run here: no node has docker.")
    )


#: Notebook 01 starts with an agent running and no jobs.
checkpoint = clean_slate
