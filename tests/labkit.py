"""Fixtures and helpers for the tests of nomadlab's helper API, modes and command line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from nomadlab import agent as agents
from nomadlab.agent_record import process_of
from nomadlab.lab import Lab
from nomadlab.practice import Agent

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "jobs"
ECHO = JOBS / "http-echo.nomad.hcl"
DOCKER_JOB = JOBS / "microservice.nomad"
STANDIN = Path(__file__).resolve().parent / "standin" / "nomad"
NOMAD_ENV = [
    "NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_REGION", "NOMAD_NAMESPACE", "NOMAD_CACERT",
    "NOMAD_CAPATH", "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY", "NOMAD_SKIP_VERIFY",
    "NOMAD_HTTP_AUTH", "NOMADLAB_AGENT", "NOMADLAB_PORT",
]  # fmt: skip


def free_port() -> int:
    """A loopback port nothing listens on now."""
    return agents.free_port()


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    """Point the kit's state at ``home``, clear Nomad's variables, use a free port, not 4646."""
    for name in NOMAD_ENV:
        mp.delenv(name, raising=False)
    mp.setenv("NOMADLAB_HOME", str(home))
    mp.setenv("NOMADLAB_PORT", str(free_port()))
    mp.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                      if not (Path(p) / "nomad").exists()))  # fmt: skip


def stop_recorded_agent(home: Path) -> None:
    """Stop whatever agent the kit recorded under ``home`` (test cleanup)."""
    path = home / "agent.json"
    if not path.exists():
        return
    agent = agents.RunningAgent.from_json(json.loads(path.read_text()))
    proc = process_of(agent.pid, agent.create_time)
    if proc is not None:
        agents._terminate(proc)
    path.unlink(missing_ok=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated NOMADLAB_HOME; any agent the test left recorded there is stopped after."""
    path = tmp_path / "nomadlab-home"
    isolate(monkeypatch, path)
    yield path
    stop_recorded_agent(path)


@pytest.fixture
def standin_bin(tmp_path: Path) -> Path:
    """A bin directory holding the ``nomad`` stand-in, run by this test's interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lines = STANDIN.read_text().splitlines(keepends=True)
    target = bin_dir / "nomad"
    target.write_text(f"#!{sys.executable}\n" + "".join(lines[1:]))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def fast_echo(tmp_path: Path, count: int | None = None, name: str = "http-microservice") -> Path:
    """jobs/http-echo.nomad.hcl with a 1s min_healthy_time, so deployments finish quickly."""
    text = ECHO.read_text().replace(
        'group "echo" {',
        'group "echo" {\n    update {\n      min_healthy_time = "1s"\n    }\n',
    )
    text = text.replace('job "http-microservice"', f'job "{name}"')
    if count is not None:
        text = text.replace("default     = 1", f"default     = {count}")
    path = tmp_path / f"{name}.nomad.hcl"
    path.write_text(text)
    return path


def sleep_job(tmp_path: Path, name: str, *, count: int = 1, cpu: int = 50,
              port: str = "{}", min_healthy: str = "1s", groups: tuple[str, ...] = ("app",),
              ) -> Path:  # fmt: skip
    """A raw_exec job whose task sleeps; ``port`` is the body of its ``port "http"`` block."""
    body = "".join(
        f"""
  group "{group}" {{
    count = {count}
    update {{
      min_healthy_time = "{min_healthy}"
    }}
    network {{
      port "http" {port}
    }}
    task "sleep" {{
      driver = "raw_exec"
      config {{
        command = "{sys.executable}"
        args    = ["-c", "import time; time.sleep(3600)"]
      }}
      resources {{
        cpu    = {cpu}
        memory = 32
      }}
    }}
  }}
"""
        for group in groups
    )
    path = tmp_path / f"{name}.nomad.hcl"
    path.write_text(f'job "{name}" {{\n  datacenters = ["dc1"]\n{body}}}\n')
    return path


def two_group_job(tmp_path: Path) -> Path:
    """A raw_exec job with two task groups, for scale's group argument."""
    return sleep_job(tmp_path, "two-groups", cpu=100, groups=("front", "back"))


def alive(pid: int | None) -> bool:
    """True while ``pid`` runs (zombies count as gone)."""
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tasks_of(home: Path) -> list[psutil.Process]:
    """Live task processes of agents started under this test's NOMADLAB_HOME.

    Tasks inherit the agent's environment, so other test runs' tasks are not counted.
    """
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            env = proc.environ()
            mine = env.get("NOMAD_ALLOC_ID") and env.get("NOMADLAB_HOME") == str(home)
            if mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python -m nomadlab ARGS`` in a subprocess with the current (patched) environment."""
    return subprocess.run(
        [sys.executable, "-m", "nomadlab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


class FakeNomad:
    """A tiny HTTP(S) server on loopback that answers like Nomad, or 403s everything."""

    def __init__(self, deny: bool = False, context: ssl.SSLContext | None = None) -> None:
        self.deny = deny
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append({"path": self.path, "headers": dict(self.headers)})
                if fake.deny:
                    return self._reply(403, b"Permission denied", "text/plain")
                route = self.path.split("?", 1)[0]
                answers = {
                    "/v1/status/leader": "127.0.0.1:4647",
                    "/v1/nodes": [{"ID": "n1", "Status": "ready", "Drivers": {}}],
                    "/v1/agent/self": {"config": {"Version": {"Version": "1.9.7"}}},
                    "/v1/jobs": [],
                }
                if route not in answers:
                    return self._reply(404, b"Not found", "text/plain")
                self._reply(200, json.dumps(answers[route]).encode(), "application/json")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            do_PUT = do_POST

            def _reply(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Nomad-Index", "1")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.address = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeNomad:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 made with the openssl command (skip without it)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def listening(port: int) -> Iterator[socket.socket]:
    """Hold ``port`` with a plain listening socket that is not Nomad."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock


SHARED_NODES = 2


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """One practice agent for a whole test module (bind it there: ``agent = labkit.agent``)."""
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with Agent(http_port=None, nodes=SHARED_NODES, log_file=log) as running:
        yield running


@pytest.fixture
def lab(agent: Agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """A quiet Lab on the module's agent, with the kit's state in this test's tmp dir."""
    isolate(monkeypatch, tmp_path / "home")
    lab = Lab(agent.address, quiet=True)
    yield lab
    for job in lab.nomad.jobs.get_jobs():
        lab.nomad.job.deregister_job(job["ID"], purge=True)


@pytest.fixture
def job(request: pytest.FixtureRequest) -> str:
    """A job ID of this test's own, so tests on one agent never share a job."""
    return "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[5:40].strip("-")


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Every test ends with the threads it started stopped."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, left
