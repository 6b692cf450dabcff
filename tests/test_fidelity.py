"""The practice agent answers as Nomad 1.9 does: every field of its structs, Nomad's list
orders, its exit codes, through python-nomad or plain HTTP against a real agent process."""

from __future__ import annotations

import base64
import json
import re
import sys
import time

import nomad
import pytest
import requests
from conftest import JOBS, echo_hcl, echo_variables, register_echo, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.structs import fields
from nomadlab.results import JobStatus


def successful_deployment(client: nomad.Nomad, job_id: str = "http-microservice") -> dict:
    return wait_for(
        lambda: (d := client.job.get_deployment(job_id)) and d["Status"] == "successful" and d,
        what="the deployment to succeed",
    )


@pytest.fixture
def echo_running(client: nomad.Nomad) -> dict[str, str]:
    """The tutorial's echo job deployed: the IDs the tutorial's endpoints are read with."""
    register_echo(client, fast=True, min_healthy_ns=300_000_000)
    deployment = successful_deployment(client)
    (alloc,) = client.job.get_allocations("http-microservice")
    return {
        "job": "http-microservice",
        "alloc": alloc["ID"],
        "eval": alloc["EvalID"],
        "deployment": deployment["ID"],
        "node": alloc["NodeID"],
    }


def test_every_tutorial_endpoint_has_exactly_nomads_keys(
    agent: Agent, echo_running: dict[str, str]
) -> None:
    for path, name, many in fields.TUTORIAL_ENDPOINTS:
        body = requests.get(agent.address + path.format(**echo_running), timeout=30).json()
        assert body, path
        assert fields.endpoint_differences(name, many, body) == [], path


def test_fields_nomad_leaves_empty_are_null_not_missing(
    client: nomad.Nomad, echo_running: dict[str, str]
) -> None:
    job = client.job.get_job("http-microservice")
    assert job["Meta"] is None  # KeyError on the practice agent before
    task = job["TaskGroups"][0]["Tasks"][0]
    assert (task["Env"], task["User"], task["KillSignal"], task["Templates"]) == (
        None,
        "",
        "",
        None,
    )
    assert task["Resources"]["DiskMB"] == 0
    alloc = client.allocation.get_allocation(echo_running["alloc"])
    assert alloc["AllocStates"] is None
    event = alloc["TaskStates"]["server"]["Events"][0]
    assert (event["DriverMessage"], event["KillError"]) == ("", "")
    node = client.node.get_node(echo_running["node"])
    assert {"Resources", "Reserved", "CgroupParent"} <= node.keys()
    evaluation = client.evaluation.get_evaluation(echo_running["eval"])
    assert evaluation["QueuedAllocations"] == {"echo": 0}
    stats = client.client.allocation.read_allocation_stats(echo_running["alloc"])
    assert {"TotalTicks", "Percent"} <= stats["ResourceUsage"]["CpuStats"].keys()
    assert {"RSS", "Cache", "Swap", "Usage", "MaxUsage"} <= stats["ResourceUsage"][
        "MemoryStats"
    ].keys()


def test_responses_keep_go_field_order(client: nomad.Nomad, echo_running: dict[str, str]) -> None:
    job = client.job.get_job("http-microservice")
    assert list(job) == fields.keys("Job")
    assert list(job["TaskGroups"][0]["Tasks"][0]) == fields.keys("Task")


def test_evaluation_and_deployment_lists_are_oldest_first(
    agent: Agent, client: nomad.Nomad, echo_running: dict[str, str]
) -> None:
    register_echo(client, count=2, fast=True)
    wait_for(lambda: len(client.deployments.get_deployments()) == 2, what="a second deployment")
    for path in ("/v1/evaluations", "/v1/deployments"):
        listed = requests.get(agent.address + path, timeout=30).json()
        indexes = [item["CreateIndex"] for item in listed]
        assert indexes == sorted(indexes) and len(indexes) >= 2, path
        reverse = requests.get(agent.address + path + "?reverse=true", timeout=30).json()
        assert [item["CreateIndex"] for item in reverse] == indexes[::-1], path


