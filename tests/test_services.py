"""Nomad native service discovery on a real practice agent: registrations that follow
allocations, lookups (filter, choose, blocking), checks, and deployment health gated by
checks."""

from __future__ import annotations

import sys
import threading

import nomad
import pytest
import requests
from conftest import wait_for
from nomad.api import exceptions

from nomadlab.practice import Agent
from nomadlab.practice.bexpr import FilterError, compile_filter

JOB = "backend"


def backend_hcl(
    count: int = 1,
    check: str = 'type = "http"\n path = "/health"\n interval = "1s"\n timeout = "1s"',
    status_code: int = 200,
    update: str = 'min_healthy_time = "1s"\n healthy_deadline = "1m"',
    provider: str = "nomad",
    extra_service: str = "",
) -> str:
    """A raw_exec http-echo group with a ``backend`` service and one check."""
    return f"""
job "{JOB}" {{
  group "api" {{
    count = {count}
    update {{ {update} }}
    restart {{
      attempts = 5
      delay    = "1s"
    }}
    network {{
      port "http" {{}}
      port "spare" {{}}
    }}
    service {{
      name     = "backend"
      provider = "{provider}"
      port     = "http"
      tags     = ["v1", "api"]
      check {{ {check} }}
    }}
    {extra_service}
    task "echo" {{
      driver = "raw_exec"
      config {{
        command = "{sys.executable}"
        args = ["-m", "nomadlab.echo", "-listen", "${{NOMAD_ADDR_http}}",
                "-text", "backend ${{NOMAD_ALLOC_INDEX}}", "-status-code", "{status_code}"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"""


def run(client: nomad.Nomad, hcl: str) -> dict:
    parsed = client.jobs.request("parse", method="post", json={"JobHCL": hcl}).json()
    return client.jobs.register_job({"Job": parsed})


def get(agent: Agent, path: str, **params: str) -> requests.Response:
    return requests.get(f"{agent.address}{path}", params=params, timeout=30)


def instances(agent: Agent, name: str = "backend", **params: str) -> list[dict]:
    response = get(agent, f"/v1/service/{name}", **params)
    assert response.status_code == 200, response.text
    return response.json()


def running(client: nomad.Nomad) -> list[dict]:
    return [
        a
        for a in client.job.get_allocations(JOB)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"
    ]


def deployment_ends(client: nomad.Nomad) -> dict:
    return wait_for(
        lambda: (
            (d := client.job.get_deployment(JOB)) and d["Status"] in ("successful", "failed") and d
        ),
        what="the deployment to end",
    )


def test_registrations_follow_allocations(agent: Agent, client: nomad.Nomad) -> None:
    run(client, backend_hcl(count=2))
    # Group services are registered before their task starts: wait for both to run too.
    found = wait_for(lambda: len(instances(agent)) == 2 and instances(agent), what="2 instances")
    allocs = {a["ID"]: a for a in wait_for(lambda: len(running(client)) == 2 and running(client),
                                          what="2 running allocations")}  # fmt: skip
    node = client.nodes.get_nodes()[0]
    for registration in found:
        alloc = client.allocation.get_allocation(registration["AllocID"])
        (port,) = [
            p for p in alloc["AllocatedResources"]["Shared"]["Ports"] if p["Label"] == "http"
        ]
        assert registration["AllocID"] in allocs
        assert registration["ID"] == f"_nomad-task-{alloc['ID']}-group-api-backend-http"
        assert (registration["Address"], registration["Port"]) == (port["HostIP"], port["Value"])
        assert registration["ServiceName"] == "backend"
        assert registration["Tags"] == ["v1", "api"]
        assert (registration["JobID"], registration["Namespace"]) == (JOB, "default")
        assert (registration["NodeID"], registration["Datacenter"]) == (node["ID"], "dc1")
        assert registration["CreateIndex"] <= registration["ModifyIndex"]
    assert [r["ID"] for r in found] == sorted(r["ID"] for r in found)
    listed = get(agent, "/v1/services").json()
    assert listed == [
        {"Namespace": "default", "Services": [{"ServiceName": "backend", "Tags": ["api", "v1"]}]}
    ]
    assert len(get(agent, f"/v1/job/{JOB}/services").json()) == 2
    # Group services are registered before the task starts (as in Nomad); once the
    # deployment is healthy, so are the checks, and the service answers there.
    assert deployment_ends(client)["Status"] == "successful"
    first = found[0]
    reply = requests.get(f"http://{first['Address']}:{first['Port']}/", timeout=10)
    assert reply.text.startswith("backend ")

    # One allocation stopped: its registration goes, the replacement's comes.
    stopped = found[0]["AllocID"]
    client.allocation.stop_allocation(stopped)
    wait_for(
        lambda: len(ids := {r["AllocID"] for r in instances(agent)}) == 2 and stopped not in ids,
        what="the replacement's registration",
    )
    client.job.deregister_job(JOB, purge=True)
    wait_for(lambda: instances(agent) == [], what="every registration removed")
    assert get(agent, "/v1/services").json() == []
    assert get(agent, "/v1/job/nope/services").status_code == 404


