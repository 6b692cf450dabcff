"""Tasks of one group living and dying together, as Nomad 1.9.7's client runs them: a dead
leader or a failed task takes its siblings down, ``shutdown_delay`` is waited out with the
services already gone, and a group check's ``check_restart`` restarts the group's tasks."""

from __future__ import annotations

import sys
import time

import nomad
import requests
from conftest import task_processes, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.structs import parse_rfc3339

JOB = "lifecycle"
SLEEP = "import time; time.sleep(120)"


def task_hcl(name: str, code: str, extra: str = "") -> str:
    """A raw_exec task running ``code`` in this interpreter."""
    return f"""
    task "{name}" {{
      driver = "raw_exec"
      config {{
        command = "{sys.executable}"
        args    = ["-c", "{code}"]
      }}
      kill_timeout = "1s"
      resources {{
        cpu    = 20
        memory = 32
      }}
      {extra}
    }}"""


def job_hcl(tasks: str, group: str = "", job_type: str = "service") -> str:
    """A one-group job that never restarts or reschedules unless ``group`` says so."""
    restart = "" if "restart {" in group else 'restart {\n attempts = 0\n mode = "fail"\n }'
    return f"""
job "{JOB}" {{
  type = "{job_type}"
  group "g" {{
    {restart}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    network {{
      port "http" {{}}
      port "spare" {{}}
    }}
    {group}
    {tasks}
  }}
}}
"""


def run(client: nomad.Nomad, hcl: str) -> None:
    parsed = client.jobs.request("parse", method="post", json={"JobHCL": hcl}).json()
    client.jobs.register_job({"Job": parsed})


def the_alloc(client: nomad.Nomad, status: str) -> dict:
    (alloc,) = wait_for(
        lambda: [a for a in client.job.get_allocations(JOB) if a["ClientStatus"] == status],
        what=f"the allocation to be {status}",
    )
    return client.allocation.get_allocation(alloc["ID"])


def all_running(client: nomad.Nomad, tasks: int) -> dict:
    def check() -> dict | None:
        for alloc in client.job.get_allocations(JOB):
            states = alloc["TaskStates"] or {}
            if len(states) == tasks and all(s["State"] == "running" for s in states.values()):
                return alloc
        return None

    return wait_for(check, what="every task to run")


