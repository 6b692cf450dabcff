"""``nomad deployment status`` output, as command/deployment_status.go prints a deployment
and its task groups."""

from __future__ import annotations

from typing import Any

from nomadlab.command.helpers import format_kv, format_list, format_time, limit, parse_time


def format_deployment_groups(groups: dict[str, dict[str, Any]]) -> str:
    """The ``Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline`` table."""
    states = [groups[name] for name in sorted(groups)]
    autorevert = any(s.get("AutoRevert") for s in states)
    canaries = any(s.get("DesiredCanaries") for s in states)
    deadline = any(s.get("ProgressDeadline") for s in states)
    header = ["Task Group"]
    header += ["Auto Revert"] if autorevert else []
    header += ["Promoted"] if canaries else []
    header += ["Desired"] + (["Canaries"] if canaries else []) + ["Placed", "Healthy", "Unhealthy"]
    header += ["Progress Deadline"] if deadline else []
    rows: list[list[Any]] = [header]
    for name, s in zip(sorted(groups), states, strict=True):
        row: list[Any] = [name]
        if autorevert:
            row.append(str(bool(s.get("AutoRevert"))).lower())
        if canaries:
            row.append(str(bool(s.get("Promoted"))).lower() if s.get("DesiredCanaries") else "N/A")
        row.append(s.get("DesiredTotal", 0))
        if canaries:
            row.append(s.get("DesiredCanaries", 0))
        row += [s.get("PlacedAllocs", 0), s.get("HealthyAllocs", 0), s.get("UnhealthyAllocs", 0)]
        if deadline:
            by = parse_time(s.get("RequireProgressBy"))
            row.append(format_time(by) if by else "N/A")
        rows.append(row)
    return format_list(rows)


def format_deployment(deployment: dict[str, Any], length: int = 8, job_fields: bool = True) -> str:
    """A deployment as ``nomad deployment status`` shows it (``job_fields`` adds job ID/version)."""
    pairs: list[tuple[str, Any]] = [("ID", limit(deployment.get("ID", ""), length))]
    if job_fields:
        pairs += [
            ("Job ID", deployment.get("JobID", "")),
            ("Job Version", deployment.get("JobVersion", 0)),
        ]
    pairs += [
        ("Status", deployment.get("Status", "")),
        ("Description", deployment.get("StatusDescription", "")),
    ]
    text = format_kv(pairs)
    if deployment.get("TaskGroups"):
        text += "\n\nDeployed\n" + format_deployment_groups(deployment["TaskGroups"])
    return text
