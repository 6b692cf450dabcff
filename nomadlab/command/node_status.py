"""``nomad node status`` and ``nomad node drain`` output, as command/node_status.go,
command/node_drain.go and api/nodes.go (MonitorDrain) print it: pure functions, data in,
text out."""

from __future__ import annotations

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
from nomadlab.command.job_status import format_allocations


def stamp(value: Any, empty: str = "") -> str:
    """A Nomad time (RFC 3339 or Unix ns) as the CLI prints it; ``empty`` for the zero time."""
    moment = parse_time(value)
    return format_time(moment) if moment else empty


def format_drain(node: dict[str, Any]) -> str:
    """The Drain field: ``true; 2026-01-02T15:04:05Z deadline``, ``false`` (formatDrain)."""
    strategy = node.get("DrainStrategy")
    if not strategy:
        return str(bool(node.get("Drain"))).lower()
    text = "true"
    deadline = parse_time(strategy.get("ForceDeadline"))
    if (strategy.get("Deadline") or 0) < 0:
        text += "; force drain"
    elif deadline is None:
        text += "; no deadline"
    else:
        text += f"; {format_time(deadline)} deadline"
    if strategy.get("IgnoreSystemJobs"):
        text += "; ignoring system jobs"
    return text


def format_node_list(nodes: list[dict[str, Any]], verbose: bool = False) -> str:
    """``nomad node status``: one row per node."""
    if not nodes:
        return "No nodes registered"
    header = ["ID", "Node Pool", "DC", "Name", "Class"]
    header += ["Address", "Version"] if verbose else []
    rows: list[list[Any]] = [[*header, "Drain", "Eligibility", "Status"]]
    for node in nodes:
        row = [
            limit(node["ID"], FULL_ID if verbose else 8),
            node.get("NodePool", ""),
            node.get("Datacenter", ""),
            node.get("Name", ""),
            node.get("NodeClass", ""),
        ]
        row += [node.get("Address", ""), node.get("Version", "")] if verbose else []
        row += [
            str(bool(node.get("Drain"))).lower(),
            node.get("SchedulingEligibility", ""),
            node.get("Status", ""),
        ]
        rows.append(row)
    return format_list(rows)


def _drivers(node: dict[str, Any]) -> str:
    names = []
    for name, info in sorted((node.get("Drivers") or {}).items()):
        if info.get("Detected"):
            names.append(name if info.get("Healthy") else f"{name} (unhealthy)")
    return ",".join(names)


def format_node_status(
    node: dict[str, Any], allocs: list[dict[str, Any]], verbose: bool = False
) -> str:
    """``nomad node status [-verbose] NODE``: the node, its events, resources and allocations."""
    running = [a for a in allocs if a.get("ClientStatus") == "running"]
    basic: list[tuple[str, Any]] = [
        ("ID", node["ID"]),
        ("Name", node.get("Name", "")),
        ("Node Pool", node.get("NodePool", "")),
        ("Class", node.get("NodeClass", "")),
        ("DC", node.get("Datacenter", "")),
        ("Drain", format_drain(node)),
        ("Eligibility", node.get("SchedulingEligibility", "")),
        ("Status", node.get("Status", "")),
        ("CSI Controllers", ""),
        ("CSI Drivers", ""),
    ]
    if not verbose:
        basic += [
            ("Host Volumes", ""),
            ("Host Networks", ""),
            ("CSI Volumes", ""),
            ("Driver Status", _drivers(node)),
        ]
    out = [format_kv(basic)]
    if verbose:
        rows: list[list[Any]] = [["Driver", "Detected", "Healthy", "Message", "Time"]]
        for name, info in sorted((node.get("Drivers") or {}).items()):
            rows.append(
                [
                    name,
                    str(bool(info.get("Detected"))).lower(),
                    str(bool(info.get("Healthy"))).lower(),
                    info.get("HealthDescription", ""),
                    stamp(info.get("UpdateTime")),
                ]
            )
        out += ["", "Drivers", format_list(rows)]
    out += ["", "Node Events", format_node_events(node.get("Events") or [], verbose)]
    out += ["", "Allocated Resources", format_allocated(node, running)]
    out += ["", "Allocations", format_allocations(allocs, length=FULL_ID if verbose else 8)]
    if verbose:
        attributes = sorted((node.get("Attributes") or {}).items())
        out += ["", "Attributes", format_kv(attributes)]
        meta = sorted((node.get("Meta") or {}).items())
        out += ["", "Meta", format_kv(meta) if meta else ""]
    return "\n".join(out).rstrip("\n")


