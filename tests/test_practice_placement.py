"""Placing a huge job: what fits is placed, the rest is coalesced into one failure and one
blocked evaluation, as Nomad does it, and the API keeps answering meanwhile."""

from __future__ import annotations

import threading

import nomad
import pytest
import requests
from conftest import raw_exec_job, wait_for

from nomadlab.practice import Agent

INT64_MAX = 2**63 - 1


def sleeper_job(client: nomad.Nomad, count: int, job_id: str = "huge") -> dict:
    """``count`` copies of /bin/sleep, each asking a bit over a quarter of the node's CPU."""
    (node,) = client.nodes.get_nodes()
    cpu = client.node.get_node(node["ID"])["NodeResources"]["Cpu"]["CpuShares"]
    return raw_exec_job(job_id, count, "/bin/sleep", ["3600"], cpu=cpu // 4 + 1)


def placed_eval(client: nomad.Nomad, eval_id: str) -> dict:
    return wait_for(
        lambda: (e := client.evaluation.get_evaluation(eval_id))["Status"] == "complete" and e,
        what="the evaluation to complete",
    )


@pytest.mark.parametrize("count", [1_000_000, INT64_MAX])
def test_a_huge_count_places_what_fits_and_coalesces_the_rest(
    agent: Agent, client: nomad.Nomad, count: int
) -> None:
    answered: list[int] = []
    stop = threading.Event()

    def ask_leader() -> None:
        while not stop.is_set():
            response = requests.get(f"{agent.address}/v1/status/leader", timeout=30)
            answered.append(response.status_code)
            stop.wait(0.05)

    asker = threading.Thread(target=ask_leader)
    asker.start()
    try:
        registered = client.jobs.register_job({"Job": sleeper_job(client, count)})
        evaluation = placed_eval(client, registered["EvalID"])
    finally:
        stop.set()
        asker.join()
    assert answered and set(answered) == {200}
    allocs = client.job.get_allocations("huge")
    assert len(allocs) == 3  # three quarters-and-a-bit fit on the node
    failure = evaluation["FailedTGAllocs"]["g"]
    assert failure["CoalescedFailures"] == count - 3 - 1
    assert failure["NodesExhausted"] == 1 and failure["DimensionExhausted"] == {"cpu": 1}
    assert failure["ResourcesExhausted"]["t"]["CPU"] > 0
    assert evaluation["QueuedAllocations"] == {"g": count - 3}
    blocked = client.evaluation.get_evaluation(evaluation["BlockedEval"])
    assert blocked["Status"] == "blocked" and blocked["TriggeredBy"] == "queued-allocs"
    summary = client.job.get_summary("huge")["Summary"]["g"]
    assert summary["Queued"] == count - 3 and summary["Starting"] + summary["Running"] == 3


def test_running_a_huge_job_again_keeps_one_blocked_evaluation(client: nomad.Nomad) -> None:
    for count in (500_000, 600_000, 700_000):
        registered = client.jobs.register_job({"Job": sleeper_job(client, count)})
        placed_eval(client, registered["EvalID"])
    statuses = [e["Status"] for e in client.job.get_evaluations("huge")]
    assert statuses.count("blocked") == 1
    assert statuses.count("canceled") == 2
    assert len(client.job.get_allocations("huge")) == 3
