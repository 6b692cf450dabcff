"""Ranking a feasible node, as scheduler/rank.go and spread.go do: bin packing on CPU and
memory, job anti-affinity, the reschedule penalty, affinities and spreads; and the resources
an allocation gets there (host ports, dynamic port picks, AllocatedResources)."""

from __future__ import annotations

import copy
import errno
import random
import socket
import sys
import time
from collections import Counter

from nomadlab.practice.scheduler.feasible import meets, resolve_target

MIN_DYNAMIC_PORT = 20000
MAX_DYNAMIC_PORT = 32000
CLAIM_SECONDS = 60.0  # ample time for a task to start and bind the port it was given
MAX_CLAIMS = 512


def exhausted(metric: dict, dimension: str) -> None:
    metric["NodesExhausted"] += 1
    metric["DimensionExhausted"][dimension] = metric["DimensionExhausted"].get(dimension, 0) + 1


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing on this host listens on ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class HostClaims:
    """The dynamic ports this agent picked lately, claimed for the whole host under Linux
    abstract socket names. A port is free on the host until its task binds it, so without
    a claim a second practice agent on the host (another learner on a shared JupyterHub, a
    parallel test) could pick it in that gap and one of the two tasks would fail to bind.
    Nomad runs one client per host and needs none of this."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[float, socket.socket]] = {}  # oldest first

    def claim(self, port: int) -> bool:
        """Claim ``port``; False when another agent on the host claimed it lately."""
        if not sys.platform.startswith("linux"):  # one agent per laptop elsewhere
            return True
        now = time.monotonic()
        for old, (since, sock) in list(self._held.items()):
            if now - since < CLAIM_SECONDS and len(self._held) < MAX_CLAIMS:
                break
            sock.close()
            del self._held[old]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(f"\0nomadlab-dynamic-port-{port}")
        except OSError as exc:
            sock.close()
            return exc.errno != errno.EADDRINUSE  # out of descriptors: pick it unclaimed
        self._held[port] = (now, sock)
        return True

    def close(self) -> None:
        """Let every claim go."""
        for _, sock in self._held.values():
            sock.close()
        self._held.clear()


CLAIMS = HostClaims()


def pick_dynamic_port(used: set[int]) -> int:
    """A random port from 20000–32000 that no allocation holds, the host has free and no
    other practice agent on the host picked lately."""
    for _ in range(200):
        port = random.randint(MIN_DYNAMIC_PORT, MAX_DYNAMIC_PORT)
        if port not in used and port_is_free(port) and CLAIMS.claim(port):
            return port
    raise RuntimeError("dynamic port selection failed: no free port in 20000-32000")


def group_networks(group: dict) -> list[dict]:
    """Group-level networks and every task-level one."""
    networks = list(group.get("Networks") or [])
    for task in group["Tasks"]:
        networks.extend((task.get("Resources") or {}).get("Networks") or [])
    return networks


def assign_network(network: dict, node: dict, used: set[int]) -> dict:
    """A copy of a network ask with host ports filled in."""
    host = node["NodeResources"]["Networks"][0]
    assigned = copy.deepcopy(network)
    assigned.update(
        Mode=network.get("Mode") or "host", Device=host["Device"], CIDR=host["CIDR"], IP=host["IP"]
    )
    for kind in ("ReservedPorts", "DynamicPorts"):
        for port in assigned.get(kind) or []:
            # Go's zero values for whatever a JSON job left out.
            for key, zero in (("Label", ""), ("Value", 0), ("To", 0), ("HostNetwork", "default")):
                if port.get(key) is None:
                    port[key] = zero
            if kind == "DynamicPorts":
                port["Value"] = pick_dynamic_port(used)
            used.add(port["Value"])
    return assigned


def assign_resources(alloc: dict, group: dict, node: dict, used: set[int]) -> None:
    """Fill AllocatedResources (and the legacy Resources fields) with ports and sizes."""
    ip = node["NodeResources"]["Networks"][0]["IP"]
    shared_networks = [assign_network(n, node, used) for n in group.get("Networks") or []]
    ports = []

    def add_ports(network: dict) -> None:
        for kind in ("ReservedPorts", "DynamicPorts"):
            for port in network.get(kind) or []:
                ports.append(
                    {
                        "Label": port["Label"],
                        "Value": port["Value"],
                        "To": port.get("To", 0),
                        "HostIP": ip,
                    }
                )

    for network in shared_networks:
        add_ports(network)
    tasks = {}
    task_resources = {}
    for task in group["Tasks"]:
        resources = task["Resources"]
        networks = [assign_network(n, node, used) for n in resources.get("Networks") or []]
        for network in networks:
            add_ports(network)
        tasks[task["Name"]] = {
            "Cpu": {"CpuShares": resources["CPU"], "ReservedCores": None},
            "Memory": {
                "MemoryMB": resources["MemoryMB"],
                "MemoryMaxMB": resources.get("MemoryMaxMB") or 0,
            },
            "Networks": networks or None,
            "Devices": None,
        }
        task_resources[task["Name"]] = {
            "CPU": resources["CPU"],
            "MemoryMB": resources["MemoryMB"],
            "DiskMB": 0,
            "Networks": networks or None,
        }
    disk = (group.get("EphemeralDisk") or {}).get("SizeMB", 300)
    alloc["AllocatedResources"] = {
        "Tasks": tasks,
        "TaskLifecycles": {t["Name"]: t.get("Lifecycle") for t in group["Tasks"]},
        "Shared": {"Networks": shared_networks or None, "DiskMB": disk, "Ports": ports or None},
    }
    alloc["TaskResources"] = task_resources
    alloc["Resources"] = {
        "CPU": sum(t["CPU"] for t in task_resources.values()),
        "MemoryMB": sum(t["MemoryMB"] for t in task_resources.values()),
        "DiskMB": disk,
        "Networks": shared_networks or None,
    }


def static_port_collision(group: dict, used: set[int]) -> str:
    """The first static port of the group that is taken (``label=port``), or ""."""
    for network in group_networks(group):
        for port in network.get("ReservedPorts") or []:
            value = port.get("Value") or 0
            if value in used or not port_is_free(value):
                return f"{port.get('Label', '')}={value}"
    return ""


# Scoring (rank.go, spread.go): each iterator may add a score in [-1, 1]; the node's final
# score is their mean (ScoreNormalizationIterator) and the best node wins.

BINPACK_MAX_FIT = 18.0


def binpack_score(node: dict, cpu: int, memory: int) -> float:
    """ScoreFitBinPack, normalised: fuller nodes (after this placement) score higher."""
    capacity = node["NodeResources"]
    free_cpu = 1 - cpu / max(capacity["Cpu"]["CpuShares"], 1)
    free_mem = 1 - memory / max(capacity["Memory"]["MemoryMB"], 1)
    fit = 20.0 - (10**free_cpu + 10**free_mem)
    return min(max(fit, 0.0), BINPACK_MAX_FIT) / BINPACK_MAX_FIT


def spread_score(
    node: dict, job: dict, group: dict, copies: Counter[str], nodes: dict[str, dict]
) -> float:
    """The spread boost (SpreadIterator): towards the targets' share of the count, or, with
    no targets, towards the least used attribute value. ``copies`` counts the group's live
    and planned allocations per node."""
    spreads = [*(job.get("Spreads") or []), *(group.get("Spreads") or [])]
    total_weight = sum(s.get("Weight") or 0 for s in spreads) or 1
    total = 0.0
    for spread in spreads:
        attribute = spread["Attribute"]
        counts: dict[str, int] = {}
        for node_id, held in copies.items():
            where = nodes.get(node_id)
            value, ok = resolve_target(attribute, where) if where and held > 0 else ("", False)
            if ok:
                counts[value] = counts.get(value, 0) + held
        value, ok = resolve_target(attribute, node)
        if not ok:
            total -= 1.0
            continue
        targets = spread.get("SpreadTarget") or []
        if not targets:
            total += even_spread_boost(counts, value)
            continue
        desired = {t["Value"]: t["Percent"] / 100 * group["Count"] for t in targets}
        rest = 100 - sum(t["Percent"] for t in targets)
        if rest > 0:
            desired.setdefault("*", rest / 100 * group["Count"])
        want = desired.get(value, desired.get("*"))
        if not want:
            total -= 1.0
            continue
        weight = (spread.get("Weight") or 0) / total_weight
        total += (want - counts.get(value, 0)) / want * weight
    return total


def even_spread_boost(counts: dict[str, int], value: str) -> float:
    """evenSpreadScoreBoost: +1 for an unused value, -1 when all are even, else relative."""
    if not counts:
        return 0.0
    current = counts.get(value, 0)
    low, high = min(counts.values()), max(counts.values())
    if current != low:
        return (low - current) / low
    if low == high:
        return -1.0
    return (high - low) / low


def affinity_score(node: dict, job: dict, group: dict) -> float:
    """NodeAffinityIterator: the weights of the matching affinities over all their weights."""
    affinities = [
        *(job.get("Affinities") or []),
        *(group.get("Affinities") or []),
        *(a for task in group["Tasks"] for a in task.get("Affinities") or []),
    ]
    total_weight = sum(abs(a.get("Weight") or 0) for a in affinities)
    if not total_weight:
        return 0.0
    matched = sum(a.get("Weight") or 0 for a in affinities if meets(a, node))
    return matched / total_weight


def score_node(
    node: dict,
    job: dict,
    group: dict,
    usage: tuple[int, int],
    copies: Counter[str],
    nodes: dict[str, dict],
    penalty_nodes: set[str],
) -> tuple[float, dict[str, float]]:
    """The node's final score for one placement and the scores behind it (ScoreMetaData).

    ``usage`` is the CPU and memory the node would hold with this placement; ``copies``
    the group's live and planned allocations per node; ``penalty_nodes`` the nodes a
    rescheduled allocation failed on.
    """
    scores = {"binpack": binpack_score(node, *usage)}
    counted = [scores["binpack"]]
    collisions = copies[node["ID"]]
    scores["job-anti-affinity"] = -(collisions + 1) / max(group["Count"], 1) if collisions else 0.0
    scores["node-reschedule-penalty"] = -1.0 if node["ID"] in penalty_nodes else 0.0
    scores["node-affinity"] = affinity_score(node, job, group)
    scores["allocation-spread"] = spread_score(node, job, group, copies, nodes)
    counted += [v for k, v in scores.items() if k != "binpack" and v]
    return sum(counted) / len(counted), scores
