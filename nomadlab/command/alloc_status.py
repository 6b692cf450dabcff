"""``nomad alloc status`` output as command/alloc_status.go prints it: the allocation, its
reschedule history, addresses, each task's resources and recent events, and (``-verbose``)
the placement metrics with every scored node. Pure functions: data in, text out."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from nomadlab.command.helpers import (
    FULL_ID,
    format_kv,
    format_list,
    format_time,
    ibytes,
    limit,
    parse_time,
)
from nomadlab.command.helpers import pretty_time_diff as pretty
from nomadlab.command.monitor import format_alloc_metrics
from nomadlab.command.node_status import stamp
from nomadlab.contract import format_duration

MIB = 1024 * 1024


def reschedule_attempts(alloc: dict[str, Any], now_ns: int) -> tuple[int, int]:
    """Reschedules within the policy's interval, and the attempts it allows (RescheduleInfo)."""
    job = alloc.get("Job") or {}
    group = next(
        (g for g in job.get("TaskGroups") or [] if g.get("Name") == alloc.get("TaskGroup")), {}
    )
    policy = group.get("ReschedulePolicy") or {}
    if policy.get("Unlimited"):
        return 0, 0
    interval = policy.get("Interval") or 0
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    attempts = sum(1 for e in events if now_ns - e.get("RescheduleTime", 0) < interval)
    return attempts, policy.get("Attempts") or 0


def format_alloc_basic(
    alloc: dict[str, Any], verbose: bool = False, reschedule_at: datetime | None = None
) -> str:
    """The key/value block at the top; ``reschedule_at`` is the follow-up evaluation's time."""
    length = FULL_ID if verbose else 8
    created, modified = parse_time(alloc.get("CreateTime")), parse_time(alloc.get("ModifyTime"))
    if verbose:
        times = (format_time(created), format_time(modified))
    else:
        times = (pretty(created), pretty(modified))
    basic: list[tuple[str, Any]] = [
        ("ID", alloc["ID"]),
        ("Eval ID", limit(alloc.get("EvalID", ""), length)),
        ("Name", alloc.get("Name", "")),
        ("Node ID", limit(alloc.get("NodeID", ""), length)),
        ("Node Name", alloc.get("NodeName", "")),
        ("Job ID", alloc.get("JobID", "")),
        ("Job Version", (alloc.get("Job") or {}).get("Version", alloc.get("JobVersion", 0))),
        ("Client Status", alloc.get("ClientStatus", "")),
        ("Client Description", alloc.get("ClientDescription", "")),
        ("Desired Status", alloc.get("DesiredStatus", "")),
        ("Desired Description", alloc.get("DesiredDescription", "")),
        ("Created", times[0]),
        ("Modified", times[1]),
    ]
    if alloc.get("DeploymentID"):
        status = alloc.get("DeploymentStatus") or {}
        healthy = status.get("Healthy")
        health = "unset" if healthy is None else "healthy" if healthy else "unhealthy"
        basic += [
            ("Deployment ID", limit(alloc["DeploymentID"], length)),
            ("Deployment Health", health),
        ]
        if status.get("Canary"):
            basic.append(("Canary", "true"))
    if (alloc.get("RescheduleTracker") or {}).get("Events"):
        attempts, total = reschedule_attempts(alloc, alloc.get("ModifyTime") or 0)
        if total > 0:  # shown only when the policy limits the attempts
            basic.append(("Reschedule Attempts", f"{attempts}/{total}"))
    if alloc.get("NextAllocation"):
        basic.append(("Replacement Alloc ID", limit(alloc["NextAllocation"], length)))
    if reschedule_at is not None and reschedule_at > datetime.now(timezone.utc):
        basic.append(("Reschedule Eligibility", pretty(reschedule_at)))
    if verbose:
        metrics = alloc.get("Metrics") or {}
        basic += [
            ("Evaluated Nodes", metrics.get("NodesEvaluated", 0)),
            ("Filtered Nodes", metrics.get("NodesFiltered", 0)),
            ("Exhausted Nodes", metrics.get("NodesExhausted", 0)),
            ("Allocation Time", format_duration(metrics.get("AllocationTime") or 0)),
            ("Failures", metrics.get("CoalescedFailures", 0)),
        ]
    return format_kv(basic)


