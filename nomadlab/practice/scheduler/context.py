"""An evaluation's context (scheduler/context.go): what each node holds once the plan so far
is applied (CPU, memory, the job's own copies per group, host ports), kept up to date as the
plan grows, so that one placement costs the same beside ten allocations or ten thousand."""

from __future__ import annotations

from collections import Counter

from nomadlab.practice import structs
from nomadlab.practice.scheduler.util import Plan
from nomadlab.practice.state import StateStore

Holding = tuple[str, int, int, str | None, tuple[int, ...]]  # node, cpu, memory, group, ports


class EvalContext:
    """Proposed usage per node: the store's live allocations with the plan laid over them."""

    def __init__(self, store: StateStore, job: dict, plan: Plan) -> None:
        self.job = job
        self.plan = plan
        self.usage: dict[str, list[int]] = {}  # node ID → [cpu, memory, same job]
        self.copies: dict[str, Counter[str]] = {}  # this job's group → node ID → copies
        self.ports: set[int] = set()  # every port held (or being assigned): pass to rank
        self._port_holders: Counter[int] = Counter()
        self._held: dict[str, Holding] = {}
        self._seen = 0
        for alloc in store.allocs.values():
            self._count(alloc)

    def refresh(self) -> None:
        """Count the allocations the plan gained (placed, stopped, updated) since last time."""
        for alloc in self.plan.allocs[self._seen :]:
            self._count(alloc)
        self._seen = len(self.plan.allocs)

    def node_usage(self, node_id: str) -> tuple[int, int, int]:
        """CPU and memory proposed on the node, and how many of them are this job's."""
        cpu, memory, same_job = self.usage.get(node_id, (0, 0, 0))
        return cpu, memory, same_job

    def group_copies(self, group: str) -> Counter[str]:
        """How many of the group's copies each node holds (job anti-affinity, spread,
        distinct_hosts)."""
        return self.copies.get(group, Counter())

    def _count(self, alloc: dict) -> None:
        previous = self._held.pop(alloc["ID"], None)
        if previous is not None:
            self._add(previous, -1)
        if alloc["DesiredStatus"] == "run" and not structs.is_terminal(alloc):
            cpu, memory = structs.alloc_resources(alloc)
            holding = (
                alloc["NodeID"],
                cpu,
                memory,
                alloc["TaskGroup"] if self._same_job(alloc) else None,
                tuple(structs.alloc_ports(alloc)),
            )
            self._held[alloc["ID"]] = holding
            self._add(holding, 1)

    def _same_job(self, alloc: dict) -> bool:
        return alloc["JobID"] == self.job["ID"] and alloc["Namespace"] == self.job["Namespace"]

    def _add(self, holding: Holding, sign: int) -> None:
        node_id, cpu, memory, group, ports = holding
        usage = self.usage.setdefault(node_id, [0, 0, 0])
        usage[0] += sign * cpu
        usage[1] += sign * memory
        if group is not None:
            usage[2] += sign
            self.copies.setdefault(group, Counter())[node_id] += sign
        for port in ports:
            self._port_holders[port] += sign
            if self._port_holders[port] > 0:
                self.ports.add(port)
            else:
                del self._port_holders[port]
                self.ports.discard(port)
