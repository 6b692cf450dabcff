"""Through a real Jupyter server: the kit's named proxy entry ``/nomad/`` reaches the practice
agent for reads and writes (its secret header lifts the Host rule), and Jupyter's generic
``/proxy/<port>/`` reaches it for reads on loopback. On a shared host (ACLs on) the entry
adds the kit's token, and the server's terminals get ``NOMAD_ADDR`` and ``NOMAD_TOKEN``;
on a laptop they get neither."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import JOBS, wait_for
from test_practice_crosssite import marker_job
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from nomadlab import agent as agents
from nomadlab.practice import Agent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "nomadlab-home"
    monkeypatch.setenv("NOMADLAB_HOME", str(path))
    return path


@pytest.fixture
def practice(home: Path, tmp_path: Path) -> Iterator[Agent]:
    with Agent(http_port=None, log_file=tmp_path / "agent.log") as running:
        yield running


def serve_jupyter(env: dict[str, str], tmp_path: Path, *options: str) -> Iterator[tuple[str, dict]]:
    """A Jupyter server on a free loopback port with ``env``, a token, ``tmp_path`` as its
    root and further command-line ``options``; yields its URL and the auth header, and
    stops it."""
    port, token = agents.free_port(), secrets.token_hex(16)
    log = (tmp_path / "jupyter.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0", *options,
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}

    def ready() -> bool:
        assert process.poll() is None, (tmp_path / "jupyter.log").read_text()
        try:
            return requests.get(f"{url}/api/status", headers=auth, timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(ready, timeout=90, what="the Jupyter server to answer")
        yield url, auth
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def laptop_env(**extra: str) -> dict[str, str]:
    """The test's environment as a laptop learner's: no Nomad variables, no hub, no ACLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD", "JUPYTERHUB"))}
    return {**env, "NOMADLAB_ACL": "0", **extra}


