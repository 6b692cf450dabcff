"""Start, find, attach to and stop a Nomad agent in the kit's three modes.

attach: ``NOMAD_ADDR`` names an agent or cluster; nothing is started.
nomad: a ``nomad`` binary is on PATH; ``nomad agent -dev`` runs as a detached child.
practice: neither; ``nomadlab agent -dev`` (the practice agent) runs as a detached child.

An agent the kit starts outlives the Python process: :mod:`nomadlab.agent_record` keeps its
record and proves a process is that agent before the kit reuses or signals it;
``NOMAD_TOKEN`` is never sent to a local agent.

On a shared host (a JupyterHub, or ``NOMADLAB_ACL=1``) the agent the kit starts has ACLs on:
the kit bootstraps it with a secret it chose and keeps in ``$NOMADLAB_HOME/nomad-token``, and
sends that token, and only to that agent; another user's process gets 403.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nomadlab.agent_record import (
    MODES,
    RunningAgent,
    echoes_agent_id,
    locked,
    private_dir,
    process_of,
    proven_process,
    recorded,
    state_file,
    write_private,
    write_record,
)
from nomadlab.contract import (
    AGENT_ID_ENV,
    AGENT_ID_META,
    DEFAULT_PORT,
    PORT_FILE,
    acl_token,
    home,
    kit_token,
    shared_host,
)
from nomadlab.errors import (
    NomadAPIError,
    NomadLabError,
    PermissionDenied,
    api_errors,
    explain,
    say,
)
from nomadlab.jupyter_proxy import LOOPBACK, agent_port, kit_address

# requests and python-nomad (about 0.12 s each to import) and psutil load on first use:
# `nomadlab lab`, `doctor` and `agent stop` import this module and most of their paths
# never need them.
if TYPE_CHECKING:
    import nomad

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}

# Launches the agent in its own session and reports its pid, then exits: the agent is then
# nobody's child in this process, so it never lingers as a zombie and outlives the kernel.
_LAUNCHER = """
import subprocess, sys
log = open(sys.argv[1], "ab", buffering=0)
child = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
print(child.pid, flush=True)
"""


def client(
    address: str, *, local: bool = False, timeout: float = 10.0, token: str | None = None
) -> nomad.Nomad:
    """A python-nomad client for ``address``, honouring Nomad's CLI environment variables.

    ``NOMAD_TOKEN``, ``NOMAD_REGION``, ``NOMAD_NAMESPACE``, ``NOMAD_HTTP_AUTH`` and the TLS
    variables (``NOMAD_CACERT``, ``NOMAD_CAPATH``, ``NOMAD_CLIENT_CERT``/``KEY``,
    ``NOMAD_SKIP_VERIFY``) apply to an attached cluster; a local dev agent is plain HTTP in
    region ``global``, namespace ``default``, and never gets ``NOMAD_TOKEN``: only ``token``,
    the one the kit bootstrapped it with (``RunningAgent.token``) when it has ACLs on.
    """
    import nomad
    import requests

    env = os.environ
    session = requests.Session()
    verify: bool | str = True
    if env.get("NOMAD_SKIP_VERIFY", "") in _TRUE:
        verify = False
    elif env.get("NOMAD_CACERT") or env.get("NOMAD_CAPATH"):
        verify = env.get("NOMAD_CACERT") or env["NOMAD_CAPATH"]
    if local:
        session.auth = _with_token(token)
    elif env.get("NOMAD_HTTP_AUTH"):
        user, _, password = env["NOMAD_HTTP_AUTH"].partition(":")
        session.auth = (user, password)
    return nomad.Nomad(
        address=address.rstrip("/"),
        token=token if local else env.get("NOMAD_TOKEN") or None,
        region="global" if local else env.get("NOMAD_REGION") or None,
        namespace="default" if local else env.get("NOMAD_NAMESPACE") or None,
        verify=verify,
        timeout=timeout,
        session=session,
    )


def _with_token(token: str | None) -> Any:
    """A requests auth hook that sends ``token`` (or no ``X-Nomad-Token`` at all): python-nomad
    adds NOMAD_TOKEN from the environment even when given none, and a local dev agent must
    never get it."""

    def hook(request: Any) -> Any:
        request.headers.pop("X-Nomad-Token", None)
        if token:
            request.headers["X-Nomad-Token"] = token
        return request

    return hook


def leader(address: str, *, local: bool = False, timeout: float = 2.0) -> str:
    """The cluster leader's RPC address, or "" while there is none; raises kit errors."""
    token = bool(os.environ.get("NOMAD_TOKEN")) and not local
    with api_errors(address, token):
        response = client(address, local=local, timeout=timeout).status.leader.request(
            method="get", timeout=timeout
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, str):
        raise NomadLabError(
            f"Something answers at {address}, but not Nomad's HTTP API (/v1/status/leader "
            "gave no leader address). Point NOMAD_ADDR at a Nomad agent, or free that port."
        )
    return answer


