"""Notebook 04: scale and observe. The exercise runs two copies of a job with a static port."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nomadlab.errors import say
from nomadlab.exercises import Verdict, clean_slate, group_ports

if TYPE_CHECKING:
    from nomadlab.lab import Lab


def check(lab: Lab) -> Verdict:
    """A job with a static port asks for two copies: as many run as nodes, the rest wait."""
    with lab._api():
        stubs = [j for j in lab.nomad.jobs.get_jobs() if not j.get("Stop")]
        jobs = [lab.nomad.job.get_job(j["ID"]) for j in stubs]
        ready = [n for n in lab.nomad.nodes.get_nodes() if n.get("Status") == "ready"]
    static = [
        (job, group, port)
        for job in jobs
        for group in job.get("TaskGroups") or []
        for port in group_ports(group).values()
        if port
    ]
    if not static:
        return Verdict.hint(
            "no running job has a static port. Copy jobs/http-echo.nomad.hcl, give it a new "
            'job name and port "http" { static = 8080 }, and run it with count 2.'
        )
    job, group, port = static[0]
    if group.get("Count", 1) < 2:
        again = say(f"{job['ID']} with count=2", f"it with -var count=2 ({job['ID']})")
        return Verdict.hint(f"{job['ID']} asks for {group.get('Count')} copy; run {again}.")
    with lab._api():
        allocs = lab.nomad.job.get_allocations(job["ID"])
    running = [a for a in allocs if a.get("ClientStatus") == "running"]
    if len(running) > len(ready):
        return Verdict.hint(f"{len(running)} copies run on {len(ready)} node(s): unexpected.")
    if not running:
        return Verdict.hint(
            f"no copy of {job['ID']} runs: is something else on this machine using port {port}? "
            "Pick another static port."
        )
    return Verdict.ok(
        f"{job['ID']} asks for {group['Count']} copies on static port {port}: {len(running)} "
        f"run{'s' if len(running) == 1 else ''}, one per node ({len(ready)} node(s)); the rest "
        "wait in a blocked evaluation. Now stop and purge it."
    )


#: Notebook 04 starts with an agent running and no jobs.
checkpoint = clean_slate
