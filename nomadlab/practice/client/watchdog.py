"""The reaper's watchdog process: it starts the agent's tasks, and outlives the agent just
long enough to clean up.

It reads lines from the agent on stdin: ``+pgid`` / ``-pgid`` (a group to kill if the agent
dies, or no longer), and ``!{json}``, a task to start (Nomad's executor, out of the agent's
process: a job placing hundreds of tasks never forks in the agent's event loop). It builds
the task's directories when the request lists them, starts the task held at its gate,
lists its group, then lets it run, and answers on stdout: ``=N pid`` (or ``=N !error``)
for request N, and ``xPID returncode`` once the task exits.

When stdin closes (the agent exited, even by SIGKILL) it kills every process group still
listed that still holds one of the agent's processes, then every process carrying the
agent's marker in its environment, and removes the agent's temporary data dir. A listed
group whose processes are all gone has freed its number, which any new process may take:
another agent's task, or a program of the learner's. One starts with every agent, so it
imports little, and reads /proc itself on Linux.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import sys
import time
from collections.abc import Iterable

AGENT_ID_VAR = "NOMADLAB_AGENT_ID"
HELPER_VAR = "NOMADLAB_AGENT_HELPER"  # marks the agent's own worker processes, not tasks

# The task's first moments: wait for a line on stdin (the gate), then become the task with
# stdin from /dev/null. If the watchdog dies before it has listed the task's group, the pipe
# closes, ``read`` fails and the task never runs: no task process exists it does not know.
GATE = ("/bin/sh", "-c", 'read -r _ && exec "$@" </dev/null', "nomadlab-task")


def kill_process(pid: int) -> int:
    """SIGKILL a process and the group it leads, if any; 1 if it existed, else 0."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return 0
    return 1


def kill_groups(groups: Iterable[int]) -> None:
    """SIGKILL each process group; one that is already gone is fine."""
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def owned_groups(groups: set[int], agent_id: str) -> set[int]:
    """Those of ``groups`` that hold a process carrying ``agent_id``'s marks (a task's, or
    the agent's own workers'): the others are gone, their numbers free for anyone."""
    if not os.path.isdir("/proc/self"):
        return _owned_by_psutil(groups, agent_id)
    marks = {f"{AGENT_ID_VAR}={agent_id}".encode(), f"{HELPER_VAR}={agent_id}".encode()}
    owned: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            pgid = int(fields[2])  # after the name: state, ppid, pgrp
            if pgid not in groups or pgid in owned:
                continue
            with open(f"/proc/{name}/environ", "rb") as environ:
                entries = environ.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue  # gone, or not ours to read
        if marks.intersection(entries):
            owned.add(pgid)
    return owned


def _owned_by_psutil(groups: set[int], agent_id: str) -> set[int]:
    import psutil

    owned = set()
    for proc in psutil.process_iter():
        try:  # a process may be gone, or not ours to read
            pgid = os.getpgid(proc.pid)
            env = proc.environ() if pgid in groups else {}
        except (psutil.Error, OSError):
            continue
        if agent_id in (env.get(AGENT_ID_VAR), env.get(HELPER_VAR)):
            owned.add(pgid)
    return owned


def kill_marked(agent_id: str, quiet_rounds: int = 3, deadline: float = 5.0) -> None:
    """Kill every process carrying ``agent_id``'s marker, scanning again until
    ``quiet_rounds`` scans in a row find none (a task may be forking while we look)."""
    quiet = 0
    stop_at = time.monotonic() + deadline
    while quiet < quiet_rounds and time.monotonic() < stop_at:
        found = sum(kill_process(pid) for pid in marked(agent_id))
        quiet = 0 if found else quiet + 1
        time.sleep(0.05)


def marked(agent_id: str) -> list[int]:
    """Processes other than this one whose environment carries ``agent_id``'s marker. Linux
    lists environments in /proc: a read each, where psutil would parse each into a dict."""
    marker = f"{AGENT_ID_VAR}={agent_id}".encode()
    if not os.path.isdir("/proc/self"):
        return _marked_by_psutil(agent_id)
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                entries = environ.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if marker in entries:
            pids.append(int(name))
    return pids


