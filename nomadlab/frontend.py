"""A small frontend microservice that finds its backends through Nomad service discovery.

It reads the backends' ``host:port`` addresses from a file that a Nomad ``template``
renders (``-backends-file``, one address per line) or from the ``BACKENDS`` variable
(comma-separated, an ``env = true`` template), when it starts and again on SIGHUP (a
template's ``change_mode = "signal"``). Each request to ``/`` goes to the next backend in
turn and the answer says which backend served it. ``/backends`` lists the addresses in
use, ``/health`` answers 200. Standard library only, so it starts fast.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from nomadlab.echo import Handler, parse_listen, serve

TEXT = "text/plain; charset=utf-8"


def read_backends(path: Path | None, env: str) -> list[str]:
    """Backend addresses from the rendered file (one per line), else from ``env``."""
    if path is not None:
        text = path.read_text() if path.exists() else ""
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [item.strip() for item in env.split(",") if item.strip()]


class Backends:
    """The addresses in use and a round-robin over them, reloaded on SIGHUP."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.addresses: list[str] = []
        self._turn = itertools.count()
        self.reload()

    def reload(self) -> None:
        addresses = read_backends(self.path, os.environ.get("BACKENDS", ""))
        with self.lock:
            self.addresses = addresses
        print(f"[INFO] backends: {', '.join(addresses) or 'none'}", flush=True)

    def next(self) -> str | None:
        with self.lock:
            if not self.addresses:
                return None
            return self.addresses[next(self._turn) % len(self.addresses)]


def make_handler(backends: Backends, name: str) -> type[Handler]:
    """A handler forwarding ``/`` to the next backend, with ``/backends`` and ``/health``."""

    class FrontendHandler(Handler):
        server_version = "nomadlab-frontend/1.0"

        def respond(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self.reply(200, b'{"status":"ok"}\n', "application/json")
            elif path == "/backends":
                with backends.lock:
                    listed = list(backends.addresses)
                self.reply(200, json.dumps(listed).encode() + b"\n", "application/json")
            else:
                self._forward()

        def _forward(self) -> None:
            backend = backends.next()
            if backend is None:
                self.reply(503, f"{name}: no backend known yet\n".encode(), TEXT)
                return
            try:
                with urllib.request.urlopen(f"http://{backend}/", timeout=5) as response:
                    said = response.read().decode("utf-8", "replace").strip()
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                message = f"{name} -> {backend}: unreachable ({reason})\n"
                self.reply(502, message.encode(), TEXT, X_Backend=backend)
                return
            self.reply(200, f"{name} -> {backend}: {said}\n".encode(), TEXT, X_Backend=backend)

    return FrontendHandler


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; reload the backends on SIGHUP."""
    parser = argparse.ArgumentParser(prog="frontend", description=__doc__.splitlines()[0])
    parser.add_argument("-listen", default=":8080", help="address and port to bind ([IP]:PORT)")
    parser.add_argument("-backends-file", type=Path, help="rendered file of host:port lines")
    parser.add_argument("-name", default="frontend", help="how replies name this frontend")
    args = parser.parse_args(argv)
    try:
        parse_listen(args.listen)
    except ValueError as exc:
        parser.error(str(exc))
    backends = Backends(args.backends_file)
    signal.signal(signal.SIGHUP, lambda signum, frame: backends.reload())
    return serve(args.listen, make_handler(backends, args.name), "frontend", "frontend")


if __name__ == "__main__":
    sys.exit(main())