def test_job_versions_carry_query_meta(client: nomad.Nomad, echo_running: dict[str, str]) -> None:
    versions = client.job.get_versions("http-microservice")
    assert versions["KnownLeader"] is True and versions["LastContact"] == 0
    assert versions["Index"] >= versions["Versions"][0]["JobModifyIndex"]


def test_node_list_fills_resources_and_attributes_on_request(
    agent: Agent, echo_running: dict[str, str]
) -> None:
    (plain,) = requests.get(f"{agent.address}/v1/nodes", timeout=30).json()
    assert plain["NodeResources"] is None and plain["Attributes"] is None
    (full,) = requests.get(f"{agent.address}/v1/nodes?resources=true&os=true", timeout=30).json()
    assert full["NodeResources"]["Cpu"]["CpuShares"] > 0
    assert full["Attributes"]["os.name"]


# The endpoints Nomad's clients call ---------------------------------------------------------


def test_agent_servers_and_client_stats(client: nomad.Nomad) -> None:
    assert client.agent.get_servers() == ["127.0.0.1:4647"]
    stats = client.client.stats.read_stats()
    assert fields.differences("HostStats", stats) == []
    assert stats["Memory"]["Total"] > 0 and stats["CPU"] and stats["Uptime"] > 0
    assert stats["AllocDirStats"]["Size"] > 0
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        client.client.stats.read_stats(node_id="ffffffff-0000")


def test_client_gc_forgets_finished_allocations(agent: Agent, client: nomad.Nomad) -> None:
    register_echo(client, fast=True)
    (alloc,) = wait_for(lambda: client.job.get_allocations("http-microservice"))
    successful_deployment(client)
    client.job.deregister_job("http-microservice")
    wait_for(
        lambda: client.allocation.get_allocation(alloc["ID"])["ClientStatus"] == "complete",
        what="the allocation to complete",
    )
    assert client.client.ls.list_files(alloc["ID"])  # its directory is still there
    response = requests.put(f"{agent.address}/v1/client/gc", timeout=30)
    assert (response.status_code, response.text) == (200, "")

    def directory_gone() -> bool:
        try:
            client.client.ls.list_files(alloc["ID"])
        except nomad.api.exceptions.BaseNomadException:
            return True
        return False

    wait_for(directory_gone, what="the allocation's directory to be removed")
    assert client.allocation.get_allocation(alloc["ID"])["ClientStatus"] == "complete"


def test_job_evaluate_makes_a_new_evaluation(client: nomad.Nomad, echo_running: dict) -> None:
    answer = client.job.evaluate_job("http-microservice")
    assert set(answer) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings"}
    evaluation = wait_for(
        lambda: (
            (e := client.evaluation.get_evaluation(answer["EvalID"]))["Status"] == "complete" and e
        )
    )
    assert evaluation["TriggeredBy"] == "job-register"
    assert len(client.job.get_allocations("http-microservice")) == 1  # nothing to change
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        client.job.evaluate_job("no-such-job")


def test_node_evaluate_evaluates_the_jobs_on_it(client: nomad.Nomad, echo_running: dict) -> None:
    answer = client.node.evaluate_node(echo_running["node"])
    (eval_id,) = answer["EvalIDs"]
    evaluation = client.evaluation.get_evaluation(eval_id)
    assert (evaluation["TriggeredBy"], evaluation["NodeID"]) == (
        "node-update",
        echo_running["node"],
    )
    with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
        client.node.evaluate_node("ffffffff-0000-0000-0000-000000000000")


def test_scaling_policies_list_the_groups_scaling_blocks(agent: Agent, client: nomad.Nomad) -> None:
    assert client.scaling.get_scaling_policies() == []
    job = client.jobs.parse(
        'job "scaled" {\n  group "web" {\n    scaling {\n      min = 1\n      max = 4\n    }\n'
        '    task "t" {\n      driver = "raw_exec"\n      config { command = "sleep" }\n    }\n'
        "  }\n}\n",
        canonicalize=True,
    )
    client.jobs.register_job({"Job": job})
    (policy,) = client.scaling.get_scaling_policies()
    assert policy["Target"] == {"Namespace": "default", "Job": "scaled", "Group": "web"}
    assert (policy["Type"], policy["Enabled"]) == ("horizontal", True)
    full = requests.get(f"{agent.address}/v1/scaling/policy/{policy['ID']}", timeout=30).json()
    assert (full["Min"], full["Max"]) == (1, 4)
    client.jobs.register_job({"Job": job})  # the same spec again keeps the policy's ID
    assert [p["ID"] for p in client.scaling.get_scaling_policies()] == [policy["ID"]]
    client.job.deregister_job("scaled", purge=True)


