"""Notebook 01: the dev agent. The exercise builds ``usable``, each node's detected and
healthy drivers, and says whether the tutorial's Docker job can run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nomadlab.errors import say
from nomadlab.exercises import MISSING, Verdict, clean_slate, notebook_variable

if TYPE_CHECKING:
    from nomadlab.lab import Lab


def usable_drivers(node: dict) -> list[str]:
    """The node's drivers that are both detected and healthy (the exercise's answer)."""
    drivers = node.get("Drivers") or {}
    return sorted(n for n, d in drivers.items() if d.get("Detected") and d.get("Healthy"))


def ready_nodes(lab: Lab) -> list[dict]:
    """The agent's ready nodes, in full (the list stubs carry no driver details)."""
    with lab._api():
        stubs = lab.nomad.nodes.get_nodes()
        return [lab.nomad.node.get_node(s["ID"]) for s in stubs if s.get("Status") == "ready"]


def check(lab: Lab) -> Verdict:
    """``usable`` maps each ready node's name to its usable drivers, and
    ``docker_job_runs_here`` says whether one of them is docker."""
    nodes = ready_nodes(lab)
    if not nodes:
        return Verdict.hint(
            f"the agent at {lab.address} has no ready node yet; a dev agent registers one a "
            "moment after it starts. Ask again in a few seconds."
        )
    usable = notebook_variable("usable")
    if usable is MISSING:
        return Verdict.hint(
            say("", 'Your answer is a variable of notebook 01: run nomadlab.check("01") there. ')
            + "Build usable, a dict from each node's name to the sorted list of its drivers "
            "that are detected and healthy, in the cell above."
        )
    answers = {node["Name"]: usable_drivers(node) for node in nodes}
    if not isinstance(usable, dict) or set(usable) != set(answers):
        return Verdict.hint(
            f"usable should have one key per node, its name: this agent's nodes are "
            f"{', '.join(sorted(answers))}."
        )
    for name, drivers in answers.items():
        if sorted(usable[name] or []) != drivers:
            return Verdict.hint(
                f"usable[{name!r}] is {usable[name]!r}: keep only the drivers whose Detected "
                "and Healthy are both true (the node's Drivers, as Step 6 printed them)."
            )
    docker = any("docker" in drivers for drivers in answers.values())
    said = notebook_variable("docker_job_runs_here")
    if said is not docker:
        return Verdict.hint(
            "usable is right. Now set docker_job_runs_here to True or False: can one of these "
            "nodes run a docker task?"
        )
    listed = "; ".join(f"{name}: {', '.join(d)}" for name, d in answers.items())
    return Verdict.ok(
        f"usable drivers per node: {listed}. The Docker job "
        + ("can run here." if docker else "cannot run here: no node has docker.")
    )


#: Notebook 01 starts with an agent running and no jobs.
checkpoint = clean_slate
