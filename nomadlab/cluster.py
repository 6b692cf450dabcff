"""The node and allocation verbs of :class:`~nomadlab.lab.Lab`: ``nomad node status|drain|
eligibility`` and ``nomad alloc status|restart|stop|signal``, plus the practice agent's
``node fail|recover``. Thin: fetch through python-nomad, print with the pure formatters of
``node_status`` and ``alloc_status``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nomadlab.alloc_status import format_alloc_status
from nomadlab.errors import NomadAPIError, NomadLabError
from nomadlab.monitor import Monitor
from nomadlab.node_status import (
    allocs_stopped,
    drain_messages,
    format_node_list,
    format_node_status,
)
from nomadlab.results import RunResult, Text, allocation_table
from nomadlab.terminal import Ui, format_time, limit, parse_time

if TYPE_CHECKING:
    from nomadlab.lab import Lab

T = TypeVar("T")
SECOND = 1_000_000_000
NOT_PRACTICE = (
    "`node {verb}` simulates a machine {what} and only the practice agent can do that: "
    "Nomad has no API for it. On a real cluster, stop the Nomad client on that machine "
    "(or power it off, or pull its network cable), watch `nomad node status` turn it "
    '"down" after its heartbeat TTL, then start the client again.'
)


class ClusterVerbs:
    """Mixed into Lab: what needs ``nomad``, ``_api``, ``_ui``, ``_monitor`` and ``agent``."""

    nomad: Any
    agent: Any
    address: str

    def _api(self) -> AbstractContextManager[None]: ...  # provided by Lab

    def _ui(self) -> Ui: ...  # provided by Lab

    def _monitor(self, ui: Ui) -> Monitor: ...  # provided by Lab

    def _find_alloc(self, alloc_or_job: str) -> dict[str, Any]: ...  # provided by Lab

    # -- nodes ---------------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        """Every node (NodeListStub), by name."""
        with self._api():
            return sorted(self.nomad.nodes.get_nodes(), key=lambda n: n.get("Name", ""))

    def find_node(self, node: str) -> dict[str, Any]:
        """A node by ID, unique ID prefix or name (the CLI takes IDs; names read better)."""
        stubs = self.nodes()
        matches = [n for n in stubs if n["ID"] == node or n.get("Name") == node]
        if not matches and len(node) >= 2:
            matches = [n for n in stubs if n["ID"].startswith(node)]
        if not matches:
            raise NomadLabError(f'No node(s) with prefix or name "{node}" found')
        if len(matches) > 1:
            raise NomadLabError(f"Prefix matched multiple nodes\n\n{format_node_list(matches)}")
        with self._api():
            return self.nomad.node.get_node(matches[0]["ID"])

    def node_status(self, node: str | None = None, verbose: bool = False) -> Text:
        """``nomad node status [-verbose] [NODE]``: every node, or one in detail."""
        if node is None:
            return Text(format_node_list(self.nodes(), verbose))
        found = self.find_node(node)
        with self._api():
            allocs = self.nomad.node.get_allocations(found["ID"])
        return Text(format_node_status(found, allocs, verbose))

    def node_eligibility(self, node: str, enable: bool) -> Text:
        """``nomad node eligibility -enable|-disable NODE``."""
        found = self.find_node(node)
        with self._api():
            self.nomad.node.eligible_node(found["ID"], eligible=enable)
        verdict = "eligible" if enable else "ineligible"
        return self._say(
            f'Node "{found["ID"]}" scheduling eligibility set: {verdict} for scheduling'
        )

    def node_drain(
        self,
        node: str,
        enable: bool = True,
        *,
        deadline: float | None = None,
        detach: bool = False,
        ignore_system: bool = False,
        keep_ineligible: bool = False,
        timeout: float | None = None,
    ) -> Text:
        """``nomad node drain -enable|-disable [-deadline D] [-detach] NODE``: start a drain and
        follow it (each allocation marked, draining, stopping) until the node is empty.

        ``deadline`` in seconds: after it the rest is stopped at once; negative forces now.
        """
        found = self.find_node(node)
        spec = None
        if enable:
            seconds = 3600.0 if deadline is None else deadline  # the CLI's default: 1h
            spec = {"Deadline": int(seconds * SECOND), "IgnoreSystemJobs": ignore_system}
        with self._api():
            before = {a["ID"]: a for a in self.nomad.node.get_allocations(found["ID"])}
            self.nomad.node.drain_node_with_spec(found["ID"], spec, not keep_ineligible)
        if not enable or detach:
            state = "set" if enable else "unset"
            return self._say(f'Node "{found["ID"]}" drain strategy {state}')
        ui = self._ui()
        lines = [
            f"{format_time()}: Ctrl-C to stop monitoring: will not cancel the node drain",
            f'{format_time()}: Node "{found["ID"]}" drain strategy set',
        ]
        for line in lines:
            ui.line(line)
        for message in self._follow_drain(found["ID"], before, ignore_system, timeout):
            line = f"{format_time()}: {message}"
            ui.line(line)
            lines.append(line)
        return Text("\n".join(lines))

    def _follow_drain(
        self, node_id: str, before: dict[str, dict], ignore_system: bool, timeout: float | None
    ) -> Iterator[str]:
        """MonitorDrain: allocation changes until the drain completes and the node is empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        node_done = allocs_done = False
        index = 0
        while not (node_done and allocs_done):
            if deadline is not None and time.monotonic() > deadline:
                raise NomadLabError(
                    f"The drain of node {limit(node_id)} is still running after {timeout:g}s; "
                    "it carries on in the background (nomad node status shows it)."
                )
            with self._api():
                response = self.nomad.node.request(
                    node_id, "allocations", method="get", params={"index": index, "wait": "5s"}
                )
                node = self.nomad.node.get_node(node_id)
            index = int(response.headers.get("X-Nomad-Index") or 0)
            allocs = response.json()
            yield from drain_messages(node_id, before, allocs)
            before = {a["ID"]: a for a in allocs}
            if not node_done and node.get("DrainStrategy") is None:
                node_done = True
                yield f"Drain complete for node {node_id}"
            if not allocs_done and allocs_stopped(allocs, ignore_system):
                allocs_done = True
                yield f'All allocations on node "{node_id}" have stopped'

    def _practice_node(self, node: str, verb: str, what: str) -> Text:
        if not self.agent.practice and self.agent.mode != "practice":
            raise NomadLabError(NOT_PRACTICE.format(verb=verb, what=what))
        found = self.find_node(node)
        url = f"{self.address}/v1/practice/node/{found['ID']}/{verb}"
        with self._api():
            response = self.nomad.node.session.put(url, timeout=30, verify=self.nomad.node.verify)
        if not response.ok:
            raise NomadLabError(f"{verb} node {found['Name']}: {response.text.strip()}")
        answer = response.json()
        if verb == "fail":
            return self._say(
                f'Node "{answer["Name"]}" failed: its tasks are gone and it stopped '
                "heartbeating. Nomad marks it down once its heartbeat TTL and grace pass."
            )
        return self._say(f'Node "{answer["Name"]}" is back and heartbeating.')

    def node_fail(self, node: str) -> Text:
        """Practice agent only: the node's machine dies (tasks killed, heartbeats stop)."""
        return self._practice_node(node, "fail", "dying")

    def node_recover(self, node: str) -> Text:
        """Practice agent only: the failed node's machine comes back."""
        return self._practice_node(node, "recover", "coming back")

    def wait_node(self, node: str, status: str, timeout: float = 120.0) -> Text:
        """Wait until the node's status is ``status`` (``down``, ``ready``), with blocking
        queries on ``GET /v1/node/:id``, and say how long it took."""
        found = self.find_node(node)
        started, index = time.monotonic(), 0
        while found.get("Status") != status:
            if time.monotonic() - started > timeout:
                raise NomadLabError(
                    f'Node "{found["Name"]}" is still {found.get("Status")} after {timeout:g}s.'
                )
            with self._api():
                response = self.nomad.node.request(
                    found["ID"], method="get", params={"index": index, "wait": "5s"}
                )
            index, found = int(response.headers.get("X-Nomad-Index") or 0), response.json()
        return self._say(
            f'Node "{found["Name"]}" is {status} (after {time.monotonic() - started:.0f}s)'
        )

    def wait_running(self, job: str, count: int, timeout: float = 120.0) -> RunResult:
        """Wait until ``count`` allocations of ``job`` run (and no more are pending), with
        blocking queries on ``GET /v1/job/:id/allocations``; their table."""
        started, index = time.monotonic(), 0
        while True:
            with self._api():
                response = self.nomad.job.request(
                    job, "allocations", method="get", params={"index": index, "wait": "5s"}
                )
            index, allocs = int(response.headers.get("X-Nomad-Index") or 0), response.json()
            wanted = [a for a in allocs if a["DesiredStatus"] == "run"]
            if len(wanted) == count and all(a["ClientStatus"] == "running" for a in wanted):
                return RunResult(job, allocations=allocation_table(allocs))
            if time.monotonic() - started > timeout:
                raise NomadLabError(
                    f'Job "{job}" does not run {count} allocations after {timeout:g}s: '
                    f'lab.status("{job}") shows what Nomad is doing.'
                )

    # -- allocations ---------------------------------------------------------------------------

    def alloc_status(self, alloc: str, verbose: bool = False) -> Text:
        """``nomad alloc status [-verbose] ALLOC``, by allocation ID (prefix) or job."""
        found = self._find_alloc(alloc)
        stats, stats_error = None, ""
        with self._api():
            node = self.nomad.node.get_node(found["NodeID"])
            followup = found.get("FollowupEvalID")
            evaluation = self.nomad.evaluation.get_evaluation(followup) if followup else {}
        if found.get("ClientStatus") == "running" and node.get("Status") != "down":
            try:  # as the CLI, say why the client gave no statistics and carry on
                with self._api():
                    stats = self.nomad.client.allocation.read_allocation_stats(found["ID"])
            except NomadAPIError as exc:
                stats_error = str(exc)
        return Text(
            format_alloc_status(
                found,
                verbose,
                stats,
                parse_time(evaluation.get("WaitUntil")),
                node_down=node.get("Status") == "down",
                stats_error=stats_error,
            )
        )

    def alloc_restart(self, alloc: str, task: str | None = None, all_tasks: bool = False) -> Text:
        """``nomad alloc restart ALLOC [TASK]``: restart tasks in place (not a reschedule)."""
        found = self._find_alloc(alloc)
        body = {"TaskName": task or "", "AllTasks": all_tasks}
        with self._api():
            self.nomad.client.allocation.request(found["ID"], "restart", method="put", json=body)
        return Text("")

    def alloc_signal(self, alloc: str, signal: str = "SIGKILL", task: str | None = None) -> Text:
        """``nomad alloc signal [-s SIGNAL] ALLOC [TASK]`` (Nomad's default signal is SIGKILL)."""
        found = self._find_alloc(alloc)
        body = {"Signal": signal, "Task": task or ""}
        with self._api():
            self.nomad.client.allocation.request(found["ID"], "signal", method="put", json=body)
        return Text("")

    def alloc_stop(self, alloc: str, detach: bool = False) -> RunResult:
        """``nomad alloc stop ALLOC``: stop it and follow the evaluation that replaces it."""
        found = self._find_alloc(alloc)
        with self._api():
            response = self.nomad.allocation.stop_allocation(found["ID"])
        eval_id = response.get("EvalID", "")
        if detach or not eval_id:
            self._say(eval_id)
            return RunResult(found["JobID"], eval_id)
        outcome = self._monitor(self._ui()).monitor_eval(eval_id, None)
        with self._api():
            allocs = self.nomad.job.get_allocations(found["JobID"])
        return RunResult(
            found["JobID"],
            eval_id,
            eval_status=outcome.evaluation.get("Status", ""),
            allocations=allocation_table(allocs),
        )

    def _say(self, text: str) -> Text:
        self._ui().line(text)
        return Text(text)


