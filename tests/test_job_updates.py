"""Updating a job on the practice agent through python-nomad: plan, check-index, validate,
versions, stable, revert, canaries, promote, pause, fail and auto-revert."""

from __future__ import annotations

import time

import nomad
import pytest
from conftest import wait_for
from nomad.api import exceptions
from test_practice_lifecycle import (
    CRASH_ARGS,
    ECHO_ARGS,
    deployment_ends,
    latest_deployment,
    live,
    service_hcl,
)

from nomadlab.practice.structs import parse_rfc3339

QUICK = 'max_parallel = 1\n min_healthy_time = "1s"\n healthy_deadline = "1m"'


def parse(client: nomad.Nomad, hcl: str) -> dict:
    return client.jobs.request("parse", method="post", json={"JobHCL": hcl}).json()


def job_of(client: nomad.Nomad, name: str, text: str = "hi", count: int = 1, **kw: str) -> dict:
    args = ECHO_ARGS.replace("hi from", f"{text} from")
    return parse(client, service_hcl(name, args, count=count, **kw))


def plan(client: nomad.Nomad, job: dict) -> dict:
    return client.job.plan_job(job["ID"], {"Job": job}, diff=True)


def run_and_settle(client: nomad.Nomad, job: dict) -> dict:
    client.jobs.register_job({"Job": job})
    version = client.job.get_job(job["ID"])["Version"]
    return wait_for(
        lambda: (
            (d := latest_deployment(client, job["ID"]))
            and d["JobVersion"] == version
            and d["Status"] in ("successful", "failed")
            and d
        ),
        what=f"version {version}'s deployment to end",
    )


def deployment_of(client: nomad.Nomad, job_id: str, version: int, status: str) -> dict | None:
    """The job's deployment of ``version`` once it has ``status``."""
    return next(
        (
            d
            for d in client.job.get_deployments(job_id)
            if d["JobVersion"] == version and d["Status"] == status
        ),
        None,
    )


def error_of(call) -> tuple[int, str]:
    with pytest.raises(exceptions.BaseNomadException) as raised:
        call()
    return raised.value.nomad_resp.status_code, raised.value.nomad_resp.text


def test_a_job_without_an_update_block_gets_nomads_default_strategy(client: nomad.Nomad) -> None:
    job = parse(client, service_hcl("plain", ECHO_ARGS, update=""))
    client.jobs.register_job({"Job": job})
    update = client.job.get_job("plain")["TaskGroups"][0]["Update"]
    s = 1_000_000_000
    assert update == {
        "Stagger": 30 * s,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * s,
        "HealthyDeadline": 300 * s,
        "ProgressDeadline": 600 * s,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }


def test_check_index_runs_only_on_the_index_the_plan_saw(client: nomad.Nomad) -> None:
    job = job_of(client, "checked")
    status, text = error_of(
        lambda: client.jobs.register_job({"Job": job, "EnforceIndex": True, "JobModifyIndex": 5})
    )
    assert (status, text) == (500, "Enforcing job modify index 5: job does not exist")
    first = client.jobs.register_job({"Job": job, "EnforceIndex": True, "JobModifyIndex": 0})
    index = first["JobModifyIndex"]
    changed = job_of(client, "checked", text="hello")
    assert plan(client, changed)["JobModifyIndex"] == index
    stale = index - 1
    status, text = error_of(
        lambda: client.jobs.register_job(
            {"Job": changed, "EnforceIndex": True, "JobModifyIndex": stale}
        )
    )
    assert status == 500
    assert text == (
        f"Enforcing job modify index {stale}: job exists with conflicting job modify index: {index}"
    )
    assert client.job.get_job("checked")["Version"] == 0
    second = client.jobs.register_job(
        {"Job": changed, "EnforceIndex": True, "JobModifyIndex": index}
    )
    assert second["JobModifyIndex"] > index
    assert client.job.get_job("checked")["Version"] == 1


