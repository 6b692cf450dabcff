"""What the benchmark scripts share: waiting for a condition, and the echo job."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import nomad

T = TypeVar("T")
JOB = Path(__file__).resolve().parent.parent / "jobs" / "http-echo.nomad.hcl"


def until(condition: Callable[[], T], timeout: float = 300.0, poll: float = 0.005) -> T:
    """Poll ``condition`` until it is truthy; a benchmark's clock is the caller's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(poll)
    raise TimeoutError("condition not met")


def parse_echo_job(client: nomad.Nomad) -> dict:
    """jobs/http-echo.nomad.hcl parsed by the agent, run by this interpreter."""
    return client.jobs.request(
        "parse",
        method="post",
        json={"JobHCL": JOB.read_text(), "Variables": f'python = "{sys.executable}"'},
    ).json()


def get_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when ``http://host:port/`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


class Answering:
    """A condition for ``until``: every address has answered 200 once (each one is asked
    until it has, then no more, so the poll does not grow with those already up)."""

    def __init__(self, addresses: list[tuple[str, int]]) -> None:
        self.waiting = list(addresses)
        self.empty = not addresses

    def __call__(self) -> bool:
        self.waiting = [(host, port) for host, port in self.waiting if not get_ok(host, port)]
        return not self.empty and not self.waiting


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def machine() -> str:
    """This machine as the README's tables name it: cores, CPU model, load averages."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {model}, load average {load}"


def summary(
    figure: str,
    value: str,
    goal: str = "-",
    met: bool | None = None,
    baseline: str = "-",
    ratio: str = "-",
    load: float | None = None,
) -> None:
    """One line per figure, ready for the README's table: figure | value | baseline | ratio
    | goal | met? | the load average (1 min): ``load`` (as the bench measured it before its
    own processes ran), else now."""
    verdict = "-" if met is None else ("yes" if met else "NO")
    load = os.getloadavg()[0] if load is None else load
    cells = [figure, value, baseline, ratio, goal, verdict, f"load {load:.2f}"]
    print("SUMMARY | " + " | ".join(cells))
