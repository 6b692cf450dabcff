"""The ``nomadlab`` command: Nomad's CLI verbs for machines without the ``nomad`` binary.

``nomadlab job run FILE`` prints what ``nomad job run FILE`` prints, and so on, so learners
type the tutorial's commands with one word changed. ``doctor`` checks a machine, ``tour``
runs the whole tutorial once, ``agent -dev`` is the practice agent.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from nomadlab.contract import SECOND, parse_duration

if TYPE_CHECKING:
    from nomadlab.lab import Lab

USAGE = """Usage: nomadlab <command> [args]

Commands:
    agent -dev          Run the practice agent: a local Nomad dev agent written in Python
    agent start         Start an agent in the background (or find the one running), as
                        nomadlab.start() does in a notebook
    agent stop          Stop the agent nomadlab started (from a notebook, the tour, `agent start`)
    lab                 Open JupyterLab at the kit's root, with notebooks/00_setup.ipynb
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
    job allocs JOB      List a job's allocations like `nomad job allocs`, with their addresses
    alloc fs ALLOC [PATH]
                        List a directory of an allocation, or print a file, like `nomad alloc fs`
    check NN            Check the exercise of notebook NN against the agent: ✓, or a hint
    checkpoint NN       Put the agent in the state a learner has at the start of notebook NN
    node status [-verbose] [NODE]
                        List the nodes, or show one with its events and allocations
    node drain -enable|-disable [-deadline D] [-detach] NODE
                        Move a node's allocations elsewhere, a batch at a time
    node eligibility -enable|-disable NODE
                        Allow or forbid new placements on a node
    node fail|recover NODE
                        Practice agent only (not Nomad's API): a node's machine dies / returns
    alloc status [-verbose] ALLOC
                        Show an allocation, its reschedules, task events and placement
    alloc logs [-stderr] ALLOC|JOB [TASK]
                        Print what a task wrote
    alloc restart|signal|stop ALLOC
                        Restart its tasks in place, send a signal (-s), or stop and replace it
    service list        List the services registered in Nomad, like `nomad service list`
    service info NAME   Show a service's instances (-verbose, -filter EXPR)
    ui [JOB]            Open the web UI (a job's page) in a browser like `nomad ui`

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

    address = agents.given_address()
    if address:
        return Lab(address, quiet=quiet)
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
    from nomadlab.command.job_plan import plan_exit_code

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


def agent_start(argv: list[str]) -> int:
    """``nomadlab agent start``: what ``nomadlab.start()`` does, from a terminal or a script."""
    from nomadlab.lab import start

    _parser("nomadlab agent start", "nomadlab agent start").parse_args(argv)
    start()
    return 0


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


def job_allocs(argv: list[str]) -> int:
    """``nomadlab job allocs JOB``."""
    parser = _parser("nomadlab job allocs", "nomadlab job allocs JOB")
    parser.add_argument("job")
    args = parser.parse_args(argv)
    lab = _lab()
    print(lab.allocations(lab.job_id(args.job)))
    return 0


def alloc_fs(argv: list[str]) -> int:
    """``nomadlab alloc fs ALLOC [PATH]`` (ALLOC may be a job: its newest allocation)."""
    parser = _parser("nomadlab alloc fs", "nomadlab alloc fs ALLOC [PATH]")
    parser.add_argument("alloc")
    parser.add_argument("path", nargs="?", default="/")
    args = parser.parse_args(argv)
    text = _lab().alloc_fs(args.alloc, args.path)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


def check(argv: list[str]) -> int:
    """``nomadlab check NN``: 0 when notebook NN's exercise is done, 1 with a hint if not."""
    from nomadlab.exercises import check as check_exercise

    parser = _parser("nomadlab check", "nomadlab check NN")
    parser.add_argument("notebook")
    verdict = check_exercise(parser.parse_args(argv).notebook, _lab(quiet=True))
    print(verdict)
    return 0 if verdict.passed else 1


def checkpoint(argv: list[str]) -> int:
    """``nomadlab checkpoint NN``: the agent's state at the start of notebook NN."""
    from nomadlab.exercises import checkpoint as move_to

    parser = _parser("nomadlab checkpoint", "nomadlab checkpoint NN")
    parser.add_argument("notebook")
    print(move_to(parser.parse_args(argv).notebook, _lab(quiet=True)))
    return 0


def node_status(argv: list[str]) -> int:
    """``nomadlab node status [-verbose] [NODE]``."""
    parser = _parser("nomadlab node status", "nomadlab node status [-verbose] [NODE]")
    parser.add_argument("-verbose", "--verbose", action="store_true")
    parser.add_argument("node", nargs="?")
    args = parser.parse_args(argv)
    print(_lab().node_status(args.node, verbose=args.verbose))
    return 0


def node_drain(argv: list[str]) -> int:
    """``nomadlab node drain -enable|-disable [-deadline D] [-detach] [-yes] NODE``."""
    usage = "nomadlab node drain -enable|-disable [-deadline D] [-detach] [-yes] NODE"
    parser = _parser("nomadlab node drain", usage)
    parser.add_argument("-enable", "--enable", action="store_true")
    parser.add_argument("-disable", "--disable", action="store_true")
    parser.add_argument("-deadline", "--deadline", default=None)
    parser.add_argument("-force", "--force", action="store_true")
    parser.add_argument("-no-deadline", "--no-deadline", action="store_true")
    parser.add_argument("-detach", "--detach", action="store_true")
    parser.add_argument("-ignore-system", "--ignore-system", action="store_true")
    parser.add_argument("-keep-ineligible", "--keep-ineligible", action="store_true")
    parser.add_argument("-yes", "--yes", action="store_true")  # nomadlab never prompts
    parser.add_argument("node")
    args = parser.parse_args(argv)
    if args.enable == args.disable:
        return _fail("Either the '-enable' or '-disable' flag must be set")
    deadline = None
    if args.force:
        deadline = -1.0
    elif args.no_deadline:
        deadline = 0.0
    elif args.deadline is not None:
        try:
            deadline = parse_duration(args.deadline) / SECOND
        except ValueError as exc:
            return _fail(f"Failed to parse deadline {args.deadline!r}: {exc}")
    _lab().node_drain(
        args.node,
        enable=args.enable,
        deadline=deadline,
        detach=args.detach,
        ignore_system=args.ignore_system,
        keep_ineligible=args.keep_ineligible,
    )
    return 0


def node_eligibility(argv: list[str]) -> int:
    """``nomadlab node eligibility -enable|-disable NODE``."""
    usage = "nomadlab node eligibility -enable|-disable NODE"
    parser = _parser("nomadlab node eligibility", usage)
    parser.add_argument("-enable", "--enable", action="store_true")
    parser.add_argument("-disable", "--disable", action="store_true")
    parser.add_argument("node")
    args = parser.parse_args(argv)
    if args.enable == args.disable:
        return _fail("Either the '-enable' or '-disable' flag must be set")
    _lab().node_eligibility(args.node, enable=args.enable)
    return 0


def node_practice(verb: str) -> Callable[[list[str]], int]:
    """``nomadlab node fail|recover NODE``: practice agent only."""

    def command(argv: list[str]) -> int:
        parser = _parser(f"nomadlab node {verb}", f"nomadlab node {verb} NODE")
        parser.add_argument("node")
        args = parser.parse_args(argv)
        lab = _lab()
        (lab.node_fail if verb == "fail" else lab.node_recover)(args.node)
        return 0

    return command


def alloc_status(argv: list[str]) -> int:
    """``nomadlab alloc status [-verbose] ALLOC``."""
    parser = _parser("nomadlab alloc status", "nomadlab alloc status [-verbose] ALLOC")
    parser.add_argument("-verbose", "--verbose", action="store_true")
    parser.add_argument("alloc")
    args = parser.parse_args(argv)
    print(_lab().alloc_status(args.alloc, verbose=args.verbose))
    return 0


def alloc_logs(argv: list[str]) -> int:
    """``nomadlab alloc logs [-stderr] [-job] ALLOC|JOB [TASK]``."""
    usage = "nomadlab alloc logs [-stderr] [-job] ALLOC|JOB [TASK]"
    parser = _parser("nomadlab alloc logs", usage)
    parser.add_argument("-stderr", "--stderr", action="store_true")
    parser.add_argument("-job", "--job", action="store_true")
    parser.add_argument("alloc")
    parser.add_argument("task", nargs="?")
    args = parser.parse_args(argv)
    text = _lab().logs(args.alloc, task=args.task, type="stderr" if args.stderr else "stdout")
    sys.stdout.write(text)
    return 0


def alloc_restart(argv: list[str]) -> int:
    """``nomadlab alloc restart [-all-tasks] ALLOC [TASK]``."""
    usage = "nomadlab alloc restart [-all-tasks] ALLOC [TASK]"
    parser = _parser("nomadlab alloc restart", usage)
    parser.add_argument("-all-tasks", "--all-tasks", action="store_true")
    parser.add_argument("-task", "--task", default=None)
    parser.add_argument("alloc")
    parser.add_argument("task_name", nargs="?")
    args = parser.parse_args(argv)
    _lab().alloc_restart(args.alloc, task=args.task or args.task_name, all_tasks=args.all_tasks)
    return 0


def alloc_signal(argv: list[str]) -> int:
    """``nomadlab alloc signal [-s SIGNAL] ALLOC [TASK]``."""
    usage = "nomadlab alloc signal [-s SIGNAL] ALLOC [TASK]"
    parser = _parser("nomadlab alloc signal", usage)
    parser.add_argument("-s", default="SIGKILL")
    parser.add_argument("-task", "--task", default=None)
    parser.add_argument("alloc")
    parser.add_argument("task_name", nargs="?")
    args = parser.parse_args(argv)
    _lab().alloc_signal(args.alloc, signal=args.s, task=args.task or args.task_name)
    return 0


def alloc_stop(argv: list[str]) -> int:
    """``nomadlab alloc stop [-detach] ALLOC``."""
    parser = _parser("nomadlab alloc stop", "nomadlab alloc stop [-detach] ALLOC")
    parser.add_argument("-detach", "--detach", action="store_true")
    parser.add_argument("alloc")
    args = parser.parse_args(argv)
    return _lab().alloc_stop(args.alloc, detach=args.detach).exit_code


NODE_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "status": node_status,
    "drain": node_drain,
    "eligibility": node_eligibility,
    "fail": node_practice("fail"),
    "recover": node_practice("recover"),
}

ALLOC_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "status": alloc_status,
    "logs": alloc_logs,
    "restart": alloc_restart,
    "signal": alloc_signal,
    "stop": alloc_stop,
    "fs": alloc_fs,
}


