"""Errors a learner can act on: one paragraph saying what happened and what to do.

python-nomad raises its own exceptions wrapping ``requests`` ones; :func:`api_errors` turns
them into these, without the chain of HTTP-library internals in the traceback.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: light modules (jobfiles, allocations) import this
    import requests

#: Where advice is read: "python" (a notebook, where ``lab.status()`` is the way) or
#: "terminal" (the ``nomadlab`` command, which sets it, where ``nomadlab job status`` is).
SURFACE: contextvars.ContextVar[str] = contextvars.ContextVar("surface", default="python")


def say(python: str, terminal: str) -> str:
    """The advice for where the learner is: the Python call, or the command to type."""
    return terminal if SURFACE.get() == "terminal" else python


def again() -> str:
    """ "call nomadlab.start() again", or in a terminal "run the command again"."""
    return say("call nomadlab.start() again", "run the command again")


class NomadLabError(Exception):
    """Base of the kit's errors; the message is the whole explanation."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the message is what the learner needs."""
        return [f"{type(self).__name__}: {self}"]


class AgentUnreachable(NomadLabError):
    """No Nomad agent answers at the address (refused, timed out, TLS failure)."""


class PermissionDenied(NomadLabError):
    """The agent answered 403: ACLs are on and the token does not allow the request."""


class NomadAPIError(NomadLabError):
    """The agent answered with an error status (400, 404, 500 ...)."""

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class PlacementFailed(NomadLabError):
    """The scheduler could not place every allocation the job asks for."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class JobNotUpdated(NomadLabError):
    """``nomad job run -check-index N`` refused: the job changed since the plan saw it."""


class DeploymentFailed(NomadLabError):
    """The job's deployment ended without becoming healthy."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


def _request_line(source: requests.Response | requests.RequestException | None) -> str:
    """The request a response or a requests exception carries, as " (METHOD /path)"."""
    request = getattr(source, "request", None)
    if request is None or not request.url:
        return ""
    path = request.url.split("://", 1)[-1]
    path = "/" + path.split("/", 1)[1] if "/" in path else "/"
    return f" ({request.method} {path.split('?', 1)[0]})"


def unreachable(address: str, detail: str = "connection refused") -> AgentUnreachable:
    """The explanation for an agent that does not answer at ``address``."""
    return AgentUnreachable(
        f"Cannot reach a Nomad agent at {address}: {detail}. Nothing answered there, so the "
        "agent is stopped, still starting, or the address is wrong. If NOMAD_ADDR is set, check "
        "it (an agent or cluster you run yourself must be up), or unset it so that "
        + say(
            "nomadlab.start() starts a local agent for you; in a terminal, `nomadlab agent -dev` "
            "runs one. Then call nomadlab.start() again.",
            "`nomadlab agent start` starts a local agent for you (or `nomadlab agent -dev` in a "
            "terminal of its own). Then run the command again.",
        )
    )


def permission_denied(
    address: str, token_set: bool, what: str = "", text: str = "Permission denied"
) -> PermissionDenied:
    """The explanation for a 403 from an agent with ACLs enabled; ``text`` is Nomad's
    ("Permission denied", or "ACL token not found" where the agent resolves the token)."""
    token = (
        "the token in NOMAD_TOKEN does not allow this request"
        if token_set
        else "the request carried no token (NOMAD_TOKEN is not set)"
    )
    return PermissionDenied(
        f"The Nomad agent at {address} answered 403{what}: {text}. ACLs are enabled on that "
        f"cluster and {token}. Set NOMAD_TOKEN to the Secret ID of an ACL token whose policy "
        "allows it (ask the cluster's operator, or use the token printed by `nomad acl "
        "bootstrap` on your own cluster), then " + again() + ". A local dev agent has no "
        "ACLs: unset NOMAD_ADDR to use one (on a shared host, the kit's own agent, with the "
        "token it keeps for you)."
    )


def explain(exc: BaseException, address: str, token_set: bool = False) -> NomadLabError:
    """Turn a python-nomad or requests exception into a one-paragraph kit error."""
    import requests

    if isinstance(exc, NomadLabError):
        return exc
    cause: Any = getattr(exc, "nomad_resp", exc)
    if isinstance(cause, requests.Response):
        what = _request_line(cause)
        body = (cause.text or "").strip()
        if cause.status_code == 403:
            return permission_denied(address, token_set, what, body or cause.reason)
        return NomadAPIError(
            f"The Nomad agent at {address} answered {cause.status_code}{what}: "
            f"{body or cause.reason}",
            status=cause.status_code,
            body=body,
        )
    if isinstance(cause, requests.exceptions.SSLError):
        return AgentUnreachable(
            f"TLS handshake with the Nomad agent at {address} failed: {_first_line(cause)}. Point "
            "NOMAD_CACERT at the cluster's CA certificate (and NOMAD_CLIENT_CERT / "
            "NOMAD_CLIENT_KEY at a client certificate if the cluster asks for one), or set "
            "NOMAD_SKIP_VERIFY=true for a throwaway test cluster, then " + again() + "."
        )
    if isinstance(cause, requests.exceptions.ReadTimeout):
        return AgentUnreachable(
            f"The Nomad agent at {address} took the request{_request_line(cause)} but sent no "
            "answer in time: it is up, and busy or stuck. Wait a moment and try again; if it "
            "keeps happening, read the agent's log, or restart the agent."
        )
    if isinstance(cause, requests.exceptions.Timeout):
        return unreachable(address, "it did not answer in time")
    if isinstance(cause, (requests.exceptions.ConnectionError, ConnectionError)):
        return unreachable(address, "connection refused")
    return NomadAPIError(f"Talking to the Nomad agent at {address} failed: {_first_line(cause)}")


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def api_errors(address: str, token_set: bool = False) -> Iterator[None]:
    """Run API calls, raising kit errors without the requests traceback chained to them."""
    import requests
    from nomad.api import exceptions as nomad_exceptions

    try:
        yield
    except (nomad_exceptions.BaseNomadException, requests.RequestException) as exc:
        raise explain(exc, address, token_set) from None
