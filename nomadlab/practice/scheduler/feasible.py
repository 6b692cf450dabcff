"""Feasibility: whether a node can run a task group at all (readiness, eligibility,
datacenter, drivers, constraints) and static port collisions, as scheduler/feasible.go does."""

from __future__ import annotations

import re

from nomadlab.practice.bexpr import FilterError, compile_regex, search
from nomadlab.practice.scheduler.rank import group_networks, port_is_free

_VERSION = re.compile(r"^\s*(<=|>=|!=|=|<|>|~>)?\s*v?(\d+(?:\.\d+)*)")


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
    constraints = [*(job.get("Constraints") or []), *(group.get("Constraints") or [])]
    for task in group["Tasks"]:
        constraints.extend(task.get("Constraints") or [])
    for constraint in constraints:
        if not constraint_met(node, constraint):
            return f"{constraint['LTarget']} {constraint['Operand']} {constraint['RTarget']}"
    return ""


def resolve_target(node: dict, target: str) -> str | None:
    """A constraint target's value on a node (``${attr.x}``, ``${meta.x}``, ``${node.*}``),
    None when the node has no such attribute; literals are themselves."""
    if not (target.startswith("${") and target.endswith("}")):
        return target
    name = target[2:-1]
    if name.startswith("attr."):
        return node["Attributes"].get(name[5:])
    if name.startswith("meta."):
        return (node.get("Meta") or {}).get(name[5:])
    return {
        "node.unique.id": node["ID"],
        "node.unique.name": node["Name"],
        "node.datacenter": node["Datacenter"],
        "node.class": node.get("NodeClass", ""),
        "node.pool": node.get("NodePool", "default"),
    }.get(name)


def constraint_met(node: dict, constraint: dict) -> bool:
    """checkConstraint for the operands jobs use; a missing attribute fails all but
    ``is_not_set``, as in Nomad."""
    operand = constraint.get("Operand") or "="
    left = resolve_target(node, constraint.get("LTarget") or "")
    right = constraint.get("RTarget") or ""
    if operand == "is_set":
        return left is not None
    if operand == "is_not_set":
        return left is None
    if left is None:
        return False
    if operand in ("=", "==", "is"):
        return left == right
    if operand in ("!=", "not"):
        return left != right
    if operand == "regexp":
        try:
            return search(compile_regex(right), left)
        except FilterError:
            return False  # a pattern that does not compile or takes too long matches nothing
    if operand in ("version", "semver"):
        return version_matches(left, right)
    if operand == "set_contains":
        return set(map(str.strip, right.split(","))) <= set(map(str.strip, left.split(",")))
    return True  # distinct_hosts, distinct_property: placement rules, not node filters


def version_matches(version: str, spec: str) -> bool:
    """Whether ``version`` meets every comma-separated requirement like ``>= 1.4.0``."""
    have = _numbers(version)
    if have is None:
        return False
    for requirement in spec.split(","):
        match = _VERSION.match(requirement)
        if not match:
            return False
        op, want = match.group(1) or "=", _numbers(match.group(2)) or ()
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {
            "=": a == b,
            "!=": a != b,
            ">": a > b,
            ">=": a >= b,
            "<": a < b,
            "<=": a <= b,
            "~>": a >= b and a[: max(len(want) - 1, 1)] == b[: max(len(want) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True


def _numbers(version: str) -> tuple[int, ...] | None:
    match = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def static_port_collision(group: dict, used: set[int]) -> str:
    """The first static port of the group that is taken (``label=port``), or ""."""
    for network in group_networks(group):
        for port in network.get("ReservedPorts") or []:
            value = port.get("Value") or 0
            if value in used or not port_is_free(value):
                return f"{port.get('Label', '')}={value}"
    return ""
