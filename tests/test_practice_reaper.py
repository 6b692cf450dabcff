"""No task process outlives its job or the agent: not one caught mid-start by a SIGKILL, not
one that double-forks and calls setsid(), not after the watchdog itself was killed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nomad
import psutil
import pytest
from conftest import raw_exec_job, register_echo, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.client.reaper import children
from nomadlab.practice.client.watchdog import (
    AGENT_ID_VAR,
    HELPER_VAR,
    _marked_by_psutil,
    _owned_by_psutil,
    marked,
    owned_groups,
)

# The task forks a child that calls setsid() and forks the escapee, then exits: the escapee
# is in no process group of the task's and its parent is gone.
ESCAPE = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
time.sleep(3600)
"""


def escape_job(job_id: str = "escape") -> dict:
    return raw_exec_job(job_id, 1, sys.executable, ["-c", ESCAPE])


def processes_of(data_dir: str) -> list[psutil.Process]:
    """Live processes started for allocations under ``data_dir`` (escapees included: they
    inherit the task's environment)."""
    found = []
    for proc in psutil.process_iter():
        try:
            alloc_dir = proc.environ().get("NOMAD_ALLOC_DIR", "")
            alive = proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue
        if alive and alloc_dir.startswith(data_dir + os.sep):
            found.append(proc)
    return found


def kill_all(processes: list[psutil.Process]) -> None:
    for proc in processes:
        try:
            proc.kill()
        except psutil.Error:
            continue


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[Agent, nomad.Nomad, str]]:
    """An agent, its client and its data dir; whatever the test leaves running is killed."""
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log").start()
    client = nomad.Nomad(address=agent.address, timeout=30)
    data_dir = client.agent.get_agent()["config"]["DataDir"]
    try:
        yield agent, client, data_dir
    finally:
        agent.stop()
        kill_all(processes_of(data_dir))


def wait_escaped(client: nomad.Nomad, data_dir: str, job_id: str = "escape") -> None:
    client.jobs.register_job({"Job": escape_job(job_id)})
    wait_for(
        lambda: [a for a in client.job.get_allocations(job_id) if a["ClientStatus"] == "running"],
        what="the escaping task to run",
    )
    wait_for(lambda: len(processes_of(data_dir)) >= 2, what="the task and its escapee")
    sessions = {os.getsid(p.pid) for p in processes_of(data_dir)}
    assert len(sessions) >= 2, "the escapee should have a session of its own"


def test_job_stop_kills_a_task_that_double_forked_and_called_setsid(started) -> None:
    agent, client, data_dir = started
    wait_escaped(client, data_dir)
    client.job.deregister_job("escape")
    wait_for(lambda: not processes_of(data_dir), what="the task and its escapee to be killed")
    assert agent.process.poll() is None


def test_agent_sigterm_kills_a_task_that_double_forked(started) -> None:
    agent, client, data_dir = started
    wait_escaped(client, data_dir)
    assert agent.stop(timeout=30) == 0
    wait_for(lambda: not processes_of(data_dir), what="the task and its escapee to be killed")


def test_agent_sigkill_kills_a_task_that_double_forked(started) -> None:
    agent, client, data_dir = started
    wait_escaped(client, data_dir)
    os.kill(agent.pid, signal.SIGKILL)
    agent.process.wait()
    wait_for(lambda: not processes_of(data_dir), what="the task and its escapee to be killed")


def test_sigkill_at_random_moments_of_a_scale_up_leaves_no_task(tmp_path: Path) -> None:
    """16 trials: run again with count 1 → 8, SIGKILL the agent 10–130 ms later: no task
    may survive."""
    rng = random.Random(9)
    survivors: list[str] = []
    for trial in range(16):
        agent = Agent(http_port=None, log_file=tmp_path / f"agent-{trial}.log").start()
        client = nomad.Nomad(address=agent.address, timeout=30)
        data_dir = client.agent.get_agent()["config"]["DataDir"]
        try:
            register_echo(client, count=1)
            wait_for(lambda d=data_dir: processes_of(d), what="the first task")
            register_echo(client, count=8)  # count 1 → 8, as `nomad job run` does it
            time.sleep(rng.uniform(0.010, 0.130))
            os.kill(agent.pid, signal.SIGKILL)
            agent.process.wait()
            deadline = time.monotonic() + 15
            while processes_of(data_dir) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = processes_of(data_dir)
            survivors += [f"trial {trial}: pid {p.pid}" for p in left]
        finally:
            agent.stop()
            kill_all(processes_of(data_dir))
    assert survivors == []


def watchdog(agent: Agent) -> psutil.Process | None:
    """The agent's live watchdog process, if it has one."""
    for proc in psutil.Process(agent.pid).children():
        try:
            if "nomadlab.practice.client.watchdog" in " ".join(proc.cmdline()):
                return proc
        except psutil.Error:
            continue
    return None


