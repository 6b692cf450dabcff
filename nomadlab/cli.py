"""The ``nomadlab`` command: Nomad's CLI verbs for machines without the ``nomad`` binary.

``nomadlab job run FILE`` prints what ``nomad job run FILE`` prints, and so on, so learners
type the tutorial's commands with one word changed. ``doctor`` checks a machine, ``tour``
runs the whole tutorial once, ``agent -dev`` is the practice agent.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nomadlab.lab import Lab

USAGE = """Usage: nomadlab <command> [args]

Commands:
    agent -dev          Run the practice agent: a local Nomad dev agent written in Python
    agent stop          Stop the agent nomadlab started (from a notebook, the tour, `nomadlab lab`)
    lab                 Open JupyterLab at the kit's root, with notebooks/00_setup.ipynb
    doctor              Check this machine: Python, packages, nomad, Docker, port 4646, NOMAD_ADDR
    tour                Run the tutorial end to end: agent, job, service, scale, status, stop
    job run FILE        Run a job like `nomad job run` (-var key=value, -detach)
    job status [JOB]    Show all jobs, or one job's summary, deployment and allocations
    job scale JOB [GROUP] COUNT
                        Change a task group's count like `nomad job scale`
    job stop JOB        Stop a job like `nomad job stop` (-purge to remove it)

The job commands talk to NOMAD_ADDR if set, else to the agent nomadlab started, else to
http://127.0.0.1:4646, like the nomad CLI.
"""


def _parser(prog: str, usage: str) -> argparse.ArgumentParser:
    """An argument parser taking Go-style single-dash flags (``-var``, ``-purge``)."""
    return argparse.ArgumentParser(prog=prog, usage=usage, allow_abbrev=False, add_help=True)


def _lab(quiet: bool = False) -> Lab:
    """A Lab on the agent the job commands should use (NOMAD_ADDR, the kit's agent, or :4646)."""
    from nomadlab import agent as agents
    from nomadlab.lab import Lab

    if os.environ.get("NOMAD_ADDR"):
        return Lab(os.environ["NOMAD_ADDR"], quiet=quiet)
    running = agents.find_running()
    return Lab(running, quiet=quiet) if running else Lab(quiet=quiet)


def _fail(message: object, code: int = 1) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return code


def job_run(argv: list[str]) -> int:
    """``nomadlab job run [-detach] [-var key=value]... FILE``."""
    from nomadlab.errors import PlacementFailed

    parser = _parser("nomadlab job run", "nomadlab job run [-detach] [-var key=value]... FILE")
    parser.add_argument("-var", "--var", action="append", default=[], metavar="key=value")
    parser.add_argument("-detach", "--detach", action="store_true")
    parser.add_argument("file")
    args = parser.parse_args(argv)
    variables = {}
    for item in args.var:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return _fail(f"-var {item!r} is not key=value")
        variables[key] = value
    try:
        result = _lab().run(args.file, detach=args.detach, **variables)
    except PlacementFailed as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 2
    return result.exit_code


def job_status(argv: list[str]) -> int:
    """``nomadlab job status [JOB]``."""
    parser = _parser("nomadlab job status", "nomadlab job status [JOB]")
    parser.add_argument("job", nargs="?")
    args = parser.parse_args(argv)
    print(_lab().status(args.job))
    return 0


def job_scale(argv: list[str]) -> int:
    """``nomadlab job scale JOB [GROUP] COUNT``."""
    parser = _parser("nomadlab job scale", "nomadlab job scale JOB [GROUP] COUNT")
    parser.add_argument("args", nargs="+", metavar="JOB [GROUP] COUNT")
    args = parser.parse_args(argv).args
    if not 2 <= len(args) <= 3:
        return _fail("Command requires at least two arguments and no more than three")
    job, group, count = args[0], (args[1] if len(args) == 3 else None), args[-1]
    try:
        number = int(count)
    except ValueError:
        return _fail(f"Failed to convert count string to int: {count!r} is not a number")
    return _lab().scale(job, number, group).exit_code


def job_stop(argv: list[str]) -> int:
    """``nomadlab job stop [-purge] JOB``."""
    parser = _parser("nomadlab job stop", "nomadlab job stop [-purge] JOB")
    parser.add_argument("-purge", "--purge", action="store_true")
    parser.add_argument("job")
    args = parser.parse_args(argv)
    return _lab().stop(args.job, purge=args.purge).exit_code


def agent_stop(argv: list[str]) -> int:
    """``nomadlab agent stop``: stop the agent the kit started and recorded, if it runs."""
    from nomadlab import agent as agents
    from nomadlab.lab import Lab

    _parser("nomadlab agent stop", "nomadlab agent stop").parse_args(argv)
    running = agents.find_running()
    if running is None or not running.started_by_kit:
        print(f"No agent started by nomadlab is running (none recorded in {agents.state_file()}).")
        return 0
    Lab(running).stop_agent()
    return 0


JOB_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": job_run,
    "status": job_status,
    "scale": job_scale,
    "stop": job_stop,
}


def job(argv: list[str]) -> int:
    """Dispatch ``nomadlab job <verb>``."""
    if not argv or argv[0] not in JOB_COMMANDS:
        print("Usage: nomadlab job <run|status|scale|stop> [args]", file=sys.stderr)
        return 1
    return JOB_COMMANDS[argv[0]](argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``nomadlab <command> ...``; kit errors print their paragraph, not a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "-help", "--help"):
        print(USAGE)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    if command == "agent" and rest[:1] == ["stop"]:
        return agent_stop(rest[1:])
    if command == "agent":
        from nomadlab.practice.agent import main as agent_main

        return agent_main(rest)
    if command == "lab":
        from nomadlab.launcher import main as lab_main

        return lab_main(rest)
    if command == "doctor":
        from nomadlab.doctor import main as doctor_main

        return doctor_main(rest)
    if command == "tour":
        from nomadlab.tour import main as tour_main

        return tour_main(rest)
    if command == "job":
        from nomadlab.errors import NomadLabError

        try:
            return job(rest)
        except NomadLabError as exc:
            return _fail(exc)
        except KeyboardInterrupt:
            return 130
    print(f"nomadlab: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