def _marked_by_psutil(agent_id: str) -> list[int]:
    import psutil

    pids = []
    for proc in psutil.process_iter():
        try:  # a process may be gone, or not ours to read
            if proc.environ().get(AGENT_ID_VAR) == agent_id and proc.pid != os.getpid():
                pids.append(proc.pid)
        except psutil.Error:
            continue
    return pids


class Spawner:
    """The watchdog's state: the groups to kill if the agent dies, the tasks it started."""

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.tasks: set[int] = set()
        # Where the watchdog started (the agent's directory): relative paths in requests
        # are relative to it, and it returns there after each spawn.
        self.home = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)

    def handle(self, line: bytes) -> None:
        """One line from the agent."""
        text = line.decode().strip()
        if text[:1] == "+":
            self.groups.add(int(text[1:]))
        elif text[:1] == "-":
            self.groups.discard(int(text[1:]))
        elif text[:1] == "!":
            request = json.loads(text[1:])
            try:
                answer = str(self.start(request))
            except OSError as exc:
                answer = "!" + " ".join(str(exc).split())
            answer_agent(f"={request['id']} {answer}\n")

    def start(self, request: dict) -> int:
        """Build the task's directories, start it held at its gate, list its group, then
        open the gate."""
        make_dirs(request.get("dirs", ()))
        gate_read, gate_write = os.pipe()
        try:
            pid = spawn([*GATE, *request["argv"]], request, gate_read, self.home)
            self.tasks.add(pid)
            self.groups.add(pid)  # its own session: its process group is its pid
            os.write(gate_write, b"go\n")
        finally:
            os.close(gate_write)
            os.close(gate_read)
        return pid

    def reap(self) -> None:
        """Tell the agent which of its tasks have exited, with their return codes."""
        while self.tasks:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.tasks:
                self.tasks.discard(pid)
                answer_agent(f"x{pid} {os.waitstatus_to_exitcode(status)}\n")


def make_dirs(paths: Iterable[str]) -> None:
    """Create ``paths``, parents listed before their children (a mkdir each, where
    ``os.makedirs`` would first look at every parent)."""
    for path in paths:
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        except FileNotFoundError:
            os.makedirs(path, exist_ok=True)


def spawn(argv: list[str], request: dict, stdin: int, home: int) -> int:
    """Start ``argv`` in a session of its own, in the request's directory, with its
    environment and its logs appended to, as ``subprocess.Popen`` would but by
    ``posix_spawn`` (vfork and exec): the watchdog's memory is never copied. ``home``:
    the directory to return to."""
    logs = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    stdout, stderr = os.path.abspath(request["stdout"]), os.path.abspath(request["stderr"])
    try:
        os.chdir(request["cwd"])  # a spawned process starts where its parent stands
        return os.posix_spawn(
            argv[0],
            argv,
            request["env"],
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0),
                (os.POSIX_SPAWN_OPEN, 1, stdout, logs, 0o666),
                (os.POSIX_SPAWN_OPEN, 2, stderr, logs, 0o666),
            ],
            setsid=True,
            setsigmask=(),
            # Python ignores these itself; a task starts with them at their defaults.
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    finally:
        os.fchdir(home)


def answer_agent(text: str) -> None:
    """A line to the agent; one that has gone reads no more (its stdin closes next)."""
    try:
        os.write(1, text.encode())
    except OSError:
        return


def serve(spawner: Spawner) -> None:
    """Read the agent's lines until it closes stdin, reaping tasks as they exit."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    with selectors.DefaultSelector() as selector:
        selector.register(0, selectors.EVENT_READ)
        selector.register(wake_read, selectors.EVENT_READ)
        pending = b""
        while True:
            for key, _ in selector.select():
                if key.fd == wake_read:
                    os.read(wake_read, 4096)
                    spawner.reap()
                    continue
                data = os.read(0, 65536)
                if not data:
                    return
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    spawner.handle(line)


def main(argv: list[str]) -> None:
    """The watchdog: ``AGENT_ID [DATA_DIR]``. Serve the agent until end of input, then kill
    what is left and every marked process, and remove DATA_DIR, if any."""
    # Caught, not ignored: an ignored signal would stay ignored in the tasks it starts.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda signum, frame: None)
    agent_id, data_dirs = argv[0], argv[1:]
    spawner = Spawner()
    serve(spawner)
    kill_groups(owned_groups(spawner.groups, agent_id))
    kill_marked(agent_id)
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
