"""Notebook 07: failures and self-healing. The exercise keeps copies on distinct hosts.

The notebook works on a cluster of three nodes: with the practice agent, a second practice
agent that ``nomadlab.lab.several_nodes`` starts and records. The checker looks there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nomadlab.errors import say
from nomadlab.exercises import Verdict, clean_slate
from nomadlab.lab import recorded_nodes

if TYPE_CHECKING:
    from nomadlab.lab import Lab

JOB = "http-pair"
NODES = 3


def _distinct_hosts(job: dict[str, Any]) -> bool:
    """A ``distinct_hosts`` constraint that is on, on the job, a group or a task."""
    constraints = list(job.get("Constraints") or [])
    for group in job.get("TaskGroups") or []:
        constraints += group.get("Constraints") or []
        for task in group.get("Tasks") or []:
            constraints += task.get("Constraints") or []
    return any(
        c.get("Operand") == "distinct_hosts" and str(c.get("RTarget", "true")).lower() != "false"
        for c in constraints
    )


def check(lab: Lab) -> Verdict:
    """http-pair has a distinct_hosts constraint, asks for more copies than there are nodes,
    and its running copies are on different nodes, one per node."""
    cluster = recorded_nodes(lab, NODES)
    if cluster is None:
        start = say(
            "several_nodes(kit_lab, nodes=3) in its first cell",
            "several_nodes in its first cell (or nomadlab agent -dev -nodes 3)",
        )
        return Verdict.hint(
            f"no agent with {NODES} nodes runs: notebook 07 starts one with {start}. "
            "Run the notebook from the top, then the exercise."
        )
    with cluster._api():
        found = [j for j in cluster.nomad.jobs.get_jobs(prefix=JOB) if j["ID"] == JOB]
        job = cluster.nomad.job.get_job(JOB) if found and not found[0].get("Stop") else None
        ready = [n for n in cluster.nomad.nodes.get_nodes() if n.get("Status") == "ready"]
    run = say("the cell after PAIR (it runs the job)", f"nomadlab job run of your {JOB} jobspec")
    if job is None:
        return Verdict.hint(
            f"{JOB} is not running on the agent at {cluster.address}: edit PAIR, then run {run}."
        )
    if not _distinct_hosts(job):
        return Verdict.hint(
            f"{JOB} has no distinct_hosts constraint. spread only prefers one copy per node; "
            "the exercise wants a rule the scheduler may not break. Edit PAIR and run it again."
        )
    count = sum(group.get("Count", 1) for group in job.get("TaskGroups") or [])
    if count <= len(ready):
        more = len(ready) + 1
        again = say(f"lab.run(pair, count={more})", f"it with -var count={more}")
        return Verdict.hint(
            f"{JOB} asks for {count} copies on {len(ready)} nodes: every copy fits either way. "
            f"Ask for one copy more than there are nodes (run {again}) and see where it goes."
        )
    with cluster._api():
        allocs = cluster.nomad.job.get_allocations(JOB)
    running = [
        a for a in allocs if a.get("DesiredStatus") == "run" and a.get("ClientStatus") == "running"
    ]
    on_nodes = [a["NodeID"] for a in running]
    if len(set(on_nodes)) != len(on_nodes):
        return Verdict.hint(
            f"{len(on_nodes)} copies of {JOB} run on {len(set(on_nodes))} node(s): two share "
            "a node. Is the job that runs the one with your constraint? Run it again."
        )
    if len(running) < len(ready):
        return Verdict.hint(
            f"{len(running)} copies of {JOB} run on {len(ready)} ready nodes: the others are "
            "still starting. Check again in a few seconds."
        )
    return Verdict.ok(
        f"{JOB} asks for {count} copies with distinct_hosts: {len(running)} run on "
        f"{len(running)} different nodes, and {count - len(running)} wait for a node of "
        "their own (a blocked evaluation). Now stop and purge it."
    )


def checkpoint(lab: Lab) -> str:
    """Notebook 07 starts with the agent running and no jobs; a three-node practice agent
    left by an earlier run of the notebook is emptied too (its first cell reuses it)."""
    said = clean_slate(lab)
    cluster = recorded_nodes(lab, NODES)
    if cluster is not None and cluster.address != lab.address:
        said += f" {clean_slate(cluster)}"
    return said
