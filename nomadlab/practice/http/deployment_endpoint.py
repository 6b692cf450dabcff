"""The deployment endpoints (command/agent/deployment_endpoint.go)."""

from __future__ import annotations

from nomadlab.practice import structs
from nomadlab.practice.http.handler import Handler, Read, Request, by_id
from nomadlab.practice.server import APIError
from nomadlab.practice.structs.fields import complete


def deployments_list(req: Request) -> Read:
    """Oldest first (by create index), newest first with ``?reverse=true``."""
    reverse = req.flag("reverse")
    return Read(
        ("deployments",),
        lambda: [
            complete("Deployment", d)
            for d in sorted(
                req.store.deployments.values(), key=lambda d: d["CreateIndex"], reverse=reverse
            )
        ],
    )


def deployment_read(req: Request, deployment_id: str) -> Read:
    return Read(
        ("deployments",),
        lambda: complete("Deployment", by_id(req.store.deployments, deployment_id, "deployment")),
    )


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


def deployment_allocation_health(req: Request, deployment_id: str) -> dict:
    """Mark allocations healthy or unhealthy by hand (DeploymentAllocHealthRequest)."""
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    if not body.get("DeploymentID"):
        raise APIError(400, "DeploymentID must be specified")
    if body["DeploymentID"] != deployment_id:
        raise APIError(400, "Deployment ID does not match")
    healthy = body.get("HealthyAllocationIDs") or []
    unhealthy = body.get("UnhealthyAllocationIDs") or []
    if not isinstance(healthy, list) or not isinstance(unhealthy, list):
        raise APIError(400, "allocation IDs must be lists of strings")
    if not all(isinstance(i, str) for i in [*healthy, *unhealthy]):
        raise APIError(400, "allocation IDs must be strings")
    deployment = by_id(req.store.deployments, deployment_id, "deployment")
    return req.agent.deployments.set_alloc_health(deployment, healthy, unhealthy)


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/deployments", {"GET": deployments_list}),
    (r"/v1/deployment/([^/]+)", {"GET": deployment_read}),
    (r"/v1/deployment/allocations/([^/]+)", {"GET": deployment_allocations}),
    (
        r"/v1/deployment/allocation-health/([^/]+)",
        {"POST": deployment_allocation_health, "PUT": deployment_allocation_health},
    ),
    (r"/v1/deployment/fail/([^/]+)", {"POST": deployment_fail, "PUT": deployment_fail}),
]
