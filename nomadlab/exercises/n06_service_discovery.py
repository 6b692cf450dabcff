"""Notebook 06: service discovery. The exercise tags the backend v2 and selects by the tag."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from nomadlab import discovery
from nomadlab.errors import say
from nomadlab.exercises import Verdict, clean_slate

if TYPE_CHECKING:
    from nomadlab.lab import Lab

SERVICE, FRONTEND, TAG = "backend", "frontend", "v2"
QUERY = f"{TAG}.{SERVICE}"
RENDERED = "local/backends.txt"


def _queries(job: dict) -> list[tuple[str, str]]:
    """(task, service query) for each ``nomadService "…"`` in the job's templates."""
    return [
        (task["Name"], query)
        for group in job.get("TaskGroups") or []
        for task in group.get("Tasks") or []
        for template in task.get("Templates") or []
        for query in re.findall(r'nomadService\s+"([^"]+)"', template.get("EmbeddedTmpl") or "")
    ]


def check(lab: Lab) -> Verdict:
    """Backend instances carry the tag v2, and the frontend's template renders exactly them."""
    with lab._api():
        everything, _ = discovery.fetch_service(lab.nomad, SERVICE)
        tagged, _ = discovery.fetch_service(lab.nomad, SERVICE, filter_expr=f'"{TAG}" in Tags')
        found = [j for j in lab.nomad.jobs.get_jobs(prefix=FRONTEND) if j["ID"] == FRONTEND]
        job = lab.nomad.job.get_job(FRONTEND) if found and not found[0].get("Stop") else None
    if not everything:
        run = say('lab.run("jobs/backend.nomad.hcl")', "nomadlab job run jobs/backend.nomad.hcl")
        return Verdict.hint(
            f"no {SERVICE} instance is registered: run the backend ({run}), then give its "
            f"service the tag {TAG}."
        )
    if not tagged:
        tags = sorted({tag for r in everything for tag in r.get("Tags") or []})
        return Verdict.hint(
            f"{len(everything)} {SERVICE} instance(s) are registered with the tags "
            f"[{','.join(tags)}], none with {TAG}. The backend's jobspec has a tags variable "
            "(a list): its value is every tag of the registration."
        )
    wanted = sorted(f"{r['Address']}:{r['Port']}" for r in tagged)
    if job is None:
        return Verdict.hint(
            f"{len(tagged)} {SERVICE} instance(s) carry the tag {TAG}; now run the frontend so "
            "that its template asks for those instances only (its jobspec's upstream variable "
            "is the query the template renders: <tag>.<service name>)."
        )
    queries = _queries(job)
    if not any(query == QUERY for _, query in queries):
        asked = ", ".join(f'nomadService "{q}"' for _, q in queries) or "no nomadService"
        return Verdict.hint(
            f"the frontend's template renders {asked}: that selects by name, not by the tag "
            f"{TAG}. A tag query is <tag>.<service name> (the frontend jobspec's upstream "
            "variable)."
        )
    task = next(name for name, query in queries if query == QUERY)
    with lab._api():
        allocs = lab.nomad.job.get_allocations(FRONTEND)
        running = [a["ID"] for a in allocs if a.get("ClientStatus") == "running"]
        rendered = [
            sorted(lab.nomad.client.cat.read_file(alloc, path=f"{task}/{RENDERED}").split())
            for alloc in running
        ]
    if not running:
        status = say(f"lab.status({FRONTEND!r})", f"nomadlab job status {FRONTEND}")
        return Verdict.hint(f"no {FRONTEND} allocation runs yet: {status} says why.")
    if any(lines != wanted for lines in rendered):
        return Verdict.hint(
            f"the frontend's {RENDERED} ({len(rendered[0])} address(es)) does not list exactly "
            f"the {len(wanted)} {TAG} instance(s) yet: the template re-renders within seconds "
            "of a change; check again in a moment."
        )
    return Verdict.ok(
        f"{len(tagged)} of {len(everything)} {SERVICE} instance(s) carry the tag {TAG}, and "
        f'the frontend\'s template (nomadService "{QUERY}") renders exactly them: '
        f"{', '.join(wanted)}."
    )


#: Notebook 06 starts with an agent running and no jobs (its first cell calls lab.reset()).
checkpoint = clean_slate