def ui(argv: list[str]) -> int:
    """``nomadlab ui [JOB]``: print the web UI's URL and open it in a browser."""
    import webbrowser

    parser = _parser("nomadlab ui", "nomadlab ui [JOB]")
    parser.add_argument("job", nargs="?")
    args = parser.parse_args(argv)
    url = _lab(quiet=True).ui_url(args.job)
    print(f'Opening URL "{url}"')
    if not webbrowser.open(url):
        print("No browser could be started here: open that URL in yours.")
    return 0


JOB_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": job_run,
    "status": job_status,
    "scale": job_scale,
    "stop": job_stop,
    "allocs": job_allocs,
    "plan": job_plan,
    "history": job_history,
    "revert": job_revert,
    "promote": job_promote,
}


def deployment_by_prefix(lab: Lab, prefix: str) -> dict:
    """The one deployment whose ID starts with ``prefix`` (the CLI accepts prefixes)."""
    from nomadlab.errors import NomadLabError

    with lab._api():
        found = lab.nomad.deployments.get_deployments(prefix=prefix)
    if len(found) != 1:
        ids = ", ".join(d["ID"][:8] for d in found)
        matches = f" (matches: {ids})" if ids else ""
        raise NomadLabError(f'No single deployment with prefix "{prefix}"{matches}')
    return found[0]


