"""The practice agent over time: deployments, scaling, restarts, logs, blocking queries, nodes."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import nomad
import pytest
import requests
from conftest import register_echo, task_processes, wait_for
from nomad.api import exceptions

from nomadlab.practice import Agent

JOB = "http-microservice"


def register_hcl(client: nomad.Nomad, hcl: str) -> dict:
    parsed = client.jobs.request("parse", method="post", json={"JobHCL": hcl}).json()
    return client.jobs.register_job({"Job": parsed})


def service_hcl(
    name: str,
    command_args: str,
    count: int = 1,
    restart: str = 'attempts = 2\n delay = "1s"\n interval = "1h"\n mode = "fail"',
    reschedule: str = "attempts = 0\n unlimited = false",
    update: str = 'min_healthy_time = "1s"\n healthy_deadline = "1m"',
) -> str:
    """A raw_exec service job running this interpreter with ``command_args``."""
    return f"""
job "{name}" {{
  group "app" {{
    count = {count}
    restart {{ {restart} }}
    reschedule {{ {reschedule} }}
    update {{ {update} }}
    network {{ port "http" {{}} }}
    task "main" {{
      driver = "raw_exec"
      config {{
        command = "{sys.executable}"
        args = {command_args}
      }}
      resources {{
        cpu = 50
        memory = 32
      }}
    }}
  }}
}}
"""


ECHO_ARGS = (
    '["-m", "nomadlab.echo", "-listen", "${NOMAD_ADDR_http}", '
    '"-text", "hi from ${NOMAD_ALLOC_INDEX}"]'
)
CRASH_ARGS = '["-c", "import sys; print(\\"boom\\"); sys.exit(3)"]'


def latest_deployment(client: nomad.Nomad, job_id: str = JOB) -> dict | None:
    return client.job.get_deployment(job_id)


def deployment_ends(client: nomad.Nomad, job_id: str = JOB, timeout: float = 90) -> dict:
    return wait_for(
        lambda: (
            (d := latest_deployment(client, job_id))
            and d["Status"] in ("successful", "failed")
            and d
        ),
        timeout=timeout,
        what="the deployment to end",
    )


def live(client: nomad.Nomad, job_id: str = JOB) -> list[dict]:
    return [
        a
        for a in client.job.get_allocations(job_id)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    ]


def scale(client: nomad.Nomad, job_id: str, count: int | None, group: str | None = "echo"):
    body: dict = {"Target": {"Group": group} if group else {}, "Message": "from a test"}
    if count is not None:
        body["Count"] = count
    return client.job.request(job_id, "scale", method="post", json=body)


def test_echo_deployment_becomes_successful_then_scales_to_three(client: nomad.Nomad) -> None:
    register_echo(client, fast=True)  # min_healthy_time 2s: the same steps, 16 s less waiting
    first = wait_for(lambda: latest_deployment(client), what="a deployment")
    assert first["Status"] == "running"
    assert first["TaskGroups"]["echo"]["DesiredTotal"] == 1
    done = deployment_ends(client)
    assert (done["Status"], done["StatusDescription"]) == (
        "successful",
        "Deployment completed successfully",
    )
    assert done["TaskGroups"]["echo"]["HealthyAllocs"] == 1
    (alloc,) = client.deployment.get_deployment_allocations(done["ID"])
    assert alloc["DeploymentStatus"]["Healthy"] is True
    assert client.job.get_job(JOB)["Stable"] is True

    response = scale(client, JOB, 3).json()
    evaluation = client.evaluation.get_evaluation(response["EvalID"])
    assert evaluation["TriggeredBy"] == "job-scaling"
    second = wait_for(
        lambda: (d := latest_deployment(client))["ID"] != done["ID"] and d, what="a new deployment"
    )
    assert second["TaskGroups"]["echo"]["DesiredTotal"] == 3
    ended = deployment_ends(client)
    assert ended["Status"] == "successful"
    assert ended["TaskGroups"]["echo"]["HealthyAllocs"] == 3
    assert client.job.get_job(JOB)["Version"] == 1
    status = client.job.request(JOB, "scale", method="get").json()
    assert status["TaskGroups"]["echo"]["Desired"] == 3
    assert status["TaskGroups"]["echo"]["Healthy"] == 3
    (event,) = status["TaskGroups"]["echo"]["Events"]
    assert (event["PreviousCount"], event["Count"], event["Message"]) == (1, 3, "from a test")


def test_scaling_waits_for_the_active_deployment(client: nomad.Nomad) -> None:
    register_echo(client)
    assert wait_for(lambda: latest_deployment(client))["Status"] == "running"
    with pytest.raises(exceptions.BadRequestNomadException) as raised:
        scale(client, JOB, 3)
    assert raised.value.nomad_resp.text == "job scaling blocked due to active deployment"
    assert client.job.get_job(JOB)["Version"] == 0


def test_a_spec_change_rolls_out_max_parallel_at_a_time(client: nomad.Nomad) -> None:
    slow = 'max_parallel = 1\n min_healthy_time = "30s"\n healthy_deadline = "2m"'
    register_hcl(client, service_hcl("rolling", ECHO_ARGS, count=3, update=slow))
    first = wait_for(lambda: latest_deployment(client, "rolling"), what="a deployment")
    client.deployment.fail_deployment(first["ID"])  # no need to wait 30s for version 0
    changed = service_hcl("rolling", ECHO_ARGS.replace("hi from", "hello from"), 3, update=slow)
    register_hcl(client, changed)
    second = wait_for(
        lambda: (d := latest_deployment(client, "rolling"))["JobVersion"] == 1 and d,
        what="the new version's deployment",
    )
    new = wait_for(
        lambda: [a for a in live(client, "rolling") if a["JobVersion"] == 1],
        what="the first replacement",
    )
    # One replacement at a time: the next waits until this one has been healthy for 30s.
    assert len(new) == 1
    assert len([a for a in live(client, "rolling") if a["JobVersion"] == 0]) == 2
    stopped = [a for a in client.job.get_allocations("rolling") if a["DesiredStatus"] == "stop"]
    assert [a["DesiredDescription"] for a in stopped] == [
        "alloc is being updated due to job update"
    ]
    assert stopped[0]["Name"] == new[0]["Name"]
    assert client.deployment.get_deployment(second["ID"])["TaskGroups"]["app"]["PlacedAllocs"] == 1

    register_hcl(client, changed.replace("hello from", "howdy from"))
    cancelled = wait_for(
        lambda: (
            (d := client.deployment.get_deployment(second["ID"]))["Status"] == "cancelled" and d
        ),
        what="the older deployment to be cancelled",
    )
    assert cancelled["StatusDescription"] == "Cancelled due to newer version of job"


def test_a_rolling_update_replaces_every_allocation_then_succeeds(client: nomad.Nomad) -> None:
    quick = 'max_parallel = 1\n min_healthy_time = "1s"\n healthy_deadline = "1m"'
    register_hcl(client, service_hcl("rolled", ECHO_ARGS, count=3, update=quick))
    deployment_ends(client, "rolled")
    register_hcl(
        client,
        service_hcl("rolled", ECHO_ARGS.replace("hi from", "hello from"), 3, update=quick),
    )
    done = wait_for(
        lambda: (
            (d := latest_deployment(client, "rolled"))["JobVersion"] == 1
            and d["Status"] in ("successful", "failed")
            and d
        ),
        what="the rolling update to end",
    )
    assert done["Status"] == "successful"
    assert done["TaskGroups"]["app"]["HealthyAllocs"] == 3
    assert sorted(a["JobVersion"] for a in live(client, "rolled")) == [1, 1, 1]
    replaced = [a for a in client.job.get_allocations("rolled") if a["DesiredStatus"] == "stop"]
    assert len(replaced) == 3
    assert {a["DesiredDescription"] for a in replaced} == {
        "alloc is being updated due to job update"
    }


def test_scaling_down_stops_the_highest_indexes_first(client: nomad.Nomad) -> None:
    register_echo(client, count=3, fast=True, min_healthy_ns=300_000_000)
    deployment_ends(client)
    scale(client, JOB, 1)
    remaining = wait_for(lambda: (r := live(client)) and len(r) == 1 and r)
    assert remaining[0]["Name"] == f"{JOB}.echo[0]"
    stopped = [a for a in client.job.get_allocations(JOB) if a["DesiredStatus"] == "stop"]
    assert sorted(a["Name"] for a in stopped) == [f"{JOB}.echo[1]", f"{JOB}.echo[2]"]
    assert {a["DesiredDescription"] for a in stopped} == {"alloc not needed due to job update"}


@pytest.mark.parametrize(
    ("body_group", "count", "status", "message"),
    [
        (None, 2, 400, "missing task group name for scaling action"),
        ("echo", -1, 400, "scaling action count can't be negative"),
        ("nope", 2, 400, 'task group "nope" specified for scaling does not exist in job'),
    ],
)
def test_scale_errors(
    client: nomad.Nomad, body_group: str | None, count: int, status: int, message: str
) -> None:
    register_echo(client)
    with pytest.raises(exceptions.BaseNomadException) as raised:
        scale(client, JOB, count, group=body_group)
    assert raised.value.nomad_resp.status_code == status
    assert raised.value.nomad_resp.text == message


def test_scale_unknown_job_is_404(client: nomad.Nomad) -> None:
    with pytest.raises(exceptions.URLNotFoundNomadException) as raised:
        scale(client, "ghost", 2)
    assert raised.value.nomad_resp.text == 'job "ghost" not found'


def test_crashing_task_restarts_per_policy_then_fails_its_deployment(client: nomad.Nomad) -> None:
    register_hcl(client, service_hcl("crasher", CRASH_ARGS))
    deployment = deployment_ends(client, "crasher")
    assert deployment["Status"] == "failed"
    assert deployment["StatusDescription"] == "Failed due to unhealthy allocations"
    (alloc,) = client.job.get_allocations("crasher")
    alloc = client.allocation.get_allocation(alloc["ID"])
    assert alloc["ClientStatus"] == "failed"
    assert alloc["DeploymentStatus"]["Healthy"] is False
    state = alloc["TaskStates"]["main"]
    assert state["State"] == "dead" and state["Failed"] is True
    assert state["Restarts"] == 2
    kinds = [e["Type"] for e in state["Events"]]
    assert kinds.count("Restarting") == 2
    assert kinds[-1] == "Not Restarting"
    assert (
        'Exceeded allowed attempts 2 in interval 1h0m0s and mode is "fail"'
        in (state["Events"][-1]["DisplayMessage"])
    )
    terminated = [e for e in state["Events"] if e["Type"] == "Terminated"]
    assert terminated and all(e["ExitCode"] == 3 for e in terminated)
    logs = client.client.stream_logs.stream(alloc["ID"], "main", "stdout", plain=True)
    assert logs.count("boom") == 3
    # No reschedule allowed and nothing left to run: Nomad calls the job dead.
    wait_for(lambda: client.job.get_job("crasher")["Status"] == "dead", what="a dead job")


def test_a_zero_restart_delay_is_honoured(client: nomad.Nomad) -> None:
    register_hcl(client, service_hcl("eager", CRASH_ARGS, restart='attempts = 1\n delay = "0s"'))
    restarting = wait_for(
        lambda: [
            e
            for a in client.job.get_allocations("eager")
            for e in (a["TaskStates"] or {}).get("main", {}).get("Events", [])
            if e["Type"] == "Restarting"
        ],
        what="a Restarting event",
    )
    assert restarting[0]["StartDelay"] == 0
    assert restarting[0]["DisplayMessage"] == "Task restarting in 0s"


def test_failed_allocation_is_rescheduled_with_links(client: nomad.Nomad) -> None:
    hcl = service_hcl(
        "resched",
        CRASH_ARGS,
        restart='attempts = 0\n mode = "fail"',
        reschedule='attempts = 1\n interval = "1h"\n delay = "5s"\n unlimited = false',
    )
    register_hcl(client, hcl)
    allocs = wait_for(
        lambda: (
            (a := client.job.get_allocations("resched"))
            and len(a) == 2
            and all(x["ClientStatus"] == "failed" for x in a)
            and a
        ),
        what="the original and its replacement to fail",
    )
    first, second = sorted(allocs, key=lambda a: a["CreateIndex"])
    assert first["NextAllocation"] == second["ID"]
    assert first["FollowupEvalID"]
    followup = client.evaluation.get_evaluation(first["FollowupEvalID"])
    assert followup["TriggeredBy"] == "alloc-failure"
    full = client.allocation.get_allocation(second["ID"])
    assert full["PreviousAllocation"] == first["ID"]
    assert len(full["RescheduleTracker"]["Events"]) == 1
    assert second["Name"] == first["Name"]


def test_killed_task_comes_back(client: nomad.Nomad) -> None:
    register_hcl(client, service_hcl("phoenix", ECHO_ARGS))
    (alloc,) = wait_for(
        lambda: [a for a in live(client, "phoenix") if a["ClientStatus"] == "running"]
    )
    (proc,) = task_processes({alloc["ID"]})
    os.kill(proc.pid, signal.SIGKILL)
    state = wait_for(
        lambda: (
            (s := client.allocation.get_allocation(alloc["ID"])["TaskStates"]["main"])["Restarts"]
            == 1
            and s["State"] == "running"
            and s
        ),
        what="the task to restart",
    )
    kinds = [e["Type"] for e in state["Events"]]
    assert kinds[-3:] == ["Terminated", "Restarting", "Started"]
    (terminated,) = [e for e in state["Events"] if e["Type"] == "Terminated"]
    assert terminated["Signal"] == signal.SIGKILL
    assert terminated["ExitCode"] == 128 + signal.SIGKILL  # as Nomad's executor reports it
    assert terminated["DisplayMessage"] == "Exit Code: 137, Signal: 9"
    assert terminated["Details"] == {"exit_code": "137", "signal": "9"}
    (new_proc,) = wait_for(lambda: task_processes({alloc["ID"]}))
    assert new_proc.pid != proc.pid


def test_alloc_restart_starts_the_task_again_at_once(client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    (before,) = task_processes({alloc["ID"]})
    client.client.allocation.restart_allocation(alloc["ID"])  # nomad alloc restart <alloc>
    state = wait_for(
        lambda: (
            (s := client.allocation.get_allocation(alloc["ID"])["TaskStates"]["server"])["State"]
            == "running"
            and s["Restarts"] == 1
            and s
        ),
        what="the task to run again",
    )
    kinds = [e["Type"] for e in state["Events"]]
    assert kinds[-4:] == ["Restart Signaled", "Terminated", "Restarting", "Started"]
    signaled, _, restarting, _ = state["Events"][-4:]
    assert signaled["DisplayMessage"] == "User requested running tasks to restart"
    assert restarting["DisplayMessage"] == "Task restarting in 0s"  # not the policy's 15s
    (after,) = wait_for(lambda: task_processes({alloc["ID"]}))
    assert after.pid != before.pid


def test_alloc_signal_reaches_the_task(client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    client.client.allocation.signal_allocation(alloc["ID"], "SIGKILL", task="server")

    def events() -> list[dict]:
        return client.allocation.get_allocation(alloc["ID"])["TaskStates"]["server"]["Events"]

    wait_for(lambda: any(e["Type"] == "Terminated" for e in events()), what="the task to end")
    signaling, terminated = [e for e in events() if e["Type"] in ("Signaling", "Terminated")][:2]
    assert signaling["DisplayMessage"] == "Task being sent signal SIGKILL"
    assert signaling["TaskSignal"] == "SIGKILL"
    assert terminated["Signal"] == signal.SIGKILL


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Signal": "SIGUSR1", "Task": "ghost"}, "Task not found"),
    ],
)
def test_alloc_signal_errors(agent: Agent, client: nomad.Nomad, body: dict, message: str) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    response = requests.post(
        f"{agent.address}/v1/client/allocation/{alloc['ID']}/signal", json=body, timeout=10
    )
    assert response.status_code == 500 and response.text == message


def test_stopping_an_allocation_replaces_it(client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    client.allocation.stop_allocation(alloc["ID"])
    (replacement,) = wait_for(
        lambda: [a for a in live(client) if a["ID"] != alloc["ID"]], what="a replacement"
    )
    assert replacement["Name"] == alloc["Name"]
    stopped = client.allocation.get_allocation(alloc["ID"])
    assert stopped["DesiredStatus"] == "stop"
    wait_for(lambda: client.allocation.get_allocation(alloc["ID"])["ClientStatus"] == "complete")


def test_logs_files_and_stats_of_the_echo(agent: Agent, client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    logs = wait_for(
        lambda: client.client.stream_logs.stream(alloc["ID"], "server", "stdout", plain=True),
        what="the echo's first log line",
    )
    assert "server is listening on 127.0.0.1:" in logs
    # The agent logs each task event as Nomad's client does, for whoever reads its log.
    started = (
        f"[INFO]  client.alloc_runner.task_runner: Task event: alloc_id={alloc['ID']} "
        'task=server type=Started msg="Task started by client" failed=false'
    )
    assert started in agent.log_file.read_text()
    framed = requests.get(
        f"{agent.address}/v1/client/fs/logs/{alloc['ID']}",
        params={"task": "server", "type": "stdout"},
        timeout=10,
    ).json()
    assert framed["File"] == "alloc/logs/server.stdout.0"
    listing = {f["Name"]: f["IsDir"] for f in client.client.ls.list_files(alloc["ID"], "/")}
    assert listing == {"alloc": True, "server": True}
    logs_dir = {f["Name"] for f in client.client.ls.list_files(alloc["ID"], "alloc/logs")}
    assert {"server.stdout.0", "server.stderr.0"} <= logs_dir
    assert "listening" in client.client.cat.read_file(alloc["ID"], "alloc/logs/server.stdout.0")
    stats = client.client.allocation.read_allocation_stats(alloc["ID"])
    assert stats["ResourceUsage"]["MemoryStats"]["RSS"] > 1_000_000
    assert stats["Tasks"]["server"]["ResourceUsage"]["MemoryStats"]["RSS"] > 1_000_000


def test_follow_streams_what_the_task_writes_next(agent: Agent, client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    with requests.get(
        f"{agent.address}/v1/client/fs/logs/{alloc['ID']}",
        params={"task": "server", "type": "stdout", "plain": "true", "follow": "true"},
        stream=True,
        timeout=60,
    ) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        assert "server is listening" in next(line for line in lines if line)
        full = client.allocation.get_allocation(alloc["ID"])
        (port,) = full["AllocatedResources"]["Shared"]["Ports"]
        requests.get(f"http://{port['HostIP']}:{port['Value']}/followed", timeout=10)
        assert '"GET /followed HTTP/1.1" 200' in next(line for line in lines if line)


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/../..", "alloc/../../.."])
def test_paths_outside_the_alloc_dir_are_refused(
    agent: Agent, client: nomad.Nomad, path: str
) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: live(client))
    for verb in ("cat", "ls", "stat"):
        response = requests.get(
            f"{agent.address}/v1/client/fs/{verb}/{alloc['ID']}", params={"path": path}, timeout=10
        )
        assert response.status_code == 400
        assert "escapes" in response.text
        assert "root:" not in response.text


def test_logs_need_task_and_type(agent: Agent, client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: live(client))
    url = f"{agent.address}/v1/client/fs/logs/{alloc['ID']}"
    assert requests.get(url, params={"type": "stdout"}, timeout=10).status_code == 400
    assert requests.get(url, params={"task": "server"}, timeout=10).status_code == 400


def test_blocking_query_waits_for_a_change_and_not_longer(
    agent: Agent, client: nomad.Nomad
) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])
    url = f"{agent.address}/v1/job/{JOB}/allocations"
    index = int(requests.get(url, timeout=10).headers["X-Nomad-Index"])

    started = time.monotonic()
    idle = requests.get(url, params={"index": index, "wait": "1s"}, timeout=30)
    assert time.monotonic() - started >= 1.0  # held for the whole wait: nothing changed
    assert int(idle.headers["X-Nomad-Index"]) == index

    answer: dict = {}

    def block() -> None:
        answer["response"] = requests.get(url, params={"index": index, "wait": "5m"}, timeout=300)

    waiter = threading.Thread(target=block)
    waiter.start()
    wait_for(lambda: client.agent.get_agent()["stats"]["practice"]["blocking_queries"] == "1")
    assert "response" not in answer
    client.allocation.stop_allocation(alloc["ID"])
    waiter.join(timeout=60)
    response = answer["response"]
    assert int(response.headers["X-Nomad-Index"]) > index
    assert any(a["DesiredStatus"] == "stop" for a in response.json())


def test_a_job_run_again_after_a_purge_starts_a_fresh_summary(client: nomad.Nomad) -> None:
    register_echo(client, count=2)
    wait_for(lambda: len(live(client)) == 2)
    client.job.deregister_job(JOB, purge=True)
    register_echo(client)
    wait_for(lambda: client.job.get_summary(JOB)["Summary"]["echo"]["Running"] == 1)
    summary = client.job.get_summary(JOB)["Summary"]["echo"]
    assert summary["Complete"] == 0 and summary["Running"] == 1
    assert len(client.job.get_allocations(JOB)) == 1
    assert (
        len(client.job.request(JOB, "allocations", params={"all": "true"}, method="get").json())
        == 3
    )


def test_job_status_moves_from_pending_to_running_to_dead(client: nomad.Nomad) -> None:
    register_echo(client)
    wait_for(lambda: client.job.get_job(JOB)["Status"] == "running", what="running")
    assert client.jobs.get_jobs()[0]["Status"] == "running"
    client.job.deregister_job(JOB)
    wait_for(lambda: client.job.get_job(JOB)["Status"] == "dead", what="dead")
    summary = client.job.get_summary(JOB)["Summary"]["echo"]
    assert summary["Complete"] == 1 and summary["Running"] == 0


@pytest.fixture
def three_nodes(tmp_path) -> Agent:
    with Agent(http_port=None, nodes=3, log_file=tmp_path / "agent.log") as agent:
        yield agent


def test_three_nodes_each_receive_allocations_and_a_drain_empties_one(three_nodes: Agent) -> None:
    client = nomad.Nomad(address=three_nodes.address, timeout=30)
    nodes = client.nodes.get_nodes()
    assert len(nodes) == 3 and len({n["ID"] for n in nodes}) == 3
    assert len({n["Name"] for n in nodes}) == 3
    register_echo(client, count=3)
    allocs = wait_for(lambda: (r := live(client)) and len(r) == 3 and r)
    assert {a["NodeID"] for a in allocs} == {n["ID"] for n in nodes}

    drained = allocs[0]["NodeID"]
    client.node.drain_node_with_spec(drained, {"Deadline": 0}, mark_eligible=False)
    moved = wait_for(
        lambda: (
            (r := live(client)) and len(r) == 3 and all(a["NodeID"] != drained for a in r) and r
        ),
        what="allocations to leave the drained node",
    )
    assert len(moved) == 3
    assert client.node.get_node(drained)["SchedulingEligibility"] == "ineligible"
    on_node = client.node.get_allocations(drained)
    assert all("Job" in a and "AllocatedResources" in a for a in on_node)  # full, as Nomad
    wait_for(
        lambda: all(a["ClientStatus"] == "complete" for a in client.node.get_allocations(drained))
    )
    assert on_node


def test_ineligible_node_gets_no_new_allocations(three_nodes: Agent) -> None:
    client = nomad.Nomad(address=three_nodes.address, timeout=30)
    nodes = client.nodes.get_nodes()
    client.node.eligible_node(nodes[0]["ID"], ineligible=True)
    register_echo(client, count=4)
    allocs = wait_for(lambda: (r := live(client)) and len(r) == 4 and r)
    assert nodes[0]["ID"] not in {a["NodeID"] for a in allocs}


def test_an_unknown_signal_is_sent_as_sigint_as_raw_exec_does(
    agent: Agent, client: nomad.Nomad
) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: [a for a in live(client) if a["ClientStatus"] == "running"])

    def stdout() -> str:
        return client.client.stream_logs.stream(alloc["ID"], "server", "stdout", plain=True)

    wait_for(lambda: "server is listening" in stdout(), what="the server to listen")
    response = requests.post(
        f"{agent.address}/v1/client/allocation/{alloc['ID']}/signal",
        json={"Signal": "SIGNOPE", "Task": "server"},
        timeout=10,
    )
    assert response.status_code == 200

    def events() -> list[dict]:
        return client.allocation.get_allocation(alloc["ID"])["TaskStates"]["server"]["Events"]

    wait_for(lambda: any(e["Type"] == "Terminated" for e in events()), what="the task to end")
    (signaling,) = [e for e in events() if e["Type"] == "Signaling"]
    assert signaling["TaskSignal"] == "SIGNOPE"
    terminated = next(e for e in events() if e["Type"] == "Terminated")
    # SIGINT is the echo server's clean stop: it says so and exits 0.
    assert (terminated["ExitCode"], terminated["Signal"]) == (0, 0)
    assert "server is shutting down" in stdout()