def registrations(agent: Agent, name: str) -> list[dict]:
    response = requests.get(f"{agent.address}/v1/service/{name}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def nomad_service(name: str) -> str:
    return f'service {{\n name = "{name}"\n provider = "nomad"\n port = "http"\n }}'


def events(state: dict, kind: str) -> list[dict]:
    return [e for e in state["Events"] if e["Type"] == kind]


def test_a_dead_leader_kills_its_siblings(client: nomad.Nomad) -> None:
    """Follows TestAllocRunner_TaskLeader_KillTG: the leader of a batch group exits; its
    sibling is told "Leader Task Dead", killed with its kill timeout, and the allocation
    completes."""
    run(
        client,
        job_hcl(
            task_hcl("task1", SLEEP)
            + task_hcl("task2", "import time; time.sleep(1)", "leader = true"),
            job_type="batch",
        ),
    )
    alloc = the_alloc(client, "complete")
    follower, leader = alloc["TaskStates"]["task1"], alloc["TaskStates"]["task2"]
    for state in (follower, leader):
        assert (state["State"], state["Failed"]) == ("dead", False)
        assert state["StartedAt"] and state["FinishedAt"]
    (dead,) = events(follower, "Leader Task Dead")
    assert dead["DisplayMessage"] == "Leader Task in Group dead"
    (killing,) = events(follower, "Killing")
    assert killing["DisplayMessage"] == "Sent interrupt. Waiting 1s before force killing"
    assert [e["Type"] for e in follower["Events"]][-4:] == [
        "Leader Task Dead",
        "Killing",
        "Terminated",
        "Killed",
    ]
    assert not events(leader, "Leader Task Dead")  # the leader itself just terminated
    assert not task_processes({alloc["ID"]})


def test_a_failed_task_kills_its_siblings_after_telling_them(client: nomad.Nomad) -> None:
    """Follows TestAllocRunner_TaskFailed_KillTG: a task fails past its restart policy; its
    running sibling gets "Sibling Task Failed" naming it, then is killed; the allocation
    fails and its deployment health is set (unhealthy)."""
    run(
        client,
        job_hcl(
            task_hcl("task1", SLEEP)
            + task_hcl("crasher", "import time, sys; time.sleep(0.3); sys.exit(3)"),
            group='update {\n min_healthy_time = "1s"\n healthy_deadline = "1m"\n }',
        ),
    )
    alloc = the_alloc(client, "failed")
    sibling, failed = alloc["TaskStates"]["task1"], alloc["TaskStates"]["crasher"]
    assert (failed["State"], failed["Failed"]) == ("dead", True)
    assert (sibling["State"], sibling["Failed"]) == ("dead", False)
    (told,) = events(sibling, "Sibling Task Failed")
    assert told["DisplayMessage"] == 'Task\'s sibling "crasher" failed'
    assert told["FailedSibling"] == "crasher"
    assert told["Details"] == {"failed_sibling": "crasher"}
    kinds = [e["Type"] for e in sibling["Events"]]
    assert kinds[-4:] == ["Sibling Task Failed", "Killing", "Terminated", "Killed"]
    # Nomad's killTasks sends every task its Killing event, the dead one included.
    assert [e["Type"] for e in failed["Events"]][-3:] == ["Terminated", "Not Restarting", "Killing"]
    assert alloc["DeploymentStatus"]["Healthy"] is False
    assert not task_processes({alloc["ID"]})


def test_stopping_kills_the_leader_first(client: nomad.Nomad) -> None:
    """Follows TestAllocRunner_TaskLeader_StopTG: stopping an allocation kills its leader,
    and waits for it, before the other tasks. Differs: in Nomad the followers may or may not
    also get "Leader Task Dead" (and a second "Killing"), as two goroutines race; the
    practice agent always tells them once and kills them once, so the test asserts neither."""
    tasks = task_hcl("follower1", SLEEP) + task_hcl("leader", SLEEP, "leader = true")
    run(client, job_hcl(tasks + task_hcl("follower2", SLEEP)))
    alloc = all_running(client, 3)
    client.job.deregister_job(JOB)
    alloc = the_alloc(client, "complete")
    finished = {name: parse_rfc3339(s["FinishedAt"]) for name, s in alloc["TaskStates"].items()}
    assert finished["leader"] < finished["follower1"]
    assert finished["leader"] < finished["follower2"]
    assert not task_processes({alloc["ID"]})


def test_shutdown_delay_waits_with_the_service_gone(agent: Agent, client: nomad.Nomad) -> None:
    """Follows TestTaskRunner_ShutdownDelay: on a stop the task's service is deregistered
    first, then the task waits its shutdown_delay (pending, still alive, the allocation not
    terminal) and only then is killed. Differs: TestTaskRunner_NoShutdownDelay is not
    ported, as the practice server never sets DesiredTransition.NoShutdownDelay (no
    ``-no-shutdown-delay`` on job or alloc stop), so the delay cannot be skipped."""
    extra = 'shutdown_delay = "1s"\n' + nomad_service("delayed")
    run(client, job_hcl(task_hcl("web", SLEEP, extra)))
    alloc = all_running(client, 1)
    wait_for(lambda: registrations(agent, "delayed"), what="the service to register")
    client.job.deregister_job(JOB)
    wait_for(lambda: not registrations(agent, "delayed"), what="the service to leave")
    # The client sends task states in batches (allocSync), the services' removal at once.
    during = wait_for(
        lambda: (
            (a := client.allocation.get_allocation(alloc["ID"]))["TaskStates"]["web"]["State"]
            == "pending"  # handleKill: UpdateState(pending, the delay's event)
            and a
        ),
        what="the task to wait, pending",
    )
    state = during["TaskStates"]["web"]
    assert during["ClientStatus"] == "pending"  # so getClientStatus says, as in Nomad
    assert task_processes({alloc["ID"]}), "the task was killed before its shutdown_delay"
    (waiting,) = events(state, "Waiting for shutdown delay")
    assert waiting["DisplayMessage"] == "Waiting for shutdown_delay of 1s before killing the task."

    state = the_alloc(client, "complete")["TaskStates"]["web"]
    kinds = [e["Type"] for e in state["Events"]]
    assert kinds[-4:] == ["Killing", "Waiting for shutdown delay", "Terminated", "Killed"]
    (waiting,) = events(state, "Waiting for shutdown delay")
    (terminated,) = events(state, "Terminated")
    assert terminated["Time"] - waiting["Time"] >= 1_000_000_000
    assert not task_processes({alloc["ID"]})


def test_group_shutdown_delay_deregisters_then_waits(agent: Agent, client: nomad.Nomad) -> None:
    """Follows TestAllocRunner_TaskGroup_ShutdownDelay: a stop deregisters the group's
    service at once, then the tasks run on for the group's shutdown_delay (the allocation
    still running) before any is killed."""
    group = 'shutdown_delay = "1s"\n' + nomad_service("grouped")
    tasks = task_hcl("follower1", SLEEP) + task_hcl("leader", SLEEP, "leader = true")
    run(client, job_hcl(tasks, group=group))
    alloc = all_running(client, 2)
    wait_for(lambda: registrations(agent, "grouped"), what="the group service to register")
    shutdown_init = time.time_ns()
    client.job.deregister_job(JOB)
    wait_for(lambda: not registrations(agent, "grouped"), what="the group service to leave")
    during = client.allocation.get_allocation(alloc["ID"])
    assert during["ClientStatus"] == "running"
    assert all(not events(s, "Killing") for s in during["TaskStates"].values())
    assert len(task_processes({alloc["ID"]})) == 2

    states = the_alloc(client, "complete")["TaskStates"]
    for name in ("leader", "follower1"):
        assert parse_rfc3339(states[name]["FinishedAt"]) > shutdown_init + 1_000_000_000
        assert not events(states[name], "Waiting for shutdown delay")  # no task-level delay


def check_restart_group(attempts: int, tasks: str) -> str:
    """A group with a group-level tcp check that always fails (nothing listens on "spare")
    and restarts the group's tasks at its first failure after a 1s grace."""
    return job_hcl(
        tasks,
        group=f"""
    restart {{
      attempts = {attempts}
      delay    = "0s"
      interval = "1h"
      mode     = "fail"
    }}
    service {{
      name     = "flaky"
      provider = "nomad"
      port     = "spare"
      check {{
        name     = "spare-tcp"
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
        check_restart {{
          limit = 1
          grace = "1s"
        }}
      }}
    }}""",
    )


def test_a_group_check_restart_restarts_every_task(client: nomad.Nomad) -> None:
    """Nomad has no test of its own for this; it follows the source: the group service
    hook's restarter is the alloc runner (watcher asyncRestart -> allocRunner.Restart ->
    restartTasks), so a failing group check restarts each running task with "Restart
    Signaled", as a failure that goes through the restart policy ("Restart within
    policy")."""
    run(client, check_restart_group(5, task_hcl("a", SLEEP) + task_hcl("b", SLEEP)))

    def restarted() -> dict | None:
        for alloc in client.job.get_allocations(JOB):
            states = alloc["TaskStates"] or {}
            if len(states) == 2 and all(
                events(s, "Restarting") and s["State"] == "running" for s in states.values()
            ):
                return alloc
        return None

    alloc = wait_for(restarted, what="both tasks to be restarted by the group check")
    for state in client.allocation.get_allocation(alloc["ID"])["TaskStates"].values():
        kinds = [e["Type"] for e in state["Events"]]
        first = kinds.index("Restart Signaled")
        assert kinds[first : first + 4] == [
            "Restart Signaled",
            "Terminated",
            "Restarting",
            "Started",
        ]
        signaled, _, restarting, _ = state["Events"][first : first + 4]
        assert signaled["DisplayMessage"] == 'healthcheck: check "spare-tcp" unhealthy'
        assert signaled["Details"] == {"restart_reason": 'healthcheck: check "spare-tcp" unhealthy'}
        assert restarting["RestartReason"] == "Restart within policy"
        assert restarting["DisplayMessage"] == "Task restarting in 0s"


def test_a_group_check_restart_exhausts_the_restart_policy(client: nomad.Nomad) -> None:
    """Follows TestTaskRunner_CheckWatcher_Restart, with the check on the group's service: a
    check that never passes restarts the task until the restart policy's attempts are spent,
    then the task fails."""
    run(client, check_restart_group(2, task_hcl("a", SLEEP)))
    state = the_alloc(client, "failed")["TaskStates"]["a"]
    assert (state["State"], state["Failed"], state["Restarts"]) == ("dead", True, 2)
    nomad_events = [  # the Nomad test's full list; both keep a task's last 10 events
        "Received",
        "Task Setup",
        "Started",
        *["Restart Signaled", "Terminated", "Restarting", "Started"] * 2,
        "Restart Signaled",
        "Terminated",
        "Not Restarting",
    ]
    assert [e["Type"] for e in state["Events"]] == nomad_events[-10:]
    (given_up,) = events(state, "Not Restarting")
    assert (
        given_up["DisplayMessage"]
        == 'Exceeded allowed attempts 2 in interval 1h0m0s and mode is "fail"'
    )
