"""The kit's two microservices finding each other through templates on a real practice
agent: the rendered file, re-renders on registry changes with each change_mode, env
templates, and a template that cannot render."""

from __future__ import annotations

import sys

import nomad
import pytest
import requests
from conftest import JOBS, wait_for

from nomadlab.practice import Agent


def run_job(client: nomad.Nomad, name: str, **variables: str | int) -> dict:
    values = {"python": sys.executable, **variables}
    lines = "".join(f'{key} = "{value}"\n' for key, value in values.items())
    parsed = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": (JOBS / f"{name}.nomad.hcl").read_text(),
            "Canonicalize": True,
            "Variables": lines,
        },
    ).json()
    return client.jobs.register_job({"Job": parsed})


def registrations(agent: Agent, name: str) -> list[dict]:
    return requests.get(f"{agent.address}/v1/service/{name}", timeout=30).json()


def healthy_backends(client: nomad.Nomad, count: int) -> list[dict]:
    def ready() -> list[dict] | None:
        deployment = client.job.get_deployment("backend")
        allocs = [
            a
            for a in client.job.get_allocations("backend")
            if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"
        ]
        done = deployment and deployment["Status"] == "successful" and len(allocs) == count
        return allocs if done else None

    return wait_for(ready, what=f"{count} healthy backends")


def frontend_alloc(client: nomad.Nomad) -> dict:
    (alloc,) = wait_for(
        lambda: [
            a for a in client.job.get_allocations("frontend") if a["ClientStatus"] == "running"
        ],
        what="a running frontend",
    )
    return client.allocation.get_allocation(alloc["ID"])


def rendered(client: nomad.Nomad, alloc_id: str) -> list[str]:
    text = client.client.cat.read_file(alloc_id, path="web/local/backends.txt")
    return sorted(line for line in text.splitlines() if line)


def addresses(allocs: list[dict], client: nomad.Nomad) -> list[str]:
    found = []
    for stub in allocs:
        alloc = client.allocation.get_allocation(stub["ID"])
        (port,) = alloc["AllocatedResources"]["Shared"]["Ports"]
        found.append(f"{port['HostIP']}:{port['Value']}")
    return sorted(found)


def frontend_url(agent: Agent) -> str:
    (registration,) = wait_for(lambda: registrations(agent, "frontend"), what="the frontend")
    url = f"http://{registration['Address']}:{registration['Port']}"
    wait_for(lambda: _answers(url), what="the frontend to answer")
    return url


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def events(client: nomad.Nomad, alloc_id: str, kind: str) -> list[dict]:
    alloc = client.allocation.get_allocation(alloc_id)
    return [e for e in alloc["TaskStates"]["web"]["Events"] if e["Type"] == kind]


def test_frontend_reaches_every_backend_through_its_template(
    agent: Agent, client: nomad.Nomad
) -> None:
    run_job(client, "backend", count=2)
    backends = addresses(healthy_backends(client, 2), client)
    run_job(client, "frontend")
    alloc = frontend_alloc(client)
    assert rendered(client, alloc["ID"]) == backends
    url = frontend_url(agent)
    served = set()
    for _ in range(4):
        reply = requests.get(url, timeout=10)
        assert reply.status_code == 200
        assert reply.text.startswith(
            f"frontend 0 -> {reply.headers['X-Backend']}: hello from backend"
        )
        served.add(reply.headers["X-Backend"])
    assert sorted(served) == backends
    for job in ("frontend", "backend"):
        client.job.deregister_job(job, purge=True)


