"""The kit's record of the agent it started, and how it proves a process is that agent.

An agent the kit starts outlives the Python process (a notebook kernel restart must not
kill the learner's jobs), so it is recorded in ``$NOMADLAB_HOME/agent.json`` (default
``~/.nomadlab``). A record is evidence, not proof: before the kit reuses or signals the
recorded process it checks the pid's create time, that its command line is the kit's agent,
and that the API at the recorded address echoes the agent id chosen at launch (node meta
``nomadlab_agent_id``). The state dir is 0700 and its files 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nomadlab.contract import AGENT_ID_META, AGENT_RECORD, acl_token, home, state_dir
from nomadlab.jupyter_proxy import LOOPBACK

# psutil and urllib load when a record is checked, not when the kit's modules load.

MODES = ("attach", "nomad", "practice")


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


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise find-or-start between notebooks and terminals of the same user."""
    fd = os.open(private_dir() / "agent.lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def process_of(pid: int | None, create_time: float | None) -> Any:
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
    proc = process_of(agent.pid, agent.create_time)
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


def write_record(agent: RunningAgent) -> None:
    write_private(state_file(), json.dumps(agent.to_json(), indent=2) + "\n")
