"""HCL parsing off the agent's event loop: ``POST /v1/jobs/parse`` runs in a worker process.

python-hcl2 is pure Python: a 1 MB jobspec takes tens of seconds and hundreds of MB. In the
agent that would stop every other request (blocking queries, the scheduler, the clients) and
keep the memory. A worker process parses instead; one stays warm for the next small parse,
and a worker that parsed a large input exits after it, giving its memory back. A worker
reads requests on stdin and exits at end of input, and its process group is given to the
reaper's watchdog, so it dies with the agent, even a SIGKILLed one, even mid-parse.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from nomadlab.practice.jobspec.common import JobspecError

MAX_HCL_BYTES = 1 << 20  # larger jobspecs are refused before any parsing
KEEP_WARM_BYTES = 64 << 10  # a worker that parsed more than this exits after answering
MAX_WORKERS = 2
_LINE_LIMIT = 256 << 20  # one answer is one JSON line: the parsed job


class ParsePool:
    """Worker processes that parse jobspecs; at most MAX_WORKERS at a time."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        track: Callable[[int], None] | None = None,
        untrack: Callable[[int], None] | None = None,
    ) -> None:
        """``env``: variables added to the workers' environment (the reaper's mark, so that
        it does not take them for a task's orphans); ``track``/``untrack``: told each
        worker's process group, so that the reaper's watchdog kills a worker mid-parse if
        the agent dies."""
        self.env = {**os.environ, **(env or {})}
        self._track, self._untrack = track, untrack
        self._idle: list[asyncio.subprocess.Process] = []
        self._slots = asyncio.Semaphore(MAX_WORKERS)
        self._running: set[asyncio.subprocess.Process] = set()

    async def parse(
        self, hcl: str, variables: str | None, canonicalize: bool
    ) -> tuple[dict, list[str]]:
        """What ``jobspec.parse_with_warnings`` returns, computed in a worker process."""
        size = len(hcl.encode())
        if size > MAX_HCL_BYTES:
            raise JobspecError(
                f"Failed to parse job: the jobspec is {size} bytes; the practice agent parses "
                f"at most {MAX_HCL_BYTES} bytes"
            )
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self._spawn()
            keep = False
            try:
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write(json.dumps([hcl, variables, canonicalize]).encode() + b"\n")
                await worker.stdin.drain()
                line = await worker.stdout.readline()
                if not line:
                    raise RuntimeError(f"the parse worker exited with code {await worker.wait()}")
                answer = json.loads(line)
                keep = size <= KEEP_WARM_BYTES and not self._idle
            finally:
                if keep:
                    self._idle.append(worker)
                else:
                    await self._retire(worker)
        if "error" in answer:
            raise JobspecError(answer["error"])
        return answer["job"], answer["warnings"]

    async def _spawn(self) -> asyncio.subprocess.Process:
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "nomadlab.practice.jobspec.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
            start_new_session=True,
            env=self.env,
        )
        self._running.add(worker)
        if self._track is not None:
            self._track(worker.pid)  # its own session: its process group is its pid
        return worker

    async def _retire(self, worker: asyncio.subprocess.Process) -> None:
        """Stop a worker, idle or stuck in a parse, and reap it."""
        if worker.returncode is None:
            worker.kill()
        await worker.wait()
        self._running.discard(worker)
        if self._untrack is not None:
            self._untrack(worker.pid)

    async def close(self) -> None:
        """Stop every worker (the agent is shutting down)."""
        self._idle.clear()
        for worker in list(self._running):
            await self._retire(worker)


def answer(request: list[Any]) -> dict[str, Any]:
    """Parse one request ``[hcl, variables, canonicalize]``: the job and warnings, or the
    error text the API answers with."""
    # The HCL parser loads in the worker process only, never in the agent that imports this.
    from nomadlab.practice.jobspec.parse import parse_with_warnings

    hcl, variables, canonicalize = request
    try:
        job, warnings = parse_with_warnings(hcl, variables, canonicalize=canonicalize)
    except JobspecError as exc:
        return {"error": str(exc)}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        # Input python-hcl2 or the decoder cannot take: a parse error, as Nomad's 400.
        return {"error": f"Failed to parse job: {type(exc).__name__}: {exc}"}
    return {"job": job, "warnings": warnings}


def main() -> None:
    """Answer one JSON line per request line until end of input (the agent is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
