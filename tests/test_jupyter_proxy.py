"""Through a real Jupyter server: the kit's named proxy entry ``/nomad/`` reaches the practice
agent for reads and writes (its secret header lifts the Host rule), and Jupyter's generic
``/proxy/<port>/`` reaches it for reads on loopback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import wait_for
from test_practice_crosssite import marker_job

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


@pytest.fixture
def jupyter(practice: Agent, home: Path, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    """A Jupyter server on a free loopback port, with a token, the kit's entry pointing at
    the practice agent (NOMADLAB_PORT); yields its URL and the auth header."""
    port, token = agents.free_port(), secrets.token_hex(16)
    env = {**os.environ, "NOMADLAB_HOME": str(home), "NOMADLAB_PORT": str(practice.http_port)}
    log = (tmp_path / "jupyter.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0",
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