def test_lookups_filter_choose_block_and_delete(agent: Agent, client: nomad.Nomad) -> None:
    run(client, backend_hcl(count=3))
    found = wait_for(lambda: len(instances(agent)) == 3 and instances(agent), what="3 instances")
    assert len(instances(agent, filter='"v1" in Tags')) == 3
    assert instances(agent, filter='Tags contains "v2"') == []
    one = found[1]
    assert instances(agent, filter=f"Port == {one['Port']}") == [one]
    assert instances(agent, filter=f'AllocID != "{one["AllocID"]}" and "api" in Tags') == [
        found[0],
        found[2],
    ]
    assert len(instances(agent, filter='not (Address == "10.0.0.1") or Port == 1')) == 3
    assert len(instances(agent, filter='Address matches "^127\\\\."')) == 3
    bad = get(agent, "/v1/service/backend", filter="Port ===")
    assert bad.status_code == 400
    assert bad.headers["Content-Type"].startswith("text/plain")
    assert bad.text.startswith("failed to create result paginator: failed to read filter")
    unknown = get(agent, "/v1/service/backend", filter='Colour == "red"')
    assert (unknown.status_code, 'name "Colour"' in unknown.text) == (400, True)

    chosen = instances(agent, choose="2|my-alloc")
    assert len(chosen) == 2 and chosen == instances(agent, choose="2|my-alloc")
    assert len(instances(agent, choose="9|k")) == 3
    assert get(agent, "/v1/service/backend", choose="two").status_code == 400

    # A blocking query returns when a registration changes, with a higher index.
    index = int(get(agent, "/v1/service/backend").headers["X-Nomad-Index"])
    answer: dict = {}

    def block() -> None:
        answer["response"] = get(agent, "/v1/service/backend", index=str(index), wait="60s")

    waiter = threading.Thread(target=block)
    waiter.start()
    deleted = requests.delete(f"{agent.address}/v1/service/backend/{one['ID']}", timeout=30)
    assert deleted.status_code == 200
    waiter.join(60)
    response = answer["response"]
    assert int(response.headers["X-Nomad-Index"]) > index
    assert one["ID"] not in [r["ID"] for r in response.json()]
    again = requests.delete(f"{agent.address}/v1/service/backend/{one['ID']}", timeout=30)
    assert (again.status_code, again.text) == (500, "service registration not found")
    client.job.deregister_job(JOB, purge=True)


def checks_of(agent: Agent, alloc_id: str) -> dict:
    return get(agent, f"/v1/client/allocation/{alloc_id}/checks").json()


