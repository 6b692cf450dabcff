"""The system endpoints (Nomad's command/agent/system_endpoint.go): ``nomad system gc``."""

from __future__ import annotations

from nomadlab.practice.http.handler import Handler, Request


def garbage_collect(req: Request) -> None:
    """``PUT /v1/system/gc``: collect everything eligible now, whatever its age. Nomad
    answers 200 with an empty body."""
    req.agent.core.collect(force=True)


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/system/gc", {"PUT": garbage_collect}),
]
