"""Advice for a job Nomad could not place: the scheduler's reasons in one paragraph, and
what the learner can do about each (a missing driver, no room, a constraint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nomadlab.command.monitor import format_alloc_metrics
from nomadlab.errors import say
from nomadlab.monitor import Outcome

RAW_EXEC_JOB = "jobs/http-echo.nomad.hcl"


def placement_advice(
    job: dict[str, Any],
    outcome: Outcome,
    mode: str,
    driver_available: Callable[[str], bool],
) -> str:
    """One paragraph: what the scheduler could not do and what the learner can do. ``mode``
    is the agent's (``practice``, ``nomad`` or ``attach``); ``driver_available`` tells
    whether some node offers a driver, asked only for drivers a failure names."""
    job_id = job.get("ID", "")
    groups = {g.get("Name"): g for g in job.get("TaskGroups") or []}
    reasons, missing = [], []
    for name in sorted(outcome.failed_allocs):
        metrics = outcome.failed_allocs[name]
        lines = " ".join(x.strip().lstrip("* ") for x in format_alloc_metrics(metrics, ""))
        reasons.append(f'task group "{name}": {lines}')
        if any("missing drivers" in c for c in metrics.get("ConstraintFiltered") or {}):
            for task in groups.get(name, {}).get("Tasks") or []:
                if task.get("Driver") and task["Driver"] not in missing:
                    missing.append(task["Driver"])
    missing = [d for d in missing if not driver_available(d)] or missing
    text = f'Nomad could not place job "{job_id}" ({"; ".join(reasons)}).'
    if "docker" in missing:
        text += " Its task uses the docker driver, and no node can run Docker containers: "
        if mode == "practice":
            text += (
                "the practice agent runs no containers. To run this job, install Nomad "
                "and Docker and start the real `nomad agent -dev` ("
                + say(
                    "lab.stop_agent(), then nomadlab.start()",
                    "`nomadlab agent stop`, then `nomadlab agent start`",
                )
                + " finds the nomad binary), or run"
            )
        elif mode == "attach":
            text += (
                "no node of the cluster at NOMAD_ADDR has a running Docker engine. Ask "
                "its operator to start Docker on a node, or run"
            )
        else:
            text += (
                "the Docker engine is not installed or not running here. Start Docker "
                "(Docker Desktop, or `sudo systemctl start docker`) and restart the agent "
                "("
                + say(
                    "lab.stop_agent(), then nomadlab.start()",
                    "`nomadlab agent stop`, then `nomadlab agent start`",
                )
                + ") so it detects the engine, or run"
            )
        text += " the same http-echo service with the raw_exec driver instead: " + say(
            f'lab.run("{RAW_EXEC_JOB}") (`nomadlab job run {RAW_EXEC_JOB}` in a terminal).',
            f"`nomadlab job run {RAW_EXEC_JOB}`.",
        )
    elif missing:
        drivers = ", ".join(f'"{d}"' for d in missing)
        text += (
            f" Its tasks use the {drivers} driver, which no node has enabled and healthy "
            + say(
                "(see lab.nomad.nodes.get_nodes() → Drivers)",
                "(see `nomad node status -verbose <node>` → Drivers)",
            )
            + ". Use a driver the nodes offer, "
            "such as raw_exec on a dev agent."
        )
    else:
        text += (
            " No node had room or matched the job's constraints. Lower the job's "
            "resources or count, relax its constraints, or add capacity."
        )
    text += (
        " The job stays registered with a blocked evaluation, waiting for a node that "
        "fits; "
        + say(f'lab.stop("{job_id}", purge=True)', f"`nomadlab job stop -purge {job_id}`")
        + " removes it."
    )
    return text