def test_http_and_tcp_checks_pass_and_fail(agent: Agent, client: nomad.Nomad) -> None:
    tcp_service = """
    service {
      name     = "backend-tcp"
      provider = "nomad"
      port     = "http"
      check {
        name     = "tcp-ok"
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
      check {
        name     = "tcp-refused"
        type     = "tcp"
        port     = "spare"
        interval = "1s"
        timeout  = "1s"
      }
      check {
        name     = "root-page"
        type     = "http"
        path     = "/"
        method   = "GET"
        header { X-Probe = ["nomad"] }
        interval = "1s"
        timeout  = "1s"
        on_update = "ignore"
      }
    }
    """
    run(
        client,
        backend_hcl(
            status_code=503,
            extra_service=tcp_service,
            update='health_check = "task_states"',
        ),
    )
    (alloc,) = wait_for(lambda: running(client), what="a running allocation")

    def settled() -> dict | None:
        results = checks_of(agent, alloc["ID"])
        by_name = {r["Check"]: r for r in results.values()}
        answered = [
            by_name.get(n, {}).get("StatusCode") for n in ('service: "backend" check', "root-page")
        ]
        return len(by_name) == 4 and all(answered) and by_name  # the server is up

    results = wait_for(settled, what="four check results")
    health = results['service: "backend" check']
    assert (health["Status"], health["Output"], health["StatusCode"]) == (
        "success",
        "nomad: http ok",
        200,
    )
    assert (health["Mode"], health["Group"], health["Service"]) == ("healthiness", "api", "backend")
    assert len(health["ID"]) == 32 and "Task" not in health
    assert (results["tcp-ok"]["Status"], results["tcp-ok"]["Output"]) == (
        "success",
        "nomad: tcp ok",
    )
    refused = results["tcp-refused"]
    assert refused["Status"] == "failure"
    assert refused["Output"].endswith("connect: connection refused")
    root = results["root-page"]
    assert (root["Status"], root["StatusCode"], root["Mode"]) == ("failure", 503, "readiness")
    assert root["Output"].startswith("backend 0")
    # Failing instances are still registered: Nomad lists them, healthy or not.
    assert len(instances(agent, "backend-tcp")) == 1
    client.job.deregister_job(JOB, purge=True)
    wait_for(lambda: checks_of(agent, alloc["ID"]) == {}, what="checks to stop with the alloc")


def test_deployment_health_follows_checks(agent: Agent, client: nomad.Nomad) -> None:
    run(client, backend_hcl())
    done = deployment_ends(client)
    assert done["Status"] == "successful"

    # A new version whose check fails: its allocation is unhealthy at healthy_deadline but
    # may still be rescheduled (the service default is unlimited), so the deployment fails
    # at its progress deadline (Nomad's shouldFailEarly); the instance stays registered.
    run(
        client,
        backend_hcl(
            check='type = "http"\n path = "/missing-health"\n interval = "1s"\n timeout = "1s"',
            status_code=500,
            update='min_healthy_time = "1s"\n healthy_deadline = "3s"\n progress_deadline = "5s"',
        ),
    )
    failed = wait_for(
        lambda: (
            (d := client.job.get_deployment(JOB))
            and d["JobVersion"] == 1
            and d["Status"] == "failed"
            and d
        ),
        what="the new version's deployment to fail",
    )
    assert failed["StatusDescription"] == "Failed due to progress deadline"
    (alloc,) = [a for a in running(client) if a["JobVersion"] == 1]
    assert alloc["DeploymentStatus"]["Healthy"] is False
    (result,) = checks_of(agent, alloc["ID"]).values()
    assert (result["Status"], result["StatusCode"]) == ("failure", 500)
    assert alloc["ID"] in [r["AllocID"] for r in instances(agent)]
    client.job.deregister_job(JOB, purge=True)


def test_check_restart_restarts_the_task(agent: Agent, client: nomad.Nomad) -> None:
    run(
        client,
        backend_hcl(
            check='type = "tcp"\n port = "spare"\n task = "echo"\n interval = "1s"\n'
            'timeout = "1s"\n check_restart {\n limit = 2\n grace = "1s"\n }',
            update='health_check = "task_states"\n min_healthy_time = "1s"',
        ),
    )

    def restarted() -> list[dict]:
        allocs = client.job.get_allocations(JOB)
        events = [
            e for a in allocs for e in (a["TaskStates"] or {}).get("echo", {}).get("Events", [])
        ]
        return [e for e in events if e["Type"] == "Restart Signaled"]

    (event, *_) = wait_for(restarted, what="a check_restart")
    assert (
        event["Details"]["restart_reason"]
        == 'healthcheck: check "service: \\"backend\\" check" unhealthy'
    )
    client.job.deregister_job(JOB, purge=True)


def test_consul_provider_cannot_be_placed_without_consul(client: nomad.Nomad) -> None:
    response = run(client, backend_hcl(provider="consul"))
    evaluation = wait_for(
        lambda: (
            (e := client.evaluation.get_evaluation(response["EvalID"]))["Status"] == "complete"
            and e
        ),
        what="the evaluation",
    )
    failure = evaluation["FailedTGAllocs"]["api"]
    assert failure["ConstraintFiltered"] == {"${attr.consul.version} semver >= 1.7.0": 1}
    job = client.job.get_job(JOB)
    assert {
        "LTarget": "${attr.consul.version}",
        "RTarget": ">= 1.7.0",
        "Operand": "semver",
    } in job["TaskGroups"][0]["Constraints"]
    client.job.deregister_job(JOB, purge=True)


