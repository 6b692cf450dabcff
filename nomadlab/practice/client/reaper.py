"""The reaper: no task process outlives its job or the agent, whatever the task does.

Nomad's executor keeps each task in a cgroup; the practice agent has three layers instead:

- a **watchdog process** (``watchdog.py``) starts the tasks and lists each task's process
  group *before* the task may run (the task waits at a gate until then), and when the
  agent's pipe to it closes (the agent exited, even by SIGKILL) kills every
  group still listed that still holds one of the agent's processes, then every process
  carrying this agent's marker in its environment, and removes the temporary data dir;
- the **marker**: every task inherits ``NOMADLAB_AGENT_ID``, so a task that double-forks and
  calls ``setsid()`` is still found, by the agent and by the watchdog;
- on Linux the agent is a **child subreaper** (``prctl(PR_SET_CHILD_SUBREAPER)``): such an
  escapee is re-parented to the agent, which kills it once its task has stopped (and tells
  the watchdog its group, in case the agent dies first).

The agent checks the watchdog every second; if it has died, the agent logs it and starts a
new one that learns every live group, and waits itself for the tasks the dead one started
(a subreaper adopts them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import select
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

from nomadlab.practice.client.watchdog import AGENT_ID_VAR, HELPER_VAR, kill_process

log = logging.getLogger("nomad.client.reaper")

PR_SET_CHILD_SUBREAPER = 36
SWEEP_INTERVAL = 1.0
# The pipe to the watchdog holds a burst of start requests (a few KiB each) in the kernel,
# where they outlive an agent killed mid-burst; what does not fit waits in the agent.
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Reaper:
    """The agent's side: the pipe to the watchdog, the groups it holds, and the sweeps."""

    def __init__(self, data_dir: Path | None = None, subreaper: bool = False) -> None:
        """Start the watchdog; ``data_dir``, if given, is removed when the agent is gone.
        ``subreaper`` makes this process adopt its tasks' orphans (Linux; the agent only)."""
        self.agent_id = uuid.uuid4().hex
        self.data_dir = data_dir
        self.groups: set[int] = set()
        self.tasks: dict[int, tuple[str, str]] = {}  # main pid → (alloc ID, task name)
        self.starting: set[tuple[str, str]] = set()
        self.subreaper = subreaper and set_child_subreaper()
        self.restarts = 0
        self._wake = asyncio.Event()
        self._requests = 0
        self._starts: dict[int, asyncio.Future[int]] = {}  # request number → the task's pid
        self._exits: dict[int, asyncio.Future[int]] = {}  # a started task's pid → returncode
        self._listening: int | None = None  # the watchdog's stdout, once the loop reads it
        self._pending = b""
        self._outbox = bytearray()  # lines the watchdog's full pipe has not taken yet
        self._draining: asyncio.AbstractEventLoop | None = None  # the loop writing the rest
        self._process = self._spawn()

    # The watchdog process -------------------------------------------------------

    def _spawn(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nomadlab.practice.client.watchdog",
                self.agent_id,
                *([str(self.data_dir)] if self.data_dir else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdin is not None
        fd = process.stdin.fileno()
        with contextlib.suppress(OSError):  # Linux only, and capped by fs.pipe-max-size
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
        os.set_blocking(fd, False)  # a watchdog busy starting tasks never holds the loop
        return process

    def _listen(self) -> None:
        """Read the watchdog's answers on the running loop (once per watchdog)."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        if self._listening != fd:
            os.set_blocking(fd, False)
            asyncio.get_running_loop().add_reader(fd, self._read, fd)
            self._listening = fd

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            asyncio.get_running_loop().remove_reader(fd)
            return
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            self._answer(line.decode())

    def _answer(self, line: str) -> None:
        """``=N pid`` / ``=N !error``: request N started its task or not; ``xPID code``: exited."""
        head, _, value = line.partition(" ")
        if head[:1] == "=":
            future = self._starts.pop(int(head[1:]), None)
            if future is None or future.done():
                return
            if value[:1] == "!":
                future.set_exception(OSError(value[1:]))
            else:
                pid = int(value)
                self._exits[pid] = future.get_loop().create_future()
                future.set_result(pid)
        elif head[:1] == "x":
            exit_future = self._exits.get(int(head[1:]))
            if exit_future is not None and not exit_future.done():
                exit_future.set_result(int(value))

    @property
    def pid(self) -> int:
        return self._process.pid

    def check(self) -> bool:
        """Repair a dead watchdog: log it, start a new one, teach it every live group.
        Returns True when a repair was needed."""
        code = self._process.poll()
        if code is None:
            return False
        log.error(
            "reaper: watchdog process %d exited (%s); starting a new one with %d task group(s)",
            self._process.pid,
            f"signal {-code}" if code < 0 else f"exit code {code}",
            len(self.groups),
        )
        self.restarts += 1
        if self._listening is not None:
            asyncio.get_running_loop().remove_reader(self._listening)
            self._read(self._listening)  # what it said before it died
            self._listening = None
        self._pending = b""
        self._stop_draining()
        self._outbox.clear()  # the dead one's lines: its groups are taught again just below
        self._process = self._spawn()
        self._write("".join(f"+{pgid}\n" for pgid in sorted(self.groups)))
        for future in self._starts.values():
            if not future.done():
                future.set_exception(OSError("the watchdog exited while starting the task"))
        self._starts.clear()
        for pid, future in self._exits.items():
            if not future.done():
                self._adopt(pid, future)
        return True

    def _adopt(self, pid: int, exited: asyncio.Future[int]) -> None:
        """A task the dead watchdog started: the subreaper is its parent now; wait here."""

        def wait() -> int:
            try:
                code = psutil.Process(pid).wait()
            except psutil.NoSuchProcess:
                code = None
            if code is None:  # not this process's child: its exit status is not ours to read
                log.warning("reaper: exit status of task process %d unknown", pid)
                return -9
            return int(code)

        loop = exited.get_loop()
        task = loop.create_task(asyncio.to_thread(wait), name=f"adopted-{pid}")
        task.add_done_callback(lambda done: exited.done() or exited.set_result(done.result()))

    async def start_task(
        self, request: dict, owner: tuple[str, str]
    ) -> tuple[int, asyncio.Future[int]]:
        """Have the watchdog start a task (``watchdog.Spawner.start``); its pid, and a future
        of its return code. OSError if it could not be started."""
        self._listen()
        self._requests += 1
        number = self._requests
        started = asyncio.get_running_loop().create_future()
        self._starts[number] = started
        self.starting.add(owner)
        try:
            self._send("!" + json.dumps({**request, "id": number}) + "\n")
            pid = await started
        finally:
            self.starting.discard(owner)
            self._starts.pop(number, None)
        self.tasks[pid] = owner
        self.groups.add(pid)  # listed by the watchdog before the task ran
        return pid, self._exits[pid]

    def track(self, pgid: int) -> None:
        """Kill this process group if the agent dies: sent to the watchdog before any
        line sent after it."""
        self.groups.add(pgid)
        self._send(f"+{pgid}\n")

    def untrack(self, pgid: int) -> None:
        """The group is gone (its task exited); forget it so its number can be reused."""
        self.groups.discard(pgid)
        self._send(f"-{pgid}\n")

    def _send(self, text: str) -> None:
        try:
            self._write(text)
        except OSError:  # the watchdog died: a new one learns every group, this one included
            if not self.check():
                raise

    def _write(self, text: str) -> None:
        """Send lines in order: what the pipe takes now, the rest as it drains (written by
        the running loop, or waited for here when no loop runs)."""
        self._outbox += text.encode()
        self._flush()

    def _flush(self) -> None:
        assert self._process.stdin is not None
        fd = self._process.stdin.fileno()
        while self._outbox:
            try:
                del self._outbox[: os.write(fd, self._outbox)]
            except BlockingIOError:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    select.select([], [fd], [])
                    continue
                if self._draining is None:
                    loop.add_writer(fd, self._drain)
                    self._draining = loop
                return
        self._stop_draining()

    def _drain(self) -> None:
        """The loop's writer: the pipe has room again."""
        try:
            self._flush()
        except OSError:  # the watchdog died: a new one learns every group
            self._stop_draining()
            self.check()

    def _stop_draining(self) -> None:
        if self._draining is not None and self._process.stdin is not None:
            self._draining.remove_writer(self._process.stdin.fileno())
        self._draining = None

    def close(self) -> None:
        """Stop the watchdog after the agent has stopped its tasks itself."""
        if self._process.stdin and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._stop_draining()
                self._flush()
                self._process.stdin.close()
        self._process.wait(timeout=10)

    # Tasks and their orphans -----------------------------------------------------

    def task_environment(self, env: dict[str, str]) -> dict[str, str]:
        """The environment a task starts with: its own, plus this agent's marker."""
        return {**env, AGENT_ID_VAR: self.agent_id}

    def exited(self, pid: int) -> None:
        """A task's main process exited and its group was killed: forget the group, and
        sweep soon for what the task left outside it."""
        self.tasks.pop(pid, None)
        self._exits.pop(pid, None)
        self.untrack(pid)
        self._wake.set()

    def sweep(self, everything: bool = False) -> int:
        """Kill this agent's processes that belong to no running task (all of them when
        ``everything``) and reap exited orphans. Returns how many were killed."""
        return self._settle(survey(self.subreaper, self._own()), everything)

    def _own(self) -> set[int]:
        """Children this process started itself (asyncio or Popen waits for them)."""
        return {*self.tasks, self._process.pid}

    def _settle(self, found: list[Found], everything: bool = False) -> int:
        running = {*self.tasks.values(), *self.starting}
        killed = 0
        for pid, zombie, env, pgid in found:
            if zombie:
                if self.subreaper:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)
                    self.groups.discard(pid)
                continue
            if self.subreaper and not everything and env.get(AGENT_ID_VAR) != self.agent_id:
                # Read off the event loop, the environment may be a task's between its fork
                # and its exec: still the agent's own. Here, on the loop, no fork is under way.
                now = identity(pid)
                if now is None:
                    continue
                env, pgid = now
            ours = env.get(AGENT_ID_VAR) == self.agent_id
            if env.get(HELPER_VAR) == self.agent_id and not everything:
                continue  # the agent's own worker (HCL parsing), not a task's orphan
            if not (ours or self.subreaper):
                continue
            if not everything and ours and task_owner(env) in running:
                if pgid not in self.groups:
                    self.track(pgid)  # the watchdog kills it too if the agent dies first
                continue
            killed += kill_process(pid)
        return killed

    async def supervise(self) -> None:
        """Each second, or soon after a task exits: repair the watchdog if it died, and
        sweep the tasks' orphans (the process table is read off the event loop)."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_INTERVAL)
            self._wake.clear()
            try:
                self.check()
                found = await asyncio.to_thread(survey, self.subreaper, self._own())
                self._settle(found)
            except OSError:
                log.exception("reaper: supervision failed; trying again in %gs", SWEEP_INTERVAL)


Found = tuple[int, bool, dict[str, str], int]  # pid, zombie, environment, process group


def survey(subreaper: bool, own: set[int]) -> list[Found]:
    """Processes that may be task orphans: this process's children it did not start
    (``own``), which a subreaper adopts, or else every process (the marker tells)."""
    try:
        if subreaper:
            candidates = [c for c in children() if c.pid not in own]
        else:
            candidates = [p for p in psutil.process_iter() if p.pid != os.getpid()]
    except psutil.Error:
        return []
    found = []
    for proc in candidates:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                found.append((proc.pid, True, {}, 0))
            else:
                found.append((proc.pid, False, proc.environ(), os.getpgid(proc.pid)))
        except (psutil.Error, ProcessLookupError):
            continue
    return found


def identity(pid: int) -> tuple[dict[str, str], int] | None:
    """A process's environment and process group, or None if it is gone or not ours."""
    try:
        return psutil.Process(pid).environ(), os.getpgid(pid)
    except (psutil.Error, ProcessLookupError):
        return None


def children() -> list[psutil.Process]:
    """This process's children. Linux lists them per thread in /proc/self/task/*/children:
    a read per thread each sweep, where psutil reads every process's stat file."""
    if not os.path.exists(f"/proc/self/task/{os.getpid()}/children"):
        return psutil.Process().children()
    found = []
    for thread in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{thread}/children") as listing:
                pids = listing.read().split()
        except FileNotFoundError:
            continue  # the thread has exited; its children moved to another thread
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                found.append(psutil.Process(int(pid)))
    return found


def set_child_subreaper() -> bool:
    """Make this process adopt its descendants' orphans (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def task_owner(env: dict[str, str]) -> tuple[str, str]:
    """Which task a process belongs to, by the environment its task started with."""
    return env.get("NOMAD_ALLOC_ID", ""), env.get("NOMAD_TASK_NAME", "")
