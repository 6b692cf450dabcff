"""Feasibility: whether a node can run a task group at all (readiness, eligibility,
datacenter, drivers, ``constraint`` blocks, ``distinct_hosts``), as scheduler/feasible.go
does."""

from __future__ import annotations

import operator
import re

from nomadlab.practice.bexpr import FilterError, compile_regex, search

DISTINCT_HOSTS = "distinct_hosts"
DISTINCT_PROPERTY = "distinct_property"

# ${node.*} targets a constraint may name (scheduler/feasible.go resolveTarget).
_NODE_TARGETS = {
    "${node.unique.id}": "ID",
    "${node.datacenter}": "Datacenter",
    "${node.unique.name}": "Name",
    "${node.class}": "NodeClass",
    "${node.pool}": "NodePool",
}


def infeasible(node: dict, job: dict, group: dict, job_copies: int, group_copies: int) -> str:
    """Why a node cannot run the group (a ConstraintFiltered key), or "" if it can.

    ``job_copies`` and ``group_copies`` count the job's and the group's live allocations on
    the node as if the plan so far applied.
    The checks run in the order of Nomad's generic stack: job constraints, drivers, group
    and task constraints, then distinct_hosts.
    """
    if node["Status"] != "ready":
        return "node is not ready"
    if node["SchedulingEligibility"] != "eligible":
        return "node is ineligible"
    datacenters = job.get("Datacenters") or ["*"]
    if not any(dc == "*" or dc == node["Datacenter"] for dc in datacenters):
        return "datacenter"
    failed = first_unmet(job.get("Constraints"), node)
    if failed:
        return failed
    for task in group["Tasks"]:
        driver = node["Drivers"].get(task["Driver"])
        if not driver or not driver["Detected"] or not driver["Healthy"]:
            return "missing drivers"
    failed = first_unmet(group.get("Constraints"), node)
    for task in group["Tasks"]:
        failed = failed or first_unmet(task.get("Constraints"), node)
    if failed:
        return failed
    if distinct_hosts_collision(job, group, job_copies, group_copies):
        return DISTINCT_HOSTS
    return ""


def first_unmet(constraints: list[dict] | None, node: dict) -> str:
    """The first constraint the node does not meet, as Nomad names it in metrics."""
    for constraint in constraints or []:
        if constraint["Operand"] in (DISTINCT_HOSTS, DISTINCT_PROPERTY):
            continue
        if not meets(constraint, node):
            return constraint_name(constraint)
    return ""


def constraint_name(constraint: dict) -> str:
    """Constraint.String(): ``${attr.kernel.name} = linux``."""
    return f"{constraint['LTarget']} {constraint['Operand']} {constraint['RTarget']}"


def resolve_target(target: str, node: dict) -> tuple[str, bool]:
    """A constraint side's value on this node, and whether it is set there."""
    if not target.startswith("${"):
        return target, True
    if target in _NODE_TARGETS:
        return str(node.get(_NODE_TARGETS[target]) or ""), True
    for prefix, table in (("${attr.", "Attributes"), ("${meta.", "Meta")):
        if target.startswith(prefix) and target.endswith("}"):
            value = (node.get(table) or {}).get(target[len(prefix) : -1])
            return (value, True) if value is not None else ("", False)
    return "", False


def meets(constraint: dict, node: dict) -> bool:
    """Whether the node meets one constraint (or matches one affinity)."""
    left, left_ok = resolve_target(constraint.get("LTarget") or "", node)
    right, right_ok = resolve_target(constraint.get("RTarget") or "", node)
    operand = constraint["Operand"]
    if operand == "is_set":
        return left_ok
    if operand == "is_not_set":
        return not left_ok
    if operand in ("!=", "not"):
        return (left, left_ok) != (right, right_ok)
    if not (left_ok and right_ok):
        return False
    if operand in ("=", "==", "is"):
        return left == right
    if operand in ("<", "<=", ">", ">="):
        return compare(operand, order_key(left), order_key(right))
    if operand in ("version", "semver"):
        return version_matches(left, right)
    if operand == "regexp":
        try:
            return search(compile_regex(right), left)
        except FilterError:
            return False  # a pattern that does not compile, or takes too long, matches nothing
    if operand in ("set_contains", "set_contains_all", "set_contains_any"):
        have = {item.strip() for item in left.split(",")}
        want = {item.strip() for item in right.split(",")}
        return bool(have & want) if operand == "set_contains_any" else want <= have
    return False


def order_key(value: str) -> tuple[int, float | str]:
    """Numbers compare as numbers, anything else lexically (feasible.go checkOrder)."""
    try:
        return 0, float(value)
    except ValueError:
        return 1, value


_ORDER = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def compare(op: str, left: tuple, right: tuple) -> bool:
    """Compare two order keys or version tuples; a number never orders against a word."""
    if op in ("<", "<=", ">", ">=") and type(left[-1]) is not type(right[-1]):
        return False
    return _ORDER[op](left, right)


def version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.match(r"^v?(\d+(?:\.\d+)*)", text.strip())
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def version_matches(version: str, spec: str) -> bool:
    """``>= 1.2, < 2.0`` style version constraints (go-version's operators)."""
    have = version_tuple(version)
    if have is None:
        return False
    for clause in spec.split(","):
        match = re.match(r"^\s*(>=|<=|!=|~>|=|>|<)?\s*(\S+)\s*$", clause)
        want = version_tuple(match.group(2)) if match else None
        if want is None:
            return False
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        op = match.group(1) or "="
        if op == "~>":  # pessimistic: >= want, and below the next release of its prefix
            upper = (*want[:-2], want[-2] + 1) if len(want) > 1 else (want[0] + 1,)
            ok = a >= b and have[: len(upper)] < upper
        else:
            ok = _ORDER[op](a, b)
        if not ok:
            return False
    return True


def distinct_hosts_collision(job: dict, group: dict, job_copies: int, group_copies: int) -> bool:
    """``distinct_hosts``: at the job level no two of the job's allocations share a node; at
    the group level no two of the group's (DistinctHostsIterator)."""
    if any(enabled_distinct_hosts(c) for c in job.get("Constraints") or []):
        return job_copies > 0
    if any(enabled_distinct_hosts(c) for c in group.get("Constraints") or []):
        return group_copies > 0
    return False


def enabled_distinct_hosts(constraint: dict) -> bool:
    """A distinct_hosts constraint, on unless its value parses as false."""
    if constraint["Operand"] != DISTINCT_HOSTS:
        return False
    value = constraint.get("RTarget") or ""
    return value == "" or value in ("1", "t", "T", "TRUE", "true", "True")