@pytest.fixture
def jupyter(practice: Agent, home: Path, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    """A Jupyter server on a laptop, the kit's entry pointing at the practice agent
    (NOMADLAB_PORT); yields its URL and the auth header."""
    env = laptop_env(NOMADLAB_HOME=str(home), NOMADLAB_PORT=str(practice.http_port))
    yield from serve_jupyter(env, tmp_path)


def in_terminal(url: str, auth: dict, command: str, done: Path) -> None:
    """Type ``command`` in a new JupyterLab terminal of the server at ``url`` (its REST API
    and terminado's websocket, as the browser does) and wait for the file ``done``."""
    name = requests.post(f"{url}/api/terminals", headers=auth, timeout=30).json()["name"]

    async def type_it() -> None:
        socket = await websocket_connect(
            HTTPRequest(f"ws{url[4:]}/terminals/websocket/{name}", headers=auth)
        )
        socket.write_message(json.dumps(["stdin", f"{command}; touch {done}\r"]))
        for _ in range(600):
            if done.exists():
                break
            await asyncio.sleep(0.1)
        socket.close()

    try:
        asyncio.run(type_it())
        assert done.exists(), f"the terminal did not run {command!r}"
    finally:
        requests.delete(f"{url}/api/terminals/{name}", headers=auth, timeout=30)


def test_the_named_entry_reaches_the_agent_for_reads_and_writes(
    jupyter: tuple[str, dict], practice: Agent, tmp_path: Path
) -> None:
    url, auth = jupyter
    info = requests.get(f"{url}/server-proxy/servers-info", headers=auth, timeout=10).json()
    entry = next(s for s in info["server_processes"] if s["name"] == "nomad")
    assert entry["launcher_entry"]["title"] == "Nomad UI"
    assert entry["launcher_entry"]["path_info"] == "nomad/ui/"

    read = requests.get(f"{url}/nomad/v1/jobs", headers=auth, timeout=30)
    assert read.status_code == 200, read.text
    assert read.json() == []
    marker = tmp_path / "ran"
    # What a page of the coming web UI sends through Jupyter: Jupyter's own Origin.
    write = requests.put(
        f"{url}/nomad/v1/jobs",
        json=marker_job(marker),
        headers={**auth, "Origin": url},
        timeout=30,
    )
    assert write.status_code == 200, write.text
    wait_for(marker.exists, what="the job written through Jupyter's proxy to run")
    assert [j["ID"] for j in requests.get(f"{practice.address}/v1/jobs", timeout=10).json()] == [
        "pwned"
    ]
    foreign = requests.delete(
        f"{url}/nomad/v1/job/pwned", headers={**auth, "Origin": "http://evil.example"}, timeout=30
    )
    assert foreign.status_code == 403, foreign.text
    assert "cross-site DELETE" in foreign.text


def test_the_generic_proxy_reads_on_loopback(jupyter: tuple[str, dict], practice: Agent) -> None:
    url, auth = jupyter
    response = requests.get(
        f"{url}/proxy/{practice.http_port}/v1/status/leader", headers=auth, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json().startswith("127.0.0.1:")


def test_a_laptops_terminals_get_no_nomad_variables(
    jupyter: tuple[str, dict], tmp_path: Path
) -> None:
    """ACLs off: the kit exports nothing; a learner's terminal is as they left it."""
    url, auth = jupyter
    in_terminal(url, auth, f"env > {tmp_path / 'env'}", tmp_path / "done")
    names = {line.split("=", 1)[0] for line in (tmp_path / "env").read_text().splitlines()}
    assert not names & {"NOMAD_ADDR", "NOMAD_TOKEN"}


# What a learner's own script does: python-nomad reads NOMAD_ADDR and NOMAD_TOKEN, as nomad does.
PYTHON_NOMAD = 'import nomad; print([j["ID"] for j in nomad.Nomad().jobs.get_jobs()])'


@pytest.fixture
def shared(home: Path, tmp_path: Path) -> Iterator[tuple[str, dict, dict]]:
    """On a shared host (NOMADLAB_ACL=1): the kit's agent started from a terminal, with
    ACLs, running the echo job; then a Jupyter server. Yields its URL, the auth header and
    the agent's record."""
    env = laptop_env(NOMADLAB_HOME=str(home), NOMADLAB_ACL="1")
    for command in (
        ["agent", "start"],
        ["job", "run", "-var", f"python={sys.executable}", str(JOBS / "http-echo.nomad.hcl")],
    ):
        run = subprocess.run(
            [sys.executable, "-m", "nomadlab", *command],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
    try:
        record = json.loads((home / "agent.json").read_text())
        for url, auth in serve_jupyter(env, tmp_path):
            yield url, auth, record
    finally:
        subprocess.run(
            [sys.executable, "-m", "nomadlab", "agent", "stop"],
            env=env, capture_output=True, timeout=60, check=False,
        )  # fmt: skip


def test_with_acls_the_entry_opens_the_ui_and_loopback_without_the_token_is_refused(
    shared: tuple[str, dict, dict],
) -> None:
    url, auth, record = shared
    assert record["acl"] is True
    page = requests.get(f"{url}/nomad/ui/", headers=auth, timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert page.url.endswith("/nomad/ui/jobs") and "http-microservice" in page.text
    direct = requests.get(f"{record['address']}/ui/", timeout=10)
    assert direct.status_code == 403
    assert direct.text.startswith("Permission denied: this agent has ACLs on")
    assert "Nomad UI" in direct.text and "http-microservice" not in direct.text


def test_with_acls_the_terminals_reach_the_kits_agent_with_its_token(
    shared: tuple[str, dict, dict], home: Path, tmp_path: Path
) -> None:
    """A terminal of the server has NOMAD_ADDR and NOMAD_TOKEN for the kit's agent:
    python-nomad reads them as ``nomad`` does, and ``nomadlab`` takes the address for the
    kit's own agent (``agent start`` finds it running rather than attaching)."""
    url, auth, record = shared
    out = tmp_path / "out"
    commands = [
        f"env > {out}.env",
        f"{sys.executable} -c '{PYTHON_NOMAD}' > {out}.py 2>&1",
        f"{sys.executable} -m nomadlab agent start > {out}.start 2>&1",
        f"{sys.executable} -m nomadlab job status > {out}.status 2>&1",
    ]
    in_terminal(url, auth, "; ".join(commands), tmp_path / "done")
    env = dict(line.split("=", 1) for line in Path(f"{out}.env").read_text().splitlines()
               if "=" in line)  # fmt: skip
    assert env["NOMAD_ADDR"] == record["address"]
    assert env["NOMAD_TOKEN"] == (home / "nomad-token").read_text().strip()
    assert Path(f"{out}.py").read_text().strip() == "['http-microservice']"
    start = Path(f"{out}.start").read_text()
    assert f"reused (pid {record['pid']})" in start, start
    status = Path(f"{out}.status").read_text()
    assert status.startswith("ID ") and "http-microservice" in status, status