def test_nomad_service_checks_are_validated(client: nomad.Nomad) -> None:
    for check, message in (
        ('type = "script"\n command = "/bin/true"\n interval = "1s"\n timeout = "1s"',
         'invalid check type ("script"), must be one of tcp, http'),
        ('type = "http"\n interval = "1s"\n timeout = "1s"', "http type must have http path"),
        ('type = "tcp"\n interval = "500ms"\n timeout = "1s"',
         "interval (500ms) cannot be lower than 1s"),
        ('type = "tcp"\n interval = "1s"\n timeout = "1s"\n on_update = "ignore_warnings"',
         "on_update may only be set to ignore_warnings for Consul service checks"),
    ):  # fmt: skip
        with pytest.raises(exceptions.BaseNomadException) as raised:
            run(client, backend_hcl(check=check))
        response = raised.value.nomad_resp
        assert response.status_code == 500
        assert (
            "Task group api validation failed: 1 error occurred:\n\t* Service[0] backend "
            "validation failed: 1 error occurred:\n\t* " + message
        ) in response.text
    assert client.jobs.get_jobs() == []


TASK_SERVICE_JOB = f"""
job "{JOB}" {{
  group "api" {{
    update {{
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }}
    network {{
      port "http" {{}}
      port "spare" {{}}
    }}
    task "echo" {{
      driver = "raw_exec"
      service {{
        name     = "backend"
        provider = "nomad"
        port     = "http"
        check {{
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
        }}
        check {{
          name      = "warming-up"
          type      = "tcp"
          port      = "spare"
          interval  = "1s"
          timeout   = "1s"
          on_update = "ignore"
        }}
      }}
      config {{
        command = "{sys.executable}"
        args    = ["-m", "nomadlab.echo", "-listen", "${{NOMAD_ADDR_http}}", "-text", "hi"]
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"""


def test_task_services_follow_their_task_and_readiness_checks_do_not_gate(
    agent: Agent, client: nomad.Nomad
) -> None:
    run(client, TASK_SERVICE_JOB)
    # The readiness check (on_update = "ignore") never passes; the deployment does not wait.
    assert deployment_ends(client)["Status"] == "successful"
    (registration,) = instances(agent)
    alloc_id = registration["AllocID"]
    assert registration["ID"] == f"_nomad-task-{alloc_id}-echo-backend-http"
    results = {r["Check"]: r for r in checks_of(agent, alloc_id).values()}
    assert results["warming-up"]["Mode"] == "readiness"
    assert results["warming-up"]["Status"] == "failure"
    assert {r["Task"] for r in results.values()} == {"echo"}

    # A task restart deregisters its services and registers them again once it runs.
    index = int(get(agent, "/v1/service/backend").headers["X-Nomad-Index"])
    restarted = requests.post(
        f"{agent.address}/v1/client/allocation/{alloc_id}/restart", json={}, timeout=30
    )
    assert restarted.status_code == 200
    again = wait_for(
        lambda: (found := instances(agent)) and found[0]["CreateIndex"] > index and found,
        what="the registration after the restart",
    )
    assert again[0]["ID"] == registration["ID"]
    client.job.deregister_job(JOB, purge=True)
    wait_for(lambda: instances(agent) == [], what="the registration removed")


def test_filters_parse_strictly_and_regexes_have_a_deadline() -> None:
    registration = {"ServiceName": "web", "Tags": ["v1"], "Port": 80, "Address": "a" * 40 + "!"}
    assert compile_filter('ServiceName == "web" and (Port == 81 or "v1" in Tags)')(registration)
    assert compile_filter("Tags is not empty and Tags not contains v2")(registration)
    for bad in ("Port ==", "(Port == 1", "Port === 1", "and Port == 1", "Port ~ 1"):
        with pytest.raises(FilterError):
            compile_filter(bad)
    with pytest.raises(FilterError, match="took too long"):
        compile_filter('Address matches "(a|aa)+$"')(registration)
