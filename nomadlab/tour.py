"""``nomadlab tour``: the tutorial end to end in a terminal, to check a workshop machine.

Start an agent, run the http-echo job, call the service, scale to 3, show status and
allocations, stop the job (and the agent, if the tour started it). Each step names the
``nomad`` command it stands for and prints what that command prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import requests

from nomadlab.errors import NomadLabError
from nomadlab.lab import start

JOB_FILE = "jobs/http-echo.nomad.hcl"
JOB = "http-microservice"


def _color(text: str, code: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if sys.stdout.isatty() else text


def main(argv: list[str] | None = None) -> int:
    """Run every step; exit 0 when all passed, 1 at the first failure (after cleaning up)."""
    argv = argv or []
    keep = "-keep" in argv or "--keep" in argv
    state: dict[str, Any] = {}

    def step_start() -> None:
        state["lab"] = start()

    def step_run() -> None:
        state["lab"].run(JOB_FILE)

    def step_get() -> None:
        print(state["lab"].get(JOB).rstrip())

    def step_scale() -> None:
        state["lab"].scale(JOB, 3)

    def step_status() -> None:
        print(state["lab"].status(JOB))

    def step_allocs() -> None:
        lab = state["lab"]
        print(lab.allocations(JOB))
        print()
        for url in lab.addresses(JOB):
            reply = requests.get(url, timeout=10)
            reply.raise_for_status()
            print(f"{url} → {reply.text.strip()}")

    def step_stop() -> None:
        state["lab"].stop(JOB, purge=True)

    steps: list[tuple[str, str, Callable[[], None]]] = [
        ("Start an agent", "nomad agent -dev", step_start),
        ("Run the job", f"nomad job run {JOB_FILE}", step_run),
        ("Call the service", "curl http://<allocation address>", step_get),
        ("Scale to 3", f"nomad job scale {JOB} 3", step_scale),
        ("Job status", f"nomad job status {JOB}", step_status),
        ("Allocations and their addresses", f"nomad job allocs {JOB}", step_allocs),
        ("Stop the job", f"nomad job stop -purge {JOB}", step_stop),
    ]
    failed = ""
    for number, (title, command, action) in enumerate(steps, 1):
        print(_color(f"\n=== {number}/{len(steps)} {title}   ({command})", "1"))
        try:
            action()
        except (NomadLabError, OSError, requests.RequestException) as exc:
            failed = f"step {number} ({title}) failed: {exc}"
            break
    lab = state.get("lab")
    if failed and lab is not None:
        try:
            lab.quiet = True
            lab.stop(JOB, purge=True)
        except NomadLabError as exc:
            print(f"(could not purge {JOB} after the failure: {exc})", file=sys.stderr)
    if lab is not None and lab.agent.started_by_kit and not lab.agent.reused and not keep:
        print(_color("\n=== Stop the agent the tour started", "1"))
        lab.stop_agent()
    if failed:
        print(_color(f"\n✗ Tour failed: {failed}", "31"), file=sys.stderr)
        return 1
    mode = lab.mode if lab is not None else "?"
    print(_color(f"\n✓ Tour complete: every step of the tutorial works here ({mode} mode).", "32"))
    return 0
