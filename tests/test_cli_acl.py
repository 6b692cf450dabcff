"""The ``nomadlab`` command on a shared host (``NOMADLAB_ACL=1``): the kit's agent has ACLs
on and the command uses the token the kit keeps, with nothing typed; pointed at that agent
through ``NOMAD_ADDR``, it is refused without the right ``NOMAD_TOKEN`` as Nomad refuses it.

Nomad's CLI prints such a refusal as ``Error querying jobs: Unexpected response code: 403
(Permission denied)`` (command/job_status.go, api/error_unexpected_response.go); the kit says
the same status and text in its own API-error style, with what to do. Where the practice
kit differs: ``job run`` has the agent parse the file (``nomad job run`` parses it itself),
so its refusal comes from ``/v1/jobs/parse``, which resolves the token as Nomad's HTTP agent
does: a wrong one is "ACL token not found" there.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import labkit
import pytest
from conftest import JOBS
from labkit import run_cli

home = labkit.home
ECHO = str(JOBS / "http-echo.nomad.hcl")
WRONG = "00000000-0000-4000-8000-000000000000"


def test_the_cli_uses_the_kits_token_and_nomad_addr_needs_the_right_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMADLAB_ACL", "1")
    start = run_cli("agent", "start")
    assert start.returncode == 0, start.stderr
    record = json.loads((home / "agent.json").read_text())
    token_file = home / "nomad-token"
    assert record["acl"] is True and token_file.stat().st_mode & 0o777 == 0o600
    token, address = token_file.read_text().strip(), record["address"]
    run = run_cli("job", "run", "-var", f"python={sys.executable}", ECHO)
    assert run.returncode == 0, run.stdout + run.stderr
    status = run_cli("job", "status")
    assert status.returncode == 0 and "http-microservice" in status.stdout, status.stderr

    refusals = {
        "": [
            (("job", "status"), "GET /v1/jobs", "Permission denied"),
            (("job", "run", ECHO), "POST /v1/jobs/parse", "Permission denied"),
        ],
        WRONG: [
            (("job", "status"), "GET /v1/jobs", "Permission denied"),
            (("job", "run", ECHO), "POST /v1/jobs/parse", "ACL token not found"),
        ],
    }
    for secret, cases in refusals.items():
        for args, request, text in cases:
            denied = run_cli(*args, env={"NOMAD_ADDR": address, "NOMAD_TOKEN": secret})
            assert denied.returncode == 1, denied.stdout
            assert denied.stderr.startswith(
                f"Error: The Nomad agent at {address} answered 403 ({request}): {text}. "
            ), denied.stderr
            assert ("does not allow" if secret else "NOMAD_TOKEN is not set") in denied.stderr
            assert "Traceback" not in denied.stderr

    right = {"NOMAD_ADDR": address, "NOMAD_TOKEN": token}
    status = run_cli("job", "status", "http-microservice", env=right)
    assert status.returncode == 0 and "Status        = running" in status.stdout, status.stderr
    assert run_cli("job", "stop", "-purge", "http-microservice", env=right).returncode == 0
    assert "No running jobs" in run_cli("job", "status").stdout


def test_the_kit_keeps_its_token_and_its_port_across_restarts(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token and the port are the kit's, chosen once: a terminal or the Nomad UI entry
    that learned them before a restart still reaches the agent. When another process holds
    that port, the kit says so rather than start the agent elsewhere, where the token the
    terminals send would go to whoever holds the port."""
    monkeypatch.setenv("NOMADLAB_ACL", "1")
    monkeypatch.delenv("NOMADLAB_PORT")
    assert run_cli("agent", "start").returncode == 0
    first = json.loads((home / "agent.json").read_text())
    token = (home / "nomad-token").read_text()
    assert run_cli("agent", "stop").returncode == 0
    assert run_cli("agent", "start").returncode == 0
    second = json.loads((home / "agent.json").read_text())
    assert second["pid"] != first["pid"] and second["address"] == first["address"]
    assert (home / "nomad-token").read_text() == token
    assert run_cli("agent", "stop").returncode == 0

    port = int((home / "agent-port").read_text())
    with socket.create_server(("127.0.0.1", port)):
        taken = run_cli("agent", "start")
    assert taken.returncode == 1
    assert taken.stderr.startswith(f"Error: Port {port}, kept for your Nomad agent, is in use")
    assert not (home / "agent.json").exists()
