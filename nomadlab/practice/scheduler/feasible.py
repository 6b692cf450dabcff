"""Feasibility: whether a node can run a task group at all (readiness, eligibility,
datacenter, drivers) and static port collisions, as scheduler/feasible.go does."""

from __future__ import annotations

from nomadlab.practice.scheduler.rank import group_networks, port_is_free


def infeasible(node: dict, job: dict, group: dict) -> str:
    """Why a node cannot run the group (a ConstraintFiltered key), or "" if it can."""
    if node["Status"] != "ready":
        return "node is not ready"
    if node["SchedulingEligibility"] != "eligible":
        return "node is ineligible"
    datacenters = job.get("Datacenters") or ["*"]
    if not any(dc == "*" or dc == node["Datacenter"] for dc in datacenters):
        return "datacenter"
    for task in group["Tasks"]:
        driver = node["Drivers"].get(task["Driver"])
        if not driver or not driver["Detected"] or not driver["Healthy"]:
            return "missing drivers"
    return ""


def static_port_collision(group: dict, used: set[int]) -> str:
    """The first static port of the group that is taken (``label=port``), or ""."""
    for network in group_networks(group):
        for port in network.get("ReservedPorts") or []:
            value = port.get("Value") or 0
            if value in used or not port_is_free(value):
                return f"{port.get('Label', '')}={value}"
    return ""
