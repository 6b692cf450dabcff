"""The practice agent through the unmodified python-nomad client: the tutorial's deploy step."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import nomad
import psutil
import pytest
import requests
from conftest import JOBS, echo_hcl, echo_variables, register_echo, task_processes, wait_for
from nomad.api import exceptions

from nomadlab.practice import Agent


def running_allocs(client: nomad.Nomad, job_id: str = "http-microservice") -> list[dict]:
    return [
        a
        for a in client.job.get_allocations(job_id)
        if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"
    ]


def http_port(client: nomad.Nomad, alloc_id: str) -> tuple[str, int]:
    """The allocation's host IP and port for label ``http``, read from the allocation."""
    alloc = client.allocation.get_allocation(alloc_id)
    (port,) = [p for p in alloc["AllocatedResources"]["Shared"]["Ports"] if p["Label"] == "http"]
    return port["HostIP"], port["Value"]


def fetch(ip: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{ip}:{port}/", timeout=5) as response:
        return response.read().decode()


def answers(ip: str, port: int) -> str | None:
    try:
        return fetch(ip, port)
    except OSError:
        return None


def test_banner_names_addresses_region_and_node(agent: Agent) -> None:
    banner = agent.log_file.read_text()
    assert "==> Nomad agent configuration:" in banner
    assert f"HTTP: {agent.bind}:{agent.http_port}" in banner
    assert "Client: true" in banner and "Server: true" in banner
    assert "Region: global (DC: dc1)" in banner
    assert "==> Nomad agent started! Log data will stream in below:" in banner
    assert banner.index("==> Nomad agent configuration:") < banner.index(
        "node registration complete"
    )


def test_agent_node_and_leader_look_like_a_dev_agent(agent: Agent, client: nomad.Nomad) -> None:
    assert client.status.leader.get_leader() == "127.0.0.1:4647"  # RPC port, whatever HTTP
    (node,) = client.nodes.get_nodes()
    assert node["Status"] == "ready" and node["Datacenter"] == "dc1"
    assert node["Version"] == "1.9.7"
    assert node["Drivers"]["raw_exec"]["Detected"] is True
    assert node["Drivers"]["docker"]["Detected"] is False
    assert node["Drivers"]["docker"]["HealthDescription"] == "Failed to connect to docker daemon"
    full = client.node.get_node(node["ID"])
    assert full["NodeResources"]["Memory"]["MemoryMB"] > 0
    assert full["NodeResources"]["Cpu"]["CpuShares"] > 0
    assert client.regions.get_regions() == ["global"]
    me = client.agent.get_agent()
    assert me["config"]["Region"] == "global" and me["config"]["Datacenter"] == "dc1"
    assert client.agent.get_members()["Members"][0]["Status"] == "alive"


def test_parse_tutorial_job_keeps_runtime_references(client: nomad.Nomad) -> None:
    job = client.jobs.parse((JOBS / "microservice.nomad").read_text(), canonicalize=True)
    assert job["ID"] == "http-microservice"
    (group,) = job["TaskGroups"]
    (task,) = group["Tasks"]
    assert (group["Name"], task["Name"], task["Driver"]) == ("echo", "server", "docker")
    assert task["Config"]["args"][1] == ":${NOMAD_PORT_http}"
    assert task["Resources"]["Networks"][0]["DynamicPorts"][0]["Label"] == "http"
    assert group["RestartPolicy"]["Attempts"] == 2  # canonicalized defaults


def test_parse_echo_job_with_variables(client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables(3)}
    ).json()
    (group,) = parsed["TaskGroups"]
    assert group["Count"] == 3
    assert group["Tasks"][0]["Config"]["command"] == sys.executable
    assert group["Networks"][0]["DynamicPorts"][0]["Label"] == "http"


def test_register_runs_echo_that_answers_on_its_dynamic_port(client: nomad.Nomad) -> None:
    response = register_echo(client)
    evaluation = wait_for(
        lambda: (
            (e := client.evaluation.get_evaluation(response["EvalID"]))["Status"] == "complete"
            and e
        ),
        what="evaluation to complete",
    )
    assert evaluation["TriggeredBy"] == "job-register"
    (alloc,) = wait_for(lambda: running_allocs(client), what="a running allocation")
    assert alloc["Name"] == "http-microservice.echo[0]"
    events = [e["Type"] for e in alloc["TaskStates"]["server"]["Events"]]
    assert events[:3] == ["Received", "Task Setup", "Started"]
    ip, port = http_port(client, alloc["ID"])
    assert 20000 <= port <= 32000
    text = wait_for(lambda: answers(ip, port), what="the echo to answer")
    assert text == f"Hello and welcome to {ip} running on port {port}\n"
    assert client.job.get_job("http-microservice")["Status"] == "running"