def format_addresses(alloc: dict[str, Any]) -> str:
    """``Allocation Addresses (mode = "host"):`` and its ports, or "" without any."""
    shared = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    networks = shared.get("Networks") or []
    ports = shared.get("Ports") or []
    if not networks or not ports:
        return ""
    rows: list[list[Any]] = [["Label", "Dynamic", "Address"]]
    for port in ports:
        address = f"{port.get('HostIP', '')}:{port.get('Value')}"
        if port.get("To"):
            address += f" -> {port['To']}"
        rows.append([f"*{port.get('Label', '')}", "yes", address])
    mode = networks[0].get("Mode")
    suffix = f' (mode = "{mode}")' if mode else ""
    return f"Allocation Addresses{suffix}:\n{format_list(rows)}"


def format_task(
    alloc: dict[str, Any], task: str, state: dict[str, Any], stats: dict[str, Any] | None = None
) -> str:
    """One task: ``Task "x" is "running"``, its resources, times and recent events."""
    out = [f'Task "{task}" is "{state.get("State", "")}"']
    resources = (alloc.get("TaskResources") or {}).get(task)
    if resources:
        addresses = [
            f"{p.get('Label')}: {network.get('IP')}:{p.get('Value')}"
            for network in resources.get("Networks") or []
            for p in (network.get("DynamicPorts") or []) + (network.get("ReservedPorts") or [])
        ]
        cpu = str(resources.get("CPU", 0))
        memory = ibytes((resources.get("MemoryMB") or 0) * MIB)
        usage = ((stats or {}).get("Tasks") or {}).get(task, {}).get("ResourceUsage") or {}
        if usage.get("CpuStats"):
            cpu = f"{int(usage['CpuStats'].get('TotalTicks', 0))}/{cpu}"
        if usage.get("MemoryStats"):
            memory = f"{ibytes(usage['MemoryStats'].get('RSS', 0))}/{memory}"
        disk = ibytes(((alloc.get("Resources") or {}).get("DiskMB") or 0) * MIB)
        rows: list[list[Any]] = [
            ["CPU", "Memory", "Disk", "Addresses"],
            [f"{cpu} MHz", memory, disk, addresses[0] if addresses else ""],
        ]
        rows += [["", "", "", a] for a in addresses[1:]]
        out += ["Task Resources:", format_list(rows)]
    out += ["", "Task Events:"]
    out.append(
        format_kv(
            [
                ("Started At", stamp(state.get("StartedAt"), "N/A")),
                ("Finished At", stamp(state.get("FinishedAt"), "N/A")),
                ("Total Restarts", state.get("Restarts", 0)),
                ("Last Restart", stamp(state.get("LastRestart"), "N/A")),
            ]
        )
    )
    events: list[list[Any]] = [["Time", "Type", "Description"]]
    for event in reversed(state.get("Events") or []):
        message = event.get("DisplayMessage") or event.get("Message", "")
        events.append([stamp(event.get("Time")), event.get("Type"), message])
    out += ["", "Recent Events:", format_list(events)]
    return "\n".join(out)


def format_placement(metrics: dict[str, Any]) -> str:
    """``Placement Metrics``: why nodes were filtered, and each scored node's scores."""
    lines = format_alloc_metrics(metrics, prefix="  ")
    scored = metrics.get("ScoreMetaData") or []
    if scored:
        names = sorted(scored[0].get("Scores") or {})
        rows: list[list[Any]] = [["Node", *names, "final score"]]
        for meta in scored:
            values = [f"{(meta.get('Scores') or {}).get(n, 0):.3g}" for n in names]
            rows.append([meta.get("NodeID"), *values, f"{meta.get('NormScore', 0):.3g}"])
        lines.append(format_list(rows))
    return "\n".join(lines)


def format_alloc_status(
    alloc: dict[str, Any],
    verbose: bool = False,
    stats: dict[str, Any] | None = None,
    reschedule_at: datetime | None = None,
    node_down: bool = False,
    stats_error: str = "",
) -> str:
    """``nomad alloc status [-verbose] ALLOC``; ``stats`` from the client when it answers."""
    out = [format_alloc_basic(alloc, verbose, reschedule_at)]
    addresses = format_addresses(alloc)
    if addresses:
        out += ["", addresses]
    if node_down:
        out += ["", "Omitting resource statistics since the node is down."]
    elif stats_error:
        out += ["", f"Couldn't retrieve stats: {stats_error}"]
    for task, state in sorted((alloc.get("TaskStates") or {}).items()):
        out += ["", format_task(alloc, task, state, stats)]
    if verbose:
        out += ["", "Placement Metrics", format_placement(alloc.get("Metrics") or {})]
    return "\n".join(out)
