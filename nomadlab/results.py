"""What Lab calls return: plain data with a readable text form and an HTML view for Jupyter."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from nomadlab.command.helpers import format_list, limit
from nomadlab.command.job_status import (
    ALLOC_COLUMNS,
    NO_ALLOCATIONS,
    allocation_rows,
    format_job_list,
    format_job_status,
    is_parent,
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


def allocation_table(stubs: list[dict[str, Any]], addresses: dict[str, str] | None = None,
                     length: int = 8) -> Table:  # fmt: skip
    """Allocation list stubs, newest first, as ``nomad job status`` lists them (+ Address)."""
    columns = ALLOC_COLUMNS + (["Address"] if addresses else [])
    return Table(allocation_rows(stubs, addresses, length), columns, empty=NO_ALLOCATIONS)


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
        return cls(format_job_list(jobs), {"jobs": jobs})


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
        text = format_job_status(job, summary, allocs, evals, deployment, children)
        if is_parent(job):
            return cls(text, {"job": job, "summary": summary, "children": children or []})
        data = {"job": job, "summary": summary, "allocations": allocs, "evaluations": evals,
                "deployment": deployment}  # fmt: skip
        return cls(text, data)