def test_plan_of_a_count_change_annotates_creates(client: nomad.Nomad) -> None:
    run_and_settle(client, job_of(client, "counted", update=QUICK))
    before = client.job.get_allocations("counted")
    result = plan(client, job_of(client, "counted", count=3, update=QUICK))
    diff = result["Diff"]
    assert diff["Type"] == "Edited"
    (group,) = diff["TaskGroups"]
    assert group["Type"] == "Edited"
    # As in Nomad's docs: the running copy takes the new version in place.
    assert group["Updates"] == {"create": 2, "in-place update": 1}
    assert group["Fields"] == [
        {
            "Type": "Edited",
            "Name": "Count",
            "Old": "1",
            "New": "3",
            "Annotations": ["forces create"],
        }
    ]
    assert group["Tasks"][0]["Type"] == "None"
    updates = result["Annotations"]["DesiredTGUpdates"]["app"]
    assert (updates["Place"], updates["InPlaceUpdate"], updates["DestructiveUpdate"]) == (2, 1, 0)
    assert result["FailedTGAllocs"] is None
    # A dry run: nothing was registered, placed or evaluated.
    assert client.job.get_job("counted")["Version"] == 0
    assert client.job.get_allocations("counted") == before
    assert len(client.job.get_evaluations("counted")) == 1


def test_plan_of_a_text_change_forces_one_create_destroy_update_at_a_time(
    client: nomad.Nomad,
) -> None:
    run_and_settle(client, job_of(client, "texted", count=3, update=QUICK))
    diff = plan(client, job_of(client, "texted", text="hello", count=3, update=QUICK))["Diff"]
    (group,) = diff["TaskGroups"]
    assert group["Updates"] == {"create/destroy update": 1, "ignore": 2}
    (task,) = group["Tasks"]
    assert task["Type"] == "Edited"
    assert task["Annotations"] == ["forces create/destroy update"]
    (config,) = task["Objects"]
    assert config["Name"] == "Config" and config["Type"] == "Edited"
    edited = [f for f in config["Fields"] if f["Type"] == "Edited"]
    assert edited == [
        {
            "Type": "Edited",
            "Name": "args[5]",
            "Old": "hi from ${NOMAD_ALLOC_INDEX}",
            "New": "hello from ${NOMAD_ALLOC_INDEX}",
            "Annotations": None,
        }
    ]
    # Contextual: the unchanged fields of an edited object come along, typed None.
    assert {f["Name"] for f in config["Fields"] if f["Type"] == "None"} >= {"command", "args[0]"}


def test_plan_of_a_new_group_creates_it(client: nomad.Nomad) -> None:
    job = job_of(client, "grown", update=QUICK)
    run_and_settle(client, job)
    extra = dict(job["TaskGroups"][0], Name="extra")
    grown = dict(job, TaskGroups=[job["TaskGroups"][0], extra])
    diff = plan(client, grown)["Diff"]
    groups = {g["Name"]: g for g in diff["TaskGroups"]}
    assert groups["app"]["Type"] == "None"
    # A new job version: the unchanged group's allocation takes it in place.
    assert groups["app"]["Updates"] == {"in-place update": 1}
    assert groups["extra"]["Type"] == "Added"
    assert groups["extra"]["Updates"] == {"create": 1}
    assert groups["extra"]["Tasks"][0]["Type"] == "Added"
    assert groups["extra"]["Tasks"][0]["Annotations"] == ["forces create"]


def test_plan_reports_what_cannot_be_placed_and_places_nothing(client: nomad.Nomad) -> None:
    job = job_of(client, "huge")
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 10_000_000
    result = plan(client, job)
    assert result["Diff"]["Type"] == "Added"
    assert result["JobModifyIndex"] == 0
    failed = result["FailedTGAllocs"]["app"]
    assert failed["NodesExhausted"] == 1 and failed["DimensionExhausted"] == {"memory": 1}
    assert result["CreatedEvals"][0]["Status"] == "blocked"
    assert client.jobs.get_jobs() == []
    assert client.evaluations.get_evaluations() == []