def test_rerun_with_count_three_converges_to_three_answering_ports(client: nomad.Nomad) -> None:
    register_echo(client, count=1)
    wait_for(lambda: len(running_allocs(client)) == 1, what="one running allocation")
    register_echo(client, count=3)
    allocs = wait_for(
        lambda: (r := running_allocs(client)) and len(r) == 3 and r, what="three allocations"
    )
    assert sorted(a["Name"] for a in allocs) == [f"http-microservice.echo[{i}]" for i in range(3)]
    ports = {http_port(client, a["ID"]) for a in allocs}
    assert len(ports) == 3
    for ip, port in ports:
        assert wait_for(lambda ip=ip, port=port: answers(ip, port)).endswith(f"port {port}\n")
    assert client.job.get_job("http-microservice")["Version"] == 1
    assert len(client.job.get_versions("http-microservice")["Versions"]) == 2


def test_purge_leaves_no_job_no_allocation_and_no_process(client: nomad.Nomad) -> None:
    register_echo(client, count=2)
    allocs = wait_for(lambda: (r := running_allocs(client)) and len(r) == 2 and r)
    alloc_ids = {a["ID"] for a in allocs}
    assert len(task_processes(alloc_ids)) == 2
    client.job.deregister_job("http-microservice", purge=True)
    with pytest.raises(exceptions.URLNotFoundNomadException):
        client.job.get_job("http-microservice")
    assert client.jobs.get_jobs() == []
    wait_for(lambda: not task_processes(alloc_ids), what="task processes to exit")
    stopped = wait_for(
        lambda: all(
            client.allocation.get_allocation(i)["ClientStatus"] == "complete" for i in alloc_ids
        ),
        what="allocations to complete",
    )
    assert stopped
    events = client.allocation.get_allocation(alloc_ids.pop())["TaskStates"]["server"]["Events"]
    assert [e["Type"] for e in events][-3:] == ["Killing", "Terminated", "Killed"]


def test_stop_without_purge_keeps_a_dead_job(client: nomad.Nomad) -> None:
    register_echo(client)
    wait_for(lambda: running_allocs(client))
    client.job.deregister_job("http-microservice")
    job = wait_for(
        lambda: (j := client.job.get_job("http-microservice"))["Status"] == "dead" and j,
        what="the job to be dead",
    )
    assert job["Stop"] is True


def test_docker_job_fails_to_place_with_missing_drivers(client: nomad.Nomad) -> None:
    parsed = client.jobs.parse((JOBS / "microservice.nomad").read_text())
    response = client.jobs.register_job({"Job": parsed})
    evaluation = wait_for(
        lambda: (
            (e := client.evaluation.get_evaluation(response["EvalID"]))["Status"] == "complete"
            and e
        )
    )
    failure = evaluation["FailedTGAllocs"]["echo"]
    assert failure["ConstraintFiltered"] == {"missing drivers": 1}
    assert failure["NodesEvaluated"] == 1 and failure["NodesFiltered"] == 1
    assert failure["ClassFiltered"] == {}  # the dev node has no node class
    assert evaluation["QueuedAllocations"] == {"echo": 1}
    blocked = client.evaluation.get_evaluation(evaluation["BlockedEval"])
    assert blocked["Status"] == "blocked" and blocked["TriggeredBy"] == "queued-allocs"
    assert client.job.get_allocations("http-microservice") == []
    assert client.job.get_job("http-microservice")["Status"] == "pending"
    assert client.job.get_summary("http-microservice")["Summary"]["echo"]["Queued"] == 1


def test_sigkill_of_the_agent_leaves_no_task_behind(tmp_path) -> None:
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log").start()
    try:
        client = nomad.Nomad(address=agent.address, timeout=30)
        register_echo(client, count=2)
        allocs = wait_for(lambda: (r := running_allocs(client)) and len(r) == 2 and r)
        alloc_ids = {a["ID"] for a in allocs}
        assert len(task_processes(alloc_ids)) == 2
        os.kill(agent.pid, signal.SIGKILL)
        agent.process.wait()
        wait_for(lambda: not task_processes(alloc_ids), what="orphaned tasks to be reaped")
    finally:
        agent.stop()


