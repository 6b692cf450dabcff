"""Notebook 02: the job hierarchy. The exercise writes a two-group job, jobs/shop.nomad.hcl."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nomadlab.errors import NomadLabError
from nomadlab.exercises import Verdict, clean_slate, group_ports
from nomadlab.jobfiles import find_jobspec

if TYPE_CHECKING:
    from nomadlab.lab import Lab

JOBSPEC = "jobs/shop.nomad.hcl"


def _problem(job: dict) -> str:
    """What the parsed job still lacks, or "" when it has both groups as asked."""
    groups = {g["Name"]: g for g in job.get("TaskGroups") or []}
    for name in ("web", "cache"):
        if name not in groups:
            return f'it has no group "{name}" (its groups: {", ".join(groups) or "none"}).'
    web, cache = groups["web"], groups["cache"]
    tasks = {t["Name"]: t for t in web.get("Tasks") or []}
    if web.get("Count") != 2:
        return f'group "web" runs {web.get("Count")} copies; the exercise asks for 2.'
    if group_ports(web).get("http") != 0:
        return 'group "web" needs a dynamic port labelled "http" in its network block.'
    if tasks.get("server", {}).get("Driver") != "raw_exec":
        return 'group "web" needs a task "server" with the raw_exec driver.'
    if group_ports(cache).get("db") != 6379:
        return 'group "cache" needs a static port "db" with the number 6379.'
    redis = {t["Name"]: t for t in cache.get("Tasks") or []}.get("redis", {})
    if redis.get("Driver") != "docker" or (redis.get("Config") or {}).get("image") != "redis:7":
        return 'group "cache" needs a task "redis" with the docker driver and image "redis:7".'
    return ""


def check(lab: Lab) -> Verdict:
    """jobs/shop.nomad.hcl parses on the agent into the two groups the exercise describes."""
    try:
        path = find_jobspec(JOBSPEC)
    except NomadLabError:
        return Verdict.hint(
            f"save your jobspec as {JOBSPEC} (beside jobs/http-echo.nomad.hcl), then check again."
        )
    try:
        with lab._api():
            job = lab.nomad.jobs.parse(path.read_text(), canonicalize=True)
    except NomadLabError as exc:
        return Verdict.hint(f"the agent cannot parse {path}: {exc}")
    problem = _problem(job)
    if problem:
        return Verdict.hint(f"{path.name} parses, but {problem}")
    return Verdict.ok(
        f'{path.name}: job "{job["ID"]}" with groups web (2 copies, dynamic port) and cache '
        f"(count {next(g['Count'] for g in job['TaskGroups'] if g['Name'] == 'cache')}, "
        "static port 6379)."
    )


#: Notebook 02 starts with an agent running and no jobs.
checkpoint = clean_slate
