"""A Python http-echo: the microservice of the tutorial, for machines without Docker.

It mirrors hashicorp/http-echo's interface so a jobspec can swap one for the other:
``-listen :PORT`` (or ``IP:PORT``), ``-text "..."``, ``-status-code N``; the text is served
at every path, to every method, ``{"status":"ok"}`` at ``/health`` (``-health-status N``
breaks it on purpose, for lessons on health checks).

A job starts one per allocation, so it starts in a few milliseconds of CPU: it speaks
HTTP/1.0 (one request per connection) on ``socketserver`` rather than importing
``http.server``, whose email and ssl imports cost ten times its own work.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import socketserver
import sys
import time
from http import HTTPStatus

VERSION = "1.0.0"
TEXT = "text/plain; charset=utf-8"
MAX_LINE = 8192  # the longest request line or header line read
MAX_HEADERS = 100
MAX_BODY = 1 << 20  # a request body up to this is read (and ignored) before answering


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``:5678`` or ``127.0.0.1:5678`` into a bind host and port, as Go's net.Listen does."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid -listen address {listen!r}: expected [IP]:PORT")
    return host.strip("[]"), int(port)


class BadRequest(Exception):
    """A request this server will not read further: answered with ``status`` and closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Handler(socketserver.StreamRequestHandler):
    """One request per connection, as HTTP/1.0: read it, answer it with :meth:`respond`,
    and log it to stdout, which Nomad keeps as the task's log."""

    timeout = 10  # a client that stalls mid-request is dropped, not waited on
    server_version = "nomadlab"
    method = path = requestline = ""

    def handle(self) -> None:
        try:
            if not self._read_request():
                return  # connected and closed without a request: a TCP check
        except BadRequest as bad:
            self.reply(bad.status, f"{HTTPStatus(bad.status).phrase}\n".encode(), TEXT)
            self._discard_rest()
            return
        except (TimeoutError, ConnectionError):
            return
        self.respond()

    def _discard_rest(self) -> None:
        """Read what the client of a refused request still sent (up to 1 MiB), so that the
        close does not reset the connection before the client reads the answer."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1)
            for _ in range(16):
                if not self.rfile.read1(65536):
                    break
        except OSError:
            return

    def _read_request(self) -> bool:
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        self.requestline = line.decode("latin-1").rstrip("\r\n")
        parts = self.requestline.split()
        if len(line) > MAX_LINE:
            raise BadRequest(HTTPStatus.REQUEST_URI_TOO_LONG)
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise BadRequest(HTTPStatus.BAD_REQUEST)
        self.method, self.path = parts[0], parts[1]
        length = 0
        for _ in range(MAX_HEADERS + 1):
            header = self.rfile.readline(MAX_LINE + 1)
            if header in (b"\r\n", b"\n", b""):
                break
            if len(header) > MAX_LINE:
                raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            name, _, value = header.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                value = value.strip()
                if not (value.isascii() and value.isdigit()):
                    raise BadRequest(HTTPStatus.BAD_REQUEST)
                length = int(value)
        else:
            raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        if length > MAX_BODY:
            raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        self.rfile.read(length)  # read, so that closing does not reset the connection
        return True

    def respond(self) -> None:
        """Answer the request in ``self.method`` and ``self.path``; subclasses say how."""
        raise NotImplementedError

    def reply(self, code: int, payload: bytes, content_type: str, **headers: str) -> None:
        """Log the request, then send the status line, headers and ``payload`` (no body for
        HEAD)."""
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:  # -status-code may be any number
            reason = ""
        lines = [
            f"HTTP/1.0 {code} {reason}",
            f"Server: {self.server_version}",
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(payload)}",
            *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        sys.stdout.write(f'{self.client_address[0]} "{self.requestline}" {code} {len(payload)}\n')
        sys.stdout.flush()  # one write per line: handler threads log side by side
        with contextlib.suppress(ConnectionError):
            self.wfile.write(head if self.method == "HEAD" else head + payload)


class Server(socketserver.ThreadingTCPServer):
    """A threaded TCP server on IPv4 or IPv6, by the host's form; it can rebind a port at once."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, host: str, port: int, handler: type[Handler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), handler)


def serve(listen: str, handler: type[Handler], name: str, role: str) -> int:
    """Serve on ``listen`` (already checked by :func:`parse_listen`) until SIGINT or SIGTERM,
    the signals Nomad uses to stop a task; 1 when the address cannot be bound. ``name``
    prefixes errors, ``role`` the log lines."""
    host, port = parse_listen(listen)
    try:
        server = Server(host, port, handler)
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


def make_handler(text: str, status_code: int, health_status: int = 200) -> type[Handler]:
    """A request handler serving ``text`` everywhere and a health document at /health."""
    body = (text + "\n").encode()
    health = b'{"status":"ok"}\n' if health_status == 200 else b'{"status":"unhealthy"}\n'

    class EchoHandler(Handler):
        server_version = f"http-echo/{VERSION}"

        def respond(self) -> None:
            if self.path.split("?", 1)[0] == "/health":
                self._reply(health_status, health, "application/json")
            else:
                self._reply(status_code, body, TEXT)

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
