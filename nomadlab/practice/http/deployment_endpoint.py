"""The deployment endpoints (command/agent/deployment_endpoint.go)."""

from __future__ import annotations

from collections.abc import Callable

from nomadlab.practice.deployments import DeploymentError
from nomadlab.practice.http.handler import Handler, Read, Request, by_id, listing
from nomadlab.practice.http.stubs import EncodedList, by_alloc_id
from nomadlab.practice.server import APIError
from nomadlab.practice.structs.fields import complete


def deployments_list(req: Request) -> Read:
    return listing(req, "deployments", "Deployment")


def deployment_read(req: Request, deployment_id: str) -> Read:
    return Read(
        ("deployments",),
        lambda: complete("Deployment", by_id(req.store.deployments, deployment_id, "deployment")),
    )


def deployment_allocations(req: Request, deployment_id: str) -> Read:
    def read() -> EncodedList:
        deployment = by_id(req.store.deployments, deployment_id, "deployment")
        # By ID, as Nomad's deployment index iterates them; each stub from the cache.
        allocs = by_alloc_id(req.store.deployment_allocs(deployment["ID"]))
        return req.agent.alloc_stubs.encode(allocs)

    return Read(("allocs",), read)


def deployment_action(action: Callable[[Request, dict, dict], dict]) -> Handler:
    """A deployment write: the deployment by ID, the body, the watcher's answer."""

    def endpoint(req: Request, deployment_id: str) -> dict:
        deployment = by_id(req.store.deployments, deployment_id, "deployment")
        raw = req.handler.request.body
        body = req.body() if raw and raw.strip() else {}
        if not isinstance(body, dict):
            raise APIError(400, "Request body must be a JSON object")
        try:
            return action(req, deployment, body)
        except DeploymentError as exc:
            raise APIError(500, str(exc)) from exc

    return endpoint


def promote(req: Request, deployment: dict, body: dict) -> dict:
    groups = body.get("Groups")
    if groups is not None and not (
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
    ):
        raise APIError(400, "Groups must be a list of task group names")
    return req.agent.deployments.promote(
        deployment, all_groups=bool(body.get("All")), groups=groups
    )


def pause(req: Request, deployment: dict, body: dict) -> dict:
    return req.agent.deployments.pause(deployment, bool(body.get("Pause")))


def fail(req: Request, deployment: dict, body: dict) -> dict:
    return req.agent.deployments.fail(deployment)


deployment_promote = deployment_action(promote)
deployment_pause = deployment_action(pause)
deployment_fail = deployment_action(fail)


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
    (r"/v1/deployment/promote/([^/]+)", {"POST": deployment_promote, "PUT": deployment_promote}),
    (r"/v1/deployment/pause/([^/]+)", {"POST": deployment_pause, "PUT": deployment_pause}),
]