def test_allocation_health_set_by_hand_decides_the_deployment(
    agent: Agent, client: nomad.Nomad
) -> None:
    job = client.jobs.request(
        "parse",
        method="post",
        json={"JobHCL": echo_hcl(), "Canonicalize": True, "Variables": echo_variables()},
    ).json()
    job["TaskGroups"][0]["Update"]["HealthCheck"] = "manual"
    client.jobs.register_job({"Job": job})
    deployment = wait_for(lambda: client.job.get_deployment("http-microservice"))
    (alloc,) = wait_for(
        lambda: [a for a in client.job.get_allocations(job["ID"]) if a["ClientStatus"] == "running"]
    )
    url = f"{agent.address}/v1/deployment/allocation-health/{deployment['ID']}"
    mismatch = requests.post(url, json={"DeploymentID": "other"}, timeout=30)
    assert (mismatch.status_code, mismatch.text) == (400, "Deployment ID does not match")
    empty = requests.post(url, json={"DeploymentID": deployment["ID"]}, timeout=30)
    assert empty.status_code == 400
    answer = client.deployment.deployment_allocation_health(
        deployment["ID"], healthy_allocations=[alloc["ID"]]
    )
    assert answer["EvalID"] and answer["RevertedJobVersion"] is None
    done = wait_for(
        lambda: (
            (d := client.deployment.get_deployment(deployment["ID"]))["Status"] != "running" and d
        )
    )
    assert done["Status"] == "successful"
    healthy = client.allocation.get_allocation(alloc["ID"])["DeploymentStatus"]["Healthy"]
    assert healthy is True
    terminal = requests.post(
        url, json={"DeploymentID": deployment["ID"], "UnhealthyAllocationIDs": [alloc["ID"]]}
    )
    assert (terminal.status_code, terminal.text) == (
        500,
        "can't set health of allocations for a terminal deployment",
    )


def test_rpc_port_is_4647_and_the_banner_logs_at_debug(agent: Agent, client: nomad.Nomad) -> None:
    assert agent.http_port != 4646
    assert client.status.leader.get_leader() == "127.0.0.1:4647"
    assert client.agent.get_agent()["config"]["Ports"]["RPC"] == 4647
    banner = agent.log_file.read_text()
    assert "Log Level: DEBUG" in banner


def test_register_returns_nomads_warnings(client: nomad.Nomad) -> None:
    job = client.jobs.parse((JOBS / "microservice.nomad").read_text(), canonicalize=True)
    answer = client.jobs.register_job({"Job": job})
    assert answer["Warnings"] == (
        '1 warning(s):\n\n* Group "echo" has warnings: 1 error occurred:\n'
        '\t* Task "server": task network resources have been deprecated as of Nomad 0.12.0. '
        "Please configure networking via group network block.\n\n"
    )
    client.job.deregister_job(job["ID"], purge=True)
    echo = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    assert client.jobs.register_job({"Job": echo})["Warnings"] == ""


