"""The kit's entry in jupyter-server-proxy: ``<jupyter>/nomad/`` reaches the agent the kit runs.

The practice agent refuses requests whose ``Host`` is not its own (DNS rebinding), but a
request through Jupyter's proxy carries the Jupyter server's ``Host`` (``hub.mybinder.org``
on Binder). A web page can forge any header a browser lets it set, but not one the proxy adds
from a file it cannot read: the named entry below adds ``X-Nomadlab-Proxy: <secret>``, the
secret kept 0600 in the kit's state dir, and the agent trusts a request that carries it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nomadlab.contract import AGENT_RECORD, DEFAULT_PORT, PROXY_HEADER, proxy_secret, state_dir


def agent_port(home: Path | None = None) -> int:
    """The port of the agent the kit runs: its record, else ``NOMADLAB_PORT``, else 4646."""
    record = (home or state_dir()) / AGENT_RECORD
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        port = urlsplit(json.loads(record.read_text())["address"]).port
        if port:
            return port
    with contextlib.suppress(ValueError):
        return int(os.environ.get("NOMADLAB_PORT") or DEFAULT_PORT)
    return DEFAULT_PORT


def setup_nomad() -> dict[str, Any]:
    """jupyter-server-proxy's named server ``nomad``: no command (the kit starts the agent),
    the agent's port, the secret header read per request, a "Nomad UI" launcher tile."""
    return {
        "command": [],
        "port": agent_port(),
        "absolute_url": False,
        "request_headers_override": lambda: {PROXY_HEADER: proxy_secret()},
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
