"""Nomad's native service discovery: registrations, their lookups, and the client's hook.

The server side mirrors nomad/service_registration_endpoint.go and its state table: one
ServiceRegistration per (allocation, workload, service, port) with Nomad's ID form, listed by
name, by job, filtered and chosen by rendezvous hashing. The client side mirrors
client/serviceregistration: group services are registered before the tasks start and
task services once their task runs; all are removed when the allocation stops.
"""

from __future__ import annotations

import hashlib
import logging

from nomadlab.practice.bexpr import FilterError, compile_filter
from nomadlab.practice.client import checks
from nomadlab.practice.client.interfaces import AllocRunner
from nomadlab.practice.client.taskenv import interpolate, task_environment
from nomadlab.practice.state import StateStore

log = logging.getLogger("nomad.client.service_registration")

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


class ServiceError(Exception):
    """A service that cannot be registered (its port label names no port, say)."""


def _content(registration: dict | None) -> dict | None:
    """A registration without its indexes, to tell a real change from a rewrite."""
    if registration is None:
        return None
    return {k: v for k, v in registration.items() if k not in ("CreateIndex", "ModifyIndex")}


# Server side ---------------------------------------------------------------------------


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


# Client side ---------------------------------------------------------------------------


def workload_name(group: str, task: str | None) -> str:
    """The workload part of a registration ID: the task's name, or ``group-<name>``."""
    return task if task is not None else f"group-{group}"


def service_id(alloc_id: str, workload: str, service: dict) -> str:
    """``_nomad-task-<alloc>-<workload>-<service>-<port label>`` (MakeAllocServiceID)."""
    return f"_nomad-task-{alloc_id}-{workload}-{service['Name']}-{service.get('PortLabel') or ''}"


def service_address(service: dict, alloc: dict) -> tuple[str, int]:
    """The advertised address and port (serviceregistration.GetAddress for host/auto modes)."""
    mode = service.get("AddressMode") or "auto"
    custom = service.get("Address") or ""
    label = service.get("PortLabel") or ""
    shared = alloc["AllocatedResources"]["Shared"]
    ports = {p["Label"]: p for p in shared.get("Ports") or []}
    if mode == "auto" and custom:
        if not label:
            return custom, 0
        if label in ports:
            return custom, ports[label]["Value"]
        if label.isdigit():
            return custom, int(label)
        raise ServiceError(f"invalid port: {label!r}: not a valid port mapping or numeric port")
    if mode not in ("auto", "host"):
        raise ServiceError(f'cannot use address_mode="{mode}" with the raw_exec driver')
    if custom:
        raise ServiceError('cannot use custom advertise address with "host" address mode')
    if not label:
        networks = shared.get("Networks") or []
        return (networks[0]["IP"] if len(networks) == 1 else ""), 0
    if label in ports:
        return ports[label]["HostIP"], ports[label]["Value"]
    if label.isdigit() and int(label) > 0:
        return "", int(label)
    raise ServiceError(f'invalid port "{label}": port label not found')


def check_address(service: dict, check: dict, address: str, port: int, alloc: dict) -> str:
    """Where a check connects (``host:port``): its own port label or address mode, else
    the service's; ``error:<why>`` when that cannot be resolved (the check then fails)."""
    label = check.get("PortLabel") or ""
    mode = check.get("AddressMode") or ""
    if not label and not mode:
        return f"{address or '127.0.0.1'}:{port}"
    target = {
        "AddressMode": mode or ("auto" if service.get("Address") else "host"),
        "Address": service.get("Address") or "",
        "PortLabel": label or service.get("PortLabel") or "",
    }
    try:
        host, number = service_address(target, alloc)
    except ServiceError as exc:
        return f"error:{exc}"
    return f"{host or '127.0.0.1'}:{number}"


