"""nomadlab.start() in its three modes, reuse across processes, and the errors it explains."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import labkit
import pytest
from labkit import FakeNomad, alive, fast_echo, free_port, listening, self_signed

import nomadlab
from nomadlab import agent as agents
from nomadlab.errors import AgentUnreachable, NomadLabError, PermissionDenied, api_errors
from nomadlab.lab import Lab
from nomadlab.practice import Agent

home = labkit.home
standin_bin = labkit.standin_bin


def start_in_subprocess() -> dict:
    """What a fresh kernel sees when it calls nomadlab.start()."""
    code = (
        "import json, nomadlab; lab = nomadlab.start(quiet=True); "
        "print(json.dumps({'pid': lab.agent.pid, 'mode': lab.mode, 'address': lab.address, "
        "'reused': lab.agent.reused}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_attach_mode_uses_nomad_addr_and_starts_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Agent(http_port=None, log_file=tmp_path / "separate.log") as separate:
        monkeypatch.setenv("NOMAD_ADDR", separate.address)
        lab = nomadlab.start()
        line = capsys.readouterr().out.strip()
        assert line.startswith(
            f"nomadlab: attach mode: attached to nomadlab's practice agent at {separate.address}"
            " (API of Nomad v1.9.7)"
        )
        assert f" · UI {separate.address}/ui/" in line
        assert "pid" not in line and "log" not in line
        assert lab.mode == "attach" and lab.address == separate.address
        assert not lab.agent.started_by_kit and not agents.state_file().exists()
        lab.quiet = True
        result = lab.run(fast_echo(tmp_path))
        assert result.deployment_status == "successful"
        lab.stop(result.job_id, purge=True)
        assert lab.stop_agent() is False
        assert separate.process is not None and separate.process.poll() is None


def test_an_agent_already_on_the_port_is_attached(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Agent(http_port=None, log_file=tmp_path / "mine.log") as mine:
        monkeypatch.setenv("NOMADLAB_PORT", str(mine.http_port))
        lab = nomadlab.start(quiet=True)
        assert lab.mode == "attach" and lab.address == mine.address
        assert "an agent you started yourself" in lab.agent.describe()
        assert not agents.state_file().exists()


def test_a_busy_port_that_is_not_nomad_gets_another_port(home: Path) -> None:
    port = int(os.environ["NOMADLAB_PORT"])
    with listening(port):
        lab = nomadlab.start(quiet=True)
        assert lab.mode == "practice" and lab.address != f"http://127.0.0.1:{port}"
        assert f"port {port} is in use" in lab.agent.describe()
        lab.quiet = True
        assert lab.stop_agent()


def test_reuse_after_kernel_restart_then_stop_agent(home: Path) -> None:
    first = start_in_subprocess()  # the first kernel exits, its agent must not
    assert first["mode"] == "practice" and not first["reused"]
    assert alive(first["pid"])
    second = start_in_subprocess()
    assert second == {**first, "reused": True}
    lab = nomadlab.start(quiet=True)
    assert lab.agent.pid == first["pid"] and lab.agent.reused
    assert "reused" in lab.agent.describe()
    lab.quiet = True
    assert lab.stop_agent() is True
    assert not alive(first["pid"])
    assert not agents.state_file().exists()
    assert lab.stop_agent() is False  # already stopped: nothing to do, no error


def test_a_stale_state_file_is_never_trusted(home: Path) -> None:
    home.mkdir(parents=True)
    me = os.getpid()  # alive, but not the agent that was recorded (other create time)
    stale = {"mode": "practice", "address": f"http://127.0.0.1:{free_port()}", "pid": me,
             "create_time": 1.0, "log_file": None, "started_by_kit": True}  # fmt: skip
    agents.state_file().write_text(json.dumps(stale))
    assert agents.find_running() is None
    assert not agents.state_file().exists()
    agents.state_file().write_text(json.dumps(stale))
    lab = nomadlab.start(quiet=True)
    assert lab.agent.pid != me and alive(me)
    assert json.loads(agents.state_file().read_text())["pid"] == lab.agent.pid
    lab.quiet = True
    lab.stop_agent()


def test_real_dev_agent_mode_runs_the_nomad_binary(
    home: Path, standin_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    record = tmp_path / "invocations.jsonl"
    monkeypatch.setenv("PATH", f"{standin_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("NOMAD_STANDIN_RECORD", str(record))
    lab = nomadlab.start(quiet=True)
    lab.quiet = True
    try:
        assert lab.mode == "nomad" and lab.agent.version == "1.9.7"
        line = lab.agent.describe()
        expected = "nomadlab: nomad mode: real `nomad agent -dev` (Nomad v1.9.7), started"
        assert line.startswith(f"{expected} (pid {lab.agent.pid})")
        # The stand-in serves the practice agent underneath, web UI included.
        assert lab.agent.ui == f"{lab.address}/ui/" and f"UI {lab.agent.ui}" in line
        calls = [json.loads(line) for line in record.read_text().splitlines()]
        (agent_call,) = [c for c in calls if c["argv"][:1] == ["agent"]]
        assert agent_call["pid"] == lab.agent.pid
        argv = agent_call["argv"]
        assert argv[:4] == ["agent", "-dev", "-bind", "127.0.0.1"] and argv[4] == "-config"
        port = lab.address.rsplit(":", 1)[1]
        assert f"http = {port}" in Path(argv[5]).read_text()
        assert "==> Nomad agent started! Log data will stream in below:" in lab.agent_log(None)
        result = lab.run(fast_echo(tmp_path))
        assert result.deployment_status == "successful"
        assert lab.get(result.job_id).startswith("Hello and welcome to")
    finally:
        assert lab.stop_agent() is True
    assert not alive(lab.agent.pid)
    assert "==> Caught signal: interrupt" in lab.agent_log(None)


def test_the_standin_refuses_flags_real_nomad_lacks(standin_bin: Path) -> None:
    out = subprocess.run(
        [str(standin_bin / "nomad"), "agent", "-dev", "-http-port", "4646"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 1 and "flag provided but not defined: -http-port" in out.stderr


def test_forced_modes(home: Path, standin_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMADLAB_AGENT", "nomad")
    with pytest.raises(NomadLabError, match="no `nomad` binary is on PATH"):
        nomadlab.start(quiet=True)
    monkeypatch.setenv("NOMADLAB_AGENT", "sideways")
    with pytest.raises(NomadLabError, match="Unknown agent mode 'sideways'"):
        nomadlab.start(quiet=True)
    monkeypatch.setenv("NOMADLAB_AGENT", "attach")
    with pytest.raises(NomadLabError, match="needs NOMAD_ADDR"):
        nomadlab.start(quiet=True)
    monkeypatch.setenv("PATH", f"{standin_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("NOMADLAB_AGENT", "practice")
    lab = nomadlab.start(quiet=True)
    lab.quiet = True
    assert lab.mode == "practice"
    lab.stop_agent()


def test_refused_connection_is_one_paragraph(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("NOMAD_ADDR", address)
    with pytest.raises(AgentUnreachable) as caught:
        nomadlab.start(quiet=True)
    message = str(caught.value)
    assert f"Cannot reach a Nomad agent at {address}: connection refused" in message
    assert "NOMAD_ADDR" in message and "\n" not in message
    for internals in ("HTTPConnectionPool", "urllib3", "Max retries", "NewConnectionError"):
        assert internals not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(AgentUnreachable):
        Lab(address).status()
    assert caught.value._render_traceback_() == [f"AgentUnreachable: {message}"]


def test_an_agent_that_takes_a_request_but_never_answers_is_called_busy_not_stopped() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(AgentUnreachable) as caught, api_errors(address):
            agents.client(address, local=True, timeout=0.3).jobs.get_jobs()
    message = str(caught.value)
    assert message.startswith(f"The Nomad agent at {address} took the request (GET /v1/jobs) ")
    assert "it is up, and busy or stuck" in message and "Nothing answered" not in message
    assert caught.value.__suppress_context__ and "\n" not in message


def test_403_says_to_set_a_token(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeNomad(deny=True) as fake:
        monkeypatch.setenv("NOMAD_ADDR", fake.address)
        with pytest.raises(PermissionDenied) as caught:
            nomadlab.start(quiet=True)
        message = str(caught.value)
        assert "answered 403 (GET /v1/status/leader): Permission denied." in message
        assert "NOMAD_TOKEN is not set" in message
        assert "Set NOMAD_TOKEN" in message and caught.value.__suppress_context__
        monkeypatch.setenv("NOMAD_TOKEN", "wrong-secret")
        with pytest.raises(PermissionDenied, match="does not allow this request"):
            Lab(fake.address).status()
        assert fake.requests[-1]["headers"]["X-Nomad-Token"] == "wrong-secret"


def test_token_region_and_namespace_are_sent(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeNomad() as fake:
        monkeypatch.setenv("NOMAD_ADDR", fake.address)
        monkeypatch.setenv("NOMAD_TOKEN", "s3cret")
        monkeypatch.setenv("NOMAD_REGION", "europe")
        monkeypatch.setenv("NOMAD_NAMESPACE", "teaching")
        lab = nomadlab.start(quiet=True)
        assert lab.mode == "attach" and lab.agent.version == "1.9.7"
        assert str(lab.status()) == "No running jobs"
        jobs = [r for r in fake.requests if r["path"].startswith("/v1/jobs")]
        assert (
            jobs
            and "region=europe" in jobs[-1]["path"]
            and "namespace=teaching" in jobs[-1]["path"]
        )
        api = [r for r in fake.requests if r["path"].startswith("/v1/")]
        assert all(r["headers"].get("X-Nomad-Token") == "s3cret" for r in api)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_variables_are_honoured(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeNomad(context=context) as fake:
        monkeypatch.setenv("NOMAD_ADDR", fake.address)
        with pytest.raises(AgentUnreachable, match="NOMAD_CACERT") as caught:
            nomadlab.start(quiet=True)  # an unknown CA is refused, not silently trusted
        assert "TLS handshake" in str(caught.value)
        monkeypatch.setenv("NOMAD_CACERT", str(cert))
        lab = nomadlab.start(quiet=True)
        assert lab.mode == "attach" and lab.address.startswith("https://")
        assert str(lab.status()) == "No running jobs"
        monkeypatch.delenv("NOMAD_CACERT")
        monkeypatch.setenv("NOMAD_SKIP_VERIFY", "true")
        assert nomadlab.start(quiet=True).mode == "attach"


def test_an_agent_that_dies_while_starting_is_explained(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken-bin" / "nomad"
    broken.parent.mkdir()
    broken.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "if sys.argv[1:2] == ['version']: print('Nomad v1.9.7'); sys.exit(0)\n"
        "print('==> Error starting agent: bind: address already in use'); sys.exit(1)\n"
    )
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{broken.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(NomadLabError) as caught:
        nomadlab.start(quiet=True)
    message = str(caught.value)
    assert "The nomad agent" in message and "exited while starting" in message
    assert "bind: address already in use" in message  # the tail of its log
    assert not agents.state_file().exists()
