"""``nomad service list`` and ``nomad service info`` output, and the "Nomad Service Checks"
section of ``nomad alloc status``, as command/service_list.go, service_info.go and
alloc_status.go print them."""

from __future__ import annotations

from typing import Any

from nomadlab.command.helpers import SHORT_ID, format_kv, format_list, limit

NO_SERVICES = "No service registrations found"


def format_service_list(stubs: list[dict[str, Any]], all_namespaces: bool = False) -> str:
    """``nomad service list``: one row per service name with its tags."""
    if not stubs:
        return NO_SERVICES
    header = "Service Name" + ("|Namespace" if all_namespaces else "") + "|Tags"
    rows = [header]
    for stub in sorted(stubs, key=lambda s: s["Namespace"]):
        for service in sorted(stub["Services"], key=lambda s: s["ServiceName"]):
            row = service["ServiceName"] + (f"|{stub['Namespace']}" if all_namespaces else "")
            rows.append(f"{row}|[{','.join(sorted(service['Tags'] or []))}]")
    return format_list(rows)


def format_address(address: str, port: int) -> str:
    """``host:port``, or the host alone when there is no port (as the CLI prints it)."""
    if not port:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def format_service_info(registrations: list[dict[str, Any]], verbose: bool = False) -> str:
    """``nomad service info NAME`` (``-verbose``): each instance, grouped by job ID."""
    if not registrations:
        return NO_SERVICES
    ordered = sorted(registrations, key=lambda r: r["JobID"])  # stable: API order within a job
    if verbose:
        return "\n\n".join(
            format_kv(
                [
                    ("ID", r["ID"]),
                    ("Service Name", r["ServiceName"]),
                    ("Namespace", r["Namespace"]),
                    ("Job ID", r["JobID"]),
                    ("Alloc ID", r["AllocID"]),
                    ("Node ID", r["NodeID"]),
                    ("Datacenter", r["Datacenter"]),
                    ("Address", f"{r['Address']}:{r['Port']}"),
                    ("Tags", f"[{','.join(r['Tags'] or [])}]"),
                ]
            )
            for r in ordered
        )
    rows = ["Job ID|Address|Tags|Node ID|Alloc ID"]
    for r in ordered:
        rows.append(
            f"{r['JobID']}|{format_address(r['Address'], r['Port'])}|[{','.join(r['Tags'] or [])}]"
            f"|{limit(r['NodeID'], SHORT_ID)}|{limit(r['AllocID'], SHORT_ID)}"
        )
    return format_list(rows)


def format_service_checks(results: dict[str, dict[str, Any]]) -> str:
    """The "Nomad Service Checks" section of ``nomad alloc status`` ("" without checks)."""
    if not results:
        return ""
    rows = sorted(
        f"{r['Service']}|{r.get('Task') or '(group)'}|{r['Check']}|{r['Mode']}|{r['Status']}"
        for r in results.values()
    )
    return "Nomad Service Checks:\n" + format_list(["Service|Task|Name|Mode|Status", *rows])
