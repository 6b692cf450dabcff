"""The node endpoints (command/agent/node_endpoint.go)."""

from __future__ import annotations

from nomadlab.practice import structs
from nomadlab.practice.http.handler import Handler, Read, Request, go_fields
from nomadlab.practice.structs.fields import complete


def nodes_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    resources, os = req.flag("resources"), req.flag("os")
    return Read(
        ("nodes",),
        lambda: [
            structs.node_stub(n, resources, os)
            for n in sorted(req.store.nodes.values(), key=lambda n: n["Name"])
            if n["ID"].startswith(prefix)
        ],
    )


def node_read(req: Request, node_id: str) -> Read:
    return Read(("nodes",), lambda: complete("Node", req.server.node(node_id)))


def node_allocations(req: Request, node_id: str) -> Read:
    """Full allocations, not stubs, as Node.GetAllocs answers."""
    return Read(
        ("allocs",),
        lambda: [
            complete("Allocation", a) for a in req.store.node_allocs(req.server.node(node_id)["ID"])
        ],
    )


def node_eligibility(req: Request, node_id: str) -> dict:
    body = go_fields(req.body(), "NodeUpdateEligibilityRequest", {"Eligibility": (str, "string")})
    return req.server.set_eligibility(req.server.node(node_id)["ID"], body.get("Eligibility", ""))


def node_drain(req: Request, node_id: str) -> dict:
    body = go_fields(
        req.body(),
        "NodeUpdateDrainRequest",
        {"DrainSpec": (dict, "api.DrainSpec"), "MarkEligible": (bool, "bool"),
         "Meta": (dict, "map[string]string")},
    )  # fmt: skip
    spec = body.get("DrainSpec")
    if spec is not None:
        go_fields(
            spec, "DrainSpec",
            {"Deadline": (int, "time.Duration"), "IgnoreSystemJobs": (bool, "bool")},
        )  # fmt: skip
    return req.server.drain(
        req.server.node(node_id)["ID"],
        spec,
        mark_eligible=bool(body.get("MarkEligible")),
        meta=body.get("Meta"),
    )


def node_evaluate(req: Request, node_id: str) -> dict:
    """``nomad node eval``: re-evaluate the jobs with allocations on the node."""
    return req.server.evaluate_node(node_id)


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/nodes", {"GET": nodes_list}),
    (r"/v1/node/([^/]+)", {"GET": node_read}),
    (r"/v1/node/([^/]+)/allocations", {"GET": node_allocations}),
    (r"/v1/node/([^/]+)/eligibility", {"POST": node_eligibility, "PUT": node_eligibility}),
    (r"/v1/node/([^/]+)/drain", {"POST": node_drain, "PUT": node_drain}),
    (r"/v1/node/([^/]+)/evaluate", {"POST": node_evaluate, "PUT": node_evaluate}),
]