def test_validate_lists_errors(client: nomad.Nomad) -> None:
    job = job_of(client, "invalid")
    job["TaskGroups"][0]["Count"] = -1
    result = client.validate.validate_job({"Job": job}).json()
    assert result["DriverConfigValidated"] is True
    assert result["ValidationErrors"] and result["Error"].startswith("1 error occurred:")
    assert any("count can't be negative" in e for e in result["ValidationErrors"])
    good = client.validate.validate_job({"Job": job_of(client, "valid")}).json()
    assert good["ValidationErrors"] is None and good["Error"] == ""


def test_versions_with_diffs_stable_and_revert(client: nomad.Nomad) -> None:
    first = run_and_settle(client, job_of(client, "versioned", update=QUICK))
    assert first["Status"] == "successful"
    run_and_settle(client, job_of(client, "versioned", text="hello", update=QUICK))
    versions = client.job.request(
        "versioned", "versions", params={"diffs": "true"}, method="get"
    ).json()
    assert [v["Version"] for v in versions["Versions"]] == [1, 0]
    assert [v["Stable"] for v in versions["Versions"]] == [True, True]
    (diff,) = versions["Diffs"]
    assert diff["Type"] == "Edited"
    assert diff["TaskGroups"][0]["Tasks"][0]["Objects"][0]["Name"] == "Config"

    client.job.stable_job("versioned", 0, False)
    versions = client.job.get_versions("versioned")["Versions"]
    assert [v["Stable"] for v in versions] == [True, False]

    status, text = error_of(lambda: client.job.revert_job("versioned", 0, 7))
    assert (status, text) == (500, "current job has version 1; enforcing version 7")
    status, text = error_of(lambda: client.job.revert_job("versioned", 1))
    assert (status, text) == (500, "can't revert to current version")
    status, text = error_of(lambda: client.job.revert_job("versioned", 9))
    assert text == 'job "versioned" in namespace "default" at version 9 not found'

    client.job.revert_job("versioned", 0, 1)
    job = client.job.get_job("versioned")
    assert job["Version"] == 2
    assert "hi from" in job["TaskGroups"][0]["Tasks"][0]["Config"]["args"][5]
    wait_for(
        lambda: sorted(a["JobVersion"] for a in live(client, "versioned")) == [2],
        what="the reverted version to run",
    )


def canary_update(canary: int, auto_promote: bool = False, auto_revert: bool = False) -> str:
    return (
        f"{QUICK}\n canary = {canary}\n auto_promote = {str(auto_promote).lower()}\n"
        f" auto_revert = {str(auto_revert).lower()}"
    )


def waits_for_promotion(client: nomad.Nomad, job_id: str) -> dict:
    return wait_for(
        lambda: (
            (d := latest_deployment(client, job_id))
            and d["JobVersion"] == 1
            and d["TaskGroups"]["app"]["HealthyAllocs"] >= d["TaskGroups"]["app"]["DesiredCanaries"]
            and d
        ),
        what="healthy canaries",
    )


def test_a_canary_runs_beside_the_old_version_until_promoted(client: nomad.Nomad) -> None:
    run_and_settle(client, job_of(client, "canaried", count=2, update=canary_update(1)))
    client.jobs.register_job(
        {"Job": job_of(client, "canaried", text="hello", count=2, update=canary_update(1))}
    )
    deployment = waits_for_promotion(client, "canaried")
    assert deployment["Status"] == "running"
    assert deployment["StatusDescription"] == (
        "Deployment is running but requires manual promotion"
    )
    state = deployment["TaskGroups"]["app"]
    assert state["DesiredCanaries"] == 1 and state["Promoted"] is False
    (canary_id,) = state["PlacedCanaries"]
    running = live(client, "canaried")
    assert sorted(a["JobVersion"] for a in running) == [0, 0, 1]
    canary = client.allocation.get_allocation(canary_id)
    assert canary["DeploymentStatus"]["Canary"] is True
    assert canary["DeploymentStatus"]["Healthy"] is True

    status, text = error_of(lambda: client.deployment.fail_deployment("0000"))
    assert (status, text) == (404, "deployment not found")
    client.deployment.promote_deployment_all(deployment["ID"])
    done = deployment_ends(client, "canaried")
    assert done["Status"] == "successful"
    assert done["TaskGroups"]["app"]["Promoted"] is True
    wait_for(
        lambda: sorted(a["JobVersion"] for a in live(client, "canaried")) == [1, 1],
        what="every allocation on version 1",
    )
    status, text = error_of(lambda: client.deployment.promote_deployment_all(done["ID"]))
    assert (status, text) == (500, "can't promote terminal deployment")


