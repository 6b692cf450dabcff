"""Practice-only endpoints, under ``/v1/practice/``, a prefix no Nomad route uses.

They simulate what a learner cannot do to a real cluster from a notebook: a node's machine
dying (``fail``: its tasks vanish, its heartbeats stop) and coming back (``recover``).
Nomad has no such API; the kit refuses to send these to anything but a practice agent.
"""

from __future__ import annotations

from nomadlab.practice.http.handler import Handler, Request


async def node_fail(req: Request, node_id: str) -> dict:
    return await req.agent.fail_node(node_id)


def node_recover(req: Request, node_id: str) -> dict:
    return req.agent.recover_node(node_id)


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/practice/node/([^/]+)/fail", {"POST": node_fail, "PUT": node_fail}),
    (r"/v1/practice/node/([^/]+)/recover", {"POST": node_recover, "PUT": node_recover}),
]