def deployment_status(argv: list[str]) -> int:
    """``nomadlab deployment status ID``."""
    from nomadlab.command.deployment_status import format_deployment

    parser = _parser("nomadlab deployment status", "nomadlab deployment status ID")
    parser.add_argument("id")
    print(format_deployment(deployment_by_prefix(_lab(), parser.parse_args(argv).id)))
    return 0


def deployment_promote(argv: list[str]) -> int:
    """``nomadlab deployment promote ID``."""
    parser = _parser("nomadlab deployment promote", "nomadlab deployment promote ID")
    parser.add_argument("id")
    lab = _lab()
    return lab.promote(deployment_by_prefix(lab, parser.parse_args(argv).id)["JobID"]).exit_code


def deployment_fail(argv: list[str]) -> int:
    """``nomadlab deployment fail ID``."""
    parser = _parser("nomadlab deployment fail", "nomadlab deployment fail ID")
    parser.add_argument("id")
    lab = _lab()
    return lab.fail(deployment_by_prefix(lab, parser.parse_args(argv).id)["JobID"]).exit_code


DEPLOYMENT_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "status": deployment_status,
    "promote": deployment_promote,
    "fail": deployment_fail,
}


def service_list(argv: list[str]) -> int:
    """``nomadlab service list``."""
    if argv:
        return _fail("This command takes no arguments")
    print(_lab(quiet=True).services())
    return 0