class AllocServices:
    """One allocation's registrations and checks (the group service hook and each task's
    service hook together)."""

    def __init__(self, runner: AllocRunner) -> None:
        self.runner = runner
        self.registered: dict[str | None, list[str]] = {}
        self.checks = checks.AllocChecks(runner)

    @property
    def store(self) -> StateStore:
        return self.runner.client.store

    def _services(self, task: dict | None) -> list[dict]:
        owner = task if task is not None else self.runner.group
        return [s for s in owner.get("Services") or [] if s.get("Provider") == "nomad"]

    def register(self, task_name: str | None) -> None:
        """Register the group's services (``task_name`` None) or one task's, and start their
        checks; ServiceError when one cannot be (then none is, as in Nomad)."""
        built = self._build(task_name)
        if not built:
            return
        for _, spec, targets in built:
            self.checks.watch(spec, task_name, targets)
        upsert(self.store, [registration for registration, _, _ in built])
        self.registered[task_name] = [registration["ID"] for registration, _, _ in built]

    def refresh(self) -> None:
        """An in-place update of the allocation (UpdateWorkload): re-register what is
        registered with the new spec in one write, restarting checks whose spec changed."""
        for owner in list(self.registered):
            try:
                built = self._build(owner)
            except ServiceError as exc:
                log.warning("service update of %s failed: %s", self.runner.alloc_id[:8], exc)
                continue
            new = {registration["ID"]: registration for registration, _, _ in built}
            stale = [i for i in self.registered[owner] if i not in new and i in self.store.services]
            changed = [
                r for i, r in new.items() if _content(self.store.services.get(i)) != _content(r)
            ]
            if changed or stale:
                for registration_id in stale:
                    del self.store.services[registration_id]
                upsert(self.store, changed)
            if self.checks.specs(owner) != [
                c for _, spec, _ in built for c in spec.get("Checks") or []
            ]:
                self.checks.unwatch(owner)
                for _, spec, targets in built:
                    self.checks.watch(spec, owner, targets)
            self.registered[owner] = list(new)

    def _build(self, task_name: str | None) -> list[tuple[dict, dict, list[tuple[dict, str]]]]:
        """The registrations of the group or a task: (registration, interpolated service
        spec, its checks with where each connects)."""
        alloc = self.runner.alloc
        node = self.runner.client.node
        task = None if task_name is None else self.runner.tasks[task_name].task
        services = self._services(task)
        if not services:
            return []
        env_task = task if task is not None else self.runner.group["Tasks"][0]
        env = task_environment(alloc, env_task, node, self.runner.dir)
        workload = workload_name(self.runner.group["Name"], task_name)
        built = []
        for spec in services:
            spec = {
                **spec,
                "Name": interpolate(spec["Name"], env, node),
                "Tags": [interpolate(t, env, node) for t in spec.get("Tags") or []],
            }
            try:
                address, port = service_address(spec, alloc)
            except ServiceError as exc:
                raise ServiceError(
                    f"unable to get address for service {spec['Name']!r}: {exc}"
                ) from exc
            registration = {
                "ID": service_id(alloc["ID"], workload, spec),
                "ServiceName": spec["Name"],
                "Namespace": alloc["Namespace"],
                "NodeID": node["ID"],
                "Datacenter": node["Datacenter"],
                "JobID": alloc["JobID"],
                "AllocID": alloc["ID"],
                "Tags": spec["Tags"],
                "Address": address,
                "Port": port,
                "CreateIndex": 0,
                "ModifyIndex": 0,
            }
            targets = [
                (check, check_address(spec, check, address, port, alloc))
                for check in spec.get("Checks") or []
            ]
            built.append((registration, spec, targets))
        return built

    def deregister(self, task_name: str | None) -> None:
        """Remove the registrations (and stop the checks) of the group or of one task."""
        self.checks.unwatch(task_name)
        ids = [i for i in self.registered.pop(task_name, []) if i in self.store.services]
        if ids:
            self.store.commit([TABLE])
            for registration_id in ids:
                del self.store.services[registration_id]

    def deregister_all(self) -> None:
        for owner in list(self.registered):
            self.deregister(owner)
        self.checks.unwatch_all()
