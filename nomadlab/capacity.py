"""How many allocations of a task group the cluster has room for: the scale panel's bound,
estimated as Nomad's scheduler would check it (ready nodes with the group's drivers, CPU,
memory and static ports free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

from nomad.api import exceptions as nomad_exceptions

from nomadlab.allocations import alloc_ports
from nomadlab.command.helpers import limit
from nomadlab.errors import api_errors
from nomadlab.recording import TERMINAL

if TYPE_CHECKING:
    from nomadlab.lab import Lab

#: The slider stops here even on a big machine: every allocation of the tutorial's job is
#: a real process on this computer. ``scale_panel(..., cap=N)`` changes it.
MAX_COUNT = 50


@dataclass
class Room:
    """How many allocations of a task group the cluster's ready nodes have room for."""

    group: str
    cpu: int  # MHz one allocation asks for
    memory: int  # MB one allocation asks for
    placed: int  # allocations of the group holding resources now
    more: dict[str, int] = field(default_factory=dict)  # node name → how many more fit
    static_ports: list[str] = field(default_factory=list)
    cap: int = MAX_COUNT

    @property
    def fits(self) -> int:
        """Allocations the group could have: the placed ones plus what still fits."""
        return self.placed + sum(self.more.values())

    @property
    def maximum(self) -> int:
        """The slider's maximum: what fits, at most ``cap``, and at least 1."""
        return max(1, min(self.fits, self.cap))

    def describe(self) -> str:
        """One sentence on how :attr:`maximum` was computed."""
        several = len(self.more) > 1
        nodes = ", ".join(f"{name}: {n}" for name, n in self.more.items()) if several else ""
        text = (
            f"At most {self.maximum}: each allocation of group “{self.group}” asks for "
            f"{self.cpu} MHz of CPU and {self.memory} MB of memory; "
            f"{len(self.more)} ready node{'s' if len(self.more) != 1 else ''} "
            f"{'have' if len(self.more) != 1 else 'has'} room for {sum(self.more.values())} "
            f"more{f' ({nodes})' if nodes else ''} besides the {self.placed} placed now."
        )
        if self.static_ports:
            text += (
                f" Its static port {', '.join(self.static_ports)} allows one allocation per "
                "host address."
            )
        if self.fits > self.cap:
            text += f" Capped at {self.cap}: every allocation is a process on this computer."
        return text


def _ask(group: dict[str, Any]) -> tuple[int, int]:
    tasks = group.get("Tasks") or []
    cpu = sum((t.get("Resources") or {}).get("CPU") or 0 for t in tasks)
    memory = sum((t.get("Resources") or {}).get("MemoryMB") or 0 for t in tasks)
    return max(cpu, 1), max(memory, 1)


def _usable(node: dict[str, Any], job: dict[str, Any], drivers: set[str]) -> bool:
    """Whether the scheduler could place the job's group on this node (NodeListStub)."""
    if node.get("Status") != "ready" or node.get("SchedulingEligibility") != "eligible":
        return False
    if node.get("Drain"):
        return False
    datacenters = job.get("Datacenters") or ["*"]
    if not any(fnmatch(node.get("Datacenter", ""), dc) for dc in datacenters):
        return False
    pool = job.get("NodePool") or "default"
    if pool != "all" and (node.get("NodePool") or "default") != pool:
        return False
    found = node.get("Drivers") or {}
    return all((found.get(d) or {}).get("Detected") and found[d].get("Healthy") for d in drivers)


def room(lab: Lab, job: dict[str, Any], group: str, cap: int = MAX_COUNT) -> Room:
    """How many allocations of ``group`` fit: free CPU and memory of each usable node
    (NodeResources − ReservedResources − what live allocations hold) over the group's ask.

    ``job`` is the Job as ``GET /v1/job/:id`` returns it.
    """
    spec = next(g for g in job.get("TaskGroups") or [] if g.get("Name") == group)
    cpu, memory = _ask(spec)
    drivers = {t.get("Driver", "") for t in spec.get("Tasks") or []}
    static = [
        (p.get("Label", ""), int(p["Value"]))
        for network in spec.get("Networks") or []
        for p in network.get("ReservedPorts") or []
        if p.get("Value")
    ]
    with api_errors(lab.address, bool(lab.nomad.token)):
        nodes = [n for n in lab.nomad.nodes.get_nodes() if _usable(n, job, drivers)]
        try:
            allocs = lab.nomad.allocations.get_allocations(
                resources=True, task_states=False, namespace="*"
            )
        except nomad_exceptions.BaseNomadException:  # a token for one namespace: what it sees
            allocs = lab.nomad.allocations.get_allocations(resources=True, task_states=False)
        full = {n["ID"]: lab.nomad.node.get_node(n["ID"]) for n in nodes}
    live = [a for a in allocs if a.get("DesiredStatus") == "run"
            and a.get("ClientStatus") not in TERMINAL]  # fmt: skip
    placed = sum(
        a.get("JobID") == job.get("ID")
        and a.get("Namespace", "default") == job.get("Namespace", "default")
        and a.get("TaskGroup") == group
        for a in live
    )
    taken = {
        (ip, port) for a in live for ip, port in alloc_ports(a).values()
    }  # host address and port held by a live allocation
    hosts_used: set[str] = set()
    result = Room(group, cpu, memory, placed, static_ports=[f"{lbl}={v}" for lbl, v in static],
                  cap=cap)  # fmt: skip
    for node in sorted(nodes, key=lambda n: n.get("Name", "")):
        resources = full[node["ID"]].get("NodeResources") or {}
        reserved = full[node["ID"]].get("ReservedResources") or {}
        free_cpu = ((resources.get("Cpu") or {}).get("CpuShares") or 0) - (
            (reserved.get("Cpu") or {}).get("CpuShares") or 0
        )
        free_memory = ((resources.get("Memory") or {}).get("MemoryMB") or 0) - (
            (reserved.get("Memory") or {}).get("MemoryMB") or 0
        )
        for a in live:
            if a.get("NodeID") == node["ID"]:
                tasks = (a.get("AllocatedResources") or {}).get("Tasks") or {}
                free_cpu -= sum((t.get("Cpu") or {}).get("CpuShares") or 0 for t in tasks.values())
                free_memory -= sum(
                    (t.get("Memory") or {}).get("MemoryMB") or 0 for t in tasks.values()
                )
        more = max(0, min(free_cpu // cpu, free_memory // memory))
        if static:
            address = node.get("Address", "")
            port_free = all((address, port) not in taken for _, port in static)
            more = min(more, 1) if port_free and address not in hosts_used else 0
            if more:
                hosts_used.add(address)
        result.more[node.get("Name") or limit(node["ID"])] = more
    return result
