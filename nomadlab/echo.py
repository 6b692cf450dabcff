"""A Python http-echo: the microservice of the tutorial, for machines without Docker.

It mirrors hashicorp/http-echo's interface so a jobspec can swap one for the other:
``-listen :PORT`` (or ``IP:PORT``), ``-text "..."``, ``-status-code N``; the text is served
at every path, ``{"status":"ok"}`` at ``/health`` (``-health-status N`` breaks it on purpose,
for lessons on health checks). Standard library only, so it starts fast.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1.0.0"


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``:5678`` or ``127.0.0.1:5678`` into a bind host and port, as Go's net.Listen does."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid -listen address {listen!r}: expected [IP]:PORT")
    return host.strip("[]"), int(port)


class Handler(BaseHTTPRequestHandler):
    """A request handler that logs each request to stdout, which Nomad keeps as the task's
    log, and answers with :meth:`reply`."""

    def reply(self, code: int, payload: bytes, content_type: str, **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def serve(listen: str, handler: type[BaseHTTPRequestHandler], name: str, role: str) -> int:
    """Serve on ``listen`` (already checked by :func:`parse_listen`) until SIGINT or SIGTERM,
    the signals Nomad uses to stop a task; 1 when the address cannot be bound. ``name``
    prefixes errors, ``role`` the log lines."""
    host, port = parse_listen(listen)
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        print(f"{name}: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return 1

    def shutdown(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    print(f"[INFO] {role} is listening on {listen}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"[INFO] {role} is shutting down", flush=True)
    finally:
        server.server_close()
    return 0


def make_handler(
    text: str, status_code: int, health_status: int = 200
) -> type[BaseHTTPRequestHandler]:
    """A request handler serving ``text`` everywhere and a health document at /health."""
    body = (text + "\n").encode()
    state = "ok" if health_status == 200 else "unhealthy"
    health = json.dumps({"status": state}, separators=(",", ":")).encode() + b"\n"

    class EchoHandler(Handler):
        server_version = f"http-echo/{VERSION}"

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/health":
                self._reply(health_status, health, "application/json")
            else:
                self._reply(status_code, body, "text/plain; charset=utf-8")

        def _reply(self, code: int, payload: bytes, content_type: str) -> None:
            self.reply(code, payload, content_type, X_App_Name="http-echo", X_App_Version=VERSION)

    return EchoHandler


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, the signals Nomad uses to stop a task."""
    parser = argparse.ArgumentParser(prog="http-echo", description=__doc__.splitlines()[0])
    parser.add_argument("-listen", default=":5678", help="address and port to bind ([IP]:PORT)")
    parser.add_argument("-text", required=True, help="text to serve")
    parser.add_argument("-status-code", type=int, default=200, help="HTTP status of replies")
    parser.add_argument(
        "-health-status", type=int, default=200, help="HTTP status of /health (200: healthy)"
    )
    args = parser.parse_args(argv)
    try:
        parse_listen(args.listen)
    except ValueError as exc:
        parser.error(str(exc))
    handler = make_handler(args.text, args.status_code, args.health_status)
    return serve(args.listen, handler, "http-echo", "server")


if __name__ == "__main__":
    sys.exit(main())
