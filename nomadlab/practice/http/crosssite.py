"""No web page can drive the practice agent: checked for every request, before any route.

The agent runs commands (``raw_exec``) on the learner's machine, so a page on another site
must not be able to read from it or write to it through the learner's browser:

1. ``Host`` must name the agent (a loopback name or address, or the address it is bound
   to), else 403: a DNS-rebinding page sends its own name there.
2. ``X-Nomadlab-Proxy`` equal to the kit's proxy secret marks a request that came through
   the kit's own Jupyter server-proxy entry, which carries Jupyter's ``Host``; it skips 1.
3. A write (any method but GET, HEAD, OPTIONS) whose ``Origin`` is present (``null``
   included) and is not the ``Host``'s own origin gets 403: a cross-site form or
   ``fetch()``, even a "simple" ``text/plain`` one, never reaches a handler.
4. ``OPTIONS`` grants nothing: no ``Access-Control-Allow-*`` header is ever sent.

python-nomad, curl and the ``nomad`` CLI send no ``Origin`` and a loopback ``Host``.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest

from nomadlab.contract import PROXY_HEADER

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]*)(?::(\d{1,5}))?$")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` → (lower-case name without brackets or trailing dot, port), None if malformed."""
    match = _HOST.match(value.strip())
    if not match or not match.group(1):
        return None
    name = match.group(1).strip("[]").lower().removesuffix(".")
    return name, int(match.group(2)) if match.group(2) else None


def as_ip(name: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass
class CrossSiteGuard:
    """The rule above for one agent: its bind address(es) and the proxy secret."""

    secret: str
    bound: set[Address] = field(default_factory=set)

    def names_agent(self, name: str) -> bool:
        """True when a ``Host`` name is loopback or one of the addresses the agent is bound to."""
        if name == "localhost" or name.endswith(".localhost"):
            return True
        ip = as_ip(name)
        return ip is not None and (ip.is_loopback or ip in self.bound)

    def refusal(self, request: HTTPServerRequest) -> str | None:
        """Why ``request`` is refused (the 403's text), or None when it may proceed."""
        host_header = request.headers.get("Host")
        host = split_host(host_header) if host_header is not None else None
        if host_header is not None and host is None:
            return f"Forbidden: malformed Host header {host_header!r}."
        proxied = bool(self.secret) and hmac.compare_digest(
            request.headers.get(PROXY_HEADER, "").encode(), self.secret.encode()
        )
        if host is not None and not proxied and not self.names_agent(host[0]):
            return (
                f"Forbidden: the Host header {host_header!r} does not name this agent. The "
                "practice agent answers only requests addressed to 127.0.0.1, localhost or "
                "the address it is bound to, so that no web page can reach it by DNS "
                "rebinding. Use http://127.0.0.1:<port>, or Jupyter's /nomad/ proxy."
            )
        origin = request.headers.get("Origin")
        write = request.method not in SAFE_METHODS
        if write and origin is not None and (host is None or not same_origin(origin, host)):
            return (
                f"Forbidden: cross-site {request.method} from the web page at {origin!r}. "
                "The practice agent runs commands, so it takes writes only from its own "
                "pages and from clients that send no Origin (python-nomad, curl, nomad)."
            )
        return None


def same_origin(origin: str, host: tuple[str, int | None]) -> bool:
    """True when ``Origin`` names the same host and port as the request's ``Host``."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    name = parts.hostname.lower().removesuffix(".")
    if name != host[0]:
        return False
    default = DEFAULT_PORTS[parts.scheme]
    return (port or default) == (host[1] or default)


def bound_addresses(bind: str) -> set[Address]:
    """The addresses a ``Host`` may name besides loopback: the bind address, and every address
    of this machine's interfaces when bound to all (``0.0.0.0``, ``::``)."""
    ip = ipaddress.ip_address(bind)
    found: set[Address] = {ip}
    if not ip.is_unspecified:
        return found
    import psutil  # once, when the agent lists its addresses; not in every process

    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            parsed = as_ip(address.address.split("%")[0])
            if parsed is not None:
                found.add(parsed)
    return found