def test_a_version_that_cannot_be_placed_leaves_the_old_one_running(
    client: nomad.Nomad, echo_running: dict[str, str]
) -> None:
    docker = client.jobs.parse((JOBS / "microservice.nomad").read_text(), canonicalize=True)
    answer = client.jobs.register_job({"Job": docker})  # same job, docker: cannot be placed
    evaluation = wait_for(
        lambda: (
            (e := client.evaluation.get_evaluation(answer["EvalID"]))["Status"] == "complete" and e
        )
    )
    assert evaluation["QueuedAllocations"] == {"echo": 1}
    failure = evaluation["FailedTGAllocs"]["echo"]
    assert failure["CoalescedFailures"] == 0  # one failure, for a count of 1
    assert failure["ConstraintFiltered"] == {"missing drivers": 1}
    old = client.allocation.get_allocation(echo_running["alloc"])
    assert (old["DesiredStatus"], old["ClientStatus"]) == ("run", "running")
    (alloc,) = client.job.get_allocations("http-microservice")  # nothing new was placed
    assert alloc["ID"] == echo_running["alloc"]
    summary = client.job.get_summary("http-microservice")["Summary"]["echo"]
    assert (summary["Running"], summary["Queued"]) == (1, 1)
    port = old["AllocatedResources"]["Shared"]["Ports"][0]
    reply = requests.get(f"http://{port['HostIP']}:{port['Value']}/", timeout=10)
    assert reply.ok and "Hello and welcome" in reply.text  # the service keeps answering


# Batch, periodic and parameterized jobs ----------------------------------------------------


def batch_hcl(job_id: str, code: str, extra: str = "", task_extra: str = "") -> str:
    """A batch job running ``python -c code`` in one task."""
    return f"""job "{job_id}" {{
  type = "batch"
  {extra}
  group "work" {{
    task "run" {{
      driver = "raw_exec"
      config {{
        command = "{sys.executable}"
        args    = ["-c", {json.dumps(code)}]
      }}
      {task_extra}
    }}
  }}
}}
"""


def register(client: nomad.Nomad, hcl: str) -> dict:
    job = client.jobs.parse(hcl, canonicalize=True)
    return client.jobs.register_job({"Job": job})


def test_batch_job_runs_to_completion_once(client: nomad.Nomad) -> None:
    register(client, batch_hcl("once", "print('done')"))
    job = wait_for(lambda: (j := client.job.get_job("once"))["Status"] == "dead" and j)
    (alloc,) = client.job.get_allocations("once")
    assert alloc["ClientStatus"] == "complete"
    state = client.allocation.get_allocation(alloc["ID"])["TaskStates"]["run"]
    assert (state["State"], state["Failed"], state["Restarts"]) == ("dead", False, 0)
    assert [e["Type"] for e in state["Events"]][-1] == "Terminated"
    assert job["TaskGroups"][0]["RestartPolicy"]["Attempts"] == 3  # batch defaults
    assert job["TaskGroups"][0]["ReschedulePolicy"]["Attempts"] == 1
    client.job.evaluate_job("once")  # another evaluation does not run it again
    time.sleep(1)
    assert len(client.job.get_allocations("once")) == 1
    assert client.job.get_summary("once")["Summary"]["work"]["Complete"] == 1


def test_parameterized_job_dispatches_children_with_meta_and_payload(
    agent: Agent, client: nomad.Nomad
) -> None:
    code = "import os; print(open('local/input.txt').read(), os.environ['NOMAD_META_who'])"
    hcl = batch_hcl(
        "greet",
        code,
        extra='parameterized {\n    payload = "required"\n    meta_required = ["who"]\n  }',
        task_extra='dispatch_payload {\n        file = "input.txt"\n      }',
    )
    answer = register(client, hcl)
    assert answer["EvalID"] == ""  # a parameterized parent runs nothing itself
    assert client.job.get_job("greet")["Status"] == "running"
    url = f"{agent.address}/v1/job/greet/dispatch"

    def dispatch(body: dict) -> requests.Response:
        return requests.post(url, json=body, timeout=30)

    payload = base64.b64encode(b"hello").decode()
    missing = dispatch({"Payload": payload})
    assert (missing.status_code, missing.text) == (
        500,
        "Dispatch did not provide required meta keys: [who]",
    )
    extra = dispatch({"Payload": payload, "Meta": {"who": "x", "what": "y"}})
    assert extra.text == "Dispatch request included unpermitted metadata keys: [what]"
    assert dispatch({"Meta": {"who": "x"}}).text == (
        "Payload is not provided but required by parameterized job"
    )
    big = base64.b64encode(b"x" * (16 * 1024 + 1)).decode()
    assert dispatch({"Payload": big, "Meta": {"who": "x"}}).text == (
        "Payload exceeds maximum size; 16385 > 16384"
    )
    answer = client.job.dispatch_job("greet", payload=payload, meta={"who": "learner"})
    child_id = answer["DispatchedJobID"]
    assert re.fullmatch(r"greet/dispatch-\d{10}-[0-9a-f]{8}", child_id)
    child = wait_for(lambda: (j := client.job.get_job(child_id))["Status"] == "dead" and j)
    assert (child["ParentID"], child["Dispatched"], child["Meta"]) == (
        "greet",
        True,
        {"who": "learner"},
    )
    (alloc,) = client.job.get_allocations(child_id)
    logs = client.client.stream_logs.stream(alloc["ID"], "run", "stdout", plain=True)
    assert logs.strip() == "hello learner"
    summary = client.job.get_summary("greet")
    assert summary["Children"] == {"Pending": 0, "Running": 0, "Dead": 1}
    listed = {j["ID"]: j for j in client.jobs.get_jobs()}
    assert listed[child_id]["ParentID"] == "greet" and listed["greet"]["ParameterizedJob"]


