"""Reading an allocation's JSON as Nomad's API gives it: where its ports are, which tasks
its group runs, and which port a learner means."""

from __future__ import annotations

from typing import Any

from nomadlab.errors import NomadLabError


def alloc_ports(alloc: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Port label → (host IP, value), first seen first, from every place Nomad puts them:
    ``AllocatedResources.Shared.Ports``, the reserved and dynamic ports of the shared and
    the tasks' networks, and old-style ``Resources.Networks``. The IP is "" where Nomad
    gave none; list stubs have no ports at all (``{}``)."""
    found: dict[str, tuple[str, int]] = {}
    resources = alloc.get("AllocatedResources") or {}
    shared = resources.get("Shared") or {}
    for port in shared.get("Ports") or []:
        if port.get("Value"):
            found.setdefault(
                port.get("Label") or "", (port.get("HostIP") or "", int(port["Value"]))
            )
    networks = [
        *(shared.get("Networks") or []),
        *(n for t in (resources.get("Tasks") or {}).values() for n in t.get("Networks") or []),
        *((alloc.get("Resources") or {}).get("Networks") or []),
    ]
    for network in networks:
        for port in (network.get("ReservedPorts") or []) + (network.get("DynamicPorts") or []):
            if port.get("Value"):
                address = (network.get("IP") or "", int(port["Value"]))
                found.setdefault(port.get("Label") or "", address)
    return found


def host_ports(alloc: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """:func:`alloc_ports` with a host IP: what a learner can call (never assumed)."""
    return {label: found for label, found in alloc_ports(alloc).items() if found[0]}


def group_tasks(alloc: dict[str, Any]) -> list[str]:
    """The names of the tasks the allocation's group declares, from its embedded job."""
    for group in (alloc.get("Job") or {}).get("TaskGroups") or []:
        if group.get("Name") == alloc.get("TaskGroup"):
            return [t.get("Name", "") for t in group.get("Tasks") or []]
    return []


def pick_label(ports: dict[str, tuple[str, int]], port: str | None, job: str) -> str:
    """The port a learner means: the one named, else the job's only port, else ``http``."""
    if port is not None:
        if port not in ports:
            raise NomadLabError(
                f'Job "{job}" has no port "{port}"; its ports: {", ".join(ports) or "none"}.'
            )
        return port
    if len(ports) == 1:
        return next(iter(ports))
    if "http" in ports:
        return "http"
    if not ports:
        raise NomadLabError(
            f'Job "{job}" asks for no ports (add `network {{ port "http" {{}} }}`).'
        )
    raise NomadLabError(
        f'Job "{job}" has ports {", ".join(ports)}: say which, e.g. port="{next(iter(ports))}".'
    )
