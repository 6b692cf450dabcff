"""The client's service registration (client/serviceregistration and the group and task
service hooks): group services are registered before the tasks start and task services once
their task runs, with their checks; all are removed when the allocation stops.
"""

from __future__ import annotations

import logging

from nomadlab.practice.client import checks
from nomadlab.practice.client.interfaces import AllocRunner
from nomadlab.practice.client.taskenv import interpolate, task_environment
from nomadlab.practice.services import TABLE, upsert
from nomadlab.practice.state import StateStore

log = logging.getLogger("nomad.client.service_registration")


class ServiceError(Exception):
    """A service that cannot be registered (its port label names no port, say)."""


def _content(registration: dict | None) -> dict | None:
    """A registration without its indexes, to tell a real change from a rewrite."""
    if registration is None:
        return None
    return {k: v for k, v in registration.items() if k not in ("CreateIndex", "ModifyIndex")}


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