def answers_nomad(address: str, timeout: float = 2.0) -> bool:
    """True when a Nomad agent's HTTP API answers at ``address`` (even with 403)."""
    try:
        leader(address, local=True, timeout=timeout)
    except PermissionDenied:
        return True
    except NomadLabError:
        return False
    return True


def port_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on ``host:port`` (checked the way a server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def nomad_binary() -> str | None:
    """Path of the ``nomad`` executable on PATH, if any."""
    return shutil.which("nomad")


def nomad_version(binary: str) -> str:
    """The version ``nomad version`` reports (``1.9.7``), or "" if it cannot tell."""
    try:
        out = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"Nomad v(\S+)", out)
    return match.group(1) if match else ""


def _requested_mode(mode: str | None) -> str | None:
    mode = mode or os.environ.get("NOMADLAB_AGENT") or None
    if mode is not None and mode not in MODES:
        raise NomadLabError(
            f"Unknown agent mode {mode!r} (from NOMADLAB_AGENT or mode=): use one of "
            "'nomad' (start `nomad agent -dev`), 'practice' (start the practice agent) or "
            "'attach' (use the agent at NOMAD_ADDR), or leave it unset to let nomadlab choose."
        )
    return mode


def find_running() -> RunningAgent | None:
    """The agent the kit started earlier if it is provably that agent and answers; a stale
    or forged record is removed, and nothing it names is signalled unless proven ours."""
    agent = recorded()
    if agent is None:
        return None
    proc = proven_process(agent)
    if proc is not None:
        if echoes_agent_id(agent) and _answers(agent):
            agent.reused = True
            return agent
        _terminate(proc)  # ours, alive, but its API is dead: don't leave it holding the port
    with contextlib.suppress(FileNotFoundError):
        state_file().unlink()
    return None


def _answers(agent: RunningAgent) -> bool:
    try:
        return bool(leader(agent.address, local=True))
    except NomadLabError:
        return False


def _terminate(proc: Any, timeout: float = 10.0) -> None:
    import psutil

    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 5.0)):
        try:
            proc.send_signal(sig)
            proc.wait(wait)
            return
        except psutil.TimeoutExpired:
            continue
        except psutil.Error:
            return


def _log_path() -> Path:
    log = private_dir() / "agent.log"
    if log.exists():
        os.replace(log, log.with_name("agent.log.1"))
    os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    return log


def _nomad_config(http: int, agent_id: str, acl: bool) -> Path:
    """An agent config file setting the ports (``nomad agent`` has no port flags), the
    node meta that echoes the kit's agent id, and ACLs when on."""
    rpc, serf = (http + 1, http + 2) if http == DEFAULT_PORT else (0, 0)
    if not (rpc and port_free(rpc) and port_free(serf)):
        rpc, serf = free_port(), free_port()
    path = private_dir() / "agent.hcl"
    write_private(
        path,
        "# Written by nomadlab for `nomad agent -dev -config <this file>`.\n"
        f"ports {{\n  http = {http}\n  rpc  = {rpc}\n  serf = {serf}\n}}\n"
        f'client {{\n  meta {{\n    {AGENT_ID_META} = "{agent_id}"\n  }}\n}}\n'
        + ("acl {\n  enabled = true\n}\n" if acl else ""),
    )
    return path


def _command(mode: str, port: int, agent_id: str, acl: bool) -> list[str]:
    if mode == "practice":
        return [sys.executable, "-m", "nomadlab", "agent", "-dev", "-bind", LOOPBACK,
                "-http-port", str(port)] + (["-acl-enabled"] if acl else [])  # fmt: skip
    binary = nomad_binary()
    if binary is None:
        raise NomadLabError(
            "NOMADLAB_AGENT=nomad asks for the real `nomad agent -dev`, but no `nomad` binary "
            "is on PATH. Install Nomad (https://developer.hashicorp.com/nomad/install) and "
            "restart Jupyter, or use NOMADLAB_AGENT=practice (or leave it unset)."
        )
    return [binary, "agent", "-dev", "-bind", LOOPBACK, "-config",
            str(_nomad_config(port, agent_id, acl))]  # fmt: skip


