"""The deployment endpoints (command/agent/deployment_endpoint.go)."""

from __future__ import annotations

from nomadlab.practice import structs
from nomadlab.practice.http.handler import Handler, Read, Request, by_id
from nomadlab.practice.server import APIError


def deployments_list(req: Request) -> Read:
    return Read(
        ("deployments",),
        lambda: sorted(
            req.store.deployments.values(), key=lambda d: d["CreateIndex"], reverse=True
        ),
    )


def deployment_read(req: Request, deployment_id: str) -> Read:
    return Read(("deployments",), lambda: by_id(req.store.deployments, deployment_id, "deployment"))


def deployment_allocations(req: Request, deployment_id: str) -> Read:
    def read() -> list[dict]:
        deployment = by_id(req.store.deployments, deployment_id, "deployment")
        return [
            structs.alloc_stub(a)
            for a in req.store.allocs.values()
            if a.get("DeploymentID") == deployment["ID"]
        ]

    return Read(("allocs",), read)


def deployment_fail(req: Request, deployment_id: str) -> dict:
    deployment = by_id(req.store.deployments, deployment_id, "deployment")
    if deployment["Status"] not in ("running", "paused"):
        raise APIError(500, "can't fail terminal deployment")
    req.agent.deployments.finish(deployment, "failed", "Deployment marked as failed")
    return {"DeploymentModifyIndex": deployment["ModifyIndex"], "Index": req.store.index}


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/deployments", {"GET": deployments_list}),
    (r"/v1/deployment/([^/]+)", {"GET": deployment_read}),
    (r"/v1/deployment/allocations/([^/]+)", {"GET": deployment_allocations}),
    (r"/v1/deployment/fail/([^/]+)", {"POST": deployment_fail, "PUT": deployment_fail}),
]
