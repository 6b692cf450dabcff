"""Several nodes: drains, node failures, placement across nodes (a real 3-node practice agent)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator

import nomad
import pytest
from conftest import JOBS, practice_node, reset, restore_nodes, task_processes, wait_for

from nomadlab.practice import CLASSROOM, Agent
from nomadlab.practice.structs import parse_rfc3339

HA_JOB = "http-ha"


@pytest.fixture(scope="module")
def module_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """One 3-node practice agent for the module, with the classroom's heartbeat timers (a
    failed node is noticed in 4 to 7 s, not Nomad's 20 to 30), as a learner's has them."""
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with Agent(http_port=None, nodes=3, log_file=log, config=[CLASSROOM]) as running:
        yield running


@pytest.fixture
def three_nodes(module_agent: Agent) -> Iterator[Agent]:
    """The module's agent as a fresh one would be: after the test, every node it failed,
    drained or marked ineligible is brought back, then the agent is reset."""
    reset(module_agent)
    yield module_agent
    restore_nodes(module_agent)
    reset(module_agent)


@pytest.fixture
def cluster(three_nodes: Agent) -> nomad.Nomad:
    return nomad.Nomad(address=three_nodes.address, timeout=30)


def run_ha(client: nomad.Nomad, count: int = 3, edit=None) -> dict:
    """Parse jobs/http-echo-ha.nomad.hcl through the agent (optionally edited), register it."""
    job = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": (JOBS / "http-echo-ha.nomad.hcl").read_text(),
            "Canonicalize": True,
            "Variables": f'python = "{sys.executable}"\ncount = {count}\n',
        },
    ).json()
    if edit is not None:
        edit(job)
    return client.jobs.register_job({"Job": job})


def previous(client: nomad.Nomad, stub: dict) -> str:
    """The allocation a stub's allocation replaced: only the full Allocation has the field
    (structs.AllocListStub has no PreviousAllocation)."""
    return client.allocation.get_allocation(stub["ID"])["PreviousAllocation"]


def live(client: nomad.Nomad, job: str = HA_JOB) -> list[dict]:
    return [
        a
        for a in client.job.get_allocations(job)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"
    ]


def healthy(client: nomad.Nomad, count: int) -> list[dict]:
    allocs = [a for a in live(client) if (a["DeploymentStatus"] or {}).get("Healthy")]
    return allocs if len(allocs) == count else []


def names(client: nomad.Nomad) -> dict[str, str]:
    return {n["ID"]: n["Name"] for n in client.nodes.get_nodes()}


def test_a_drain_moves_copies_one_batch_at_a_time_and_ends_ineligible(
    cluster: nomad.Nomad,
) -> None:
    nodes = cluster.nodes.get_nodes()
    target, others = nodes[0]["ID"], [n["ID"] for n in nodes[1:]]
    for node_id in others:  # everything starts on the node to drain
        cluster.node.eligible_node(node_id, ineligible=True)
    run_ha(cluster)
    wait_for(lambda: healthy(cluster, 3), what="three healthy copies")
    for node_id in others:
        cluster.node.eligible_node(node_id, eligible=True)

    cluster.node.drain_node_with_spec(target, {"Deadline": 0}, mark_eligible=False)
    node = cluster.node.get_node(target)
    assert node["DrainStrategy"]["Deadline"] == 0
    assert node["SchedulingEligibility"] == "ineligible"
    assert node["LastDrain"]["Status"] == "draining"
    assert node["Events"][-1]["Message"] == "Node drain strategy set"

    missing: list[int] = []

    def drain_done() -> dict | None:
        node = cluster.node.get_node(target)
        up = [
            a
            for a in cluster.job.get_allocations(HA_JOB)
            if a["DesiredStatus"] == "run" and (a["DeploymentStatus"] or {}).get("Healthy")
        ]
        missing.append(3 - len(up))
        return node if node["DrainStrategy"] is None else None

    n = wait_for(drain_done, what="the drain to complete")
    assert n["DrainStrategy"] is None
    assert n["LastDrain"]["Status"] == "complete"
    assert n["SchedulingEligibility"] == "ineligible"
    assert n["Events"][-1]["Message"] == "Node drain complete"
    assert max(missing) <= 1  # migrate.max_parallel = 1: never two copies down at once

    allocs = cluster.job.get_allocations(HA_JOB)
    drained = sorted((a for a in allocs if a["NodeID"] == target), key=lambda a: a["ModifyIndex"])
    assert len(drained) == 3
    assert all(a["DesiredTransition"]["Migrate"] is True for a in drained)
    assert all(a["DesiredDescription"] == "alloc is being migrated" for a in drained)
    replacements = {p: a for a in allocs if (p := previous(cluster, a))}
    assert set(replacements) == {a["ID"] for a in drained}
    # Batches: each replacement was placed only after the previous one was healthy.
    ordered = sorted(replacements.values(), key=lambda a: a["CreateIndex"])
    for earlier, later in itertools.pairwise(ordered):
        healthy_at = parse_rfc3339(earlier["DeploymentStatus"]["Timestamp"])
        assert later["CreateTime"] >= healthy_at
    assert all(a["NodeID"] in others for a in ordered)
    wait_for(lambda: not task_processes({a["ID"] for a in drained}), what="old tasks to exit")


SLOW_TO_STOP = (
    "import os, runpy, signal, sys, time\n"
    "def leave(*_):\n"
    "    time.sleep(1.5)\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGINT, leave)\n"
    "signal.signal(signal.SIGTERM, leave)\n"
    "sys.argv = ['echo', '-listen', os.environ['NOMAD_ADDR_http'], '-text', 'slow']\n"
    "runpy.run_module('nomadlab.echo', run_name='__main__')\n"
)


def test_a_drain_in_migrate_batches_completes_only_after_its_last_allocation_stops(
    cluster: nomad.Nomad,
) -> None:
    """Follows nomad/drainer's drainingNode.IsDone (TestDrainingNode_IsDone: done only once
    every non-system allocation on the node is terminal on its client) and
    handleTaskGroup (TestHandleTaskGroup_Migrations: at most migrate.max_parallel copies
    leave at once). The tasks take 1.5 s to stop, so a drain that counted the server's
    stop as done would end before its last task did."""
    nodes = cluster.nodes.get_nodes()
    target, others = nodes[0]["ID"], [n["ID"] for n in nodes[1:]]
    for node_id in others:
        cluster.node.eligible_node(node_id, ineligible=True)

    def slow_to_stop(job: dict) -> None:
        group = job["TaskGroups"][0]
        group["Migrate"].update(MaxParallel=2, MinHealthyTime=500_000_000)
        group["Update"]["MinHealthyTime"] = 500_000_000
        group["Tasks"][0]["Config"]["args"] = ["-c", SLOW_TO_STOP]

    run_ha(cluster, edit=slow_to_stop)
    wait_for(lambda: healthy(cluster, 3), what="three healthy copies")
    for node_id in others:
        cluster.node.eligible_node(node_id, eligible=True)
    cluster.node.drain_node_with_spec(target, {"Deadline": 0}, mark_eligible=False)
    missing: list[int] = []

    def drain_done() -> dict | None:
        up = [
            a
            for a in cluster.job.get_allocations(HA_JOB)
            if a["DesiredStatus"] == "run" and (a["DeploymentStatus"] or {}).get("Healthy")
        ]
        missing.append(3 - len(up))
        node = cluster.node.get_node(target)
        return node if node["DrainStrategy"] is None else None

    node = wait_for(drain_done, what="the drain to complete")
    complete = node["Events"][-1]
    assert complete["Message"] == "Node drain complete"
    assert max(missing) <= 2  # migrate.max_parallel = 2
    drained = [
        cluster.allocation.get_allocation(a["ID"])
        for a in cluster.job.get_allocations(HA_JOB)
        if a["NodeID"] == target
    ]
    assert len(drained) == 3
    assert all(a["ClientStatus"] == "complete" for a in drained)
    stopped_at = max(parse_rfc3339(a["TaskStates"]["server"]["FinishedAt"]) for a in drained)
    assert parse_rfc3339(complete["Timestamp"]) >= stopped_at

    # Two left in the first batch, the third only once a replacement of theirs was healthy.
    def killed_at(alloc: dict) -> int:
        events = alloc["TaskStates"]["server"]["Events"]
        return min(e["Time"] for e in events if e["Type"] == "Killing")

    first, second, third = sorted(drained, key=killed_at)
    replacements = [
        cluster.allocation.get_allocation(a["ID"])
        for a in cluster.job.get_allocations(HA_JOB)
        if a["NodeID"] != target
    ]
    healthy_at = [
        parse_rfc3339(r["DeploymentStatus"]["Timestamp"])
        for r in replacements
        if r["PreviousAllocation"] in (first["ID"], second["ID"])
    ]
    assert len(healthy_at) == 2
    assert killed_at(third) >= min(healthy_at)


def test_a_drain_past_its_deadline_moves_the_rest_at_once(cluster: nomad.Nomad) -> None:
    nodes = cluster.nodes.get_nodes()
    target, others = nodes[0]["ID"], [n["ID"] for n in nodes[1:]]
    for node_id in others:
        cluster.node.eligible_node(node_id, ineligible=True)

    def slow_migrations(job: dict) -> None:
        job["TaskGroups"][0]["Migrate"]["MinHealthyTime"] = 300 * 10**9

    run_ha(cluster, edit=slow_migrations)
    wait_for(lambda: healthy(cluster, 3), what="three healthy copies")
    for node_id in others:
        cluster.node.eligible_node(node_id, eligible=True)
    cluster.node.drain_node_with_spec(target, {"Deadline": 2 * 10**9}, mark_eligible=False)
    node = wait_for(
        lambda: (n := cluster.node.get_node(target))["DrainStrategy"] is None and n,
        what="the drain to end at its deadline",
    )
    assert node["Events"][-1]["Message"] == "Node drain complete"
    assert node["Events"][-1]["Details"] == {"deadline_reached": "true"}
    # handleDeadlinedNodes marks what is left and ends the drain at once; the scheduler
    # then stops the marked allocations.
    wait_for(
        lambda: all(
            a["DesiredStatus"] == "stop"
            for a in cluster.job.get_allocations(HA_JOB)
            if a["NodeID"] == target
        ),
        what="the scheduler to stop the marked allocations",
    )

    # A negative deadline forces the drain at once: no ForceDeadline, everything marked.
    cluster.node.eligible_node(target, eligible=True)
    second = others[0]
    cluster.node.drain_node_with_spec(second, {"Deadline": -1}, mark_eligible=False)
    strategy = cluster.node.get_node(second)["DrainStrategy"]
    assert strategy is None or strategy["ForceDeadline"] == "0001-01-01T00:00:00Z"
    forced = wait_for(
        lambda: (n := cluster.node.get_node(second))["DrainStrategy"] is None and n,
        what="the forced drain to end",
    )
    assert forced["Events"][-1]["Details"] == {"deadline_reached": "true"}


def test_disabling_a_drain_cancels_it_and_can_mark_the_node_eligible(
    cluster: nomad.Nomad,
) -> None:
    nodes = cluster.nodes.get_nodes()
    target = nodes[0]["ID"]
    for node in nodes[1:]:  # nowhere else to go: the drain cannot finish
        cluster.node.eligible_node(node["ID"], ineligible=True)
    run_ha(cluster, count=2)
    wait_for(lambda: healthy(cluster, 2), what="two healthy copies")
    with pytest.raises(nomad.api.exceptions.BadRequestNomadException) as err:
        cluster.node.drain_node_with_spec(target, {"Deadline": "soon"})
    assert "Deadline" in err.value.nomad_resp.text

    cluster.node.drain_node_with_spec(target, {"Deadline": 3600 * 10**9}, mark_eligible=False)
    strategy = cluster.node.get_node(target)["DrainStrategy"]
    assert parse_rfc3339(strategy["ForceDeadline"]) - parse_rfc3339(strategy["StartedAt"]) == (
        3600 * 10**9
    )
    with pytest.raises(nomad.api.exceptions.BaseNomadException) as err:
        cluster.node.eligible_node(target, eligible=True)
    assert err.value.nomad_resp.status_code == 500
    assert err.value.nomad_resp.text == (
        "can not set node's scheduling eligibility to eligible while it is draining"
    )
    # The first copy is stopped for migration; its replacement has nowhere to go.
    wait_for(
        lambda: cluster.job.get_summary(HA_JOB)["Summary"]["echo"]["Queued"] == 1,
        what="the replacement to wait for a node",
    )
    # python-nomad's drain_node(False) sends DrainSpec null: cancel, and eligible again.
    cluster.node.drain_node_with_spec(target, None, mark_eligible=True)
    node = cluster.node.get_node(target)
    assert node["DrainStrategy"] is None
    assert node["LastDrain"]["Status"] == "canceled"
    assert node["SchedulingEligibility"] == "eligible"
    assert node["Events"][-1]["Message"] == "Node drain disabled"
    # The waiting replacement lands back on the node that is eligible again.
    allocs = wait_for(lambda: healthy(cluster, 2), what="two healthy copies again")
    assert {a["NodeID"] for a in allocs} == {target}


def test_a_failed_node_goes_down_its_copies_are_lost_and_replaced_and_it_comes_back(
    three_nodes: Agent, cluster: nomad.Nomad
) -> None:
    """Follows TestReconciler_LostNode (scheduler/reconcile_test.go): without a
    ``disconnect`` block, the allocations of a node that went down are stopped as lost and
    replaced elsewhere under the same names."""
    run_ha(cluster)
    allocs = wait_for(lambda: healthy(cluster, 3), what="three healthy copies")
    victim = allocs[0]
    node_id = victim["NodeID"]

    answer = practice_node(three_nodes, node_id, "fail")
    assert answer.status_code == 200 and answer.json()["Failed"] is True
    wait_for(lambda: not task_processes({victim["ID"]}), what="the dead node's task to vanish")
    # Nobody knows yet: the server only notices when the heartbeats stop coming.
    assert cluster.node.get_node(node_id)["Status"] == "ready"
    again = practice_node(three_nodes, node_id, "fail")
    assert again.status_code == 400 and "already failed" in again.text

    node = wait_for(
        lambda: (n := cluster.node.get_node(node_id))["Status"] == "down" and n,
        what="the node to miss its heartbeat TTL and grace",
    )
    assert node["Events"][-1]["Message"] == "Node heartbeat missed"
    lost = wait_for(
        lambda: (
            (a := cluster.allocation.get_allocation(victim["ID"]))["ClientStatus"] == "lost" and a
        ),
        what="the allocation to be lost",
    )
    assert lost["DesiredStatus"] == "stop"
    assert lost["DesiredDescription"] == "alloc is lost since its node is down"
    replaced = wait_for(lambda: healthy(cluster, 3), what="a replacement elsewhere")
    replacement = next(a for a in replaced if previous(cluster, a) == victim["ID"])
    assert replacement["NodeID"] != node_id
    assert replacement["Name"] == victim["Name"]
    assert cluster.job.get_summary(HA_JOB)["Summary"]["echo"]["Lost"] == 1

    back = practice_node(three_nodes, node_id, "recover")
    assert back.status_code == 200 and back.json()["Failed"] is False
    node = wait_for(
        lambda: (n := cluster.node.get_node(node_id))["Status"] == "ready" and n,
        what="the node to come back",
    )
    assert node["Events"][-1]["Message"] == "Node reregistered by heartbeat"
    assert practice_node(three_nodes, node_id, "recover").status_code == 400
    assert cluster.allocation.get_allocation(victim["ID"])["ClientStatus"] == "lost"
    assert not task_processes({victim["ID"]})
    missing = practice_node(three_nodes, "no-such-node", "fail")
    assert missing.status_code == 404 and missing.text == "node not found"


def test_with_a_disconnect_window_copies_are_unknown_then_reconnect(
    three_nodes: Agent, cluster: nomad.Nomad
) -> None:
    """Follows TestReconciler_Disconnected_Client and reconcileReconnecting: with a
    ``disconnect`` block the allocations of a silent node turn unknown (not lost), get
    replacements, and on reconnect the originals stay and the replacements stop."""

    def tolerate_disconnects(job: dict) -> None:
        job["TaskGroups"][0]["Disconnect"] = {
            "LostAfter": 300 * 10**9,
            "Replace": True,
            "Reconcile": "best_score",
        }

    run_ha(cluster, edit=tolerate_disconnects)
    allocs = wait_for(lambda: healthy(cluster, 3), what="three healthy copies")
    victim = allocs[0]
    node_id = victim["NodeID"]
    practice_node(three_nodes, node_id, "fail")
    wait_for(
        lambda: cluster.node.get_node(node_id)["Status"] == "disconnected",
        what="the node to be disconnected",
    )
    unknown = wait_for(
        lambda: (
            (a := cluster.allocation.get_allocation(victim["ID"]))["ClientStatus"] == "unknown"
            and a
        ),
        what="the allocation to be unknown",
    )
    assert unknown["DesiredStatus"] == "run"
    assert unknown["AllocStates"][-1]["Value"] == "unknown"
    replaced = wait_for(lambda: healthy(cluster, 3), what="a replacement elsewhere")
    replacement = next(a for a in replaced if previous(cluster, a) == victim["ID"])

    practice_node(three_nodes, node_id, "recover")
    wait_for(
        lambda: cluster.allocation.get_allocation(replacement["ID"])["DesiredStatus"] == "stop",
        what="the replacement to give way",
    )
    assert (
        cluster.allocation.get_allocation(replacement["ID"])["DesiredDescription"]
        == "alloc not needed due to disconnected client reconnect"
    )
    wait_for(
        lambda: cluster.allocation.get_allocation(victim["ID"])["ClientStatus"] == "running",
        what="the original to run again on its node",
    )
    assert cluster.node.get_node(node_id)["Status"] == "ready"


def placements(client: nomad.Nomad, count: int, job: str = HA_JOB) -> dict[str, int]:
    """How many running copies each node name holds, once ``count`` run."""
    allocs = wait_for(
        lambda: (r := live(client, job)) and len(r) == count and r,
        what=f"{count} running copies",
    )
    spread: dict[str, int] = {}
    for alloc in allocs:
        spread[alloc["NodeName"]] = spread.get(alloc["NodeName"], 0) + 1
    return spread


def test_spread_puts_copies_evenly_over_the_three_nodes(cluster: nomad.Nomad) -> None:
    run_ha(cluster, count=3)
    assert sorted(placements(cluster, 3).values()) == [1, 1, 1]
    alloc = cluster.allocation.get_allocation(live(cluster)[0]["ID"])
    best = alloc["Metrics"]["ScoreMetaData"][0]
    assert best["NodeID"] == alloc["NodeID"]
    assert set(best["Scores"]) >= {"binpack", "job-anti-affinity", "allocation-spread"}
    wait_for(lambda: cluster.job.get_deployment(HA_JOB)["Status"] == "successful")
    cluster.job.request(
        HA_JOB, "scale", method="post", json={"Count": 6, "Target": {"Group": "echo"}}
    )
    assert sorted(placements(cluster, 6).values()) == [2, 2, 2]


def test_distinct_hosts_keeps_copies_apart_and_says_why_the_fourth_waits(
    cluster: nomad.Nomad,
) -> None:
    def distinct(job: dict) -> None:
        group = job["TaskGroups"][0]
        group["Spreads"] = None
        group["Constraints"] = [{"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"}]

    run_ha(cluster, count=4, edit=distinct)
    assert sorted(placements(cluster, 3).values()) == [1, 1, 1]
    failed = wait_for(
        lambda: next((e for e in cluster.job.get_evaluations(HA_JOB) if e["FailedTGAllocs"]), None),
        what="the evaluation that could not place the fourth copy",
    )
    assert failed["FailedTGAllocs"]["echo"]["ConstraintFiltered"] == {"distinct_hosts": 3}
    assert cluster.job.get_summary(HA_JOB)["Summary"]["echo"]["Queued"] == 1


def test_constraints_and_affinities_on_node_attributes(cluster: nomad.Nomad) -> None:
    nodes = sorted(n["Name"] for n in cluster.nodes.get_nodes())

    def avoid_first_prefer_last(job: dict) -> None:
        group = job["TaskGroups"][0]
        group["Spreads"] = None
        group["Constraints"] = [
            {"LTarget": "${node.unique.name}", "RTarget": nodes[0], "Operand": "!="}
        ]
        group["Affinities"] = [
            {"LTarget": "${node.unique.name}", "RTarget": nodes[2], "Operand": "=", "Weight": 100}
        ]

    run_ha(cluster, count=1, edit=avoid_first_prefer_last)
    assert placements(cluster, 1) == {nodes[2]: 1}
    alloc = cluster.allocation.get_allocation(live(cluster)[0]["ID"])
    assert alloc["Metrics"]["ConstraintFiltered"] == {f"${{node.unique.name}} != {nodes[0]}": 1}
    assert alloc["Metrics"]["ScoreMetaData"][0]["Scores"]["node-affinity"] == 1.0

    def nowhere(job: dict) -> None:
        job["ID"] = job["Name"] = "nowhere"
        job["Constraints"] = [
            {"LTarget": "${attr.kernel.name}", "RTarget": "plan9", "Operand": "="}
        ]

    run_ha(cluster, count=1, edit=nowhere)
    failed = wait_for(
        lambda: next(
            (e for e in cluster.job.get_evaluations("nowhere") if e["FailedTGAllocs"]), None
        ),
        what="the placement failure",
    )
    assert failed["FailedTGAllocs"]["echo"]["ConstraintFiltered"] == {
        "${attr.kernel.name} = plan9": 3
    }


def test_a_copy_that_keeps_crashing_is_rescheduled_to_another_node_with_its_history(
    cluster: nomad.Nomad,
) -> None:
    run_ha(cluster, count=1)
    first = wait_for(lambda: healthy(cluster, 1), what="a healthy copy")[0]
    for crash in range(2):  # restart { attempts = 1 }: the second crash fails the allocation
        processes = wait_for(lambda: task_processes({first["ID"]}), what="the task to run")
        processes[0].kill()
        if crash == 0:
            wait_for(
                lambda: (
                    cluster.allocation.get_allocation(first["ID"])["TaskStates"]["server"][
                        "Restarts"
                    ]
                    == 1
                    and task_processes({first["ID"]})
                ),
                what="the restart in place",
            )
    failed = wait_for(
        lambda: (
            (a := cluster.allocation.get_allocation(first["ID"]))["ClientStatus"] == "failed" and a
        ),
        what="the allocation to fail",
    )
    events = [e["Type"] for e in failed["TaskStates"]["server"]["Events"]]
    assert events[-1] == "Not Restarting" and "Restarting" in events
    replacement = wait_for(
        lambda: next((a for a in live(cluster) if previous(cluster, a) == first["ID"]), None),
        what="the rescheduled copy",
    )
    assert replacement["NodeID"] != first["NodeID"]  # the node it failed on is penalised
    tracker = replacement["RescheduleTracker"]["Events"]
    assert [(e["PrevAllocID"], e["PrevNodeID"]) for e in tracker] == [
        (first["ID"], first["NodeID"])
    ]
    assert tracker[0]["Delay"] == 5 * 10**9
    assert cluster.allocation.get_allocation(first["ID"])["NextAllocation"] == replacement["ID"]
