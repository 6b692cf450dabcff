"""Node and allocation verbs of the kit (``lab.node_*``, ``lab.alloc_*``, ``nomadlab node|alloc``):
their printouts as Nomad's CLI prints them, and the verbs against a real 3-node practice agent."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import labkit
import matplotlib

matplotlib.use("Agg")

import pytest
from conftest import JOBS, reset, restore_nodes, task_processes, wait_for
from labkit import alive, run_cli
from matplotlib.colors import to_hex

from nomadlab.cluster import until
from nomadlab.command.alloc_status import format_alloc_status, format_placement, reschedule_attempts
from nomadlab.command.helpers import ibytes
from nomadlab.command.node_status import drain_messages, format_drain, format_node_list
from nomadlab.errors import NomadLabError
from nomadlab.lab import Lab, several_nodes
from nomadlab.plots import STATUS_COLORS, node_periods, placements_over_time
from nomadlab.practice import Agent
from nomadlab.probe import Probe

home = labkit.home
SECOND = 1_000_000_000


def test_ibytes_matches_go_humanize() -> None:
    assert [ibytes(n) for n in (512, 64 * 2**20, int(7.8 * 2**30), 300 * 2**20)] == [
        "512 B",
        "64 MiB",
        "7.8 GiB",
        "300 MiB",
    ]


def test_drain_field_and_node_list() -> None:
    assert format_drain({"Drain": False, "DrainStrategy": None}) == "false"
    forced = {"DrainStrategy": {"Deadline": -1, "ForceDeadline": "2026-01-01T00:00:00Z"}}
    assert format_drain(forced) == "true; force drain"
    endless = {"DrainStrategy": {"Deadline": 0, "ForceDeadline": "0001-01-01T00:00:00Z"}}
    assert format_drain(endless) == "true; no deadline"
    dated = {"DrainStrategy": {"Deadline": 60, "ForceDeadline": "2026-01-01T00:01:00Z",
                               "IgnoreSystemJobs": True}}  # fmt: skip
    assert re.fullmatch(r"true; 2026-01-01T\S+ deadline; ignoring system jobs", format_drain(dated))
    nodes = [
        {"ID": "0123456789ab", "NodePool": "default", "Datacenter": "dc1", "Name": "vm-1",
         "NodeClass": "", "Drain": True, "SchedulingEligibility": "ineligible", "Status": "ready"},
    ]  # fmt: skip
    assert format_node_list(nodes).splitlines() == [
        "ID        Node Pool  DC   Name  Class   Drain  Eligibility  Status",
        "01234567  default    dc1  vm-1  <none>  true   ineligible   ready",
    ]
    assert format_node_list([]) == "No nodes registered"


def test_drain_messages_follow_each_allocation() -> None:
    before = {
        "a1": {"ID": "a1", "ClientStatus": "running", "DesiredStatus": "run",
               "DesiredTransition": {"Migrate": None}},
        "a2": {"ID": "a2", "ClientStatus": "running", "DesiredStatus": "run",
               "DesiredTransition": {"Migrate": True}},
    }  # fmt: skip
    after = [
        dict(before["a1"], DesiredTransition={"Migrate": True}),
        dict(before["a2"], DesiredStatus="stop"),
        {"ID": "new", "ClientStatus": "pending"},  # not seen before: no message, as Nomad
    ]
    assert drain_messages("n", before, after) == [
        'Alloc "a1" marked for migration',
        'Alloc "a2" draining',
    ]
    done = [dict(before["a2"], DesiredStatus="stop", ClientStatus="complete")]
    assert drain_messages("n", before, done) == ['Alloc "a2" status running -> complete']


def failed_alloc(now: int) -> dict:
    group = {"Name": "echo", "ReschedulePolicy": {"Attempts": 3, "Interval": 3600 * SECOND}}
    return {
        "ID": "5f2c1e4a-0000-0000-0000-000000000000",
        "EvalID": "e" * 36,
        "Name": "web.echo[0]",
        "NodeID": "n" * 36,
        "NodeName": "vm-2",
        "JobID": "web",
        "Job": {"Version": 4, "TaskGroups": [group]},
        "TaskGroup": "echo",
        "ClientStatus": "failed",
        "ClientDescription": "Failed tasks",
        "DesiredStatus": "run",
        "DesiredDescription": "",
        "CreateTime": now - 60 * SECOND,
        "ModifyTime": now,
        "NextAllocation": "9" * 36,
        "RescheduleTracker": {
            "Events": [
                {"RescheduleTime": now - 30 * SECOND, "PrevAllocID": "x", "PrevNodeID": "y"},
                {"RescheduleTime": now - 7200 * SECOND, "PrevAllocID": "z", "PrevNodeID": "y"},
            ]
        },
        "TaskStates": {
            "server": {
                "State": "dead",
                "Failed": True,
                "Restarts": 1,
                "StartedAt": "2026-01-01T00:00:00Z",
                "FinishedAt": None,
                "LastRestart": None,
                "Events": [
                    {"Type": "Started", "Time": now - 20 * SECOND,
                     "DisplayMessage": "Task started by client"},
                    {"Type": "Not Restarting", "Time": now - 10 * SECOND,
                     "DisplayMessage": "Exceeded allowed attempts 1 in interval 30m0s"},
                ],
            }
        },
        "Metrics": {
            "NodesEvaluated": 3, "NodesFiltered": 1, "NodesExhausted": 0,
            "ConstraintFiltered": {"distinct_hosts": 1}, "NodesAvailable": {"dc1": 2},
            "ScoreMetaData": [
                {"NodeID": "n2", "NormScore": 0.5,
                 "Scores": {"binpack": 0.25, "job-anti-affinity": 0}},
            ],
        },
    }  # fmt: skip


def test_alloc_status_shows_reschedule_history_events_and_placement() -> None:
    now = time.time_ns()
    alloc = failed_alloc(now)
    assert reschedule_attempts(alloc, now) == (1, 3)  # the 2h-old reschedule is outside 1h
    text = format_alloc_status(alloc, verbose=False)
    assert "Reschedule Attempts  = 1/3" in text
    assert "Replacement Alloc ID = 99999999" in text
    assert "Node Name            = vm-2" in text
    assert 'Task "server" is "dead"' in text
    events = text[text.index("Recent Events:") :].splitlines()
    assert events[1].split()[0] == "Time" and "Not Restarting" in events[2]  # newest first
    assert "Total Restarts = 1" in text and "Finished At    = N/A" in text
    assert "Placement Metrics" not in text
    verbose = format_alloc_status(alloc, verbose=True)
    assert "Placement Metrics" in verbose and "Node ID              = " + "n" * 36 in verbose
    placement = format_placement(alloc["Metrics"])
    assert '* Constraint "distinct_hosts": 1 nodes excluded by filter' in placement
    assert placement.splitlines()[-2:] == [
        "Node  binpack  job-anti-affinity  final score",
        "n2    0.25     0                  0.5",
    ]


# -- against a practice agent with three nodes ----------------------------------------------------


@pytest.fixture(scope="module")
def three_node_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """One 3-node practice agent for the module."""
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with Agent(http_port=None, nodes=3, log_file=log) as agent:
        yield agent


@pytest.fixture
def three(three_node_agent: Agent, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    """The module's agent as a fresh one would be, named by NOMAD_ADDR: after the test its
    nodes are brought back and it is reset."""
    reset(three_node_agent)
    monkeypatch.setenv("NOMAD_ADDR", three_node_agent.address)
    yield three_node_agent
    restore_nodes(three_node_agent)
    reset(three_node_agent)


def run_ha(lab: Lab, count: int = 3) -> None:
    lab.run(JOBS / "http-echo-ha.nomad.hcl", python=sys.executable, count=count)


def test_node_verbs_from_python(three: Agent) -> None:
    lab = Lab(three.address, quiet=True)
    listing = lab.node_status()
    assert listing.splitlines()[0].split() == [
        "ID", "Node", "Pool", "DC", "Name", "Class", "Drain", "Eligibility", "Status",
    ]  # fmt: skip
    assert len(listing.splitlines()) == 4
    run_ha(lab)
    nodes = lab.nodes()
    first = nodes[0]["Name"]
    detail = lab.node_status(first)
    assert re.search(rf"^Name\s+= {first}$", detail, re.MULTILINE)
    assert "\nNode Events\n" in detail and "Node registered" in detail
    assert re.search(r"^\d+/\d+ MHz\s+64 MiB/", detail[detail.index("Allocated Resources") :],
                     re.MULTILINE)  # fmt: skip
    assert "\nAllocations\n" in detail and "running" in detail
    assert "Attributes" in lab.node_status(first, verbose=True)

    said = lab.node_eligibility(first, enable=False)
    assert said.endswith("scheduling eligibility set: ineligible for scheduling")
    assert lab.node_status(first).count("ineligible") >= 1
    lab.node_eligibility(first, enable=True)

    drained = lab.node_drain(first, deadline=60)
    lines = drained.splitlines()
    assert lines[0].endswith("Ctrl-C to stop monitoring: will not cancel the node drain")
    # "marked for migration" shows only when a poll sees the mark before the stop, as with
    # Nomad's monitor; on a busy machine the two can come in one answer. The unit test of
    # drain_messages covers both lines.
    assert any(re.search(r"status running -> complete$", line) for line in lines), drained
    assert any(f"Drain complete for node {nodes[0]['ID']}" in line for line in lines)
    assert any(f'All allocations on node "{nodes[0]["ID"]}" have stopped' in x for x in lines)
    node = lab.nomad.node.get_node(nodes[0]["ID"])
    assert node["DrainStrategy"] is None and node["SchedulingEligibility"] == "ineligible"
    with pytest.raises(NomadLabError, match="No node"):
        lab.node_status("no-such-node")
    lab.stop("http-ha", purge=True)


def test_alloc_verbs_and_the_practice_only_node_failure(three: Agent) -> None:
    lab = Lab(three.address, quiet=True)
    run_ha(lab, count=1)
    alloc = lab.nomad.job.get_allocations("http-ha")[0]
    status = lab.alloc_status(alloc["ID"][:8])
    assert status.startswith(f"ID                  = {alloc['ID']}")
    assert 'Allocation Addresses (mode = "host"):' in status
    assert re.search(r"\*http\s+yes\s+127\.0\.0\.1:\d+", status)
    assert "Recent Events:" in status and "Task started by client" in status
    assert "final score" in lab.alloc_status(alloc["ID"], verbose=True)

    lab.alloc_restart(alloc["ID"])
    wait_for(
        lambda: (
            lab.nomad.allocation.get_allocation(alloc["ID"])["TaskStates"]["server"]["Restarts"]
            == 1
        ),
        what="the restart",
    )
    lab.alloc_signal(alloc["ID"], "SIGTERM")
    assert "Task being sent signal SIGTERM" in lab.alloc_status(alloc["ID"])
    stopped = lab.alloc_stop(alloc["ID"])
    assert stopped.eval_id
    wait_for(lambda: not task_processes({alloc["ID"]}), what="the stopped task to exit")

    replacement = next(
        a for a in lab.nomad.job.get_allocations("http-ha") if a["ID"] != alloc["ID"]
    )
    said = lab.node_fail(replacement["NodeName"])
    assert "stopped heartbeating" in said
    with pytest.raises(NomadLabError, match="already failed"):
        lab.node_fail(replacement["NodeName"])
    assert "is back" in lab.node_recover(replacement["NodeName"])

    lab.agent.practice = False  # as an attached real cluster is
    lab.agent.mode = "attach"
    with pytest.raises(NomadLabError, match="only the practice agent can do that"):
        lab.node_fail(replacement["NodeName"])
    lab.agent.practice = True
    lab.stop("http-ha", purge=True)


def test_node_and_alloc_commands_in_a_terminal(three: Agent, home: Path) -> None:
    listing = run_cli("node", "status")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 4
    name = listing.stdout.splitlines()[1].split()[3]
    detail = run_cli("node", "status", "-verbose", name)
    assert detail.returncode == 0 and "\nDrivers\n" in detail.stdout
    off = run_cli("node", "eligibility", "-disable", name)
    assert "ineligible for scheduling" in off.stdout
    detached = run_cli("node", "drain", "-enable", "-deadline", "1m", "-detach", name)
    assert detached.returncode == 0 and detached.stdout.strip().endswith("drain strategy set")
    undone = run_cli("node", "drain", "-disable", name)
    assert undone.stdout.strip().endswith("drain strategy unset")
    neither = run_cli("node", "drain", name)
    assert neither.returncode == 1 and "'-enable' or '-disable'" in neither.stderr
    wrong = run_cli("node", "drain", "-enable", "-deadline", "soon", name)
    assert wrong.returncode == 1 and 'invalid duration "soon"' in wrong.stderr
    missing = run_cli("alloc", "status", "0000")
    assert missing.returncode == 1 and "names no job" in missing.stderr
    assert run_cli("node").returncode == 1


# -- the placements chart ------------------------------------------------------------------------

T0 = 1_795_550_000 * SECOND


def stamp_at(seconds: float) -> str:
    return datetime.fromtimestamp(T0 / SECOND + seconds, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000000000Z"
    )


def chart_alloc(alloc_id: str, node_id: str, index: int, status: str, begin: float,
                end: float, previous: str = "") -> dict:  # fmt: skip
    events = [{"Type": "Started", "Time": T0 + int(begin * SECOND) + SECOND}]
    return {
        "ID": alloc_id, "Name": f"web.echo[{index}]", "JobID": "web", "NodeID": node_id,
        "NodeName": node_id, "ClientStatus": status, "CreateIndex": int(begin),
        "CreateTime": T0 + int(begin * SECOND), "ModifyTime": T0 + int(end * SECOND),
        "PreviousAllocation": previous,
        "TaskStates": {"server": {"Events": events}},
    }  # fmt: skip


def test_placements_chart_shows_nodes_moves_and_down_periods() -> None:
    nodes = [
        {"ID": "n1", "Name": "vm-1", "Events": [
            {"Message": "Node registered", "Timestamp": stamp_at(0)},
            {"Message": "Node heartbeat missed", "Timestamp": stamp_at(30)},
            {"Message": "Node reregistered by heartbeat", "Timestamp": stamp_at(50)},
        ]},
        {"ID": "n2", "Name": "vm-2", "Events": [
            {"Message": "Node drain strategy set", "Timestamp": stamp_at(60)},
        ]},
    ]  # fmt: skip
    assert node_periods(nodes[0], T0 + 99 * SECOND) == [
        ("down", T0 + 30 * SECOND, T0 + 50 * SECOND)
    ]
    assert node_periods(nodes[1], T0 + 99 * SECOND) == [
        ("draining", T0 + 60 * SECOND, T0 + 99 * SECOND)
    ]
    allocs = [
        chart_alloc("a0", "n1", 0, "lost", 0, 30),
        chart_alloc("a1", "n2", 1, "running", 0, 0),
        chart_alloc("b0", "n2", 0, "running", 31, 31, previous="a0"),
    ]
    fig = placements_over_time(allocs, nodes, now_ns=T0 + 90 * SECOND)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["vm-1", "vm-2"]
    arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    assert len(arrows) == 1  # a0 → b0: the lost copy moved to vm-2
    labels = sorted(t.get_text() for t in ax.texts if t.get_text())
    assert labels == ["[0]", "[0]", "[1]"]
    colours = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert STATUS_COLORS["lost"] in colours and STATUS_COLORS["running"] in colours
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "node down" in legend and "moved to" in legend
    assert fig.alt == (
        "Where the copies of web ran: vm-1 (was down 20 s): [0] lost; "
        "vm-2 (was draining 30 s): [1] running and [0] running. Moved: [0] from vm-1 to vm-2."
    )
    assert placements_over_time([]).axes[0].texts[0].get_text() == "no allocations yet"


def test_probe_counts_requests_and_retries_another_copy_when_one_is_gone(three: Agent) -> None:
    lab = Lab(three.address, quiet=True)
    run_ha(lab, count=2)
    gone = lab.nomad.job.get_allocations("http-ha")[0]
    with Probe(lab, "http-ha", interval=0.02) as probe:
        until(lambda: probe.sent >= 5, what="the first requests")
        lab.alloc_stop(gone["ID"], detach=True)
        wait_for(lambda: not task_processes({gone["ID"]}), what="the stopped copy to exit")
        until(lambda: probe.sent >= 40, what="more requests")
    assert probe.failed == 0, probe.errors
    assert str(probe).startswith(f"{probe.sent} requests, 0 failed")
    lab.stop("http-ha", purge=True)
    with pytest.raises(NomadLabError, match="no running copy"), Probe(lab, "http-ha"):
        pass


def test_several_nodes_starts_one_practice_agent_reuses_it_and_stops_it(
    agent: Agent, home: Path
) -> None:
    one = Lab(agent.address, quiet=True)
    assert len(one.nodes()) == 1
    lab = several_nodes(one, nodes=3)
    try:
        assert lab is not one and len(lab.nodes()) == 3
        assert lab.agent.started_by_kit and lab.agent.practice
        server = lab.nomad.agent.get_agent()["config"]["Server"]
        assert (server["MinHeartbeatTTL"], server["HeartbeatGrace"]) == (2 * SECOND, 3 * SECOND)
        again = several_nodes(one, nodes=3)  # a notebook run again after an interruption
        assert again.address == lab.address
        assert several_nodes(lab, nodes=3) is lab
    finally:
        assert lab.stop_agent()
    assert not alive(lab.agent.pid)
    fresh = several_nodes(one, nodes=3)
    assert fresh.address != lab.address or fresh.agent.pid != lab.agent.pid
    assert fresh.stop_agent()