def test_promoting_unhealthy_canaries_is_refused(client: nomad.Nomad) -> None:
    slow = canary_update(1).replace('min_healthy_time = "1s"', 'min_healthy_time = "5m"')
    slow = slow.replace('healthy_deadline = "1m"', 'healthy_deadline = "6m"')
    run_and_settle(client, job_of(client, "unready", update=QUICK))
    client.jobs.register_job({"Job": job_of(client, "unready", text="hello", update=slow)})
    deployment = wait_for(
        lambda: (
            (d := latest_deployment(client, "unready"))["TaskGroups"]["app"]["PlacedCanaries"] and d
        ),
        what="a canary",
    )
    status, text = error_of(lambda: client.deployment.promote_deployment_all(deployment["ID"]))
    assert status == 500
    assert 'Task group "app" has 0/1 healthy allocations' in text


def test_failing_a_canary_deployment_stops_the_canary(client: nomad.Nomad) -> None:
    run_and_settle(client, job_of(client, "failing", count=2, update=canary_update(1)))
    client.jobs.register_job(
        {"Job": job_of(client, "failing", text="hello", count=2, update=canary_update(1))}
    )
    deployment = waits_for_promotion(client, "failing")
    response = client.deployment.fail_deployment(deployment["ID"])
    assert response["EvalID"]
    failed = client.deployment.get_deployment(deployment["ID"])
    assert (failed["Status"], failed["StatusDescription"]) == (
        "failed",
        "Deployment marked as failed",
    )
    wait_for(
        lambda: sorted(a["JobVersion"] for a in live(client, "failing")) == [0, 0],
        what="the canary to stop",
    )
    status, text = error_of(lambda: client.deployment.fail_deployment(deployment["ID"]))
    assert (status, text) == (500, "can't fail terminal deployment")


def test_blue_green_runs_a_full_second_set_then_switches(client: nomad.Nomad) -> None:
    run_and_settle(client, job_of(client, "bluegreen", count=2, update=canary_update(2)))
    client.jobs.register_job(
        {"Job": job_of(client, "bluegreen", text="green", count=2, update=canary_update(2))}
    )
    deployment = waits_for_promotion(client, "bluegreen")
    assert sorted(a["JobVersion"] for a in live(client, "bluegreen")) == [0, 0, 1, 1]
    client.deployment.promote_deployment_all(deployment["ID"])
    assert deployment_ends(client, "bluegreen")["Status"] == "successful"
    wait_for(
        lambda: sorted(a["JobVersion"] for a in live(client, "bluegreen")) == [1, 1],
        what="the blue set to stop",
    )


def test_auto_promote_promotes_healthy_canaries(client: nomad.Nomad) -> None:
    update = canary_update(1, auto_promote=True)
    run_and_settle(client, job_of(client, "autopromoted", count=2, update=update))
    done = run_and_settle(
        client, job_of(client, "autopromoted", text="hello", count=2, update=update)
    )
    assert done["Status"] == "successful"
    assert done["TaskGroups"]["app"]["Promoted"] is True
    assert done["TaskGroups"]["app"]["DesiredCanaries"] == 1


