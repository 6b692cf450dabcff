"""State does not grow without bound: job versions are capped at Nomad's six, and
`nomad system gc` collects what a stopped job left (evaluations, allocations, deployments,
allocation directories) while a live job keeps everything."""

from __future__ import annotations

import json
from pathlib import Path

import nomad
import requests
from conftest import raw_exec_job, task_processes, wait_for

from nomadlab.practice import Agent
from nomadlab.practice.gc import TimeTable


def sleeper(job_id: str, count: int, meta: str = "") -> dict:
    job = raw_exec_job(job_id, count, "/bin/sleep", ["3600"], memory=16)
    job["Meta"] = {"round": meta}
    job["TaskGroups"][0]["Update"] = {"MinHealthyTime": 500_000_000}
    return job


def test_a_hundred_registrations_keep_six_versions(agent: Agent, client: nomad.Nomad) -> None:
    for round_number in range(100):
        client.jobs.register_job({"Job": sleeper("versions", 0, meta=str(round_number))})
    response = requests.get(f"{agent.address}/v1/job/versions/versions", timeout=30)
    versions = response.json()["Versions"]
    assert [v["Version"] for v in versions] == [99, 98, 97, 96, 95, 94]
    one = len(json.dumps(versions[0]))
    assert len(response.content) < 7 * one  # six versions, not a hundred
    assert client.job.get_job("versions")["Version"] == 99


def deployed(client: nomad.Nomad, job_id: str) -> list[dict]:
    wait_for(
        lambda: (client.job.get_deployment(job_id) or {}).get("Status") == "successful",
        what=f"{job_id}'s deployment",
    )
    return client.job.get_allocations(job_id)


def alloc_dirs(agent: Agent, client: nomad.Nomad, allocs: list[dict]) -> list[Path]:
    data_dir = Path(client.agent.get_agent()["config"]["DataDir"])
    return [d for a in allocs for d in data_dir.glob(f"*/alloc/{a['ID']}")]


def test_system_gc_collects_a_stopped_job_and_leaves_a_live_one(
    agent: Agent, client: nomad.Nomad
) -> None:
    client.jobs.register_job({"Job": sleeper("gone", 2)})
    client.jobs.register_job({"Job": sleeper("live", 1)})
    gone, live = deployed(client, "gone"), deployed(client, "live")
    gone_dirs, live_dirs = alloc_dirs(agent, client, gone), alloc_dirs(agent, client, live)
    assert len(gone_dirs) == 2 and len(live_dirs) == 1
    gone_evals = {e["ID"] for e in client.job.get_evaluations("gone")}
    client.job.deregister_job("gone")
    wait_for(
        lambda: all(a["ClientStatus"] == "complete" for a in client.job.get_allocations("gone")),
        what="the stopped job's tasks to finish",
    )
    assert client.job.get_job("gone")["Status"] == "dead"
    client.system.initiate_garbage_collection()
    assert client.jobs.get_jobs(prefix="gone") == []
    assert client.job.get_allocations("gone") == []
    evals = {e["ID"] for e in client.evaluations.get_evaluations()}
    assert not evals & gone_evals
    assert not [a for a in client.allocations.get_allocations() if a["JobID"] == "gone"]
    assert not [d for d in client.deployments.get_deployments() if d["JobID"] == "gone"]
    wait_for(lambda: not any(d.exists() for d in gone_dirs), what="the alloc dirs to go")
    # The live job keeps its job, evaluation, allocation, directory and process.
    assert [a["ID"] for a in client.job.get_allocations("live")] == [a["ID"] for a in live]
    assert client.job.get_evaluations("live")
    assert client.job.get_deployment("live")["Status"] == "successful"
    assert all(d.exists() for d in live_dirs)
    assert len(task_processes({a["ID"] for a in live})) == 1


def test_the_time_table_turns_an_age_into_an_index() -> None:
    table = TimeTable()
    table.witness(10, when=1000.0)
    table.witness(25, when=1300.0)
    table.witness(40, when=1600.0)
    assert table.nearest_index(999.0) == 0  # nothing that old: nothing is collected
    assert table.nearest_index(1000.0) == 10
    assert table.nearest_index(1599.0) == 25
    assert table.nearest_index(5000.0) == 40
