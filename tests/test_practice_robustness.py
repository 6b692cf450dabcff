"""Nothing a client sends can crash the practice agent or leave processes behind."""

from __future__ import annotations

import collections
import contextlib
import copy
import json
import random
import re
import sys
import threading
import time

import nomad
import psutil
import pytest
import requests
from conftest import (
    echo_hcl,
    echo_variables,
    raw_exec_job,
    register_echo,
    task_processes,
    wait_for,
)

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


# --- Request limits: no request can freeze the agent or be answered without a clear error.


def meta_hcl(keys: int) -> str:
    """A jobspec with ``keys`` meta entries: slow for python-hcl2, as the issue found."""
    meta = "\n".join(f'    key{i:06d} = "value{i}"' for i in range(keys))
    return f'job "big" {{\n  meta {{\n{meta}\n  }}\n  group "g" {{\n    task "t" {{\n' + (
        '      driver = "raw_exec"\n      config { command = "/bin/true" }\n    }\n  }\n}\n'
    )


def test_parsing_runs_off_the_event_loop(agent: Agent) -> None:
    """The API keeps answering while a large jobspec is parsed, which takes most of a second."""
    result: dict = {}

    def parse() -> None:
        result["response"] = requests.post(
            f"{agent.address}/v1/jobs/parse", json={"JobHCL": meta_hcl(1_000)}, timeout=300
        )

    thread = threading.Thread(target=parse)
    thread.start()
    answered_meanwhile = 0
    while thread.is_alive():
        leader = requests.get(f"{agent.address}/v1/status/leader", timeout=60)
        assert leader.status_code == 200
        answered_meanwhile += thread.is_alive()
        time.sleep(0.05)  # a learner's pace, not a flood that would slow the parse
    thread.join()
    response = result["response"]
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["Meta"]) == 1_000
    assert answered_meanwhile >= 3, "the API did not answer while the jobspec was parsed"


def test_a_jobspec_over_the_parse_limit_is_a_400(agent: Agent) -> None:
    response = requests.post(
        f"{agent.address}/v1/jobs/parse", json={"JobHCL": meta_hcl(70_000)}, timeout=60
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "the practice agent parses at most 1048576 bytes" in response.text


def test_a_body_over_the_limit_is_a_413_with_text(agent: Agent) -> None:
    response = requests.put(
        f"{agent.address}/v1/jobs", data=b"{" + b" " * (9 << 20) + b"}", timeout=60
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Request body too large" in response.text
    assert requests.get(f"{agent.address}/v1/status/leader", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"JobHCL": 5}, "into Go struct field JobsParseRequest.JobHCL of type string"),
        ({"JobHCL": "job {}", "Variables": 1}, "JobsParseRequest.Variables of type string"),
        ({"JobHCL": "job {}", "Canonicalize": "yes"}, "JobsParseRequest.Canonicalize of type bool"),
        ([1], "json: cannot unmarshal array into Go value of type api.JobsParseRequest"),
    ],
)
def test_parse_requests_of_the_wrong_shape_are_400s(agent: Agent, body: object, text: str) -> None:
    response = requests.post(f"{agent.address}/v1/jobs/parse", json=body, timeout=10)
    assert response.status_code == 400
    assert text in response.text


def test_numbers_beyond_int64_are_gos_400(agent: Agent, client: nomad.Nomad) -> None:
    parsed = client.jobs.request(
        "parse", method="post", json={"JobHCL": echo_hcl(), "Variables": echo_variables()}
    ).json()
    parsed["TaskGroups"][0]["Count"] = 2**63
    response = requests.put(f"{agent.address}/v1/jobs", json={"Job": parsed}, timeout=10)
    assert response.status_code == 400
    assert "json: cannot unmarshal number 9223372036854775808 into Go struct field" in response.text
    assert response.text.endswith("Count of type int")
    scale = requests.post(
        f"{agent.address}/v1/job/x/scale",
        json={"Count": 2**63, "Target": {"Group": "g"}},
        timeout=10,
    )
    assert scale.status_code == 400
    assert (
        "unmarshal number 9223372036854775808 into Go struct field ScalingRequest.Count"
        in scale.text
    )
    assert requests.get(f"{agent.address}/v1/jobs", timeout=10).json() == []


def test_json_nested_a_thousand_deep_is_a_400(agent: Agent) -> None:
    for path in ("/v1/jobs", "/v1/job/x/scale", "/v1/jobs/parse"):
        response = requests.put(f"{agent.address}{path}", data="[" * 1000 + "]" * 1000, timeout=10)
        assert response.status_code == 400, (path, response.text)
        assert "exceeded max depth" in response.text
    assert "Traceback" not in agent.log_file.read_text()