def _tail(path: Path | None, lines: int = 15) -> str:
    if path is None:
        return ""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def launch(mode: str, port: int, timeout: float = 60.0) -> RunningAgent:
    """Start a dev agent in ``mode`` on loopback ``port``, record it, wait until it is ready."""
    import psutil

    agent_id = secrets.token_hex(16)
    acl = shared_host()
    command = _command(mode, port, agent_id, acl)
    log = _log_path()
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(log), *command],
        capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, AGENT_ID_ENV: agent_id},
    )  # fmt: skip
    pid = int(out.stdout.strip())
    try:
        create_time = psutil.Process(pid).create_time()
    except psutil.Error:
        create_time = None
    agent = RunningAgent(
        mode=mode,
        address=f"http://{LOOPBACK}:{port}",
        pid=pid,
        create_time=create_time,
        log_file=log,
        started_by_kit=True,
        agent_id=agent_id,
        command=command,
        acl=acl,
    )
    write_record(agent)
    try:
        if acl:
            bootstrap(agent, timeout)
        wait_ready(agent, timeout)
    except BaseException:
        proc = process_of(pid, create_time)
        if proc is not None:
            _terminate(proc)
        with contextlib.suppress(FileNotFoundError):
            state_file().unlink()
        raise
    identify(agent)
    if mode == "nomad":
        agent.version = nomad_version(command[0])
    agent.ui = web_ui(agent)
    write_record(agent)
    return agent


def bootstrap(agent: RunningAgent, timeout: float = 60.0) -> None:
    """``nomad acl bootstrap`` with the secret the kit keeps 0600 as ``nomad-token`` (see
    :func:`~nomadlab.contract.kit_token`), as soon as the new agent answers. If the agent
    says it is bootstrapped already, someone else got there first and holds its management
    token: the kit raises (launch then stops that agent) rather than run jobs on an agent
    another user controls."""
    import requests

    secret = kit_token(private_dir())
    url = f"{agent.address}/v1/acl/bootstrap"
    deadline = time.monotonic() + timeout
    while True:
        if process_of(agent.pid, agent.create_time) is None:
            raise NomadLabError(
                f"The {agent.mode} agent (pid {agent.pid}) exited while starting. Last lines "
                f"of its log {agent.log_file}:\n{_tail(agent.log_file)}"
            )
        try:
            answer = requests.post(url, json={"BootstrapSecret": secret}, timeout=5)
        except requests.RequestException:
            answer = None
        if answer is not None and answer.status_code != 500:  # 500: no leader yet
            break
        if time.monotonic() > deadline:
            raise NomadLabError(f"The Nomad agent at {agent.address} could not be bootstrapped.")
        time.sleep(0.1)
    if answer.status_code != 200 or answer.json().get("SecretID") != secret:
        raise NomadLabError(
            f"The agent the kit started at {agent.address} refused its ACL bootstrap "
            f"({answer.status_code}: {answer.text.strip()}): another process bootstrapped it "
            "first and holds its token. The kit stopped it; start again."
        )


def wait_ready(agent: RunningAgent, timeout: float = 60.0) -> None:
    """Return once the agent has a leader and a ready node; explain why if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        if agent.started_by_kit and process_of(agent.pid, agent.create_time) is None:
            raise NomadLabError(
                f"The {agent.mode} agent (pid {agent.pid}) exited while starting. Last lines "
                f"of its log {agent.log_file}:\n{_tail(agent.log_file)}"
            )
        try:
            if leader(agent.address, local=agent.local) and _node_ready(agent):
                return
        except NomadAPIError as exc:
            if not agent.started_by_kit and exc.status != 500:  # 500: "No cluster leader" yet
                raise
        except NomadLabError:
            if not agent.started_by_kit:
                raise  # refused, 403, not Nomad: say so now rather than after the timeout
        if time.monotonic() > deadline:
            log = f" Last lines of its log {agent.log_file}:\n{_tail(agent.log_file)}"
            raise NomadLabError(
                f"The Nomad agent at {agent.address} did not elect a leader and register a "
                f"ready node within {timeout:.0f}s." + (log if agent.log_file else "")
            )
        time.sleep(0.2)


def agent_client(agent: RunningAgent, timeout: float = 10.0) -> nomad.Nomad:
    """python-nomad on ``agent``, with the token it should get (see :func:`client`)."""
    return client(agent.address, local=agent.local, timeout=timeout, token=agent.token)


def _node_ready(agent: RunningAgent) -> bool:
    from nomad.api.exceptions import URLNotAuthorizedNomadException

    try:
        nodes = agent_client(agent, timeout=5).nodes.get_nodes()
    except URLNotAuthorizedNomadException:
        return True  # the token may not read nodes; the leader answering is all we can check
    except Exception as exc:
        raise explain(exc, agent.address) from None
    return any(node.get("Status") == "ready" for node in nodes)


def identify(agent: RunningAgent) -> None:
    """Fill the agent's version, and whether it is the practice agent, from /v1/agent/self
    (left empty where the token may not read it)."""
    import requests
    from nomad.api import exceptions

    try:
        self_ = agent_client(agent, timeout=5).agent.get_agent()
        config, stats = self_["config"], self_.get("stats") or {}
    except (exceptions.BaseNomadException, requests.RequestException, ValueError, KeyError):
        return
    version = config.get("Version")
    agent.version = str(version.get("Version", "")) if isinstance(version, dict) else str(version)
    # The practice agent adds a stats section of its own (stats is a map; Config has no room).
    agent.practice = isinstance(stats, dict) and "practice" in stats


def web_ui(agent: RunningAgent) -> str | None:
    """The web UI's address (``<address>/ui/``) when the agent serves one."""
    import requests

    url = f"{agent.address.rstrip('/')}/ui/"
    nomad = agent_client(agent)
    settings = nomad.requester_settings
    headers = {"X-Nomad-Token": agent.token} if agent.token else {}
    try:
        response = nomad.session.get(
            url, timeout=3, verify=settings["verify"], cert=settings["cert"] or None,
            headers=headers,
        )  # fmt: skip
    except requests.RequestException:
        return None
    return url if response.ok else None