def test_pause_and_resume(client: nomad.Nomad) -> None:
    run_and_settle(client, job_of(client, "paused", count=2, update=canary_update(1)))
    client.jobs.register_job(
        {"Job": job_of(client, "paused", text="hello", count=2, update=canary_update(1))}
    )
    deployment = waits_for_promotion(client, "paused")
    client.deployment.pause_deployment(deployment["ID"], True)
    paused = client.deployment.get_deployment(deployment["ID"])
    assert (paused["Status"], paused["StatusDescription"]) == ("paused", "Deployment is paused")
    client.deployment.pause_deployment(deployment["ID"], False)
    resumed = client.deployment.get_deployment(deployment["ID"])
    assert (resumed["Status"], resumed["StatusDescription"]) == (
        "running",
        "Deployment is running but requires manual promotion",
    )


def test_auto_revert_registers_the_last_stable_version_again(client: nomad.Nomad) -> None:
    update = f"{QUICK}\n auto_revert = true"
    no_restarts = 'attempts = 0\n delay = "1s"\n interval = "1h"\n mode = "fail"'
    good = parse(client, service_hcl("reverted", ECHO_ARGS, update=update, restart=no_restarts))
    assert run_and_settle(client, good)["Status"] == "successful"
    broken = parse(client, service_hcl("reverted", CRASH_ARGS, update=update, restart=no_restarts))
    client.jobs.register_job({"Job": broken})
    failed = wait_for(
        lambda: deployment_of(client, "reverted", 1, "failed"),
        what="the broken version's deployment to fail",
    )
    assert failed["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    job = client.job.get_job("reverted")
    assert job["Version"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"] == good["TaskGroups"][0]["Tasks"][0]["Config"]
    reverted = wait_for(
        lambda: deployment_of(client, "reverted", 2, "successful"),
        what="the reverted version's deployment",
    )
    assert reverted["TaskGroups"]["app"]["HealthyAllocs"] == 1
    assert [a["JobVersion"] for a in live(client, "reverted")] == [2]


def test_healthy_canaries_waiting_for_promotion_outlive_the_progress_deadline(
    client: nomad.Nomad,
) -> None:
    """Follows TestDeploymentWatcher_Watch_ProgressDeadline_Canaries: once its canaries are
    healthy, a deployment waiting for manual promotion is not failed by its progress
    deadline (shouldFail counts healthy canaries, not the group's total); a promotion
    starts the deadline again and the rollout completes."""
    update = (
        'max_parallel = 1\n min_healthy_time = "1s"\n healthy_deadline = "5s"\n'
        ' progress_deadline = "6s"\n canary = 1\n auto_revert = true'
    )
    first = run_and_settle(client, job_of(client, "stuck", update=update))
    assert first["Status"] == "successful"
    client.jobs.register_job({"Job": job_of(client, "stuck", text="hello", update=update)})
    waiting = waits_for_promotion(client, "stuck")
    deadline = parse_rfc3339(waiting["TaskGroups"]["app"]["RequireProgressBy"])
    healthy_at = max(
        parse_rfc3339(a["DeploymentStatus"]["Timestamp"])
        for a in client.deployment.get_deployment_allocations(waiting["ID"])
        if (a["DeploymentStatus"] or {}).get("Healthy")
    )
    assert deadline == healthy_at + 6 * 10**9  # the canary's health time plus the deadline
    time.sleep(max(0.0, (deadline - time.time_ns()) / 1e9) + 1)
    still = client.deployment.get_deployment(waiting["ID"])
    assert (still["Status"], still["StatusDescription"]) == (
        "running",
        "Deployment is running but requires manual promotion",
    )
    client.deployment.promote_deployment_all(waiting["ID"])
    promoted = client.deployment.get_deployment(waiting["ID"])
    assert parse_rfc3339(promoted["TaskGroups"]["app"]["RequireProgressBy"]) > deadline
    assert deployment_ends(client, "stuck")["Status"] == "successful"