def test_periodic_job_force_launches_a_child(agent: Agent, client: nomad.Nomad) -> None:
    register(
        client,
        batch_hcl("tick", "print('tick')", extra='periodic {\n    crons = ["0 0 1 1 *"]\n  }'),
    )
    job = client.job.get_job("tick")
    assert job["Periodic"]["SpecType"] == "cron" and job["Status"] == "running"
    assert client.job.get_allocations("tick") == []
    answer = client.job.periodic_job("tick")
    assert answer["EvalID"]
    (child,) = [j for j in client.jobs.get_jobs() if j["ParentID"] == "tick"]
    assert re.fullmatch(r"tick/periodic-\d{10}", child["ID"])
    wait_for(lambda: client.job.get_job(child["ID"])["Status"] == "dead", what="the child to run")
    assert client.job.get_job(child["ID"])["Periodic"] is None
    not_periodic = requests.post(f"{agent.address}/v1/job/greet-none/periodic/force", timeout=30)
    assert not_periodic.status_code == 404
    bad = client.jobs.request(
        "parse",
        method="post",
        json={"JobHCL": batch_hcl("bad", "0", extra='periodic {\n    crons = ["nope"]\n  }')},
    ).json()
    with pytest.raises(nomad.api.exceptions.BaseNomadException) as caught:
        client.jobs.register_job({"Job": bad})
    assert 'Invalid cron spec "nope"' in caught.value.nomad_resp.text


def test_periodic_job_launches_on_its_schedule(client: nomad.Nomad) -> None:
    register(client, batch_hcl("every", "0", extra='periodic {\n    crons = ["* * * * * *"]\n  }'))
    children = wait_for(
        lambda: [j for j in client.jobs.get_jobs() if j["ParentID"] == "every"],
        what="a scheduled launch",
    )
    assert children[0]["ID"].startswith("every/periodic-")
    client.job.deregister_job("every")  # a stopped periodic job launches no more
    time.sleep(2)
    count = len([j for j in client.jobs.get_jobs() if j["ParentID"] == "every"])
    time.sleep(2)
    assert len([j for j in client.jobs.get_jobs() if j["ParentID"] == "every"]) == count


def parent_status(client: nomad.Nomad, job_id: str) -> str:
    """``nomad job status`` of a parent, formatted from the agent's answers as lab.status does."""
    return str(
        JobStatus.build(
            client.job.get_job(job_id),
            client.job.get_summary(job_id),
            client.job.get_allocations(job_id),
            client.job.get_evaluations(job_id),
            client.job.get_deployment(job_id),
            client.jobs.get_jobs(prefix=f"{job_id}/"),
        )
    )


