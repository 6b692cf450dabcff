"""Namespaces (nomad/namespace_endpoint.go, structs.Namespace): create, update and delete them,
and the register-time check that a job's namespace exists (job_endpoint_validators.go).

A namespace's name is what the API addresses jobs by, so Nomad's name rule (1 to 128 letters,
digits and dashes) is also what keeps every stored job reachable by URL.
"""

from __future__ import annotations

import re

from nomadlab.practice import structs
from nomadlab.practice.jobspec.common import format_errors
from nomadlab.practice.jobspec.schema import json_type
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs.errors import APIError, go_quote
from nomadlab.practice.structs.namespace import CAPABILITIES, POOLS, namespace

VALID_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")  # structs validNamespaceName
MAX_DESCRIPTION = 256  # structs maxNamespaceDescriptionLength
TERMINAL_ALLOC = ("complete", "failed", "lost")

_SUBSTRUCTS = {
    "Capabilities": ("NamespaceCapabilities", CAPABILITIES),
    "NodePoolConfiguration": ("NamespaceNodePoolConfiguration", POOLS),
    "VaultConfiguration": ("NamespaceVaultConfiguration", POOLS),
    "ConsulConfiguration": ("NamespaceConsulConfiguration", POOLS),
}


def decode(body: object) -> dict:
    """The request body as Go decodes it into structs.Namespace: 400 with Go's text for a
    value of the wrong JSON type; unknown keys are ignored."""
    if not isinstance(body, dict):
        raise APIError(
            400, f"json: cannot unmarshal {json_type(body)} into Go value of type structs.Namespace"
        )
    fields: dict[str, object] = {}
    for key in ("Name", "Description", "Quota"):
        fields[key] = _typed(body.get(key), str, f"Namespace.{key}", "string") or ""
    meta = _typed(body.get("Meta"), dict, "Namespace.Meta", "map[string]string")
    for value in (meta or {}).values():
        _typed(value, str, "Namespace.Meta", "string")
    fields["Meta"] = meta
    for key, (go_name, layout) in _SUBSTRUCTS.items():
        sub = _typed(body.get(key), dict, f"Namespace.{key}", f"structs.{go_name}")
        if sub is None:
            fields[key] = None
            continue
        decoded: dict[str, object] = {}
        for field, kind in layout.items():
            where = f"Namespace.{key}.{field}"
            value = _typed(sub.get(field), kind, where, "[]string" if kind is list else "string")
            for item in value if kind is list and value else []:
                _typed(item, str, where, "string")
            decoded[field] = value if kind is list else value or ""
        fields[key] = decoded
    return fields


def _typed(value: object, kind: type, where: str, go_type: str) -> object:
    if value is None or type(value) is kind:
        return value
    raise APIError(
        400,
        f"json: cannot unmarshal {json_type(value)} into Go struct field {where} of type {go_type}",
    )


def upsert(store: StateStore, fields: dict) -> int:
    """Namespace.UpsertNamespaces: validate, then create or replace (keeping CreateIndex)."""
    errors = []
    if not VALID_NAME.match(fields["Name"]):
        name = go_quote(fields["Name"])
        errors.append(f"invalid name {name}. Must match regex {VALID_NAME.pattern}")
    if len(fields["Description"]) > MAX_DESCRIPTION:
        errors.append(f"description longer than {MAX_DESCRIPTION}")
    if errors:
        name = go_quote(fields["Name"])
        raise APIError(500, f"Invalid namespace {name}: {format_errors(errors)}")
    if fields["Quota"]:  # Nomad CE has no quota specifications
        raise APIError(
            500, f'namespace "{fields["Name"]}" using non-existent quota "{fields["Quota"]}"'
        )
    index = store.commit(["namespaces"])
    existing = store.namespaces.get(fields["Name"])
    created = existing["CreateIndex"] if existing else index
    store.namespaces[fields["Name"]] = namespace(**fields, CreateIndex=created, ModifyIndex=index)
    return index


def delete(store: StateStore, name: str) -> int:
    """Namespace.DeleteNamespaces: refused for ``default`` and for a namespace that still has
    live jobs or allocations; a namespace that does not exist is the state store's error."""
    if name == structs.NAMESPACE:
        raise APIError(500, "can not delete default namespace")
    if name not in store.namespaces:
        raise APIError(500, "namespace not found")
    errors = []
    jobs = [job for (ns, _), job in store.jobs.items() if ns == name]
    if any(job["Status"] != "dead" for job in jobs):
        errors.append(f'namespace "{name}" has non-terminal jobs in regions: [{structs.REGION}]')
    if any(
        a["Namespace"] == name and a["ClientStatus"] not in TERMINAL_ALLOC
        for a in store.allocs.values()
    ):
        errors.append(
            f'namespace "{name}" has non-terminal allocations in regions: [{structs.REGION}]'
        )
    if errors:
        raise APIError(500, format_errors(errors))
    index = store.commit(["namespaces"])
    del store.namespaces[name]
    return index


def check_job(store: StateStore, job: dict) -> list[str]:
    """jobNamespaceConstraintCheckHook: the job's namespace exists and allows its drivers."""
    ns = store.namespaces.get(job["Namespace"])
    if ns is None:
        return [
            f"job {go_quote(job['ID'])} is in nonexistent namespace {go_quote(job['Namespace'])}"
        ]
    capabilities = ns["Capabilities"]
    if capabilities is None:
        return []
    enabled = capabilities["EnabledTaskDrivers"] or []
    disabled = capabilities["DisabledTaskDrivers"] or []
    refused = [
        task.get("Driver") or ""
        for group in job["TaskGroups"]
        for task in group.get("Tasks") or []
        if (enabled and task.get("Driver") not in enabled) or task.get("Driver") in disabled
    ]
    if len(refused) == 1:
        return [f'used task driver "{refused[0]}" is not allowed in namespace "{ns["Name"]}"']
    if refused:
        drivers = " ".join(go_quote(d) for d in refused)
        return [f'used task drivers [{drivers}] are not allowed in namespace "{ns["Name"]}"']
    return []
