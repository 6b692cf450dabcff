"""Ranking a feasible node: bin packing on CPU and memory, and the resources an allocation
gets there (host ports, dynamic port picks, AllocatedResources), as scheduler/rank.go does."""

from __future__ import annotations

import copy
import random
import socket

MIN_DYNAMIC_PORT = 20000
MAX_DYNAMIC_PORT = 32000


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


def pick_dynamic_port(used: set[int]) -> int:
    """A random port from 20000–32000 that no allocation holds and the host has free."""
    for _ in range(200):
        port = random.randint(MIN_DYNAMIC_PORT, MAX_DYNAMIC_PORT)
        if port not in used and port_is_free(port):
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
