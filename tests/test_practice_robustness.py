"""Nothing a client sends can crash the practice agent or leave processes behind."""

from __future__ import annotations

import copy
import random
import sys

import nomad
import pytest
import requests
from conftest import echo_hcl, echo_variables, task_processes, wait_for

from nomadlab.practice import Agent

ODD_VALUES = [
    None,
    -1,
    0,
    1.5,
    "",
    "x",
    [],
    {},
    [1],
    {"a": 1},
    True,
    "${NOMAD_PORT_x}",
    10**20,
    "../../etc",
    -(10**9),
]


def mutate(node: object, rng: random.Random) -> None:
    """Replace or drop about one value in six, recursively, in place."""
    if isinstance(node, dict):
        for key in list(node):
            roll = rng.random()
            if roll < 0.12:
                node[key] = rng.choice(ODD_VALUES)
            elif roll < 0.17:
                del node[key]
            else:
                mutate(node[key], rng)
    elif isinstance(node, list):
        for i in range(len(node)):
            if rng.random() < 0.12:
                node[i] = rng.choice(ODD_VALUES)
            else:
                mutate(node[i], rng)


def test_a_job_without_ports_does_not_break_the_next_placement(client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    portless = copy.deepcopy(parsed)
    portless["ID"] = portless["Name"] = "portless"
    portless["TaskGroups"][0]["Networks"] = None
    portless["TaskGroups"][0]["Tasks"][0]["Config"] = {
        "command": sys.executable,
        "args": ["-c", "import time; time.sleep(600)"],
    }
    client.jobs.register_job({"Job": portless})
    wait_for(
        lambda: any(a["ClientStatus"] == "running" for a in client.job.get_allocations("portless"))
    )
    client.jobs.register_job({"Job": parsed})
    wait_for(
        lambda: any(
            a["ClientStatus"] == "running" for a in client.job.get_allocations("http-microservice")
        ),
        what="the second job to be placed",
    )


def test_a_port_without_label_gets_gos_zero_value(client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    del parsed["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["Label"]
    response = client.jobs.register_job({"Job": parsed})
    evaluation = wait_for(
        lambda: (
            (e := client.evaluation.get_evaluation(response["EvalID"]))["Status"] != "pending" and e
        )
    )
    assert evaluation["Status"] == "complete"


@pytest.mark.parametrize("target", ["echo", 5, True, [1]])
def test_scale_with_a_malformed_target_is_a_400(client: nomad.Nomad, agent: Agent, target) -> None:
    response = requests.post(
        f"{agent.address}/v1/job/http-microservice/scale",
        json={"Count": 2, "Target": target},
        timeout=10,
    )
    assert response.status_code == 400
    assert "Target" in response.text


def test_a_json_job_with_a_wrong_type_is_a_400(agent: Agent, client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    parsed["TaskGroups"][0]["Count"] = "three"
    response = requests.put(f"{agent.address}/v1/jobs", json={"Job": parsed}, timeout=10)
    assert response.status_code == 400
    assert "Count" in response.text


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_jobs_never_crash_the_agent_or_leak_processes(agent: Agent, seed: int) -> None:
    rng = random.Random(seed)
    base = requests.post(
        f"{agent.address}/v1/jobs/parse",
        json={"JobHCL": echo_hcl(), "Canonicalize": True, "Variables": echo_variables()},
        timeout=10,
    ).json()
    statuses = set()
    for number in range(60):
        job = copy.deepcopy(base)
        job["ID"] = f"mutant-{number}"
        group = job["TaskGroups"][0]
        task = group["Tasks"][0]
        mutate(
            rng.choice([job, group, task, task["Config"], task["Resources"], group["Networks"]]),
            rng,
        )
        response = requests.put(f"{agent.address}/v1/jobs", json={"Job": job}, timeout=10)
        statuses.add(response.status_code)
        if response.status_code != 200:
            assert response.headers["Content-Type"].startswith("text/plain")
            assert response.status_code in (400, 500)
            assert "Traceback" not in response.text
    assert 200 in statuses and 400 in statuses  # the mutations reached both paths
    alloc_ids = {
        a["ID"] for a in requests.get(f"{agent.address}/v1/allocations", timeout=10).json()
    }
    for job in requests.get(f"{agent.address}/v1/jobs", timeout=10).json():
        requests.delete(f"{agent.address}/v1/job/{job['ID']}", params={"purge": "true"}, timeout=10)
    wait_for(lambda: not task_processes(alloc_ids), what="every mutant's processes to stop")
    assert requests.get(f"{agent.address}/v1/jobs", timeout=10).json() == []
    log = agent.log_file.read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]
