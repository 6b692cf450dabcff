"""The kit's state file cannot be turned against the learner: a forged, stale or malformed
``agent.json`` never gets a process signalled, a server trusted or a token sent."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import labkit
import psutil
import pytest
from labkit import FakeNomad, alive

import nomadlab
from nomadlab import agent as agents
from nomadlab.agent_record import is_agent_command

home = labkit.home
TOKEN = "secret-token-that-must-not-leak"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    """An unrelated process a forged record can point at."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def forged(pid: int, address: str, command: list[str] | None = None) -> dict:
    proc = psutil.Process(pid)
    return {
        "mode": "practice",
        "address": address,
        "pid": pid,
        "create_time": proc.create_time(),
        "log_file": None,
        "started_by_kit": True,
        "agent_id": "forged",
        "command": command if command is not None else proc.cmdline(),
    }


def write_record(home: Path, record: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    agents.state_file().write_text(json.dumps(record))


@pytest.mark.parametrize("claimed", ["its own", "the kit's"])
def test_a_record_naming_an_unrelated_process_never_gets_it_signalled(
    home: Path, sleeper: subprocess.Popen, claimed: str
) -> None:
    kit = [sys.executable, "-m", "nomadlab", "agent", "-dev", "-bind", "127.0.0.1"]
    record = forged(sleeper.pid, "http://127.0.0.1:1", None if claimed == "its own" else kit)
    write_record(home, record)
    assert agents.find_running() is None
    assert not agents.stop(agents.RunningAgent.from_json(record))
    assert alive(sleeper.pid)
    assert not agents.state_file().exists()


def test_a_record_naming_the_tests_parent_is_never_signalled(home: Path) -> None:
    parent = os.getppid()
    record = forged(parent, "http://127.0.0.1:1")
    write_record(home, record)
    assert agents.find_running() is None
    assert agents.stop(agents.RunningAgent.from_json(record)) is False
    assert alive(parent)


def test_a_forged_server_is_not_reused_and_never_sees_the_token(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMAD_TOKEN", TOKEN)
    with FakeNomad() as fake:
        # The record names a live process of the kit's shape? No: it names this test, and a
        # fake Nomad; and the port the kit would use is the fake's too.
        write_record(home, forged(os.getpid(), fake.address))
        monkeypatch.setenv("NOMADLAB_PORT", fake.address.rsplit(":", 1)[1])
        lab = nomadlab.start(quiet=True)
        assert lab.mode == "attach" and lab.address == fake.address
        lab.status()
        assert fake.requests, "the fake server was never asked"
        for request in fake.requests:
            assert "X-Nomad-Token" not in request["headers"], request
            assert TOKEN not in json.dumps(request["headers"])
        assert alive(os.getpid())


def test_a_malformed_record_is_set_aside_with_a_warning(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for text in ("{not json", "[1, 2]", json.dumps({"mode": "practice", "address": 5, "pid": 1})):
        write_record(home, {})
        agents.state_file().write_text(text)
        assert agents.recorded() is None
        assert (home / "agent.json.bad").read_text() == text
        assert not agents.state_file().exists()
        warning = capsys.readouterr().err.strip()
        assert warning.count("\n") == 0 and "malformed" in warning and "set aside" in warning


def test_the_kits_agent_is_proven_reused_and_private(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMAD_TOKEN", TOKEN)
    lab = nomadlab.start(quiet=True)
    record = json.loads(agents.state_file().read_text())
    assert len(record["agent_id"]) == 32 and is_agent_command(record["command"])
    running = agents.find_running()
    assert running is not None and running.pid == lab.agent.pid and running.reused
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("agent.json", "agent.log", "proxy-secret", "agent.lock"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    # The same record with another agent id is not proven: the API must echo the recorded id.
    agents.state_file().write_text(json.dumps({**record, "agent_id": "0" * 32}))
    assert not agents.echoes_agent_id(agents.RunningAgent.from_json({**record, "agent_id": "x"}))
    lab.quiet = True
    assert lab.stop_agent()
    assert not alive(record["pid"])
