"""The reaper: a watchdog process that kills task process groups if the agent dies.

A task runs in its own session, so it survives its parent. Nomad keeps an executor
per task for that; the practice agent keeps one reaper: it learns each task's process
group over a pipe and, when the pipe closes (the agent exited or was SIGKILLed), kills
every group still listed and removes the agent's temporary data dir. No orphans, on
Linux and macOS alike.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path


class Reaper:
    """The agent's end of the pipe to the watchdog process."""

    def __init__(self, data_dir: Path | None = None) -> None:
        """Start the watchdog; ``data_dir``, if given, is removed when the agent is gone."""
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nomadlab.practice.reaper",
                *([str(data_dir)] if data_dir else []),
            ],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )

    def track(self, pgid: int) -> None:
        """Kill this process group if the agent dies."""
        self._send(f"+{pgid}")

    def untrack(self, pgid: int) -> None:
        """The group is gone (its task exited); forget it so its number can be reused."""
        self._send(f"-{pgid}")

    def close(self) -> None:
        """Stop the watchdog after the agent has stopped its tasks itself."""
        if self._process.stdin and not self._process.stdin.closed:
            self._process.stdin.close()
        self._process.wait(timeout=10)

    def _send(self, line: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{line}\n".encode())
        self._process.stdin.flush()


def kill_groups(groups: set[int]) -> None:
    """SIGKILL each process group; one that is already gone is fine."""
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def main(argv: list[str]) -> None:
    """Read ``+pgid`` / ``-pgid`` lines until end of input, then kill what is left and
    remove the data dir named in ``argv``, if any."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin.buffer:
        text = line.decode().strip()
        if text[:1] == "+":
            groups.add(int(text[1:]))
        elif text[:1] == "-":
            groups.discard(int(text[1:]))
    kill_groups(groups)
    for data_dir in argv:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
