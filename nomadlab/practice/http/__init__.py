"""The HTTP API: Nomad's routes under /v1, on tornado, with Nomad's errors and headers.

One module per area, as Nomad's command/agent/*_endpoint.go: each holds its endpoint
functions and ROUTES; ``handler`` dispatches them (blocking queries, errors as Nomad sends
them); ``make_app`` puts the routes together.
"""

from __future__ import annotations

import tornado.web

from nomadlab.practice.http import (
    agent_endpoint,
    alloc_endpoint,
    deployment_endpoint,
    eval_endpoint,
    fs_endpoint,
    job_endpoint,
    node_endpoint,
)
from nomadlab.practice.http.handler import Agent, Endpoint, Handler, NotFound

ROUTES: list[tuple[str, dict[str, Handler]]] = [
    *job_endpoint.ROUTES,
    *alloc_endpoint.ROUTES,
    *eval_endpoint.ROUTES,
    *deployment_endpoint.ROUTES,
    *node_endpoint.ROUTES,
    *agent_endpoint.ROUTES,
    *fs_endpoint.ROUTES,
]


def make_app(agent: Agent) -> tornado.web.Application:
    """The tornado application serving the API and, under /ui/, the practice web UI."""
    from nomadlab.practice import webui  # imported here: the UI's pages use this package

    handlers = [
        (pattern, Endpoint, {"agent": agent, "methods": methods}) for pattern, methods in ROUTES
    ]
    return tornado.web.Application(handlers + webui.routes(agent), default_handler_class=NotFound)
