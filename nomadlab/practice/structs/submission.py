"""structs.JobSubmission: the source a job version was registered from (HCL or JSON, with its
variables), kept beside the version so ``nomad job inspect`` and the UI can show it."""

from __future__ import annotations

import math

# command/agent: the server's job_max_source_size default ("1M", read by humanize.ParseBytes).
JOB_MAX_SOURCE_SIZE = 1_000_000
_SI_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def human_bytes(size: int) -> str:
    """go-humanize's Bytes: SI units, one decimal below 10 ("2.0 MB", "33 B")."""
    if size < 10:
        return f"{size} B"
    exponent = math.floor(math.log(size) / math.log(1000))
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    return (
        f"{value:.1f} {_SI_UNITS[exponent]}" if value < 10 else f"{value:.0f} {_SI_UNITS[exponent]}"
    )


def submission_size(submission: dict) -> int:
    """What Job.submissionController counts: source, variables and every variable flag."""
    flags = submission.get("VariableFlags") or {}
    size = len(submission["Source"].encode()) + len(submission["Variables"].encode())
    return size + sum(len(k.encode()) + len(v.encode()) for k, v in flags.items())


def oversized(submission: dict, limit: int = JOB_MAX_SOURCE_SIZE) -> str | None:
    """The register warning for a submission over the limit (it is then discarded), or None."""
    size = submission_size(submission)
    if size <= limit:
        return None
    return (
        f"job source size of {human_bytes(size)} exceeds maximum of {human_bytes(limit)} "
        "and will be discarded"
    )


def job_submission(submission: dict, job: dict) -> dict:
    """The stored JobSubmission of ``job``'s current version (state store
    updateJobSubmission); no variable flags is null, as api.JobSubmission.Canonicalize makes it."""
    return {
        "Source": submission["Source"],
        "Format": submission["Format"],
        "VariableFlags": submission.get("VariableFlags") or None,
        "Variables": submission["Variables"],
        "Namespace": job["Namespace"],
        "JobID": job["ID"],
        "Version": job["Version"],
        "JobModifyIndex": job["JobModifyIndex"],
    }
