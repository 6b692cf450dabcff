"""The namespace endpoints (Nomad's command/agent/namespace_endpoint.go): list, read, create,
update and delete namespaces."""

from __future__ import annotations

from nomadlab.practice import namespaces
from nomadlab.practice.http.handler import Handler, Read, Request
from nomadlab.practice.server import APIError


def namespace_list(req: Request) -> Read:
    """``GET /v1/namespaces``: every namespace by name, optionally only those with ``?prefix=``;
    none for an anonymous caller when ACLs are on (Namespace.ListNamespaces filters by token)."""
    prefix = req.arg("prefix") or ""

    def read() -> list[dict]:
        if not req.agent.acl.allows(req.token):
            return []
        store = req.store
        return [store.namespaces[n] for n in sorted(store.namespaces) if n.startswith(prefix)]

    return Read(("namespaces",), read)


def namespace_read(req: Request, name: str) -> Read:
    def read() -> dict:
        found = req.store.namespaces.get(missing_name(name))
        if found is None:
            raise APIError(404, "Namespace not found")
        return found

    return Read(("namespaces",), read)


def namespace_create(req: Request) -> None:
    """``PUT /v1/namespace``: the name comes from the body."""
    namespaces.upsert(req.store, namespaces.decode(req.body()))


def namespace_update(req: Request, name: str) -> None:
    fields = namespaces.decode(req.body())
    if fields["Name"] != missing_name(name):
        raise APIError(400, "Namespace name does not match request path")
    namespaces.upsert(req.store, fields)


def namespace_delete(req: Request, name: str) -> None:
    namespaces.delete(req.store, missing_name(name))


def missing_name(name: str) -> str:
    if not name:
        raise APIError(400, "Missing Namespace Name")
    return name


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/namespaces", {"GET": namespace_list}),
    (r"/v1/namespace", {"PUT": namespace_create, "POST": namespace_create}),
    (
        r"/v1/namespace/(.*)",
        {
            "GET": namespace_read,
            "PUT": namespace_update,
            "POST": namespace_update,
            "DELETE": namespace_delete,
        },
    ),
]
