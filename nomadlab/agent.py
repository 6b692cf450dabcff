"""Start, find, attach to and stop a Nomad agent in the kit's three modes.

attach: ``NOMAD_ADDR`` names an agent or cluster; nothing is started.
nomad: a ``nomad`` binary is on PATH; ``nomad agent -dev`` runs as a detached child.
practice: neither; ``nomadlab agent -dev`` (the practice agent) runs as a detached child.

An agent the kit starts outlives the Python process (a notebook kernel restart must not
kill the learner's jobs), so it is recorded in ``$NOMADLAB_HOME/agent.json`` (default
``~/.nomadlab``) and found again by the next :func:`connect`. A record is evidence, not
proof: before the kit reuses or signals the recorded process it checks the pid's create time,
that its command line is the kit's agent, and that the API at the recorded address echoes
the agent id chosen at launch (node meta ``nomadlab_agent_id``); ``NOMAD_TOKEN`` is never
sent to a local agent. The state dir is 0700 and its files 0600.

On a shared host (a JupyterHub, or ``NOMADLAB_ACL=1``) the agent the kit starts has ACLs on:
the kit bootstraps it with a secret it chose and keeps in ``$NOMADLAB_HOME/nomad-token``, and
sends that token, and only to that agent; another user's process gets 403.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nomadlab.contract import (
    AGENT_ID_ENV,
    AGENT_ID_META,
    AGENT_RECORD,
    DEFAULT_PORT,
    PORT_FILE,
    acl_token,
    home,
    kit_token,
    shared_host,
    state_dir,
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

if TYPE_CHECKING:
    import nomad

MODES = ("attach", "nomad", "practice")
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


def private_dir() -> Path:
    """:func:`home`, created 0700 (and made 0700 if it is wider)."""
    path = state_dir(home())
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically, readable by its owner only (0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def state_file() -> Path:
    """Where the agent the kit started is recorded."""
    return home() / AGENT_RECORD


@dataclass
class RunningAgent:
    """An agent the kit talks to: where it is, which mode, and whether the kit owns it."""

    mode: str
    address: str
    pid: int | None = None
    create_time: float | None = None
    log_file: Path | None = None
    started_by_kit: bool = False
    version: str = ""
    ui: str | None = None
    note: str = ""
    practice: bool = False
    agent_id: str = ""
    command: list[str] = field(default_factory=list)
    acl: bool = False
    loopback_dev: bool = field(default=False, compare=False)
    reused: bool = field(default=False, compare=False)

    @property
    def token(self) -> str | None:
        """The management token the kit bootstrapped this agent with, if it did."""
        return (acl_token() or None) if self.started_by_kit and self.acl else None

    @property
    def local(self) -> bool:
        """True for a dev agent on loopback, the kit's or one found there (plain HTTP, no
        ACLs, never sent NOMAD_TOKEN)."""
        return self.started_by_kit or self.loopback_dev

    def describe(self) -> str:
        """One line: which mode, where the HTTP API and UI are, where the log is."""
        version = f"Nomad v{self.version}" if self.version else "Nomad"
        what = {
            "attach": f"attached to the {version} agent at {self.address}"
            if not self.practice
            else f"attached to nomadlab's practice agent at {self.address} (API of {version})",
            "nomad": f"real `nomad agent -dev` ({version})",
            "practice": "nomadlab's practice agent, standing in for `nomad agent -dev`"
            + (f" (API of Nomad {self.version})" if self.version else ""),
        }[self.mode]
        parts = [f"nomadlab: {self.mode} mode: {what}"]
        if self.started_by_kit:
            parts[0] += f", {'reused' if self.reused else 'started'} (pid {self.pid})"
        if self.note:
            parts[0] += f" [{self.note}]"
        parts.append(f"API {self.address}")
        if self.ui:
            parts.append(f"UI {self.ui}")
        else:
            parts.append("no web UI")
        if self.log_file:
            parts.append(f"log {self.log_file}")
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The state file's content."""
        data = asdict(self)
        data["log_file"] = str(self.log_file) if self.log_file else None
        data.pop("reused")
        data.pop("note")
        data.pop("loopback_dev")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunningAgent:
        """Read back :meth:`to_json`; ValueError for a record of the wrong shape."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        shapes = {
            "mode": str, "address": str, "pid": (int, type(None)),
            "create_time": (int, float, type(None)), "log_file": (str, type(None)),
            "started_by_kit": bool, "version": str, "ui": (str, type(None)),
            "practice": bool, "agent_id": str, "command": list, "acl": bool,
        }  # fmt: skip
        for key, value in known.items():
            kinds = shapes.get(key)
            if kinds and (not isinstance(value, kinds) or (value is True and key == "pid")):
                raise ValueError(f"{key} is {type(value).__name__}")
        if known.get("mode") not in MODES or not all(
            isinstance(a, str) for a in known.get("command", [])
        ):
            raise ValueError("unknown mode or command")
        if known.get("log_file"):
            known["log_file"] = Path(known["log_file"])
        return cls(**known)


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


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise find-or-start between notebooks and terminals of the same user."""
    fd = os.open(private_dir() / "agent.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _process(pid: int | None, create_time: float | None) -> Any:
    """The psutil process if ``pid`` is still the process that was recorded, else None."""
    import psutil

    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 1.0:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def recorded() -> RunningAgent | None:
    """The agent in the state file, without checking that it still runs. A record that
    cannot be read as one is set aside (``agent.json.bad``) with a one-line warning."""
    path = state_file()
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        return RunningAgent.from_json(json.loads(text))
    except (ValueError, TypeError) as exc:
        aside = path.with_name(f"{AGENT_RECORD}.bad")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        print(
            f"nomadlab: ignored a malformed {path} ({exc}); set aside as {aside}", file=sys.stderr
        )
        return None


def is_agent_command(cmdline: list[str]) -> bool:
    """True for the command line of an agent the kit starts: ``python -m nomadlab agent
    -dev ...`` or ``nomad agent -dev ...`` (possibly run through an interpreter)."""
    for start in range(min(3, len(cmdline))):
        rest = cmdline[start:]
        if rest[:3] == ["-m", "nomadlab", "agent"] or (
            Path(rest[0]).name == "nomad" and rest[1:2] == ["agent"]
        ):
            return "-dev" in rest
    return False


def proven_process(agent: RunningAgent) -> Any:
    """The recorded process if it is provably the agent the kit started: same pid and
    create time, and the kit's agent command line, the one recorded. Else None."""
    import psutil

    if not agent.started_by_kit or agent.create_time is None or not agent.command:
        return None
    proc = _process(agent.pid, agent.create_time)
    if proc is None:
        return None
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return None
    tail = agent.command[1:]
    if not is_agent_command(cmdline) or cmdline[len(cmdline) - len(tail) :] != tail:
        return None
    return proc


def echoes_agent_id(agent: RunningAgent, timeout: float = 2.0) -> bool:
    """True when the HTTP API at the agent's (loopback) address reports the agent id the kit
    chose at launch; asked with no token but the one the kit bootstrapped it with."""
    import urllib.error
    import urllib.request

    parts = urlsplit(agent.address)
    if not agent.agent_id or parts.scheme != "http" or parts.hostname != LOOPBACK:
        return False
    request = urllib.request.Request(f"{agent.address}/v1/agent/self")
    if agent.token:  # the process is proven ours (find_running): it holds this port
        request.add_header("X-Nomad-Token", agent.token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            config = json.load(answer).get("config") or {}
    except (OSError, ValueError, AttributeError):
        return False
    meta = (config.get("Client") or {}).get("Meta") or {} if isinstance(config, dict) else {}
    return isinstance(meta, dict) and meta.get(AGENT_ID_META) == agent.agent_id


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


def _write_state(agent: RunningAgent) -> None:
    write_private(state_file(), json.dumps(agent.to_json(), indent=2) + "\n")


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
    _write_state(agent)
    try:
        if acl:
            bootstrap(agent, timeout)
        wait_ready(agent, timeout)
    except BaseException:
        proc = _process(pid, create_time)
        if proc is not None:
            _terminate(proc)
        with contextlib.suppress(FileNotFoundError):
            state_file().unlink()
        raise
    identify(agent)
    if mode == "nomad":
        agent.version = nomad_version(command[0])
    agent.ui = web_ui(agent)
    _write_state(agent)
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
        if _process(agent.pid, agent.create_time) is None:
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
        if agent.started_by_kit and _process(agent.pid, agent.create_time) is None:
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
    with _locked():
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
    with _locked():
        proc = proven_process(agent)
        if proc is not None:
            _terminate(proc, timeout)
        mine = recorded()
        if mine is not None and mine.pid == agent.pid:
            with contextlib.suppress(FileNotFoundError):
                state_file().unlink()
    return proc is not None