def several_nodes(lab: Lab, nodes: int = 3) -> Lab:
    """A Lab on a cluster with at least ``nodes`` nodes, for the notebooks about several.

    ``lab`` itself on a cluster it attached to, or on an agent that has them; otherwise (a
    one-node practice agent or ``nomad agent -dev``) a Lab on a practice agent with ``nodes``
    simulated nodes on a free port and the classroom's
    heartbeat timers (``nomadlab/practice/classroom.hcl``), which ``stop_agent()`` stops
    (the kit's own agent keeps running). One such agent is recorded
    under ``NOMADLAB_HOME`` and reused while it runs, so an interrupted notebook run again
    leaves no second one behind.
    """
    import json

    import psutil

    from nomadlab import agent as agents
    from nomadlab.lab import Lab
    from nomadlab.practice import Agent
    from nomadlab.practice.config import CLASSROOM

    found = recorded_nodes(lab, nodes)
    if found is not None:
        return found
    log = agents.home() / f"agent-{nodes}-nodes.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    practice = Agent(http_port=None, nodes=nodes, log_file=log, config=[CLASSROOM]).start()
    running = agents.RunningAgent(
        mode="practice",
        address=practice.address,
        pid=practice.pid,
        create_time=psutil.Process(practice.pid).create_time(),
        log_file=log,
        started_by_kit=True,
        practice=True,
        command=practice.command(),  # so that stop_agent() can prove it is the kit's
    )
    _record(nodes).write_text(json.dumps(running.to_json(), indent=2) + "\n")
    return Lab(running, quiet=lab.quiet)


