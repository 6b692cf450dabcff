"""Notebook 03: deploy http-echo. The exercise runs it with two copies and calls each one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

from nomadlab.errors import NomadLabError, say
from nomadlab.exercises import Verdict, clean_slate

if TYPE_CHECKING:
    from nomadlab.lab import Lab

JOB = "http-microservice"


def check(lab: Lab) -> Verdict:
    """http-microservice runs two copies, each at its own address, each answering."""
    run = say(
        'lab.run("jobs/http-echo.nomad.hcl", count=2)',
        "`nomadlab job run -var count=2 jobs/http-echo.nomad.hcl`",
    )
    with lab._api():
        jobs = {job["ID"]: job for job in lab.nomad.jobs.get_jobs()}
    if JOB not in jobs or jobs[JOB].get("Stop"):
        return Verdict.hint(f"{JOB} is not running. Run it with two copies: {run}.")
    try:
        addresses = lab.addresses(JOB)
    except NomadLabError:
        addresses = []
    if len(addresses) < 2:
        return Verdict.hint(
            f"{JOB} has {len(addresses)} running allocation(s); the exercise asks for two. "
            f"Run it again with count 2: {run} (a new allocation takes a moment to start)."
        )
    replies = {}
    for url in addresses:
        try:
            replies[url] = requests.get(url, timeout=10).text.strip()
        except requests.RequestException as exc:
            return Verdict.hint(f"{url} does not answer yet ({type(exc).__name__}); try again.")
    if len(set(addresses)) != len(addresses):
        return Verdict.hint("two allocations share an address; that should not happen.")
    return Verdict.ok(
        f"{len(addresses)} copies of {JOB}, each at its own port: "
        + "; ".join(f"{url} → {reply}" for url, reply in replies.items())
        + ". Now stop and purge the job."
    )


#: Notebook 03 starts with an agent running and no jobs.
checkpoint = clean_slate