@pytest.mark.parametrize(
    "query", ["index=-1", "index=%2B5", "index=%D9%A5", "index=1_0", "index=18446744073709551616"]
)
def test_index_is_parsed_as_gos_uint64(agent: Agent, query: str) -> None:
    response = requests.get(f"{agent.address}/v1/jobs?{query}", timeout=10)
    assert (response.status_code, response.text) == (400, "Invalid index")
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("wait", ["abc", "5", "1e3s", "%D9%A5s", "1h-2m", "s"])
def test_wait_is_parsed_as_gos_duration(agent: Agent, wait: str) -> None:
    response = requests.get(f"{agent.address}/v1/jobs?index=1&wait={wait}", timeout=10)
    assert (response.status_code, response.text) == (400, "Invalid wait time")


def test_go_durations_are_accepted(agent: Agent) -> None:
    for wait in ("0", "1h30m", ".5s", "100ms", "1%C2%B5s", "-1s"):
        response = requests.get(f"{agent.address}/v1/jobs?wait={wait}", timeout=10)
        assert response.status_code == 200, (wait, response.text)


# --- A seeded fuzz of the write endpoints: Nomad's plain-text 4xx, never a traceback.

FUZZ_REQUESTS = 2400
SLEEPER = raw_exec_job("fuzz", 1, "/bin/sleep", ["600"])
VALIDATION_500 = re.compile(r"^\d+ errors? occurred:\n")
# Errors Nomad's RPC layer answers with a 500, as the practice agent does.
NOMADS_500S = (
    "Task not running",
    "can't fail terminal deployment",
    "invalid scheduling eligibility",
    "can not set node's scheduling eligibility to eligible while it is draining",
)


def deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def fuzz_body(rng: random.Random, base: object) -> bytes:
    """A valid body mutated: values and types swapped, keys dropped, deep or huge values,
    or bytes that are not JSON at all."""
    roll = rng.random()
    if roll < 0.06:
        return rng.choice([b"", b"{", b"null", b"\xff\xfe", b'{"Job": }', b"[]" * 10, b"1e999"])
    body = copy.deepcopy(base)
    if roll < 0.12:
        depth = rng.choice([50, 200, 1000])
        return ('{"Job": ' + "[" * depth + "1" + "]" * depth + "}").encode()
    if isinstance(body, dict):
        mutate(body, rng)
        for key in list(body)[:2]:
            if rng.random() < 0.3:
                body[key] = rng.choice(
                    [*ODD_VALUES, 2**63, 2**64, "x" * 100_000, deep(20), {"k": [None]}]
                )
    return json.dumps(body).encode()


