"""The node drainer (nomad/drainer): moves a draining node's allocations off it in the
background, a batch at a time, and marks the drain complete once every allocation on the
node has stopped on its client (or at the drain's deadline).

A drain only *marks* allocations (``DesiredTransition.Migrate``) and asks the scheduler for
a ``node-drain`` evaluation; the scheduler stops each marked allocation and places its
replacement elsewhere. The next batch of a task group is marked once enough of the group
is healthy again: at most ``migrate.max_parallel`` copies are ever missing
(watch_jobs.go handleTaskGroup). At the drain's deadline whatever is left is marked at once.
"""

from __future__ import annotations

import copy
import logging

from nomadlab.practice import structs
from nomadlab.practice.scheduler import Scheduler
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns, rfc3339

log = logging.getLogger("nomad.drain")

DRAIN_COMPLETE = "Node drain complete"
DEADLINE_REACHED = "deadline_reached"  # the event detail set when the deadline ended a drain


class NodeDrainer:
    """Watches draining nodes and their jobs' allocations, as Nomad's leader does."""

    def __init__(self, store: StateStore, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler

    async def run(self) -> None:
        index = 0
        while True:
            index = await self.store.wait(["nodes", "allocs"], index, self._next_deadline())
            for node in list(self.store.nodes.values()):
                if node.get("DrainStrategy") is not None:
                    self.handle(node)

    def _next_deadline(self) -> float:
        """Seconds until the nearest drain deadline, so the drainer wakes for it."""
        waits = [
            (deadline - now_ns()) / 1e9
            for node in self.store.nodes.values()
            if (deadline := force_deadline(node))
        ]
        return max(0.05, min(waits, default=60.0))

    def handle(self, node: dict) -> None:
        """Mark the next allocations of one draining node, or finish its drain."""
        strategy = node["DrainStrategy"]
        deadline = force_deadline(node)
        deadlined = (strategy.get("Deadline") or 0) < 0 or (bool(deadline) and now_ns() >= deadline)
        ignore_system = bool(strategy.get("IgnoreSystemJobs"))
        on_node = self.store.node_allocs(node["ID"])
        # RemainingAllocs: what a drain may still mark (not yet stopped by the server).
        remaining = [
            a
            for a in on_node
            if not terminal(a) and not (ignore_system and a["Job"]["Type"] == "system")
        ]
        if deadlined:  # handleDeadlinedNodes: everything left is stopped, and the drain ends
            self.mark(node, [a for a in remaining if not should_migrate(a)])
            self.complete(node, deadlined=True)
            return
        drainable = [a for a in remaining if a["Job"]["Type"] != "system"]
        self.mark(node, self.next_batch(node, drainable))
        if is_done(on_node):
            # Nomad stops system allocations last, once everything else has left.
            self.mark(node, [a for a in remaining if not should_migrate(a)])
            self.complete(node, deadlined=False)

    def next_batch(self, node: dict, on_node: list[dict]) -> list[dict]:
        """Allocations to mark now: per task group, as many as keep ``count - max_parallel``
        healthy copies running (batch jobs are never marked; they may finish)."""
        batch = []
        groups = sorted({(a["Namespace"], a["JobID"], a["TaskGroup"]) for a in on_node})
        for namespace, job_id, group_name in groups:
            job = self.store.job(namespace, job_id)
            if job is None or job["Type"] == "batch":
                continue
            group = next((g for g in job["TaskGroups"] if g["Name"] == group_name), None)
            if group is None:
                continue
            allocs = [
                a for a in self.store.job_allocs(namespace, job_id) if a["TaskGroup"] == group_name
            ]
            # Copies already marked are on their way out: they no longer count as up.
            healthy = sum(
                1
                for a in allocs
                if not terminal(a)
                and not should_migrate(a)
                and (a.get("DeploymentStatus") or {}).get("Healthy") is not None
            )
            drainable = [
                a
                for a in allocs
                if a["NodeID"] == node["ID"] and not terminal(a) and not should_migrate(a)
            ]
            max_parallel = (group.get("Migrate") or {}).get("MaxParallel") or 1
            count = min(len(drainable), healthy - (group["Count"] - max_parallel))
            batch.extend(drainable[: max(0, count)])
        return batch

    def mark(self, node: dict, allocs: list[dict]) -> None:
        """Set ``DesiredTransition.Migrate`` on ``allocs`` and evaluate their jobs."""
        if not allocs:
            return
        marked = []
        for alloc in allocs:
            updated = copy.deepcopy(alloc)
            updated["DesiredTransition"] = {
                **(alloc.get("DesiredTransition") or {}),
                "Migrate": True,
            }
            marked.append(updated)
        self.store.upsert_allocs(marked)
        log.info("drain: marked %d allocation(s) for migration on node %s", len(marked), node["ID"])
        for namespace, job_id in sorted({(a["Namespace"], a["JobID"]) for a in allocs}):
            job = self.store.job(namespace, job_id)
            if job is not None:
                self.scheduler.enqueue(
                    new_evaluation(job, "node-drain", JobModifyIndex=job["JobModifyIndex"])
                )

    def complete(self, node: dict, deadlined: bool) -> None:
        """The node is empty: the drain is over, and the node stays ineligible."""
        now = rfc3339(now_ns())
        last = node.get("LastDrain") or {}
        node.update(
            Drain=False,
            DrainStrategy=None,
            LastDrain={
                "StartedAt": last.get("StartedAt") or now,
                "UpdatedAt": now,
                "Status": "complete",
                "AccessorID": "",
                "Meta": last.get("Meta"),
            },
        )
        add_node_event(
            node,
            DRAIN_COMPLETE,
            "Drain",
            {DEADLINE_REACHED: "true"} if deadlined else None,
        )
        self.store.upsert("nodes", node)
        log.info("drain: node %s drain complete", node["ID"])


def terminal(alloc: dict) -> bool:
    """Nomad's Allocation.TerminalStatus: stopped by the server or finished on the client."""
    return alloc["DesiredStatus"] in ("stop", "evict") or structs.is_terminal(alloc)


def is_done(on_node: list[dict]) -> bool:
    """drainingNode.IsDone: every allocation on the node but system ones has stopped on
    its client (a server's stop is not enough: the task may still be running)."""
    return all(structs.is_terminal(a) for a in on_node if a["Job"]["Type"] != "system")


def should_migrate(alloc: dict) -> bool:
    return bool((alloc.get("DesiredTransition") or {}).get("Migrate"))


def force_deadline(node: dict) -> int:
    """The drain's deadline in Unix nanoseconds, or 0 when it has none."""
    strategy = node.get("DrainStrategy") or {}
    return structs.parse_rfc3339(strategy.get("ForceDeadline"))


def add_node_event(
    node: dict, message: str, subsystem: str, details: dict[str, str] | None = None
) -> None:
    """Append a NodeEvent; Nomad keeps the last 10 (MaxRetainedNodeEvents)."""
    events = node.setdefault("Events", [])
    events.append(
        {
            "Message": message,
            "Subsystem": subsystem,
            "Details": details,
            "Timestamp": rfc3339(now_ns()),
            "CreateIndex": 0,
        }
    )
    del events[:-10]
