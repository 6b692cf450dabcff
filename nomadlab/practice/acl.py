"""ACLs, as Nomad's server keeps them (nomad/acl_endpoint.go, nomad/auth/auth.go): the
token table, ``nomad acl bootstrap`` and how a request's secret resolves.

What a classroom on one server needs: with ACLs on, every route Nomad protects refuses a
request without the management token, so one learner's process cannot drive another's agent.
Policies, client tokens and roles are not kept: a token is the bootstrap (management) token
or it is refused (see docs/differences.md, "ACLs").
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from nomadlab.contract import is_uuid
from nomadlab.practice import structs
from nomadlab.practice.server import APIError
from nomadlab.practice.state import StateStore

#: structs.ErrPermissionDenied, ErrTokenNotFound: the texts Nomad's HTTP agent writes
#: with a 403 (command/agent/http.go, wrap).
PERMISSION_DENIED = "Permission denied"
TOKEN_NOT_FOUND = "ACL token not found"
#: nomad/acl_endpoint.go: aclDisabled.
ACL_DISABLED = "ACL support disabled"
#: nomad/acl_endpoint.go: aclBootstrapReset, the file in the data dir that allows a reset.
BOOTSTRAP_RESET_FILE = "acl-bootstrap-reset"
MANAGEMENT = "management"

# How a route resolves its token in Nomad (the practice agent's routes by pattern):
#: open: no token looked at (status, regions, health, bootstrap, token self).
OPEN = "open"
#: the server's Authenticate: a missing or unknown secret is "Permission denied".
AUTHENTICATE = "authenticate"
#: ResolveToken on the HTTP agent or the client (agent/self, jobs/parse, /v1/client/...):
#: an unknown secret is "ACL token not found", a missing one "Permission denied".
RESOLVE = "resolve"
#: Namespace.ListNamespaces: anonymous sees only the namespaces it may use (none).
FILTERED = "filtered"

_OPEN_ROUTES = {
    r"/v1/agent/health",  # HealthRequest: no ACL check
    r"/v1/status/leader",  # Status.Leader, Status.Peers: no ACL check
    r"/v1/status/peers",
    r"/v1/regions",  # Region.List: no ACL check
    r"/v1/acl/bootstrap",  # ACL.Bootstrap: authenticates only for rate metrics
    r"/v1/acl/token/self",  # ACL.ResolveToken: looks the secret up itself
}
_RESOLVE_ROUTES = re.compile(r"/v1/(agent/self|agent/servers|jobs/parse|client/.*)")


def route_kind(pattern: str) -> str:
    """How the Nomad route served by ``pattern`` (a practice route regex) treats tokens."""
    if pattern in _OPEN_ROUTES:
        return OPEN
    if pattern == r"/v1/namespaces":
        return FILTERED
    if _RESOLVE_ROUTES.fullmatch(pattern):
        return RESOLVE
    return AUTHENTICATE


def parse_token(x_nomad_token: str | None, authorization: str | None) -> str:
    """The secret a request carries, as command/agent/http.go parseToken reads it:
    ``X-Nomad-Token`` first, else ``Authorization: Bearer <secret>``; "" for none."""
    if x_nomad_token and x_nomad_token.strip():
        return x_nomad_token.strip()
    parts = (authorization or "").split(" ")
    if len(parts) > 1 and parts[0].lower() == "bearer":
        return " ".join(parts[1:]).strip().split(" ")[0].strip()
    return ""


def token_hash(token: dict) -> bytes:
    """ACLToken.SetHash: BLAKE2b-256 of the fields a user sets."""
    digest = hashlib.blake2b(digest_size=32)
    digest.update(token["Name"].encode())
    digest.update(token["Type"].encode())
    for policy in token["Policies"] or []:
        digest.update(policy.encode())
    digest.update(b"global" if token["Global"] else b"local")
    for role in token["Roles"] or []:
        digest.update(role["ID"].encode())
    return digest.digest()


@dataclass
class ACLs:
    """The agent's ACL state: on or off (``acl { enabled }``), its tokens by secret, and
    the index of the bootstrap (Nomad's reset index), 0 before it."""

    enabled: bool
    store: StateStore
    data_dir: Path
    tokens: dict[str, dict] = field(default_factory=dict)
    bootstrap_index: int = 0

    def bootstrap(self, secret: str = "") -> dict:
        """ACL.Bootstrap: the management token, once; again only with the reset file."""
        if not self.enabled:
            raise APIError(400, ACL_DISABLED)
        if self.bootstrap_index:
            specified = self.reset_index()
            if specified == 0:
                raise APIError(
                    400, f"ACL bootstrap already done (reset index: {self.bootstrap_index})"
                )
            if specified != self.bootstrap_index:
                raise APIError(
                    400,
                    f"Invalid bootstrap reset index (specified {specified}, "
                    f"reset index: {self.bootstrap_index})",
                )
        if secret and not is_uuid(secret):
            raise APIError(400, "invalid acl token")
        index = self.store.commit(["acl_token"])
        token = {
            "AccessorID": structs.new_id(),
            "SecretID": secret or str(uuid.uuid4()),
            "Name": "Bootstrap Token",
            "Type": MANAGEMENT,
            "Policies": None,
            "Roles": None,
            "Global": True,
            "Hash": b"",
            "CreateTime": structs.now_ns(),
            "ExpirationTime": None,
            "ExpirationTTL": 0,
            "CreateIndex": index,
            "ModifyIndex": index,
        }
        token["Hash"] = token_hash(token)
        self.tokens[token["SecretID"]] = token
        self.bootstrap_index = index
        return token

    def reset_index(self) -> int:
        """The index written in ``<data dir>/acl-bootstrap-reset`` (Sscanf "%d"), else 0."""
        try:
            text = (self.data_dir / BOOTSTRAP_RESET_FILE).read_text()
        except (OSError, UnicodeDecodeError):
            return 0
        match = re.match(r"\s*([+-]?\d+)", text)
        return int(match.group(1)) if match else 0

    def self_token(self, secret: str) -> dict:
        """ACL.ResolveToken for ``GET /v1/acl/token/self``: 404 when the secret is unknown."""
        if not self.enabled:
            raise APIError(400, ACL_DISABLED)
        token = self.tokens.get(secret)
        if token is None:
            raise APIError(404, TOKEN_NOT_FOUND)
        return token

    def refusal(self, kind: str, secret: str) -> str | None:
        """Why a request to a route of ``kind`` carrying ``secret`` gets Nomad's 403 (the
        text), or None when it may proceed. Only management tokens exist, so any known
        token may do everything, and anonymous nothing (FILTERED routes filter instead)."""
        if not self.enabled or kind == OPEN or secret in self.tokens:
            return None
        if not secret:
            return None if kind == FILTERED else PERMISSION_DENIED
        return TOKEN_NOT_FOUND if kind == RESOLVE else PERMISSION_DENIED

    def allows(self, secret: str) -> bool:
        """True when ``secret`` may read everything: ACLs off, or a known token."""
        return not self.enabled or secret in self.tokens


def token_json(token: dict) -> dict:
    """An ACLToken as Nomad's API encodes it (Hash in base64, times in RFC 3339)."""
    return {
        **token,
        "Hash": base64.b64encode(token["Hash"]).decode(),
        "CreateTime": structs.rfc3339(token["CreateTime"]),
    }