def format_node_events(events: list[dict[str, Any]], verbose: bool = False) -> str:
    """The node's events, newest first (outputNodeEvent)."""
    header = ["Time", "Subsystem", "Message"] + (["Details"] if verbose else [])
    rows: list[list[Any]] = [header]
    for event in reversed(events):
        details = event.get("Details") or {}
        subsystem = event.get("Subsystem", "")
        if details.get("driver"):
            subsystem = f"Driver: {details['driver']}"
        row = [stamp(event.get("Timestamp")), subsystem, event.get("Message")]
        if verbose:
            row.append(", ".join(f"{k}: {v}" for k, v in details.items()))
        rows.append(row)
    return format_list(rows)


def format_allocated(node: dict[str, Any], running: list[dict[str, Any]]) -> str:
    """``CPU  Memory  Disk`` held by running allocations out of the node's total."""
    resources = node.get("NodeResources") or {}
    reserved = node.get("ReservedResources") or {}

    def total(kind: str, key: str) -> int:
        return int((resources.get(kind) or {}).get(key) or 0) - int(
            (reserved.get(kind) or {}).get(key) or 0
        )

    cpu = mem = disk = 0
    for alloc in running:
        held = alloc.get("Resources") or {}
        cpu += held.get("CPU") or 0
        mem += held.get("MemoryMB") or 0
        disk += held.get("DiskMB") or 0
    mib = 1024 * 1024
    return format_list(
        [
            ["CPU", "Memory", "Disk"],
            [
                f"{cpu}/{total('Cpu', 'CpuShares')} MHz",
                f"{ibytes(mem * mib)}/{ibytes(total('Memory', 'MemoryMB') * mib)}",
                f"{ibytes(disk * mib)}/{ibytes(total('Disk', 'DiskMB') * mib)}",
            ],
        ]
    )


def drain_messages(
    node_id: str, before: dict[str, dict[str, Any]], allocs: list[dict[str, Any]]
) -> list[str]:
    """What ``nomad node drain`` prints as the node's allocations change (monitorDrainAllocs):
    ``Alloc "id" marked for migration``, ``draining``, ``status running -> complete``."""
    messages = []
    for alloc in allocs:
        old = before.get(alloc["ID"])
        if old is None:
            continue
        migrating = bool((alloc.get("DesiredTransition") or {}).get("Migrate"))
        was_migrating = bool((old.get("DesiredTransition") or {}).get("Migrate"))
        if old.get("ClientStatus") != alloc.get("ClientStatus"):
            message = f"status {old.get('ClientStatus')} -> {alloc.get('ClientStatus')}"
        elif migrating and not was_migrating:
            message = "marked for migration"
        elif (
            migrating
            and old.get("DesiredStatus") != alloc.get("DesiredStatus")
            and alloc.get("DesiredStatus") == "stop"
        ):
            message = "draining"
        else:
            continue
        messages.append(f'Alloc "{alloc["ID"]}" {message}')
    return messages


def allocs_stopped(allocs: list[dict[str, Any]], ignore_system: bool = False) -> bool:
    """No allocation on the node is pending or running any more."""
    return not any(
        a.get("ClientStatus") in ("pending", "running")
        and not (ignore_system and (a.get("Job") or {}).get("Type") == "system")
        for a in allocs
    )
