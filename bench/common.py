"""What the benchmark scripts share: waiting for a condition, and the echo job."""

from __future__ import annotations

import sys
import time
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