@pytest.mark.parametrize("mode", ["signal", "restart", "noop"])
def test_a_registry_change_re_renders_and_applies_the_change_mode(
    agent: Agent, client: nomad.Nomad, mode: str
) -> None:
    run_job(client, "backend", count=1)
    healthy_backends(client, 1)
    run_job(client, "frontend", change_mode=mode)
    alloc = frontend_alloc(client)
    url = frontend_url(agent)
    assert len(requests.get(f"{url}/backends", timeout=10).json()) == 1

    client.job.request(
        "backend", "scale", method="post", json={"Count": 2, "Target": {"Group": "backend"}}
    )
    two = addresses(healthy_backends(client, 2), client)
    wait_for(lambda: rendered(client, alloc["ID"]) == two, what="the template to re-render")
    if mode == "signal":
        (event,) = wait_for(lambda: events(client, alloc["ID"], "Signaling"), what="a signal")
        assert (event["DisplayMessage"], event["TaskSignal"]) == ("Template re-rendered", "SIGHUP")
        wait_for(lambda: sorted(requests.get(f"{url}/backends", timeout=10).json()) == two)
        assert client.allocation.get_allocation(alloc["ID"])["TaskStates"]["web"]["Restarts"] == 0
    elif mode == "restart":
        (event,) = wait_for(
            lambda: events(client, alloc["ID"], "Restart Signaled"), what="a restart"
        )
        assert event["DisplayMessage"] == "Template with change_mode restart re-rendered"
        wait_for(
            lambda: (
                _answers(url) and sorted(requests.get(f"{url}/backends", timeout=10).json()) == two
            )
        )
    else:
        assert events(client, alloc["ID"], "Signaling") == []
        assert events(client, alloc["ID"], "Restart Signaled") == []
        # noop: the file changed, the running frontend still uses what it read at start.
        assert len(requests.get(f"{url}/backends", timeout=10).json()) == 1
    for job in ("frontend", "backend"):
        client.job.deregister_job(job, purge=True)


PRINT_UPSTREAMS = "import os, time; print('UPSTREAMS=' + os.environ['UPSTREAMS'])\\ntime.sleep(300)"


def template_job(template: str, program: str = PRINT_UPSTREAMS) -> str:
    return f"""
job "tmpl" {{
  group "g" {{
    restart {{ attempts = 0 }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "raw_exec"
      template {{
{template}
      }}
      config {{
        command = "{sys.executable}"
        args    = ["-c", "{program}"]
      }}
    }}
  }}
}}
"""


def run_hcl(client: nomad.Nomad, hcl: str) -> None:
    parsed = client.jobs.request("parse", method="post", json={"JobHCL": hcl}).json()
    client.jobs.register_job({"Job": parsed})


def test_env_templates_set_task_variables(agent: Agent, client: nomad.Nomad) -> None:
    run_job(client, "backend", count=2)
    backends = addresses(healthy_backends(client, 2), client)
    run_hcl(
        client,
        template_job(
            'data = "UPSTREAMS={{ range $i, $s := nomadService \\"backend\\" }}'
            '{{ if $i }},{{ end }}{{ .Address }}:{{ .Port }}{{ end }}"\n'
            'destination = "secrets/upstreams.env"\n env = true'
        ),
    )
    (alloc,) = wait_for(
        lambda: [a for a in client.job.get_allocations("tmpl") if a["ClientStatus"] == "running"]
    )
    logs = wait_for(
        lambda: client.client.stream_logs.stream(alloc["ID"], "t", "stdout", plain=True),
        what="the task's output",
    )
    name, _, value = logs.strip().partition("=")
    assert (name, sorted(value.split(","))) == ("UPSTREAMS", backends)
    for job in ("tmpl", "backend"):
        client.job.deregister_job(job, purge=True)


