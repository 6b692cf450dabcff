"""The reaper's watchdog process: it outlives the agent just long enough to clean up.

It reads ``+pgid`` / ``-pgid`` lines from the agent on stdin. When stdin closes (the agent
exited, even by SIGKILL) it kills every process group still listed that still holds one of
the agent's processes, then every process carrying the agent's marker in its environment,
and removes the agent's temporary data dir. A listed group whose processes are all gone
has freed its number, which any new process may take: another agent's task, or a program
of the learner's. One starts with every agent, so it imports little, and reads /proc
itself on Linux.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Iterable

AGENT_ID_VAR = "NOMADLAB_AGENT_ID"
HELPER_VAR = "NOMADLAB_AGENT_HELPER"  # marks the agent's own worker processes, not tasks


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


def main(argv: list[str]) -> None:
    """The watchdog: ``AGENT_ID [DATA_DIR]``. Read ``+pgid`` / ``-pgid`` lines until end of
    input, then kill what is left and every marked process, and remove DATA_DIR, if any."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    agent_id, data_dirs = argv[0], argv[1:]
    groups: set[int] = set()
    for line in sys.stdin.buffer:
        text = line.decode().strip()
        if text[:1] == "+":
            groups.add(int(text[1:]))
        elif text[:1] == "-":
            groups.discard(int(text[1:]))
    kill_groups(owned_groups(groups, agent_id))
    kill_marked(agent_id)
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
