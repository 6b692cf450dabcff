"""Shared fixtures: a real practice agent process on a free port, and python-nomad on it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import nomad
import psutil
import pytest
import requests

from nomadlab.practice import Agent
from nomadlab.recording import TERMINAL

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "jobs"
T = TypeVar("T")
pytest_plugins = ["file_order"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all-notebooks",
        action="store_true",
        help="tests/test_jupyterlab.py: run every notebook in JupyterLab in Chromium, not "
        "only those that show widgets or charts",
    )
    parser.addoption(
        "--lab-screenshots",
        metavar="DIR",
        help="tests/test_jupyterlab.py: after Run All, save a PNG of each cell that shows a "
        "widget or a chart, as the browser drew it, in DIR",
    )


def wait_for(condition: Callable[[], T], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` if it never does.

    The timeout is a ceiling for a broken agent, not a speed claim: speed is in bench/.
    """
    deadline = time.monotonic() + timeout
    pause = 0.05  # then longer, up to half a second: a long wait (a deployment's
    while True:  # min_healthy_time) need not cost the agent ten requests a second
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)


def task_processes(alloc_ids: set[str] | None = None) -> list[psutil.Process]:
    """Live processes started by a practice agent (they carry NOMAD_ALLOC_ID)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:  # any process may exit while we look at it
            alloc_id = proc.environ().get("NOMAD_ALLOC_ID")
            alive = proc.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if alloc_id and (alloc_ids is None or alloc_id in alloc_ids) and alive:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def module_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """One practice agent for a test module: starting one per test costs more CPU than
    most tests spend (the agent, its parse worker and its watchdog are Python processes)."""
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with Agent(http_port=None, log_file=log) as running:
        yield running


def reset(agent: Agent) -> None:
    """Bring an agent back to what a fresh one holds: no jobs, no task left running, and
    no allocations, evaluations or deployments (a forced GC, as ``nomad system gc``)."""
    code = agent.process.poll() if agent.process else "no process"
    assert code is None, f"the shared agent has exited ({code}); its log ends:\n{agent.log_tail()}"
    client = nomad.Nomad(address=agent.address, timeout=30)

    def state() -> list[dict]:
        return (
            client.allocations.get_allocations(namespace="*")
            + client.evaluations.get_evaluations()
            + client.deployments.get_deployments()
        )

    jobs = client.jobs.get_jobs(namespace="*")
    if jobs or state():  # most often the last test's reset has left nothing to do
        for job in jobs:
            client.job.deregister_job(job["ID"], purge=True, namespace=job["Namespace"])
        allocations = client.allocations.get_allocations
        wait_for(
            lambda: all(a["ClientStatus"] in TERMINAL for a in allocations(namespace="*")),
            what="every allocation of the shared agent to stop",
        )
        client.system.initiate_garbage_collection()

        def collected() -> bool:
            if not state():
                return True
            # A delayed evaluation (a reschedule's follow-up) was pending at the GC: it
            # runs at its time, then the next GC can take it.
            client.system.initiate_garbage_collection()
            return False

        wait_for(collected, what="the shared agent's GC")
    for namespace in client.namespaces.get_namespaces():
        if namespace["Name"] != "default":
            client.namespace.delete_namespace(namespace["Name"])
    changed = [
        n["Name"]
        for n in client.nodes.get_nodes()
        if n["Status"] != "ready" or n["SchedulingEligibility"] != "eligible"
    ]
    assert not changed, f"a test left nodes down, draining or ineligible: {changed}"


def practice_node(agent: Agent, node_id: str, action: str) -> requests.Response:
    """The practice agent's node failure: ``fail`` or ``recover`` one of its nodes."""
    return requests.put(f"{agent.address}/v1/practice/node/{node_id}/{action}", timeout=30)


def restore_nodes(agent: Agent) -> None:
    """Bring back every node a test failed (the practice agent's node failure), drained or
    marked ineligible, so that :func:`reset` finds them as a fresh agent has them."""
    client = nomad.Nomad(address=agent.address, timeout=30)
    for node in client.nodes.get_nodes():
        if node["Status"] != "ready":
            practice_node(agent, node["ID"], "recover")
            wait_for(
                lambda n=node: client.node.get_node(n["ID"])["Status"] == "ready",
                what=f"node {node['Name']} to come back",
            )
        if node["Drain"]:
            client.node.drain_node_with_spec(node["ID"], None, mark_eligible=True)
        elif node["SchedulingEligibility"] != "eligible":
            client.node.eligible_node(node["ID"], eligible=True)


@pytest.fixture
def agent(module_agent: Agent) -> Iterator[Agent]:
    """The module's practice agent, as a fresh one would be: reset before and after the test,
    so a test that leaves jobs behind never changes what the next one sees."""
    reset(module_agent)
    yield module_agent
    reset(module_agent)


@pytest.fixture
def client(agent: Agent) -> nomad.Nomad:
    """The unmodified python-nomad client pointed at the practice agent."""
    return nomad.Nomad(address=agent.address, timeout=30)


def raw_exec_job(
    job_id: str, count: int, command: str, args: list[str], cpu: int = 20, memory: int = 32
) -> dict:
    """A one-task raw_exec service job as JSON (group "g", task "t"), for jobs the
    tutorial's HCL does not cover."""
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": command, "args": args},
                        "Resources": {"CPU": cpu, "MemoryMB": memory},
                    }
                ],
            }
        ],
    }


def echo_hcl(fast: bool = False) -> str:
    """The tutorial's raw_exec job, or its variant with a 2s min_healthy_time."""
    return (JOBS / ("http-echo-fast.nomad.hcl" if fast else "http-echo.nomad.hcl")).read_text()


def echo_variables(count: int = 1) -> str:
    """The parse request's Variables (a var file) for the http-echo job on this interpreter."""
    return f'python = "{sys.executable}"\ncount = {count}\n'


def register_echo(
    client: nomad.Nomad, count: int = 1, fast: bool = False, min_healthy_ns: int | None = None
) -> dict:
    """Parse jobs/http-echo.nomad.hcl (or its fast variant) through the agent, register it
    (healthy after ``min_healthy_ns`` where a test reads a deployment's record, not its pace)."""
    parsed = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": echo_hcl(fast),
            "Canonicalize": True,
            "Variables": echo_variables(count),
        },
    ).json()
    if min_healthy_ns is not None:
        for group in parsed["TaskGroups"]:
            group["Update"]["MinHealthyTime"] = min_healthy_ns
    return client.jobs.register_job({"Job": parsed})
