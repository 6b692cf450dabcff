"""The HTTP API: Nomad's routes under /v1, on tornado, with Nomad's errors and headers.

One module per area, as Nomad's command/agent/*_endpoint.go: each holds its endpoint
functions and ROUTES; ``handler`` dispatches them (blocking queries, errors as Nomad sends
them); ``server`` puts the routes and the web UI together into the agent's application.
"""

from __future__ import annotations

from nomadlab.practice.http import (
    acl_endpoint,
    agent_endpoint,
    alloc_endpoint,
    deployment_endpoint,
    eval_endpoint,
    fs_endpoint,
    job_endpoint,
    namespace_endpoint,
    node_endpoint,
    practice_endpoint,
    scaling_endpoint,
    service_endpoint,
    system_endpoint,
)
from nomadlab.practice.http.handler import Handler

ROUTES: list[tuple[str, dict[str, Handler]]] = [
    *job_endpoint.ROUTES,
    *alloc_endpoint.ROUTES,
    *eval_endpoint.ROUTES,
    *deployment_endpoint.ROUTES,
    *node_endpoint.ROUTES,
    *agent_endpoint.ROUTES,
    *fs_endpoint.ROUTES,
    *scaling_endpoint.ROUTES,
    *namespace_endpoint.ROUTES,
    *service_endpoint.ROUTES,
    *system_endpoint.ROUTES,
    *practice_endpoint.ROUTES,
    *acl_endpoint.ROUTES,
]