def test_a_killed_watchdog_is_replaced_and_knows_every_task(started) -> None:
    agent, client, data_dir = started
    register_echo(client, count=2, fast=True, min_healthy_ns=300_000_000)
    wait_for(
        lambda: (
            (client.job.get_deployment("http-microservice") or {}).get("Status") == "successful"
        ),
        what="the first deployment",
    )
    first = watchdog(agent)
    assert first is not None
    first.kill()
    replaced = wait_for(
        lambda: (w := watchdog(agent)) is not None and w.pid != first.pid and w,
        what="a new watchdog",
    )
    assert "watchdog process" in agent.log_tail(50) and "starting a new one" in agent.log_tail(50)
    client.job.request(
        "http-microservice", "scale", method="post", json={"Count": 4, "Target": {"Group": "echo"}}
    )
    wait_for(
        lambda: len([a for a in client.job.get_allocations("http-microservice")
                     if a["ClientStatus"] == "running"]) == 4,
        what="four running allocations",
    )  # fmt: skip
    assert replaced.is_running()
    os.kill(agent.pid, signal.SIGKILL)
    agent.process.wait()
    wait_for(lambda: not processes_of(data_dir), what="every task to be killed")


def test_the_proc_listings_find_what_psutil_finds() -> None:
    """The reaper and the watchdog read /proc directly on Linux; psutil is their answer
    elsewhere, and both must name the same processes."""
    marker = {**os.environ, AGENT_ID_VAR: "marker-under-test"}
    kids = [subprocess.Popen(["sleep", "30"], env=marker) for _ in range(3)]
    stranger = subprocess.Popen(["sleep", "30"], env={**marker, AGENT_ID_VAR: "another"})
    try:
        assert {p.pid for p in children()} == {p.pid for p in psutil.Process().children()}
        assert {p.pid for p in kids} < {p.pid for p in children()}
        assert sorted(marked("marker-under-test")) == sorted(p.pid for p in kids)
        assert sorted(_marked_by_psutil("marker-under-test")) == sorted(p.pid for p in kids)
    finally:
        for proc in [*kids, stranger]:
            proc.kill()
            proc.wait()


def test_the_watchdog_kills_only_the_listed_groups_that_are_still_the_agents() -> None:
    """A listed group whose processes are gone frees its number, and another process may
    lead a group of that number: another agent's task, or a learner's program. When the
    agent stops, its watchdog kills the groups that still hold one of its processes, and
    no other."""
    agent_id = "watchdog-under-test"

    def group(env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(["sleep", "30"], env=env, start_new_session=True)

    task = group({**os.environ, AGENT_ID_VAR: agent_id})
    worker = group({**os.environ, HELPER_VAR: agent_id})
    other_agents = group({**os.environ, AGENT_ID_VAR: "another-agent"})
    learners = group({k: v for k, v in os.environ.items() if k != AGENT_ID_VAR})
    everyone = [task, worker, other_agents, learners]
    listed = {p.pid for p in everyone}
    try:
        assert owned_groups(listed, agent_id) == {task.pid, worker.pid}
        assert _owned_by_psutil(listed, agent_id) == {task.pid, worker.pid}
        watchdog = subprocess.run(
            [sys.executable, "-m", "nomadlab.practice.client.watchdog", agent_id],
            input="".join(f"+{pid}\n" for pid in listed),
            text=True,
            timeout=60,
        )
        assert watchdog.returncode == 0
        assert task.wait(10) == -signal.SIGKILL and worker.wait(10) == -signal.SIGKILL
        assert other_agents.poll() is None and learners.poll() is None, "a stranger was killed"
    finally:
        for proc in everyone:
            proc.kill()
            proc.wait()


SETTLE = """
import json, os, subprocess, sys
from nomadlab.practice.client.reaper import Reaper, task_owner
reaper = Reaper(subreaper=True)
env = reaper.task_environment({**os.environ, "NOMAD_ALLOC_ID": "a1", "NOMAD_TASK_NAME": "t"})
task = subprocess.Popen(["sleep", "30"], env=env, start_new_session=True)
reaper.tasks[task.pid] = task_owner(env)
stray = subprocess.Popen(["sleep", "30"], start_new_session=True)
# What a sweep off the event loop may have read between each fork and exec: the agent's
# own environment and process group, for both.
stale = {k: v for k, v in os.environ.items()}
killed = reaper._settle([(task.pid, False, stale, os.getpgid(0)),
                         (stray.pid, False, stale, os.getpgid(0))])
try:
    task.wait(timeout=1)
except subprocess.TimeoutExpired:
    alive = True
else:
    alive = False
print(json.dumps({"killed": killed, "task": alive, "groups": sorted(reaper.groups),
                  "task_pid": task.pid}))
task.kill()
reaper.close()
"""


def test_a_sweep_that_read_a_task_before_its_exec_does_not_kill_it() -> None:
    done = subprocess.run([sys.executable, "-c", SETTLE], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["task"], "the running task was killed for an environment read before exec"
    assert result["killed"] == 1, "the unmarked orphan is still killed"
    assert result["groups"] == [result["task_pid"]], "the task's own group is tracked"
