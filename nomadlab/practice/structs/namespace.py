"""structs.Namespace (nomad/structs/structs.go, namespace.go) as the API encodes it, with the
hash Nomad keeps to replicate it."""

from __future__ import annotations

import base64
import hashlib

DEFAULT_DESCRIPTION = "Default shared namespace"  # structs.DefaultNamespaceDescription

# The sub-structs' fields: a string, or a list of strings.
CAPABILITIES = {
    "EnabledTaskDrivers": list, "DisabledTaskDrivers": list,
    "EnabledNetworkModes": list, "DisabledNetworkModes": list,
}  # fmt: skip
POOLS = {"Default": str, "Allowed": list, "Denied": list}


def namespace(**fields: object) -> dict:
    """A Namespace with ``fields`` (Go's field names) as Nomad encodes it, with its Hash
    (Namespace.SetHash)."""
    ns = {
        "Name": "",
        "Description": "",
        "Quota": "",
        "Capabilities": None,
        "NodePoolConfiguration": None,
        "VaultConfiguration": None,
        "ConsulConfiguration": None,
        "Meta": None,
        "Hash": None,
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }
    ns.update(fields)
    ns["Hash"] = base64.b64encode(namespace_hash(ns)).decode()
    return ns


def namespace_hash(ns: dict) -> bytes:
    """Namespace.SetHash: blake2b-256 over the user-set fields in Nomad's order."""
    digest = hashlib.blake2b(digest_size=32)
    for key in ("Name", "Description", "Quota"):
        digest.update(ns[key].encode())
    for key, fields in (
        ("Capabilities", list(CAPABILITIES)),
        ("NodePoolConfiguration", list(POOLS)),
        ("VaultConfiguration", list(POOLS)),
        ("ConsulConfiguration", list(POOLS)),
    ):
        sub = ns[key]
        if sub is None:
            continue
        for field in fields:
            value = sub[field]
            for item in [value] if isinstance(value, str) else value or []:
                digest.update(item.encode())
    for key in sorted(ns["Meta"] or {}):
        digest.update(key.encode())
        digest.update(ns["Meta"][key].encode())
    return digest.digest()
