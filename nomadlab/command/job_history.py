"""``nomad job history [-p] [-full] JOB`` output, as command/job_history.go prints it."""

from __future__ import annotations

import json
from typing import Any

from nomadlab.command.helpers import format_time, parse_time
from nomadlab.command.job_plan import format_job_diff


def format_version(job: dict, diff: dict | None = None, full: bool = False) -> str:
    """One version in ``nomad job history`` (outputVersion)."""
    submitted = parse_time(job.get("SubmitTime"))
    pairs: list[tuple[str, Any]] = [
        ("Version", job.get("Version", 0)),
        ("Stable", str(bool(job.get("Stable"))).lower()),
        ("Submit Date", format_time(submitted) if submitted else ""),
    ]
    tag = job.get("VersionTag") or {}
    if tag.get("Name"):
        pairs.append(("Tag Name", tag["Name"]))
        if tag.get("Description"):
            pairs.append(("Tag Description", tag["Description"]))
    if diff is not None:
        pairs.append(("Diff", "\n" + format_job_diff(diff).strip()))
    if full:
        pairs.append(("Full", "JSON Job:\n" + json.dumps(job, indent=4)))
    width = max(len(key) for key, _ in pairs)
    lines = "\n".join(f"{key.ljust(width)} = {value}" for key, value in pairs).split("\n")
    return "\n".join(line.rstrip() for line in lines)


def format_history(
    versions: list[dict], diffs: list[dict] | None = None, full: bool = False
) -> str:
    """``nomad job history [-p] [-full] JOB``: every version, newest first."""
    diffs = diffs or []
    return "\n\n".join(
        format_version(job, diffs[i] if i < len(diffs) else None, full)
        for i, job in enumerate(versions)
    )
