"""Notebook 05: update a job. The exercise is a blue/green deployment: canary = count, promoted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nomadlab.exercises import Verdict, clean_slate

if TYPE_CHECKING:
    from nomadlab.lab import Lab

JOB = "echo-update"


def check(lab: Lab) -> Verdict:
    """The job's latest deployment had as many canaries as copies, and they were promoted."""
    with lab._api():
        found = [j["ID"] for j in lab.nomad.jobs.get_jobs(prefix=JOB)]
        deployment = lab.nomad.job.get_deployment(JOB) if JOB in found else None
    if not deployment:
        return Verdict.hint(
            f"no {JOB} deployment yet: run jobs/http-echo-update.nomad.hcl, then deploy a new "
            "text as blue/green: a canary deployment with as many canaries as copies."
        )
    groups = deployment.get("TaskGroups") or {}
    state = next(iter(groups.values()), {})
    canaries, total = state.get("DesiredCanaries", 0), state.get("DesiredTotal", 0)
    if canaries != total:
        return Verdict.hint(
            f"the latest deployment of {JOB} has {canaries} canaries for {total} copies: "
            "blue/green sets canary to the count."
        )
    if not state.get("Promoted"):
        return Verdict.hint(
            f"{canaries} green copies run beside the blue ones and wait: promote them "
            f"(lab.promote({JOB!r}), or nomad deployment promote)."
        )
    return Verdict.ok(
        f"blue/green: {canaries} canaries of {total} copies promoted; the blue set stopped at once."
    )


#: Notebook 05 starts with an agent running and no jobs.
checkpoint = clean_slate