def checked_address(address: str) -> str:
    """``address`` without a trailing slash; a kit error if it lacks http:// or https://."""
    address = address.strip().rstrip("/")
    if urlsplit(address).scheme not in ("http", "https"):
        raise NomadLabError(
            f"NOMAD_ADDR={address!r} needs a scheme, like http://127.0.0.1:4646 or "
            "https://nomad.example.com:4646."
        )
    return address


def attach(
    address: str, timeout: float = 60.0, note: str = "", local: bool = False
) -> RunningAgent:
    """Use the agent or cluster at ``address`` without starting anything; ``local`` for a
    dev agent found on loopback, which is not sent the token."""
    address = checked_address(address)
    agent = RunningAgent(mode="attach", address=address, note=note, loopback_dev=local)
    wait_ready(agent, timeout)
    identify(agent)
    agent.ui = web_ui(agent)
    return agent


def given_address() -> str:
    """``NOMAD_ADDR``, unless it and ``NOMAD_TOKEN`` are what the kit exports on a shared host
    for its own agent (see ``jupyter_proxy.kit_environment``): then "", so that the kit finds
    or starts its agent there as if they were unset. Any other token is the learner's to try."""
    address = os.environ.get("NOMAD_ADDR", "").strip()
    token = os.environ.get("NOMAD_TOKEN", "").strip()
    if address and token and shared_host() and token == acl_token():
        return "" if address.rstrip("/") == kit_address() else address
    return address


def connect(
    mode: str | None = None, *, port: int | None = None, timeout: float = 60.0
) -> RunningAgent:
    """Find or start the agent for ``mode`` (see :func:`nomadlab.lab.start`), without a Lab."""
    mode = _requested_mode(mode)
    address = given_address()
    if mode == "attach" or (mode is None and address):
        if not address:
            raise NomadLabError(
                "NOMADLAB_AGENT=attach needs NOMAD_ADDR, the address of the agent to use, "
                "for example NOMAD_ADDR=http://127.0.0.1:4646."
            )
        return attach(address, timeout, note="NOMAD_ADDR")
    with locked():
        running = find_running()
        if running is not None:
            if mode is not None and running.mode != mode:
                running.note = f"asked for {mode} mode; " + say(
                    "call lab.stop_agent() and start again to switch",
                    "`nomadlab agent stop`, then start again to switch",
                )
            return running
        port = port or agent_port()
        local = f"http://{LOOPBACK}:{port}"
        note = ""
        if not port_free(port):
            if shared_host():
                raise port_taken(port)
            if mode is None and answers_nomad(local):
                return attach(local, timeout, note="an agent you started yourself", local=True)
            note = f"port {port} is in use"
            port = free_port()
        if mode is None:
            mode = "nomad" if nomad_binary() else "practice"
        agent = launch(mode, port, timeout)
        agent.note = note
        return agent


def port_taken(port: int) -> NomadLabError:
    """On a shared host, the port kept for this user's agent is held by another process.
    The kit does not move: the lab's terminals and its Nomad UI entry send the token to that
    port, so the agent must be there (and what holds it may be another user's)."""
    return NomadLabError(
        f"Port {port}, kept for your Nomad agent, is in use by another process (perhaps "
        "another user's). The kit will not start your agent elsewhere: your terminals and the "
        f"Nomad UI tile send your token to port {port}. Delete {home() / PORT_FILE} (a new "
        "port is chosen and kept) and restart your Jupyter server (File > Hub Control Panel "
        "> Stop My Server, then Start), or ask the host's operator what holds it."
    )


def stop(agent: RunningAgent, timeout: float = 10.0) -> bool:
    """Stop ``agent`` if the kit started it (SIGINT, as Ctrl-C would); False otherwise."""
    if not agent.started_by_kit:
        return False
    with locked():
        proc = proven_process(agent)
        if proc is not None:
            _terminate(proc, timeout)
        mine = recorded()
        if mine is not None and mine.pid == agent.pid:
            with contextlib.suppress(FileNotFoundError):
                state_file().unlink()
    return proc is not None
