"""The agent's HTTP server, as Nomad's command/agent/http.go registers it: the API's routes
under /v1 and the web UI under /ui/ in one application, behind the cross-site guard.

Here rather than in the ``http`` package: the UI's pages use that package's handler, so the
application that serves both imports both, and neither imports it.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from tornado.httputil import HTTPServerRequest

from nomadlab.practice import webui
from nomadlab.practice.acl import route_kind
from nomadlab.practice.http import ROUTES
from nomadlab.practice.http.crosssite import CrossSiteGuard, bound_addresses
from nomadlab.practice.http.handler import MAX_BODY, Agent, Endpoint, NotFound, Refused


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
    handlers = [
        (pattern, Endpoint, {"agent": agent, "methods": methods, "kind": route_kind(pattern)})
        for pattern, methods in ROUTES
    ]
    guard = CrossSiteGuard(agent.proxy_secret, bound_addresses(agent.bind))
    return Application(handlers + webui.routes(agent), guard, default_handler_class=NotFound)