def _record(nodes: int) -> Path:
    from nomadlab import agent as agents

    return agents.home() / f"agent-{nodes}-nodes.json"


def recorded_nodes(lab: Lab, nodes: int = 3) -> Lab | None:
    """What ``several_nodes(lab, nodes)`` returns, without starting anything: ``lab`` on a
    cluster it attached to or an agent with the nodes, the recorded practice agent while it
    runs, else None. For checkers that look where a notebook's exercise ran."""
    import json

    from nomadlab import agent as agents
    from nomadlab.lab import Lab

    attached_cluster = lab.mode == "attach" and not lab.agent.practice
    if attached_cluster or len(lab.nodes()) >= nodes:
        return lab
    record = _record(nodes)
    if record.exists():
        running = agents.RunningAgent.from_json(json.loads(record.read_text()))
        if agents._process(running.pid, running.create_time) is not None:
            return Lab(running, quiet=lab.quiet)
    return None


def until(condition: Callable[[], T], timeout: float = 120.0, what: str = "it") -> T:
    """Poll ``condition`` (every 0.2s) until it returns something truthy; a notebook's
    wait, with a ceiling instead of a hang."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise NomadLabError(f"Waited {timeout:g}s for {what}; it did not happen.")
        time.sleep(0.2)
    return result