def test_job_status_of_parents_shows_their_children(client: nomad.Nomad) -> None:
    register(client, batch_hcl("tick", "0", extra='periodic {\n    crons = ["0 0 1 1 *"]\n  }'))
    text = parent_status(client, "tick")
    assert re.search(r"Next Periodic Launch = \S+ \(\S+ from now\)", text)
    assert "Children Job Summary\nPending  Running  Dead\n0        0        0" in text
    assert text.endswith("Previously Launched Jobs\nNo instances of periodic job found")
    client.job.periodic_job("tick")
    (child,) = [j for j in client.jobs.get_jobs() if j["ParentID"] == "tick"]
    wait_for(lambda: client.job.get_job(child["ID"])["Status"] == "dead")
    text = parent_status(client, "tick")
    assert "Pending  Running  Dead\n0        0        1" in text
    assert re.search(r"Previously Launched Jobs\nID +Status\ntick/periodic-\d+ +dead$", text)
    assert "Allocations" not in text and "\nSummary" not in text

    register(
        client, batch_hcl("greet", "0", extra='parameterized {\n    meta_optional = ["who"]\n  }')
    )
    text = parent_status(client, "greet")
    assert "Parameterized Job\nPayload           = optional\nRequired Metadata = <none>\n" in text
    assert "Optional Metadata = who" in text and "Parameterized Job Summary\n" in text
    assert text.endswith("Dispatched Jobs\nNo dispatched instances of parameterized job found")
    child_id = client.job.dispatch_job("greet", meta={"who": "x"})["DispatchedJobID"]
    assert re.search(
        rf"Dispatched Jobs\nID +Status\n{re.escape(child_id)} +\w+$", parent_status(client, "greet")
    )


def test_parse_endpoint_answers_hcl_diagnostics(agent: Agent) -> None:
    body = {"JobHCL": echo_hcl().rstrip().removesuffix("}"), "Variables": echo_variables()}
    response = requests.post(f"{agent.address}/v1/jobs/parse", json=body, timeout=30)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert re.fullmatch(
        r"Failed to parse job: input\.hcl:\d+,25-26: Unclosed configuration block; .*",
        response.text,
    )


def test_smaller_differences(agent: Agent, client: nomad.Nomad, echo_running: dict) -> None:
    register_echo(client, count=3, fast=True)
    allocs = wait_for(lambda: len(a := client.job.get_allocations("http-microservice")) == 3 and a)
    assert [a["ID"] for a in allocs] == sorted(a["ID"] for a in allocs)  # the state store's order
    client.job.deregister_job("http-microservice")
    wait_for(
        lambda: (
            client.allocation.get_allocation(echo_running["alloc"])["ClientStatus"] == "complete"
        )
    )
    stats = client.client.allocation.read_allocation_stats(echo_running["alloc"])
    assert stats["Tasks"] == {}  # a stopped allocation: 200, and no tasks to measure


def test_parse_canonicalizes_as_the_api_package_does(client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse",
        method="post",
        json={"JobHCL": echo_hcl(), "Canonicalize": True, "Variables": echo_variables()},
    ).json()
    assert parsed["NodePool"] == ""  # the server, not api.Job.Canonicalize, says "default"
    (port,) = parsed["TaskGroups"][0]["Networks"][0]["DynamicPorts"]
    assert port["HostNetwork"] == ""
    assert parsed["TaskGroups"][0]["Tasks"][0]["Resources"].get("MemoryMaxMB") is None
    client.jobs.register_job({"Job": parsed})
    job = client.job.get_job(parsed["ID"])  # registered: the server's defaults are there
    assert job["NodePool"] == "default"
    assert job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["HostNetwork"] == "default"
    assert job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMaxMB"] == 0


@pytest.mark.parametrize("purge", [False, True])
def test_stopping_a_job_cancels_its_running_deployment(client: nomad.Nomad, purge: bool) -> None:
    register_echo(client)  # min_healthy_time 10s: the deployment is still running
    running = wait_for(lambda: client.job.get_deployment("http-microservice"), what="a deployment")
    assert running["Status"] == "running"
    client.job.deregister_job("http-microservice", purge=purge)
    cancelled = wait_for(
        lambda: (d := client.deployment.get_deployment(running["ID"]))["Status"] != "running" and d,
        what="the deployment to end",
    )
    assert (cancelled["Status"], cancelled["StatusDescription"]) == (
        "cancelled",
        "Cancelled because job is stopped",
    )
    client.system.initiate_garbage_collection()
    wait_for(lambda: not client.deployments.get_deployments(), what="GC to collect it")