def test_sigkill_of_the_agent_removes_its_temporary_data_dir(tmp_path) -> None:
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log").start()
    try:
        client = nomad.Nomad(address=agent.address, timeout=30)
        data_dir = Path(client.agent.get_agent()["config"]["DataDir"])
        register_echo(client)
        wait_for(lambda: running_allocs(client))
        assert any(data_dir.rglob("server.stdout.0"))
        os.kill(agent.pid, signal.SIGKILL)
        agent.process.wait()
        wait_for(lambda: not data_dir.exists(), what="the data dir to be removed")
    finally:
        agent.stop()


def test_a_missing_command_is_a_driver_failure_with_its_name(client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    parsed["TaskGroups"][0]["Tasks"][0]["Config"]["command"] = "no-such-interpreter"
    client.jobs.register_job({"Job": parsed})
    (alloc,) = wait_for(lambda: client.job.get_allocations("http-microservice"))
    event = wait_for(
        lambda: next(
            (
                e
                for e in (client.allocation.get_allocation(alloc["ID"])["TaskStates"] or {})
                .get("server", {})
                .get("Events", [])
                if e["Type"] == "Driver Failure"
            ),
            None,
        ),
        what="a Driver Failure event",
    )
    assert "no-such-interpreter" in event["DriverError"]
    assert event["DisplayMessage"] == event["DriverError"]


def test_a_task_that_never_started_still_has_its_directories(client: nomad.Nomad) -> None:
    """Nomad's alloc dir and task dir hooks build the directories before the driver runs
    (client/allocrunner/taskrunner task_dir_hook.go): a learner looking into a task that
    failed to start finds its directory and its (empty) logs. The practice agent builds
    them with the task's start; one that never gets there has them built anyway."""
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    parsed["TaskGroups"][0]["Tasks"][0]["Config"]["command"] = "no-such-interpreter"
    client.jobs.register_job({"Job": parsed})
    (alloc,) = wait_for(lambda: client.job.get_allocations("http-microservice"))
    wait_for(
        lambda: any(
            e["Type"] == "Driver Failure"
            for e in (client.allocation.get_allocation(alloc["ID"])["TaskStates"] or {})
            .get("server", {})
            .get("Events", [])
        ),
        what="a Driver Failure event",
    )
    names = {f["Name"] for f in client.client.ls.list_files(alloc["ID"], "/")}
    assert {"alloc", "server"} <= names
    assert {f["Name"] for f in client.client.ls.list_files(alloc["ID"], "/server")} == {
        "local",
        "secrets",
        "tmp",
    }
    logs = {f["Name"]: f["Size"] for f in client.client.ls.list_files(alloc["ID"], "/alloc/logs")}
    assert logs == {"server.stdout.0": 0, "server.stderr.0": 0}


def test_binding_beyond_loopback_warns_in_the_banner(tmp_path) -> None:
    with Agent(http_port=None, bind="0.0.0.0", log_file=tmp_path / "agent.log") as agent:
        banner = agent.log_file.read_text()
    assert "WARNING: the API listens on 0.0.0.0, beyond this machine" in banner
    assert "with raw_exec on and no ACLs" in banner


def test_bind_must_be_an_ip_address() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nomadlab", "agent", "-dev", "-bind", "my-laptop"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "-bind takes an IP address" in result.stderr


def test_sigterm_stops_tasks_and_exits_zero(tmp_path) -> None:
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log").start()
    client = nomad.Nomad(address=agent.address, timeout=30)
    register_echo(client)
    (alloc,) = wait_for(lambda: running_allocs(client))
    assert agent.stop() == 0
    assert not task_processes({alloc["ID"]})
    assert "==> Caught signal: terminated" in agent.log_file.read_text()


def test_shutdown_answers_the_blocking_queries_still_waiting(tmp_path) -> None:
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log").start()
    client = nomad.Nomad(address=agent.address, timeout=30)
    url = f"{agent.address}/v1/jobs"
    index = int(requests.get(url, timeout=10).headers["X-Nomad-Index"])
    answers: list[requests.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            requests.get(url, params={"index": index, "wait": "5m"}, timeout=120)
        )
    )
    waiter.start()
    wait_for(lambda: client.agent.get_agent()["stats"]["practice"]["blocking_queries"] == "1")
    assert agent.stop() == 0
    waiter.join(timeout=60)
    (response,) = answers
    assert response.status_code == 200 and response.json() == []


