"""Node heartbeats (nomad/heartbeat.go): each client heartbeats within a TTL; a node that
misses it, plus a grace period, goes ``down`` (or ``disconnected`` while an allocation's
``disconnect.lost_after`` / ``max_client_disconnect`` window is open), and the scheduler
gets a ``node-update`` evaluation for every job with allocations there.

The TTL is Nomad's: ``MinHeartbeatTTL`` (10s) scaled by ``MaxHeartbeatsPerSecond`` (50)
for large clusters, plus a random stagger of up to the TTL itself, then
``HeartbeatGrace`` (10s) on the server's timer; an agent config's server block may set all
three (:mod:`.config`). A practice node stops heartbeating only when a learner fails it
(``/v1/practice/node/:id/fail``).
"""

from __future__ import annotations

import asyncio
import logging
import random

from nomadlab.contract import SECOND
from nomadlab.practice import structs
from nomadlab.practice.config import AgentConfig
from nomadlab.practice.drainer import add_node_event
from nomadlab.practice.scheduler import Scheduler
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns, parse_rfc3339

log = logging.getLogger("nomad.heartbeat")

MIN_HEARTBEAT_TTL = 10.0  # nomad/config.go DefaultConfig, unchanged by -dev
MAX_HEARTBEATS_PER_SECOND = 50.0
HEARTBEAT_GRACE = 10.0

HEARTBEAT_MISSED = "Node heartbeat missed"
REREGISTERED = "Node reregistered by heartbeat"


class NodeHeartbeater:
    """The server's side: a timer per node, reset by each heartbeat."""

    def __init__(
        self, store: StateStore, scheduler: Scheduler, config: AgentConfig | None = None
    ) -> None:
        """``config``: the agent's server block; what it leaves unset is Nomad's default."""
        config = config or AgentConfig()
        self.store = store
        self.scheduler = scheduler
        self.min_ttl = config.min_heartbeat_ttl or MIN_HEARTBEAT_TTL
        self.grace = config.heartbeat_grace or HEARTBEAT_GRACE
        self.max_per_second = config.max_heartbeats_per_second or MAX_HEARTBEATS_PER_SECOND
        self.timers: dict[str, asyncio.TimerHandle] = {}

    def heartbeat(self, node_id: str) -> float:
        """A client's heartbeat (Node.UpdateStatus): reset its timer and return the TTL
        within which it must heartbeat again. A node that was down comes back ``ready``."""
        node = self.store.nodes[node_id]
        if node["Status"] != "ready":
            self.set_status(node, "ready", REREGISTERED)
        ttl = max(self.min_ttl, len(self.timers) / self.max_per_second)
        ttl += random.uniform(0, ttl)  # helper.RandomStagger
        self.reset(node_id, ttl + self.grace)
        return ttl

    def reset(self, node_id: str, seconds: float) -> None:
        if node_id in self.timers:
            self.timers[node_id].cancel()
        loop = asyncio.get_running_loop()
        self.timers[node_id] = loop.call_later(seconds, self.invalidate, node_id)

    def invalidate(self, node_id: str) -> None:
        """The TTL expired: the node is disconnected while some allocation may wait for it,
        else down."""
        self.timers.pop(node_id, None)
        node = self.store.nodes.get(node_id)
        if node is None or node["Status"] == "down":
            return
        log.warning("heartbeat: node TTL expired: node_id=%s", node_id)
        window_ends = self.disconnect_window_end(node_id)
        if window_ends > now_ns():
            self.set_status(node, "disconnected", HEARTBEAT_MISSED)
            # When the last window closes, the node is down and what was unknown is lost.
            self.reset(node_id, (window_ends - now_ns()) / SECOND)
        else:
            self.set_status(node, "down", HEARTBEAT_MISSED)

    def disconnect_window_end(self, node_id: str) -> int:
        """When the last open disconnect window of the node's allocations closes (Unix ns),
        or 0 if none may outlive the node (heartbeat.go disconnectState)."""
        now = now_ns()
        ends = []
        for alloc in self.store.node_allocs(node_id):
            if alloc["DesiredStatus"] != "run" or structs.is_terminal(alloc):
                continue
            window = disconnect_window(alloc)
            if not window:
                continue
            states = alloc.get("AllocStates") or []
            since = parse_rfc3339(states[-1]["Time"]) if alloc["ClientStatus"] == "unknown" else 0
            ends.append((since or now) + window)
        return max(ends, default=0)

    def set_status(self, node: dict, status: str, message: str) -> None:
        """Change the node's status with its event, and evaluate every job with
        allocations there (Node.UpdateStatus, createNodeEvals)."""
        node["Status"] = status
        node["StatusUpdatedAt"] = now_ns() // SECOND
        add_node_event(node, message, "Cluster")
        index = self.store.upsert("nodes", node)
        log.info("heartbeat: node %s is %s", node["Name"], status)
        jobs = {
            (a["Namespace"], a["JobID"])
            for a in self.store.node_allocs(node["ID"])
            if a["DesiredStatus"] == "run"
        }
        for namespace, job_id in sorted(jobs):
            job = self.store.job(namespace, job_id)
            if job is not None:
                self.scheduler.enqueue(
                    new_evaluation(
                        job,
                        "node-update",
                        NodeID=node["ID"],
                        NodeModifyIndex=index,
                        JobModifyIndex=job["JobModifyIndex"],
                    )
                )
        if status == "ready":
            self.scheduler.unblock("nodes")

    def stop(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()


def disconnect_window(alloc: dict) -> int:
    """How long (ns) an allocation may stay unknown before it is lost: the group's
    ``disconnect.lost_after``, or the older ``max_client_disconnect``; 0 for none."""
    group = next((g for g in alloc["Job"]["TaskGroups"] if g["Name"] == alloc["TaskGroup"]), None)
    if group is None:
        return 0
    return (group.get("Disconnect") or {}).get("LostAfter") or group.get("MaxClientDisconnect") or 0
