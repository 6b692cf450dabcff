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
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROXY_HEADER = "X-Nomadlab-Proxy"
SECRET_FILE = "proxy-secret"
DEFAULT_PORT = 4646


def state_dir(home: Path | None = None) -> Path:
    """The kit's state dir (``$NOMADLAB_HOME``, default ``~/.nomadlab``), created 0700."""
    path = home or Path(os.environ.get("NOMADLAB_HOME") or Path.home() / ".nomadlab")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def proxy_secret(home: Path | None = None) -> str:
    """The secret the proxy entry sends and the agent expects; created 0600 if absent."""
    path = state_dir(home) / SECRET_FILE
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if len(secret) >= 32:
        return secret
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    if secret:  # too short to be ours (written by hand): replace it
        os.replace(tmp, path)
    else:
        with contextlib.suppress(FileExistsError):  # another process created it first: theirs
            os.link(tmp, path)
        os.unlink(tmp)
    return path.read_text().strip()


def agent_port(home: Path | None = None) -> int:
    """The port of the agent the kit runs: its record, else ``NOMADLAB_PORT``, else 4646."""
    record = (home or state_dir()) / "agent.json"
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
