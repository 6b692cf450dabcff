"""The kit's entry in jupyter-server-proxy: ``<jupyter>/nomad/`` reaches the agent the kit runs.

The practice agent refuses requests whose ``Host`` is not its own (DNS rebinding), but a
request through Jupyter's proxy carries the Jupyter server's ``Host`` (``hub.mybinder.org``
on Binder). A web page can forge any header a browser lets it set, but not one the proxy adds
from a file it cannot read: the named entry below adds ``X-Nomadlab-Proxy: <secret>``, the
secret kept 0600 in the kit's state dir, and the agent trusts a request that carries it.

On a shared host (see ``contract.shared_host``) the agent has ACLs on; the entry then also
adds ``X-Nomad-Token`` with the token the kit keeps 0600 beside the secret, so the UI opens
with no token typed. Each user's agent needs a port of its own there, chosen once and kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nomadlab.contract import (
    AGENT_RECORD,
    DEFAULT_PORT,
    PORT_FILE,
    PROXY_HEADER,
    acl_token,
    kit_token,
    proxy_secret,
    shared_host,
    state_dir,
)

LOOPBACK = "127.0.0.1"


def agent_port(home: Path | None = None) -> int:
    """The port of the agent the kit runs: its record, else ``NOMADLAB_PORT``, else (on a
    shared host, where 4646 is the first user's) one chosen for this user and kept, else 4646."""
    directory = home or state_dir()
    record = directory / AGENT_RECORD
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        port = urlsplit(json.loads(record.read_text())["address"]).port
        if port:
            return port
    with contextlib.suppress(ValueError):
        return int(os.environ.get("NOMADLAB_PORT") or (_own_port(directory) or DEFAULT_PORT))
    return DEFAULT_PORT


def _own_port(directory: Path) -> int | None:
    """On a shared host, this user's port: the one kept in the state dir, else a free one,
    kept there 0600. None elsewhere."""
    if not shared_host():
        return None
    path = directory / PORT_FILE
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port = int(sock.getsockname()[1])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{port}\n")
    return port


def kit_address() -> str:
    """The address of the agent the kit runs (or will start) for this user."""
    return f"http://{LOOPBACK}:{agent_port()}"


def kit_environment() -> dict[str, str]:
    """On a shared host, ``NOMAD_ADDR`` and ``NOMAD_TOKEN`` for the kit's agent, so that
    ``nomad``, ``nomadlab``, curl and python-nomad in a terminal or a kernel reach it with
    its token; nothing elsewhere (a laptop's agent has no ACLs, and the learner's own
    NOMAD_ADDR stays theirs)."""
    if not shared_host():
        return {}
    return {"NOMAD_ADDR": kit_address(), "NOMAD_TOKEN": kit_token()}


def request_headers() -> dict[str, str]:
    """What the entry adds to every request: the proxy secret, and the kit's token if its
    agent has ACLs on."""
    headers = {PROXY_HEADER: proxy_secret()}
    token = acl_token()
    if token:
        headers["X-Nomad-Token"] = token
    return headers


def setup_nomad() -> dict[str, Any]:
    """jupyter-server-proxy's named server ``nomad``: no command (the kit starts the agent),
    the agent's port, the secret (and token) headers read per request, a "Nomad UI" tile.

    jupyter-server-proxy calls this once, in the Jupyter server's process as it starts
    (``nomadlab lab``, Binder or a JupyterHub spawner alike): the kit's environment is set
    there too, and every terminal and kernel the server starts inherits it."""
    os.environ.update(kit_environment())
    return {
        "command": [],
        "port": agent_port(),
        "absolute_url": False,
        "request_headers_override": request_headers,
        "launcher_entry": {"enabled": True, "title": "Nomad UI", "path_info": "nomad/ui/"},
        "new_browser_tab": True,
    }


def jupyter_proxy_url(address: str) -> str | None:
    """The UI's path through the Jupyter server this kernel runs behind, if it runs behind
    JupyterHub or Binder (which set ``JUPYTERHUB_SERVICE_PREFIX``), on the browser's own
    origin: the kit's ``nomad/`` entry when it leads to this agent (the only way past the
    agent's cross-site rule when Jupyter's host is not loopback), else the generic
    ``proxy/<port>/``."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    port = urlsplit(address).port
    if not prefix or port is None:
        return None
    entry = "nomad" if agent_port() == port else f"proxy/{port}"
    return f"{prefix.rstrip('/')}/{entry}/ui/"
