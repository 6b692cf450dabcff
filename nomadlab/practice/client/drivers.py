"""Task drivers: ``raw_exec`` runs real processes; ``docker`` is fingerprinted honestly.

A driver fingerprints itself for the node (Detected / Healthy, as ``nomad node status``
shows them), starts a task and hands back a handle the task runner waits on and kills.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

from nomadlab.practice.client.reaper import Reaper, task_owner
from nomadlab.practice.structs import now_ns, rfc3339


class DriverError(Exception):
    """The driver could not start the task (Nomad's "Driver Failure" event)."""


@dataclass
class ExitResult:
    """How a task's process ended."""

    exit_code: int
    signal: int

    @classmethod
    def from_returncode(cls, returncode: int) -> ExitResult:
        """Nomad's executor encoding: killed by signal n gives exit code 128 + n, as a
        shell reports it, with the signal beside it."""
        if returncode < 0:
            return cls(128 - returncode, -returncode)
        return cls(returncode, 0)

    @property
    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0


class TaskHandle:
    """A started task (its main process leads its own group), to wait on, kill and measure."""

    def __init__(self, pid: int, exit: asyncio.Future[int], reaper: Reaper) -> None:
        self.pid = pid
        self._exit = exit
        self._reaper = reaper
        self._result: ExitResult | None = None

    async def wait(self) -> ExitResult:
        """Wait for the task's main process to exit; then clear its whole group."""
        if self._result is None:
            returncode = await asyncio.shield(self._exit)
            self._kill_group(signal.SIGKILL)
            self._reaper.exited(self.pid)
            self._result = ExitResult.from_returncode(returncode)
        return self._result

    async def kill(self, kill_signal: int, timeout: float) -> ExitResult:
        """Send ``kill_signal`` to the group, then SIGKILL after ``timeout``, as Nomad does."""
        if self._result is None:
            self._kill_group(kill_signal)
            try:
                await asyncio.wait_for(asyncio.shield(self._exit), timeout)
            except asyncio.TimeoutError:
                self._kill_group(signal.SIGKILL)
        return await self.wait()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the task's main process (``nomad alloc signal``)."""
        if self._result is None:
            os.kill(self.pid, sig)

    def stats(self) -> dict:
        """CPU and memory of every process in the task's group (for /client/allocation/stats)."""
        rss = cpu_percent = user = system = 0.0
        for proc in self._group_processes():
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    cpu_percent += proc.cpu_percent(interval=None)
                    times = proc.cpu_times()
                    user += times.user
                    system += times.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return {
            "MemoryStats": {"RSS": int(rss), "Measured": ["RSS"]},
            "CpuStats": {
                "Percent": cpu_percent,
                "UserMode": user,
                "SystemMode": system,
                "Measured": ["Percent", "System Mode", "User Mode"],
            },
        }

    def _group_processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _kill_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return  # the group has already gone


class RawExecDriver:
    """Runs ``command`` + ``args`` as a host process, in its own session (process group)."""

    name = "raw_exec"

    def __init__(self, enabled: bool, reaper: Reaper) -> None:
        self.enabled = enabled
        self.reaper = reaper

    def fingerprint(self) -> dict:
        """raw_exec is detected only when enabled: in -dev mode, as in Nomad."""
        description = "Healthy" if self.enabled else "disabled"
        return driver_info(self.enabled, self.enabled, description)

    async def start(
        self,
        config: dict,
        env: dict[str, str],
        task_dir: Path,
        stdout: Path,
        stderr: Path,
        dirs: list[str],
    ) -> TaskHandle:
        """Have the watchdog build ``dirs`` and start the task's process (held at its gate
        until the watchdog lists its group), with its environment, logs appended to its log
        files."""
        command = config.get("command")
        if not command or not isinstance(command, str):
            raise DriverError('missing required "command" in raw_exec config')
        args = config.get("args") or []
        if not isinstance(args, list):
            raise DriverError('"args" must be a list of strings')
        env = self.reaper.task_environment(env)
        binary = lookup_binary(command, task_dir, env.get("PATH", os.defpath))
        request = {
            "argv": [binary, *[str(a) for a in args]],
            "env": env,
            "cwd": str(task_dir),
            "stdout": str(stdout),
            "stderr": str(stderr),
            "dirs": dirs,
        }
        try:
            pid, exit = await self.reaper.start_task(request, task_owner(env))
        except OSError as exc:
            raise DriverError(f"failed to launch command with executor: {exc}") from exc
        return TaskHandle(pid, exit, self.reaper)


def lookup_binary(command: str, task_dir: Path, path: str) -> str:
    """Find ``command`` as Nomad's executor does: the task dir first, then PATH."""
    if os.path.isabs(command):
        if os.access(command, os.X_OK):
            return command
        raise DriverError(f"file {command} not found or not executable")
    for candidate in (task_dir / "local" / command, task_dir / command):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(command, path=path)
    if found is None:
        raise DriverError(f"file {command} not found under path {task_dir}")
    return found


class DockerDriver:
    """Detects a Docker engine; the practice agent never runs containers itself."""

    name = "docker"

    def __init__(self) -> None:
        self.engine = docker_engine_answers()

    def fingerprint(self) -> dict:
        """Undetected without an engine, so docker jobs fail to place as in Nomad."""
        if not self.engine:
            return driver_info(False, False, "Failed to connect to docker daemon")
        return driver_info(
            True,
            False,
            "Docker engine found, but the practice agent runs no containers: "
            "use a real nomad agent for docker jobs",
        )

    async def start(
        self,
        config: dict,
        env: dict[str, str],
        task_dir: Path,
        stdout: Path,
        stderr: Path,
        dirs: list[str],
    ) -> TaskHandle:
        """Never reached: the scheduler places no task on an unhealthy driver."""
        raise DriverError("the practice agent cannot run docker tasks")


def docker_engine_answers(timeout: float = 1.0) -> bool:
    """True when a Docker engine answers ``GET /_ping`` on its socket (DOCKER_HOST honoured)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(host[len("unix://") :])
        elif host.startswith("tcp://"):
            address, _, port = host[len("tcp://") :].rpartition(":")
            sock = socket.create_connection((address, int(port)), timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
        return status_line.startswith(b"HTTP/1.") and status_line.split()[1:2] == [b"200"]
    except (OSError, ValueError):
        return False


def driver_info(detected: bool, healthy: bool, description: str) -> dict:
    """A node's DriverInfo entry."""
    return {
        "Attributes": {},
        "Detected": detected,
        "Healthy": healthy,
        "HealthDescription": description,
        "UpdateTime": rfc3339(now_ns()),
    }
