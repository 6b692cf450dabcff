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
    doctor              Check this machine: Python, packages, nomad, Docker, port 4646, NOMAD_ADDR
    tour                Run the tutorial end to end: agent, job, service, scale, status, stop
    job run FILE        Run a job like `nomad job run` (-var key=value, -detach, -check-index N)
    job status [JOB]    Show all jobs, or one job's summary, deployment and allocations
    job scale JOB [GROUP] COUNT
                        Change a task group's count like `nomad job scale`
    job stop JOB        Stop a job like `nomad job stop` (-purge to remove it)
    job plan FILE       Dry-run a job update like `nomad job plan` (then run -check-index N)
    job history JOB     List a job's versions like `nomad job history` (-p: with diffs)
    job revert JOB VERSION
                        Run an older version again like `nomad job revert`
    job promote JOB     Promote the canaries of a job's deployment
    deployment status|promote|fail ID
                        Show, promote or fail a deployment like `nomad deployment ...`

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
    from nomadlab.errors import JobNotUpdated, PlacementFailed

    usage = "nomadlab job run [-detach] [-check-index N] [-var key=value]... FILE"
    parser = _parser("nomadlab job run", usage)
    parser.add_argument("-var", "--var", action="append", default=[], metavar="key=value")
    parser.add_argument("-detach", "--detach", action="store_true")
    parser.add_argument("-check-index", "--check-index", type=int, default=None, metavar="N")
    parser.add_argument("file")
    args = parser.parse_args(argv)
    variables = _variables(args.var)
    if variables is None:
        return 1
    try:
        result = _lab().run(
            args.file, detach=args.detach, check_index=args.check_index, **variables
        )
    except PlacementFailed as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 2
    except JobNotUpdated as exc:
        print(exc, file=sys.stderr)
        return 1
    return result.exit_code


def _variables(items: list[str]) -> dict[str, str] | None:
    """``-var key=value`` flags as a dict (None, after saying why, if one is malformed)."""
    variables = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"-var {item!r} is not key=value")
            return None
        variables[key] = value
    return variables


def job_plan(argv: list[str]) -> int:
    """``nomadlab job plan [-var key=value]... FILE``: exit 1 if allocations would change."""
    from nomadlab.plan import plan_exit_code

    parser = _parser("nomadlab job plan", "nomadlab job plan [-var key=value]... FILE")
    parser.add_argument("-var", "--var", action="append", default=[], metavar="key=value")
    parser.add_argument("file")
    args = parser.parse_args(argv)
    variables = _variables(args.var)
    if variables is None:
        return 255
    return plan_exit_code(_lab().plan(args.file, **variables))


def job_history(argv: list[str]) -> int:
    """``nomadlab job history [-p] [-full] JOB``."""
    parser = _parser("nomadlab job history", "nomadlab job history [-p] [-full] JOB")
    parser.add_argument("-p", action="store_true")
    parser.add_argument("-full", "--full", action="store_true")
    parser.add_argument("job")
    args = parser.parse_args(argv)
    print(_lab().history(args.job, p=args.p, full=args.full))
    return 0


def job_revert(argv: list[str]) -> int:
    """``nomadlab job revert JOB VERSION``."""
    parser = _parser("nomadlab job revert", "nomadlab job revert JOB VERSION")
    parser.add_argument("job")
    parser.add_argument("version", type=int)
    args = parser.parse_args(argv)
    return _lab().revert(args.job, args.version).exit_code


def job_promote(argv: list[str]) -> int:
    """``nomadlab job promote [-group GROUP]... JOB``."""
    parser = _parser("nomadlab job promote", "nomadlab job promote [-group GROUP]... JOB")
    parser.add_argument("-group", "--group", action="append", default=[])
    parser.add_argument("job")
    args = parser.parse_args(argv)
    return _lab().promote(args.job, args.group or None).exit_code


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


JOB_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": job_run,
    "status": job_status,
    "scale": job_scale,
    "stop": job_stop,
    "plan": job_plan,
    "history": job_history,
    "revert": job_revert,
    "promote": job_promote,
}


def deployment(argv: list[str]) -> int:
    """``nomadlab deployment status|promote|fail ID``: the deployment by ID or ID prefix."""
    from nomadlab.monitor import format_deployment

    if len(argv) != 2 or argv[0] not in ("status", "promote", "fail"):
        print("Usage: nomadlab deployment <status|promote|fail> ID", file=sys.stderr)
        return 1
    verb, prefix = argv
    lab = _lab()
    with lab._api():
        found = lab.nomad.deployments.get_deployments(prefix=prefix)
    if len(found) != 1:
        ids = ", ".join(d["ID"][:8] for d in found)
        return _fail(
            f'No deployment with prefix "{prefix}"' + (f" (matches: {ids})" if ids else "")
        )
    if verb == "status":
        print(format_deployment(found[0]))
        return 0
    job_id = found[0]["JobID"]
    return (lab.promote(job_id) if verb == "promote" else lab.fail(job_id)).exit_code


def job(argv: list[str]) -> int:
    """Dispatch ``nomadlab job <verb>``."""
    if not argv or argv[0] not in JOB_COMMANDS:
        print(f"Usage: nomadlab job <{'|'.join(JOB_COMMANDS)}> [args]", file=sys.stderr)
        return 1
    return JOB_COMMANDS[argv[0]](argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``nomadlab <command> ...``; kit errors print their paragraph, not a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "-help", "--help"):
        print(USAGE)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    if command == "agent":
        from nomadlab.practice.agent import main as agent_main

        return agent_main(rest)
    if command == "doctor":
        from nomadlab.doctor import main as doctor_main

        return doctor_main(rest)
    if command == "tour":
        from nomadlab.tour import main as tour_main

        return tour_main(rest)
    if command in ("job", "deployment"):
        from nomadlab.errors import NomadLabError

        try:
            return job(rest) if command == "job" else deployment(rest)
        except NomadLabError as exc:
            return _fail(exc)
        except KeyboardInterrupt:
            return 130
    print(f"nomadlab: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
