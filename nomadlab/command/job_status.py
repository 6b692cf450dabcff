"""``nomad job status`` output, as command/job_status.go prints it: the job list, one job
with its summary, placement failures, latest deployment and allocations, and a periodic or
parameterized parent with its children."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from nomadlab import contract
from nomadlab.command.deployment_status import format_deployment
from nomadlab.command.helpers import (
    format_kv,
    format_list,
    format_time,
    limit,
    parse_time,
    pretty_time_diff,
)
from nomadlab.command.monitor import format_alloc_metrics

NO_ALLOCATIONS = "No allocations placed"
SUMMARY_STATES = ("Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown")
ALLOC_COLUMNS = [
    "ID",
    "Node ID",
    "Task Group",
    "Version",
    "Desired",
    "Status",
    "Created",
    "Modified",
]


def allocation_rows(stubs: list[dict[str, Any]], addresses: dict[str, str] | None = None,
                    length: int = 8) -> list[dict[str, Any]]:  # fmt: skip
    """Allocation list stubs, newest first, as ``nomad job status`` lists them (+ Address,
    and the full ``alloc_id`` for the kit's own use)."""
    addresses = addresses or {}
    return [
        {
            "ID": limit(a.get("ID", ""), length),
            "Node ID": limit(a.get("NodeID", ""), length),
            "Task Group": a.get("TaskGroup", ""),
            "Version": a.get("JobVersion", 0),
            "Desired": a.get("DesiredStatus", ""),
            "Status": a.get("ClientStatus", ""),
            "Created": pretty_time_diff(parse_time(a.get("CreateTime"))),
            "Modified": pretty_time_diff(parse_time(a.get("ModifyTime"))),
            "Address": addresses.get(a.get("ID", ""), ""),
            "alloc_id": a.get("ID", ""),
        }
        for a in sorted(stubs, key=lambda a: a.get("CreateIndex", 0), reverse=True)
    ]


def format_allocations(stubs: list[dict[str, Any]], length: int = 8) -> str:
    """The Allocations table of ``nomad job status`` (and of ``nomad node status NODE``)."""
    rows = allocation_rows(stubs, length=length)
    if not rows:
        return NO_ALLOCATIONS
    return format_list([ALLOC_COLUMNS] + [[r[c] for c in ALLOC_COLUMNS] for r in rows])


def format_job_list(jobs: list[dict[str, Any]]) -> str:
    """``nomad job status`` without a job: the /v1/jobs list stubs, one line each."""
    if not jobs:
        return "No running jobs"
    rows: list[list[Any]] = [["ID", "Type", "Priority", "Status", "Submit Date"]]
    for j in jobs:
        kind = j.get("Type", "") + ("/periodic" if j.get("Periodic") else "")
        kind += "/parameterized" if j.get("ParameterizedJob") else ""
        status = j.get("Status", "") + (" (stopped)" if j.get("Stop") else "")
        submitted = parse_time(j.get("SubmitTime"))
        rows.append(
            [j.get("ID"), kind, j.get("Priority"), status,
             format_time(submitted) if submitted else ""]
        )  # fmt: skip
    return format_list(rows)


def is_parent(job: dict[str, Any]) -> bool:
    """A periodic or (undispatched) parameterized job: its status lists children, not allocs."""
    return bool(job.get("Periodic")) or (
        bool(job.get("ParameterizedJob")) and not job.get("Dispatched")
    )


def format_job_status(
    job: dict[str, Any],
    summary: dict[str, Any],
    allocs: list[dict[str, Any]],
    evals: list[dict[str, Any]],
    deployment: dict[str, Any] | None,
    children: list[dict[str, Any]] | None = None,
) -> str:
    """``nomad job status JOB``: job, summary, placement failure, latest deployment and
    allocations; a parent job shows its child jobs (``children``, JobListStubs) instead."""
    submitted = parse_time(job.get("SubmitTime"))
    basic = [
        ("ID", job.get("ID", "")),
        ("Name", job.get("Name", "")),
        ("Submit Date", format_time(submitted) if submitted else ""),
        ("Type", job.get("Type", "")),
        ("Priority", job.get("Priority", "")),
        ("Datacenters", ",".join(job.get("Datacenters") or [])),
        ("Namespace", job.get("Namespace", "")),
        ("Node Pool", job.get("NodePool", "")),
        ("Status", job.get("Status", "") + (" (stopped)" if job.get("Stop") else "")),
        ("Periodic", str(bool(job.get("Periodic"))).lower()),
        ("Parameterized", str(bool(job.get("ParameterizedJob"))).lower()),
    ]
    parameterized = bool(job.get("ParameterizedJob")) and not job.get("Dispatched")
    if job.get("Periodic") and not parameterized and not job.get("Stop"):
        basic.append(("Next Periodic Launch", next_periodic_launch(job["Periodic"])))
    if is_parent(job):
        return format_kv(basic) + format_parent(job, summary, children or [], parameterized)
    text = format_kv(basic)
    groups = (summary or {}).get("Summary") or {}
    rows: list[list[Any]] = [["Task Group", *SUMMARY_STATES]]
    for name in sorted(groups):
        rows.append([name] + [groups[name].get(k, 0) for k in SUMMARY_STATES])
    text += "\n\nSummary\n" + format_list(rows)
    blocked = any(e.get("Status") == "blocked" for e in evals)
    failed = [e for e in evals if e.get("FailedTGAllocs")]
    if blocked and failed:
        latest = max(failed, key=lambda e: e.get("CreateIndex", 0))
        text += "\n\nPlacement Failure"
        for name in sorted(latest["FailedTGAllocs"]):
            text += f'\nTask Group "{name}":\n'
            text += "\n".join(format_alloc_metrics(latest["FailedTGAllocs"][name]))
    if deployment:
        text += "\n\nLatest Deployment\n" + format_deployment(deployment, job_fields=False)
    return text + "\n\nAllocations\n" + format_allocations(allocs)


def format_parent(
    job: dict[str, Any], summary: dict[str, Any], children: list[dict[str, Any]], param: bool
) -> str:
    """A parent job's sections of ``nomad job status``: its parameters, its children's
    summary, and the children themselves (outputPeriodicInfo, outputParameterizedInfo)."""
    text = ""
    if param:
        config = job["ParameterizedJob"]
        text += "\n\nParameterized Job\n" + format_kv(
            [
                ("Payload", config.get("Payload") or "optional"),
                ("Required Metadata", ", ".join(config.get("MetaRequired") or [])),
                ("Optional Metadata", ", ".join(config.get("MetaOptional") or [])),
            ]
        )
    counts = (summary or {}).get("Children") or {}
    title = "Parameterized Job Summary" if param else "Children Job Summary"
    text += f"\n\n{title}\n" + format_list(
        [["Pending", "Running", "Dead"], [counts.get(k, 0) for k in ("Pending", "Running", "Dead")]]
    )
    mine = sorted(
        (c for c in children if c.get("ParentID") == job.get("ID")), key=lambda c: c["ID"]
    )
    if param:
        text += "\n\nDispatched Jobs\n"
        empty = "No dispatched instances of parameterized job found"
    else:
        text += "\n\nPreviously Launched Jobs\n"
        empty = "No instances of periodic job found"
    if not mine:
        return text + empty
    return text + format_list([["ID", "Status"], *[[c["ID"], c["Status"]] for c in mine]])


def next_periodic_launch(periodic: dict[str, Any]) -> str:
    """When a periodic job launches next, as the CLI prints it: time (N from now)."""
    specs = [periodic["Spec"]] if periodic.get("Spec") else periodic.get("Specs") or []
    if not specs or not periodic.get("Enabled", True):
        return ""
    at = datetime.fromtimestamp(
        contract.next_launch(specs, time.time(), periodic.get("TimeZone") or ""), timezone.utc
    )
    return f"{format_time(at)} ({pretty_time_diff(at)})"