def test_fuzzed_writes_get_plain_text_4xx_and_the_tutorial_job_still_runs(
    agent: Agent, client: nomad.Nomad
) -> None:
    rng = random.Random(9)
    node_id = client.nodes.get_nodes()[0]["ID"]
    requests.put(f"{agent.address}/v1/jobs", json={"Job": SLEEPER}, timeout=10).raise_for_status()
    alloc_id = wait_for(lambda: [a["ID"] for a in client.job.get_allocations("fuzz")])[0]
    parse = {"JobHCL": echo_hcl(), "Variables": echo_variables(), "Canonicalize": True}
    writes = [
        ("PUT", "/v1/jobs", {"Job": SLEEPER}),
        ("POST", "/v1/job/fuzz", {"Job": SLEEPER}),
        ("POST", "/v1/jobs/parse", parse),
        ("POST", "/v1/job/fuzz/scale", {"Count": 1, "Target": {"Group": "g"}, "Message": "m"}),
        ("POST", f"/v1/node/{node_id}/drain", {"DrainSpec": {"Deadline": 10**9}}),
        ("POST", f"/v1/node/{node_id}/eligibility", {"Eligibility": "eligible"}),
        ("POST", f"/v1/client/allocation/{alloc_id}/signal", {"Signal": "SIGCONT", "Task": "t"}),
        ("POST", f"/v1/client/allocation/{alloc_id}/restart", {"TaskName": "t"}),
        ("POST", f"/v1/allocation/{alloc_id}/stop", {}),
        ("POST", "/v1/deployment/fail/none", {}),
        ("DELETE", "/v1/job/fuzz", None),
    ]
    session = requests.Session()
    unexpected, statuses = [], collections.Counter()
    for number in range(FUZZ_REQUESTS):
        method, path, base = writes[number % len(writes)]
        if method == "POST" and path.endswith("/parse") and number % 3:
            continue  # parsing is slow: one in three
        data = fuzz_body(rng, base) if base is not None else None
        params = rng.choice([{}, {"purge": rng.choice(["true", "x", "1"])}, {"index": "-1"}])
        response = session.request(method, agent.address + path, data=data, params=params)
        statuses[response.status_code // 100] += 1
        ok = response.status_code < 400 or (
            400 <= response.status_code < 500
            and response.headers.get("Content-Type", "").startswith("text/plain")
        )
        validation = response.status_code == 500 and VALIDATION_500.match(response.text)
        known_500 = response.status_code == 500 and response.text.startswith(NOMADS_500S)
        if not (ok or validation or known_500) or "Traceback" in response.text:
            unexpected.append(
                (method, path, data and data[:200], response.status_code, response.text[:300])
            )
    assert not unexpected, unexpected[:5]
    assert sum(statuses.values()) >= 2000 and statuses[2] >= 200 and statuses[4] >= 500, statuses
    log = agent.log_file.read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]
    # Afterwards the node takes work again and the tutorial's job runs.
    node_url = f"{agent.address}/v1/node/{node_id}"
    undrain = {"DrainSpec": None, "MarkEligible": True}  # nomad node drain -disable
    requests.post(f"{node_url}/drain", json=undrain, timeout=10).raise_for_status()
    requests.post(f"{node_url}/eligibility", json={"Eligibility": "eligible"}, timeout=10)
    for job in client.jobs.get_jobs():
        client.job.deregister_job(job["ID"], purge=True)
    register_echo(client)
    wait_for(
        lambda: any(
            a["ClientStatus"] == "running" for a in client.job.get_allocations("http-microservice")
        ),
        what="the tutorial job to run after the fuzz",
    )


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"ID": "j" * 70_000}, "Job ID is longer than 1000 characters"),
        ({"ID": "a\0b"}, "Job ID contains a null character"),
        ({"task": "."}, 'Task name cannot be "."'),
        ({"task": ".."}, 'Task name cannot be ".."'),
        ({"task": "a/b"}, "Task name cannot include slashes"),
    ],
)
def test_job_and_task_names_nomad_or_the_disk_cannot_take_are_refused(
    agent: Agent, change: dict, text: str
) -> None:
    job = copy.deepcopy(SLEEPER)
    job["ID"] = change.get("ID", "named")
    job["TaskGroups"][0]["Tasks"][0]["Name"] = change.get("task", "t")
    response = requests.put(f"{agent.address}/v1/jobs", json={"Job": job}, timeout=30)
    assert response.status_code == 500  # Nomad answers validation errors with 500
    assert text in response.text
    assert requests.get(f"{agent.address}/v1/jobs", timeout=10).json() == []


@pytest.mark.parametrize(
    ("path", "body", "text"),
    [
        ("drain", {"DrainSpec": 5}, "NodeUpdateDrainRequest.DrainSpec of type api.DrainSpec"),
        ("drain", {"DrainSpec": {"Deadline": "1h"}}, "DrainSpec.Deadline of type time.Duration"),
        ("eligibility", {"Eligibility": []}, "Eligibility of type string"),
    ],
)
def test_node_writes_of_the_wrong_shape_are_400s(
    agent: Agent, client: nomad.Nomad, path: str, body: dict, text: str
) -> None:
    node_id = client.nodes.get_nodes()[0]["ID"]
    response = requests.post(f"{agent.address}/v1/node/{node_id}/{path}", json=body, timeout=10)
    assert response.status_code == 400
    assert text in response.text


@pytest.mark.parametrize(("method", "path"), [("POST", "/"), ("PROPFIND", "/v1/jobs")])
def test_405s_are_plain_text(agent: Agent, method: str, path: str) -> None:
    response = requests.request(method, f"{agent.address}{path}", timeout=10)
    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "Invalid method"


def test_a_parse_worker_dies_with_a_sigkilled_agent_even_mid_parse(tmp_path) -> None:
    agent = Agent(http_port=None, log_file=tmp_path / "agent.log").start()

    def parse() -> None:
        with contextlib.suppress(requests.RequestException):  # the agent is killed under it
            requests.post(
                f"{agent.address}/v1/jobs/parse", json={"JobHCL": meta_hcl(20_000)}, timeout=300
            )

    try:
        threading.Thread(target=parse, daemon=True).start()

        def parse_worker() -> list[psutil.Process]:
            return [
                c
                for c in psutil.Process(agent.pid).children()
                if "nomadlab.practice.jobspec.worker" in " ".join(c.cmdline())
            ]

        (worker,) = wait_for(parse_worker, what="the parse worker to start")
        time.sleep(1)  # well into a parse that takes far longer than the wait below
        assert worker.is_running()
    finally:
        agent.process.kill()
        agent.process.wait()
    wait_for(
        lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE,
        timeout=30,
        what="the parse worker to be killed with the agent",
    )
