"""The ACL endpoints (Nomad's command/agent/acl_endpoint.go) a classroom needs:
``nomad acl bootstrap`` and ``nomad acl token self``."""

from __future__ import annotations

from nomadlab.practice.acl import token_json
from nomadlab.practice.http.handler import Handler, Read, Request, go_fields
from nomadlab.practice.server import APIError


def acl_bootstrap(req: Request) -> dict:
    """``POST /v1/acl/bootstrap``: the management token, once. A body is optional; its
    ``BootstrapSecret`` (a UUID) becomes the token's secret, as ``nomad acl bootstrap
    <file>`` sends it."""
    secret = ""
    if req.handler.request.body:
        try:
            body = go_fields(
                req.body(),
                "ACLTokenBootstrapRequest",
                {"BootstrapSecret": (str, "string"), "ResetIndex": (int, "uint64")},
            )
        except APIError as exc:
            raise APIError(400, f"failed to decode request body: {exc.message}") from None
        secret = body.get("BootstrapSecret") or ""
    return token_json(req.agent.acl.bootstrap(secret))


def acl_token_self(req: Request) -> Read:
    """``GET /v1/acl/token/self``: the token the request carries, else 404."""
    return Read(("acl_token",), lambda: token_json(req.agent.acl.self_token(req.token)))


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/acl/bootstrap", {"POST": acl_bootstrap, "PUT": acl_bootstrap}),
    (r"/v1/acl/token/self", {"GET": acl_token_self}),
]
