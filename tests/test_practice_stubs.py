"""The allocation list endpoints serve each AllocListStub from a cache kept per allocation
(Nomad serves its list stubs from state-store indexes): what they serve must be what a
fresh encoding gives, after every change, and a collected allocation leaves the cache."""

from __future__ import annotations

import json

import nomad
from conftest import register_echo, wait_for

from nomadlab.practice import structs
from nomadlab.practice.http.stubs import AllocStubs
from nomadlab.practice.state import StateStore


def allocation(number: int) -> dict:
    return {
        "ID": f"{number:08d}-0000-0000-0000-000000000000",
        "Namespace": "default",
        "JobID": "web",
        "Name": f"web.echo[{number}]",
        "NodeID": "node",
        "EvalID": "eval",
        "DeploymentID": "",
        "TaskGroup": "echo",
        "Job": {"ID": "web", "Type": "service", "CreateIndex": 1},
        "ClientStatus": "pending",
        "DesiredStatus": "run",
        "TaskStates": None,
    }


def fresh(allocs: list[dict], resources: bool = False, task_states: bool = True) -> list:
    return json.loads(json.dumps([structs.alloc_stub(a, resources, task_states) for a in allocs]))


def test_a_changed_allocation_is_served_as_it_is_now_and_the_others_from_the_cache() -> None:
    store = StateStore()
    allocs = [allocation(n) for n in range(3)]
    store.upsert_allocs(allocs)
    stubs = AllocStubs(store)
    assert json.loads(stubs.encode(allocs)) == fresh(allocs)
    allocs[1]["ClientStatus"] = "running"
    allocs[1]["TaskStates"] = {"server": structs.task_state()}
    store.upsert_allocs([allocs[1]])
    served = json.loads(stubs.encode(allocs))
    assert served == fresh(allocs)
    assert served[1]["ClientStatus"] == "running" and served[0]["ClientStatus"] == "pending"
    assert json.loads(stubs.encode(allocs, resources=True, task_states=False)) == fresh(
        allocs, resources=True, task_states=False
    )


def test_collected_allocations_leave_the_cache() -> None:
    store = StateStore()
    allocs = [allocation(n) for n in range(100)]
    store.upsert_allocs(allocs)
    stubs = AllocStubs(store)
    stubs.encode(allocs)
    store.delete_allocs([a["ID"] for a in allocs[1:]])
    for _ in range(3):
        stubs.encode(allocs[:1], resources=True)
        stubs.encode(allocs[:1], task_states=False)
    assert json.loads(stubs.encode(allocs[:1])) == fresh(allocs[:1])
    assert len(stubs._encoded) <= 3


def test_eval_and_deployment_allocation_lists_are_the_jobs_stubs_by_id(
    client: nomad.Nomad,
) -> None:
    """GET /v1/evaluation/:id/allocations and /v1/deployment/allocations/:id serve the same
    AllocListStubs as the job's list, in ID order (Nomad's eval and deployment indexes, like
    its job index, iterate by ID: state_store.go AllocsByEval, AllocsByDeployment)."""
    registered = register_echo(client, count=3, min_healthy_ns=0)
    stubs = wait_for(
        lambda: (lambda s: s if len(s) == 3 else None)(
            client.job.get_allocations("http-microservice")
        ),
        what="three allocations",
    )
    deployment = client.job.get_deployment("http-microservice")
    by_id = sorted(stubs, key=lambda a: a["ID"])
    for_eval = client.evaluation.get_allocations(registered["EvalID"])
    for_deployment = client.deployment.get_deployment_allocations(deployment["ID"])
    for listed in (for_eval, for_deployment):
        assert [a["ID"] for a in listed] == [a["ID"] for a in by_id]
        assert [a["Name"] for a in listed] == [a["Name"] for a in by_id]
        assert {"TaskStates", "ClientStatus", "JobVersion"} <= listed[0].keys()