def test_taken_port_is_reported_and_exits_non_zero() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "nomadlab", "agent", "-dev", "-http-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "already in use" in result.stderr


def test_agent_needs_dev_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nomadlab", "agent"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Must specify either server, client or dev mode" in result.stderr


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("PUT", "/v1/jobs", b"", 400, "Request body is empty"),
        ("PUT", "/v1/jobs", b"{not json", 400, "Failed to decode request body"),
        ("POST", "/v1/jobs/parse", b'{"JobHCL": "job \\"x\\" {"}', 400, "Failed to parse job"),
        ("POST", "/v1/jobs/parse", b'{"JobHCL": ""}', 400, "Job spec is empty"),
        ("GET", "/v1/job/nope", None, 404, "job not found"),
        ("GET", "/v1/allocation/0000000000", None, 404, "alloc not found"),
        ("GET", "/v1/evaluation/0000000000", None, 404, "eval not found"),
        ("GET", "/v1/node/0000000000", None, 404, "node not found"),
        ("DELETE", "/v1/nodes", None, 405, "Invalid method"),
        ("GET", "/v1/no/such/route", None, 404, "404 page not found"),
        ("GET", "/v1/jobs?index=1&wait=forever", None, 400, "Invalid wait time"),
    ],
)
def test_bad_input_gets_nomads_status_and_plain_text(
    agent: Agent, method: str, path: str, body: bytes | None, status: int, message: str
) -> None:
    response = requests.request(method, agent.address + path, data=body, timeout=10)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/plain")
    assert message in response.text


def test_negative_count_is_a_validation_error_and_registers_nothing(client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": "count = -1"}
    ).json()
    with pytest.raises(exceptions.BaseNomadException) as raised:
        client.jobs.register_job({"Job": parsed})
    response = raised.value.nomad_resp
    assert response.status_code == 500
    assert "count" in response.text and "negative" in response.text
    assert client.jobs.get_jobs() == []


def test_a_browser_lands_on_the_web_ui(agent: Agent) -> None:
    root = requests.get(agent.address + "/", timeout=10)
    assert [r.status_code for r in root.history] == [307, 307]
    assert root.url == agent.address + "/ui/jobs" and "practice agent" in root.text


def test_every_read_sends_the_index_headers(agent: Agent) -> None:
    response = requests.get(agent.address + "/v1/jobs", timeout=10)
    assert int(response.headers["X-Nomad-Index"]) >= 1
    assert response.headers["X-Nomad-KnownLeader"] == "true"


def test_task_processes_run_in_their_own_process_group(client: nomad.Nomad) -> None:
    register_echo(client)
    (alloc,) = wait_for(lambda: running_allocs(client))
    (proc,) = task_processes({alloc["ID"]})
    assert os.getpgid(proc.pid) == proc.pid
    assert proc.environ()["NOMAD_ALLOC_INDEX"] == "0"
    assert proc.environ()["NOMAD_TASK_DIR"].endswith(f"{alloc['ID']}/server/local")
    assert psutil.Process(proc.pid).cwd().endswith(f"{alloc['ID']}/server")


def test_bind_all_ipv6_listens_dual_stack_and_advertises_what_answers(tmp_path) -> None:
    with Agent(http_port=None, bind="::", log_file=tmp_path / "agent.log") as agent:
        for host in ("127.0.0.1", "[::1]"):
            url = f"http://{host}:{agent.http_port}/v1/status/leader"
            assert requests.get(url, timeout=10).status_code == 200, host
        (node,) = requests.get(f"{agent.address}/v1/nodes", timeout=10).json()
        advertised = node["Address"]
        assert requests.get(f"http://{advertised}:{agent.http_port}/v1/agent/self", timeout=10).ok
        assert f"HTTP: 127.0.0.1:{agent.http_port}" in agent.log_file.read_text()


def test_bind_ipv6_loopback_advertises_it_in_brackets(tmp_path) -> None:
    with Agent(http_port=None, bind="::1", log_file=tmp_path / "agent.log") as agent:
        assert agent.address == f"http://[::1]:{agent.http_port}"
        (stub,) = requests.get(f"{agent.address}/v1/nodes", timeout=10).json()
        node = requests.get(f"{agent.address}/v1/node/{stub['ID']}", timeout=10).json()
        assert node["HTTPAddr"] == f"[::1]:{agent.http_port}"
        assert stub["Address"] == "::1"
