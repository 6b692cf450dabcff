"""The practice agent answers as Nomad 1.9 does: every field of its structs, Nomad's list
orders, its exit codes, through python-nomad or plain HTTP against a real agent process."""

from __future__ import annotations

import nomad
import pytest
import requests
from conftest import register_echo, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.structs import fields


def successful_deployment(client: nomad.Nomad, job_id: str = "http-microservice") -> dict:
    return wait_for(
        lambda: (d := client.job.get_deployment(job_id)) and d["Status"] == "successful" and d,
        what="the deployment to succeed",
    )


@pytest.fixture
def echo_running(client: nomad.Nomad) -> dict[str, str]:
    """The tutorial's echo job deployed: the IDs the tutorial's endpoints are read with."""
    register_echo(client, fast=True)
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