def service_info(argv: list[str]) -> int:
    """``nomadlab service info [-verbose] [-filter EXPR] NAME``."""
    parser = _parser("nomadlab service info", "nomadlab service info [options] <name>")
    parser.add_argument("-verbose", action="store_true")
    parser.add_argument("-filter", default="")
    parser.add_argument("name")
    args = parser.parse_args(argv)
    print(_lab(quiet=True).service(args.name, filter=args.filter, verbose=args.verbose))
    return 0


SERVICE_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "list": service_list,
    "info": service_info,
}

GROUPS = {
    "job": JOB_COMMANDS,
    "node": NODE_COMMANDS,
    "alloc": ALLOC_COMMANDS,
    "service": SERVICE_COMMANDS,
    "deployment": DEPLOYMENT_COMMANDS,
}


def dispatch(group: str, argv: list[str]) -> int:
    """Dispatch ``nomadlab <job|node|alloc|service|deployment> <verb>``."""
    commands = GROUPS[group]
    if not argv or argv[0] not in commands:
        print(f"Usage: nomadlab {group} <{'|'.join(commands)}> [args]", file=sys.stderr)
        return 1
    return commands[argv[0]](argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``nomadlab <command> ...``; kit errors print their paragraph, not a traceback,
    and their advice names commands, not Python calls."""
    from nomadlab.errors import SURFACE

    token = SURFACE.set("terminal")
    try:
        return _dispatch(sys.argv[1:] if argv is None else argv)
    finally:
        SURFACE.reset(token)


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "-help", "--help"):
        print(USAGE)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    kit: dict[str, Callable[[list[str]], int]] = {
        **{group: functools.partial(dispatch, group) for group in GROUPS},
        "ui": ui,
        "check": check,
        "checkpoint": checkpoint,
    }
    if command == "agent" and rest[:1] in (["start"], ["stop"]):
        kit["agent"] = agent_start if rest[0] == "start" else agent_stop
        rest = rest[1:]
    if command in kit:
        from nomadlab.errors import NomadLabError

        try:
            return kit[command](rest)
        except NomadLabError as exc:
            return _fail(exc)
        except KeyboardInterrupt:
            return 130
    if command == "agent":
        from nomadlab.practice import main as agent_main

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
    print(f"nomadlab: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
