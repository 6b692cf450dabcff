"""Every key of the practice agent's responses is a key Nomad 1.9.7's Go types encode, and
none is missing: the responses of the routes the kit uses, walked against tests/go_keys.json
(written from Nomad's source by tests/go_keys.py), nested objects included."""

from __future__ import annotations

import json
from pathlib import Path

import nomad
import pytest
import requests
from conftest import echo_hcl, echo_variables, wait_for

from nomadlab.practice import Agent

GO_TYPES = json.loads(Path(__file__).with_name("go_keys.json").read_text())["types"]

# Route (formatted with the IDs of one deployed job) -> the Go type its answer encodes; a
# ``[]`` prefix: a list of them.
ROUTES = {
    "/v1/jobs": "[]structs.JobListStub",
    "/v1/job/{job}": "structs.Job",
    "/v1/job/{job}/allocations": "[]structs.AllocListStub",
    "/v1/job/{job}/evaluations": "[]structs.Evaluation",
    "/v1/job/{job}/deployments": "[]structs.Deployment",
    "/v1/job/{job}/deployment": "structs.Deployment",
    "/v1/job/{job}/summary": "structs.JobSummary",
    "/v1/job/{job}/versions": "structs.JobVersionsResponse",
    "/v1/job/{job}/submission?version=0": "structs.JobSubmission",
    "/v1/job/{job}/scale": "structs.JobScaleStatus",
    "/v1/allocations": "[]structs.AllocListStub",
    "/v1/allocation/{alloc}": "structs.Allocation",
    "/v1/client/allocation/{alloc}/stats": "client.AllocResourceUsage",
    "/v1/evaluations": "[]structs.Evaluation",
    "/v1/evaluation/{eval}": "structs.Evaluation",
    "/v1/deployments": "[]structs.Deployment",
    "/v1/deployment/{deployment}": "structs.Deployment",
    "/v1/deployment/allocations/{deployment}": "[]structs.AllocListStub",
    "/v1/nodes": "[]structs.NodeListStub",
    "/v1/node/{node}": "structs.Node",
    "/v1/node/{node}/allocations": "[]structs.Allocation",
    "/v1/namespaces": "[]structs.Namespace",
    "/v1/namespace/default": "structs.Namespace",
    "/v1/scaling/policies": "[]structs.ScalingPolicyListStub",
}


def differences(go_type: str, value: object, path: str) -> list[str]:
    """``missing <path>.<key>`` and ``extra <path>.<key>`` between a decoded response and
    the Go type, walking the fields that hold structs."""
    if go_type.startswith("[]"):
        return [
            d
            for i, v in enumerate(value or [])
            for d in differences(go_type[2:], v, f"{path}[{i}]")
        ]
    if not isinstance(value, dict):
        return []
    keys, omitempty = GO_TYPES[go_type]["keys"], GO_TYPES[go_type]["omitempty"]
    found = [f"missing {path}.{k}" for k in keys if k not in value and k not in omitempty]
    found += [f"extra {path}.{k}" for k in value if k not in keys]
    for key, ref in keys.items():
        held = value.get(key)
        if ref is None or held is None:
            continue
        if ref.startswith("slice:"):
            found += differences("[]" + ref[6:], held, f"{path}.{key}")
        elif ref.startswith("map:") and isinstance(held, dict):
            for name, item in held.items():
                found += differences(ref[4:], item, f"{path}.{key}[{name}]")
        else:
            found += differences(ref, held, f"{path}.{key}")
    return found


@pytest.fixture(scope="module")
def deployed(module_agent: Agent) -> dict[str, str]:
    """One echo job, registered with its source, deployed successfully."""
    client = nomad.Nomad(address=module_agent.address, timeout=30)
    job = client.jobs.request(
        "parse",
        method="post",
        json={"JobHCL": echo_hcl(True), "Canonicalize": True, "Variables": echo_variables()},
    ).json()
    for group in job["TaskGroups"]:
        group["Update"]["MinHealthyTime"] = 300_000_000
    submission = {"Source": echo_hcl(True), "Format": "hcl2", "Variables": echo_variables()}
    client.jobs.register_job({"Job": job, "Submission": submission})
    deployment = wait_for(
        lambda: (d := client.job.get_deployment(job["ID"])) and d["Status"] == "successful" and d,
        what="the deployment to succeed",
    )
    (alloc,) = client.job.get_allocations(job["ID"])
    return {
        "job": job["ID"],
        "alloc": alloc["ID"],
        "eval": alloc["EvalID"],
        "deployment": deployment["ID"],
        "node": alloc["NodeID"],
    }


@pytest.mark.parametrize("route", ROUTES)
def test_route_has_nomads_keys(module_agent: Agent, deployed: dict[str, str], route: str) -> None:
    """Against the Go types of command/agent's handler for the route (nomad/structs)."""
    answer = requests.get(module_agent.address + route.format(**deployed), timeout=30)
    assert answer.status_code == 200, answer.text
    assert differences(ROUTES[route], answer.json(), "") == []


@pytest.mark.parametrize("canonicalize", [True, False])
def test_parse_has_api_jobs_keys(module_agent: Agent, canonicalize: bool) -> None:
    """``POST /v1/jobs/parse`` answers an api.Job (jobspec2, then Job.Canonicalize when
    asked), whose nil fields are encoded as null: Go's json.Marshal writes every field."""
    answer = requests.post(
        f"{module_agent.address}/v1/jobs/parse",
        json={"JobHCL": echo_hcl(), "Canonicalize": canonicalize, "Variables": echo_variables()},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert differences("api.Job", answer.json(), "") == []


def test_agent_self_config_has_every_config_key(module_agent: Agent) -> None:
    """``agent/self``'s ``config`` is command/agent Config as JSON (a dev agent's: DevConfig
    over DefaultConfig, so Consuls, Vaults, UI, Limits... are walked with values)."""
    self_ = requests.get(f"{module_agent.address}/v1/agent/self", timeout=30).json()
    assert differences("agent.Config", self_["config"], "config") == []
