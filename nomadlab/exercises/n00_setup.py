"""Notebook 00: set up the lab. The exercise names the lab's mode and whether the tutorial's
Docker job can run here, as two variables in the notebook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nomadlab.errors import say
from nomadlab.exercises import MISSING, Verdict, clean_slate, notebook_variable
from nomadlab.exercises.n01_dev_agent import ready_nodes, usable_drivers

if TYPE_CHECKING:
    from nomadlab.lab import Lab


def check(lab: Lab) -> Verdict:
    """``my_mode`` is the lab's mode; ``docker_job_runs_here`` says whether a node has docker."""
    mode = notebook_variable("my_mode")
    docker = notebook_variable("docker_job_runs_here")
    if mode is MISSING or docker is MISSING:
        return Verdict.hint(
            say("", 'These answers are variables of notebook 00: run nomadlab.check("00") there. ')
            + "Set both variables, my_mode and docker_job_runs_here, in the "
            "cell above, then run this check again."
        )
    if mode != lab.mode:
        return Verdict.hint(
            f"my_mode is {mode!r}, but that is not this lab's mode. The first rule of Step 3's "
            "table that applies wins; the cell that printed NOMAD_ADDR, NOMADLAB_AGENT and "
            "`nomad` on PATH shows which."
        )
    runs = any("docker" in usable_drivers(node) for node in ready_nodes(lab))
    if docker is not runs:
        return Verdict.hint(
            f"docker_job_runs_here is {docker!r}: look again. The Docker job needs a node whose "
            "docker driver is healthy: the real Nomad and a Docker engine (the doctor's "
            "Docker check). The practice agent never runs containers."
        )
    return Verdict.ok(
        f"the lab is in {mode} mode, and the tutorial's Docker job "
        + ("can run here." if runs else "cannot run here: no node has a healthy docker driver.")
    )


#: Notebook 00 starts with nothing but the kit: an agent and no jobs.
checkpoint = clean_slate
