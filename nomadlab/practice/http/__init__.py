"""The HTTP API: Nomad's routes under /v1, on tornado, with Nomad's errors and headers.

One module per area, as Nomad's command/agent/*_endpoint.go: each holds its endpoint
functions and ROUTES; ``handler`` dispatches them (blocking queries, errors as Nomad sends
them); ``make_app`` puts the routes together.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from tornado.httputil import HTTPServerRequest

from nomadlab.practice.acl import route_kind
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
from nomadlab.practice.http.crosssite import CrossSiteGuard, bound_addresses
from nomadlab.practice.http.handler import (
    MAX_BODY,
    Agent,
    Endpoint,
    Handler,
    NotFound,
    Refused,
)

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


class Application(tornado.web.Application):
    """Routes every request, but first refuses what no route may see (see ``crosssite``)."""

    def __init__(self, handlers: list, guard: CrossSiteGuard, **settings: Any) -> None:
        super().__init__(handlers, **settings)
        self.guard = guard

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        refusal = self.guard.refusal(request)
        if refusal is not None:
            return self.get_handler_delegate(request, Refused, {"status": 403, "text": refusal})
        size = request.headers.get("Content-Length", "0")
        if size.isdigit() and int(size) > MAX_BODY:
            text = f"Request body too large: {size} bytes; the practice agent takes {MAX_BODY}"
            return self.get_handler_delegate(
                request, Refused, {"status": 413, "text": text, "max_body": int(size)}
            )
        if request.method == "OPTIONS":  # answered here so that no route can grant CORS
            return self.get_handler_delegate(
                request, Refused, {"status": 405, "text": "Invalid method"}
            )
        return super().find_handler(request, **kwargs)


def make_app(agent: Agent) -> tornado.web.Application:
    """The tornado application serving the API and, under /ui/, the practice web UI."""
    from nomadlab.practice import webui  # imported here: the UI's pages use this package

    handlers = [
        (pattern, Endpoint, {"agent": agent, "methods": methods, "kind": route_kind(pattern)})
        for pattern, methods in ROUTES
    ]
    guard = CrossSiteGuard(agent.proxy_secret, bound_addresses(agent.bind))
    return Application(handlers + webui.routes(agent), guard, default_handler_class=NotFound)