def test_a_template_that_cannot_render_fails_the_task(agent: Agent, client: nomad.Nomad) -> None:
    run_hcl(
        client,
        template_job(
            'data = "{{ range service \\"backend\\" }}{{ end }}"\n destination = "local/x"'
        ),
    )
    (alloc,) = wait_for(
        lambda: [a for a in client.job.get_allocations("tmpl") if a["ClientStatus"] == "failed"],
        what="the allocation to fail",
    )
    state = client.allocation.get_allocation(alloc["ID"])["TaskStates"]["t"]
    killing = [e for e in state["Events"] if e["Type"] == "Killing"]
    assert killing and killing[0]["DisplayMessage"] == (
        'Template failed: template: local/x:1: function "service" not defined'
    )
    assert (state["State"], state["Failed"]) == ("dead", True)
    # A destination outside the allocation is refused, not written.
    client.job.deregister_job("tmpl", purge=True)
    run_hcl(client, template_job('data = "x"\n destination = "../../../../escape.txt"'))
    (escaped,) = wait_for(
        lambda: [a for a in client.job.get_allocations("tmpl") if a["ClientStatus"] == "failed"],
        what="the escaping template to fail",
    )
    state = client.allocation.get_allocation(escaped["ID"])["TaskStates"]["t"]
    (killing,) = [e for e in state["Events"] if e["Type"] == "Killing"]
    assert "escapes the allocation directory" in killing["DisplayMessage"]
    client.job.deregister_job("tmpl", purge=True)


def test_a_new_tag_is_an_in_place_update_that_templates_select(
    agent: Agent, client: nomad.Nomad
) -> None:
    run_job(client, "backend", count=2)
    backends = addresses(healthy_backends(client, 2), client)
    run_job(client, "frontend", upstream="v2.backend")
    alloc = frontend_alloc(client)
    assert rendered(client, alloc["ID"]) == []

    before = {r["AllocID"]: r for r in registrations(agent, "backend")}
    parsed = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": (JOBS / "backend.nomad.hcl").read_text(),
            "Canonicalize": True,
            "Variables": f'python = "{sys.executable}"\ncount = 2\ntags = ["v1", "v2"]\n',
        },
    ).json()
    client.jobs.register_job({"Job": parsed})
    wait_for(lambda: rendered(client, alloc["ID"]) == backends, what="the v2 instances rendered")
    after = {r["AllocID"]: r for r in registrations(agent, "backend")}
    assert set(after) == set(before)  # the same allocations, updated in place
    assert all(r["Tags"] == ["v1", "v2"] for r in after.values())
    assert all(after[a]["CreateIndex"] == before[a]["CreateIndex"] for a in after)
    assert all(after[a]["ModifyIndex"] > before[a]["ModifyIndex"] for a in after)
    for job in ("frontend", "backend"):
        client.job.deregister_job(job, purge=True)


def test_a_template_source_is_read_inside_the_allocation_only(
    agent: Agent, client: nomad.Nomad
) -> None:
    first = (
        'data = "{{ `{{ env \\"NOMAD_ALLOC_ID\\" }}` }}"\n destination = "local/in.tpl"\n'
        '      }\n      template {\n source = "local/in.tpl"\n destination = "local/out.txt"'
    )
    run_hcl(client, template_job(first + '\n perms = "0600"', "import time; time.sleep(300)"))
    (alloc,) = wait_for(
        lambda: [a for a in client.job.get_allocations("tmpl") if a["ClientStatus"] == "running"]
    )
    assert client.client.cat.read_file(alloc["ID"], path="t/local/out.txt") == alloc["ID"]
    mode = client.client.stat.stat_file(alloc["ID"], path="t/local/out.txt")["FileMode"]
    assert mode.endswith(("rw-------", "600"))  # Go's FileMode string, or octal
    client.job.deregister_job("tmpl", purge=True)

    run_hcl(client, template_job('source = "../../../../../etc/passwd"\n destination = "local/x"'))
    (failed,) = wait_for(
        lambda: [a for a in client.job.get_allocations("tmpl") if a["ClientStatus"] == "failed"],
        what="the escaping source to fail",
    )
    state = client.allocation.get_allocation(failed["ID"])["TaskStates"]["t"]
    (killing,) = [e for e in state["Events"] if e["Type"] == "Killing"]
    assert "template source path" in killing["DisplayMessage"]
    assert "escapes the allocation directory" in killing["DisplayMessage"]
    client.job.deregister_job("tmpl", purge=True)
