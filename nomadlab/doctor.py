"""``nomadlab doctor``: check what the kit needs on this machine, with a fix for each problem."""

from __future__ import annotations

import os
import platform
import socket
import sys
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

from nomadlab import agent as agents
from nomadlab.errors import NomadLabError

PACKAGES = ["nomadlab", "python-nomad", "python-hcl2", "tornado", "psutil", "ipywidgets",
            "matplotlib", "jupyterlab"]  # fmt: skip


@dataclass
class Check:
    """A finding: ``ok``, ``warn`` (the kit copes) or ``fail`` (it cannot work), and a fix."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def render(self) -> str:
        """``[ok]   name: detail`` plus an indented ``fix:`` line when there is one."""
        text = f"[{self.status}]".ljust(7) + f"{self.name}: {self.detail}"
        return text + (f"\n       fix: {self.fix}" if self.fix else "")


def check_python() -> Check:
    """Which Python runs the kit (pyproject requires 3.10 or newer)."""
    version = platform.python_version()
    return Check("Python", "ok", f"{version} ({sys.executable})")


def check_packages() -> list[Check]:
    """The kit's dependencies are installed (versions shown)."""
    checks = []
    for name in PACKAGES:
        try:
            checks.append(Check(name, "ok", metadata.version(name)))
        except metadata.PackageNotFoundError:
            checks.append(
                Check(name, "fail", "not installed", "pip install -e . (in the kit's checkout)")
            )
    return checks


def check_nomad_binary() -> Check:
    """A ``nomad`` binary: optional, the practice agent stands in."""
    binary = agents.nomad_binary()
    if binary is None:
        then = (
            "NOMAD_ADDR is set, so nomadlab.start() attaches to that agent"
            if os.environ.get("NOMAD_ADDR")
            else "nomadlab.start() will run the practice agent"
        )
        return Check(
            "nomad binary", "warn", f"not on PATH: {then}",
            "optional: install Nomad from https://developer.hashicorp.com/nomad/install for the "
            "real `nomad agent -dev`",
        )  # fmt: skip
    version = agents.nomad_version(binary)
    if not version:
        return Check("nomad binary", "warn", f"{binary} does not answer `nomad version`",
                     "reinstall Nomad, or take it off PATH to use the practice agent")  # fmt: skip
    return Check("nomad binary", "ok", f"Nomad v{version} ({binary})")


def _docker_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    for path in ("/var/run/docker.sock", os.path.expanduser("~/.docker/run/docker.sock")):
        if os.path.exists(path):
            return path
    return host


def docker_ping(timeout: float = 2.0) -> tuple[bool, str]:
    """Whether a Docker engine answers ``GET /_ping`` (DOCKER_HOST or the usual socket)."""
    target = _docker_socket()
    if not target:
        return False, "no Docker socket (/var/run/docker.sock) and DOCKER_HOST is unset"
    try:
        if target.startswith("tcp://"):
            parts = urlsplit(target)
            sock = socket.create_connection((parts.hostname or "", parts.port or 2375), timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(target)
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(256).decode(errors="replace")
    except OSError as exc:
        return False, f"{target}: {exc.strerror or exc}"
    status = reply.split("\r\n", 1)[0]
    return (" 200 " in status + " "), f"{target}: {status or 'no reply'}"


def check_docker() -> Check:
    """A Docker engine: optional, only the docker job needs it."""
    ok, detail = docker_ping()
    if ok:
        return Check("Docker engine", "ok", f"answers at {detail}")
    return Check(
        "Docker engine", "warn", f"not reachable ({detail}): the docker job "
        "(jobs/microservice.nomad) will fail to place with \"missing drivers\"",
        "start Docker (Docker Desktop, or `sudo systemctl start docker`), or use the raw_exec "
        "job jobs/http-echo.nomad.hcl, which needs no Docker",
    )  # fmt: skip


def _listener(port: int) -> str:
    """Who listens on ``port``, as far as this user may see."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return "a process of another user"
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline()[:6]) or proc.name()})"
    except (psutil.Error, OSError):
        return "a process this user may not inspect (listing sockets needs more rights here)"
    return "a process this user cannot see"


def check_port(port: int | None = None) -> Check:
    """Port 4646 (or NOMADLAB_PORT) is free, or held by a Nomad agent the kit can use."""
    port = port or int(os.environ.get("NOMADLAB_PORT") or agents.DEFAULT_PORT)
    if agents.port_free(port):
        return Check(f"port {port}", "ok", "free: a dev agent can listen on it")
    who = _listener(port)
    running = agents.recorded()
    address = f"http://{agents.LOOPBACK}:{port}"
    if agents.answers_nomad(address):
        mine = running is not None and running.address == address
        owner = (
            f"the {running.mode} agent nomadlab started" if mine and running else "a Nomad agent"
        )
        return Check(
            f"port {port}", "ok", f"in use by {owner}, {who}: nomadlab.start() will use it"
        )
    return Check(
        f"port {port}", "warn", f"in use by {who}, which is not a Nomad agent",
        "stop that process, or let nomadlab.start() pick another port (it does so itself; "
        "NOMADLAB_PORT sets one)",
    )  # fmt: skip


def check_nomad_addr() -> Check:
    """If NOMAD_ADDR is set, an agent answers there (with the token given)."""
    address = agents.given_address()
    running = agents.find_running()
    if not address:
        if running is not None:
            return Check("agent", "ok", f"the {running.mode} agent nomadlab started answers at "
                         f"{running.address} (pid {running.pid})")  # fmt: skip
        return Check("NOMAD_ADDR", "ok", "unset: nomadlab.start() starts a local agent")
    try:
        leader = agents.leader(address)
    except NomadLabError as exc:
        return Check("NOMAD_ADDR", "fail", f"{address}: {type(exc).__name__}", str(exc))
    if not leader:
        return Check("NOMAD_ADDR", "warn", f"{address} answers but has no leader yet",
                     "wait for the servers to elect a leader")  # fmt: skip
    return Check("NOMAD_ADDR", "ok", f"{address} answers (leader {leader})")


def run_checks() -> list[Check]:
    """Every check, in the order they are printed."""
    return [
        check_python(),
        *check_packages(),
        check_nomad_binary(),
        check_docker(),
        check_port(),
        check_nomad_addr(),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print every check; exit 1 if any failed (the kit cannot work as is)."""
    checks = run_checks()
    for check in checks:
        print(check.render())
    failed = [c for c in checks if c.status == "fail"]
    warned = [c for c in checks if c.status == "warn"]
    print()
    if failed:
        print(f"{len(failed)} problem(s) to fix before the lab can run.")
        return 1
    mode = os.environ.get("NOMADLAB_AGENT") or ("nomad" if agents.nomad_binary() else "practice")
    if agents.given_address() and not os.environ.get("NOMADLAB_AGENT"):
        mode = "attach"
    note = f" ({len(warned)} warning(s): optional parts)" if warned else ""
    print(f"Ready: nomadlab.start() will use {mode} mode{note}.")
    return 0
