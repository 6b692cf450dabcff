"""Nomad's native service discovery, server side: the registrations table and its lookups.

As nomad/service_registration_endpoint.go and its state table: one ServiceRegistration per
(allocation, workload, service, port), listed by name, by job, filtered and chosen by
rendezvous hashing; and the constraints the server adds to groups that use services. The
client registers them (client/serviceregistration.py).
"""

from __future__ import annotations

import hashlib

from nomadlab.practice.bexpr import FilterError, compile_filter
from nomadlab.practice.state import StateStore

TABLE = "services"

# Implicit constraints the server adds to groups that use services
# (nomad/job_endpoint_hooks.go).
NATIVE_CONSTRAINT = {
    "LTarget": "${attr.nomad.service_discovery}",
    "RTarget": "true",
    "Operand": "=",
}
NATIVE_CHECKS_CONSTRAINT = {
    "LTarget": "${attr.nomad.version}",
    "RTarget": ">= 1.4.0",
    "Operand": "semver",
}
CONSUL_CONSTRAINT = {
    "LTarget": "${attr.consul.version}",
    "RTarget": ">= 1.7.0",
    "Operand": "semver",
}


def add_implied_constraints(job: dict) -> None:
    """Constrain each group to nodes able to serve its services' provider, as Nomad's
    jobImpliedConstraints mutator does at registration."""
    for group in job.get("TaskGroups") or []:
        group_services = list(group.get("Services") or [])
        for task in group.get("Tasks") or []:
            group_services.extend(task.get("Services") or [])
        providers = {s.get("Provider") or "consul" for s in group_services}
        constraints = group.get("Constraints") or []
        wanted = []
        if "nomad" in providers:
            wanted.append((NATIVE_CONSTRAINT, False))
            if any(s.get("Checks") for s in group_services if s.get("Provider") == "nomad"):
                wanted.append((NATIVE_CHECKS_CONSTRAINT, False))
        if "consul" in providers:
            wanted.append((CONSUL_CONSTRAINT, True))
        for constraint, left_only in wanted:
            if not any(
                c.get("LTarget") == constraint["LTarget"]
                and (left_only or (c.get("RTarget"), c.get("Operand")) == (
                    constraint["RTarget"], constraint["Operand"]))
                for c in constraints
            ):  # fmt: skip
                constraints.append(dict(constraint))
        if constraints:
            group["Constraints"] = constraints


def upsert(store: StateStore, registrations: list[dict]) -> int:
    """Write registrations under one index (ServiceRegistration.Upsert)."""
    index = store.commit([TABLE])
    for registration in registrations:
        previous = store.services.get(registration["ID"])
        registration["CreateIndex"] = previous["CreateIndex"] if previous else index
        registration["ModifyIndex"] = index
        store.services[registration["ID"]] = registration
    return index


def delete(store: StateStore, namespace: str, service_id: str) -> int:
    """Remove one registration (ServiceRegistration.DeleteByID); KeyError if absent."""
    registration = store.services.get(service_id)
    if registration is None or registration["Namespace"] != namespace:
        raise KeyError("service registration not found")
    index = store.commit([TABLE])
    del store.services[service_id]
    return index


def list_stubs(store: StateStore, namespace: str, prefix: str = "") -> list[dict]:
    """``GET /v1/services``: each namespace's service names (those starting with
    ``prefix``) with the union of their tags."""
    by_namespace: dict[str, dict[str, set[str]]] = {}
    for registration in store.services.values():
        if namespace not in ("*", registration["Namespace"]):
            continue
        if not registration["ServiceName"].startswith(prefix):
            continue
        names = by_namespace.setdefault(registration["Namespace"], {})
        names.setdefault(registration["ServiceName"], set()).update(registration["Tags"] or [])
    return [
        {
            "Namespace": ns,
            "Services": [
                {"ServiceName": name, "Tags": sorted(tags)} for name, tags in sorted(names.items())
            ],
        }
        for ns, names in sorted(by_namespace.items())
    ]


def by_name(
    store: StateStore, namespace: str, name: str, filter_expr: str = "", choose_arg: str = ""
) -> list[dict]:
    """``GET /v1/service/:name``: registrations in ID order, filtered, then chosen."""
    found = sorted(
        (
            r
            for r in store.services.values()
            if r["ServiceName"] == name and namespace in ("*", r["Namespace"])
        ),
        key=lambda r: (r["Namespace"], r["ID"]),
    )
    if filter_expr:
        found = apply_filter(found, filter_expr)
    if choose_arg:
        found = choose(found, choose_arg)
    return found


def by_job(store: StateStore, namespace: str, job_id: str) -> list[dict]:
    """``GET /v1/job/:id/services``: every registration of a job's allocations."""
    return sorted(
        (
            r
            for r in store.services.values()
            if r["JobID"] == job_id and r["Namespace"] == namespace
        ),
        key=lambda r: (r["ServiceName"], r["ID"]),
    )


def apply_filter(registrations: list[dict], expression: str) -> list[dict]:
    """Registrations matching a go-bexpr ``filter``; FilterError when it cannot be read."""
    predicate = compile_filter(expression)
    return [r for r in registrations if predicate(r)]


def choose(registrations: list[dict], parameter: str) -> list[dict]:
    """``?choose=N|key``: a stable pick of N registrations by rendezvous hashing, as
    consul-template's three-argument ``nomadService`` asks for."""
    count_text, sep, key = parameter.partition("|")
    if not sep or not key or not count_text.lstrip("-").isdigit():
        raise FilterError('failed to choose services: choose param must be "<count>|<key>"')
    count = min(int(count_text), len(registrations))
    ranked = sorted(
        registrations, key=lambda r: hashlib.md5((r["AllocID"] + key).encode()).hexdigest()
    )
    return ranked[: max(count, 0)]
