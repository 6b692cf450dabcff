"""What Lab calls return: plain data with a readable text form and an HTML view for Jupyter."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from nomadlab.monitor import format_alloc_metrics, format_deployment
from nomadlab.practice import cron
from nomadlab.terminal import (
    format_kv,
    format_list,
    format_time,
    limit,
    parse_time,
    pretty_time_diff,
)


class Text(str):
    """A string that Jupyter and IPython show as-is (logs, service replies), not quoted."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


class Table(list):
    """Rows (dicts) with columns; text like the CLI's tables, HTML in Jupyter."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str], empty: str = "") -> None:
        super().__init__(rows)
        self.columns = columns
        self.empty = empty

    def __str__(self) -> str:
        if not self:
            return self.empty
        return format_list([self.columns] + [[r.get(c, "") for c in self.columns] for r in self])

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        if not self:
            return f"<p>{html.escape(self.empty)}</p>"
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in self.columns)
            + "</tr>"
            for r in self
        )
        # JupyterLab right-aligns table cells; ids, names and statuses read better left.
        style = "<style>.nomadlab-table td, .nomadlab-table th {text-align: left}</style>"
        return (
            f'{style}<table class="nomadlab-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )


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


def allocation_table(stubs: list[dict[str, Any]], addresses: dict[str, str] | None = None,
                     length: int = 8) -> Table:  # fmt: skip
    """Allocation list stubs, newest first, as ``nomad job status`` lists them (+ Address)."""
    addresses = addresses or {}
    rows = []
    for a in sorted(stubs, key=lambda a: a.get("CreateIndex", 0), reverse=True):
        rows.append(
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
        )
    columns = ALLOC_COLUMNS + (["Address"] if addresses else [])
    return Table(rows, columns, empty="No allocations placed")


@dataclass
class RunResult:
    """The outcome of ``lab.run`` / ``lab.scale`` / ``lab.stop``: IDs, statuses, allocations."""

    job_id: str
    eval_id: str = ""
    eval_status: str = ""
    deployment_id: str = ""
    deployment_status: str = ""
    allocations: Table = field(default_factory=lambda: Table([], ALLOC_COLUMNS))
    failed_placements: dict[str, Any] = field(default_factory=dict)
    warnings: str = ""
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        """True when everything was placed and any deployment succeeded (exit code 0)."""
        return self.exit_code == 0

    def __repr__(self) -> str:
        parts = [f"job {self.job_id!r}"]
        if self.eval_id:
            parts.append(f"evaluation {limit(self.eval_id)} {self.eval_status}".rstrip())
        if self.deployment_id:
            parts.append(
                f"deployment {limit(self.deployment_id)} {self.deployment_status}".rstrip()
            )
        running = [r["ID"] + " " + r["Status"] for r in self.allocations if r["Desired"] == "run"]
        parts.append(f"allocations: {', '.join(running) or 'none'}")
        return f"RunResult({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = [("Job", self.job_id), ("Evaluation", f"{self.eval_id} ({self.eval_status})")]
        if self.deployment_id:
            rows.append(("Deployment", f"{self.deployment_id} ({self.deployment_status})"))
        if self.failed_placements:
            rows.append(("Placement failures", ", ".join(sorted(self.failed_placements))))
        head = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table>{head}</table>{self.allocations._repr_html_()}"


class StatusText:
    """Text of a ``nomad job status``-like view, shown verbatim in terminals and notebooks."""

    def __init__(self, text: str, data: dict[str, Any]) -> None:
        self.text = text
        self.data = data

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


class JobList(StatusText):
    """``nomad job status`` without a job: every job, one line each."""

    @classmethod
    def build(cls, jobs: list[dict[str, Any]]) -> JobList:
        """Format the /v1/jobs list stubs."""
        if not jobs:
            return cls("No running jobs", {"jobs": []})
        rows: list[list[Any]] = [["ID", "Type", "Priority", "Status", "Submit Date"]]
        for j in jobs:
            kind = j.get("Type", "") + ("/periodic" if j.get("Periodic") else "")
            kind += "/parameterized" if j.get("ParameterizedJob") else ""
            status = j.get("Status", "") + (" (stopped)" if j.get("Stop") else "")
            submitted = parse_time(j.get("SubmitTime"))
            rows.append(
                [
                    j.get("ID"),
                    kind,
                    j.get("Priority"),
                    status,
                    format_time(submitted) if submitted else "",
                ]
            )
        return cls(format_list(rows), {"jobs": jobs})


class JobStatus(StatusText):
    """``nomad job status JOB``: job, summary, latest deployment, allocations."""

    @classmethod
    def build(
        cls,
        job: dict[str, Any],
        summary: dict[str, Any],
        allocs: list[dict[str, Any]],
        evals: list[dict[str, Any]],
        deployment: dict[str, Any] | None,
        children: list[dict[str, Any]] | None = None,
    ) -> JobStatus:
        """Format the pieces the way command/job_status.go does; a periodic or parameterized
        parent shows its child jobs (``children``, JobListStubs) instead of allocations."""
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
        periodic = bool(job.get("Periodic"))
        parameterized = bool(job.get("ParameterizedJob")) and not job.get("Dispatched")
        if periodic and not parameterized and not job.get("Stop"):
            basic.append(("Next Periodic Launch", next_periodic_launch(job["Periodic"])))
        if periodic or parameterized:
            text = format_kv(basic) + format_parent(job, summary, children or [], parameterized)
            data = {"job": job, "summary": summary, "children": children or []}
            return cls(text, data)
        text = format_kv(basic)
        groups = (summary or {}).get("Summary") or {}
        rows: list[list[Any]] = [
            ["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost", "Unknown"]
        ]
        for name in sorted(groups):
            g = groups[name]
            rows.append(
                [name]
                + [
                    g.get(k, 0)
                    for k in (
                        "Queued",
                        "Starting",
                        "Running",
                        "Failed",
                        "Complete",
                        "Lost",
                        "Unknown",
                    )
                ]
            )
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
        text += "\n\nAllocations\n" + str(allocation_table(allocs))
        data = {"job": job, "summary": summary, "allocations": allocs, "evaluations": evals,
                "deployment": deployment}  # fmt: skip
        return cls(text, data)


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
        cron.next_launch(specs, time.time(), periodic.get("TimeZone") or ""), timezone.utc
    )
    return f"{format_time(at)} ({pretty_time_diff(at)})"
