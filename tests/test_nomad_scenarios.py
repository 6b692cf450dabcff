"""Nomad's own deployment and reschedule tests, replayed on a real practice agent through
python-nomad: when a deployment fails (at once, or at its progress deadline), how failed
allocations are rescheduled inside a deployment, auto-revert after each kind of failure,
a failed canary, and what a failed deployment still allows.

Each test names the Nomad test it follows (nomad/deploymentwatcher, scheduler/reconcile).
Timers are short: a reschedule delay cannot be below Nomad's minimum of 5 s, so a test
that waits for one takes about that long.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nomad
from conftest import wait_for
from test_job_updates import deployment_of, parse
from test_practice_lifecycle import CRASH_ARGS, ECHO_ARGS, live

from nomadlab.practice import Agent
from nomadlab.practice.structs import parse_rfc3339

S = 1_000_000_000
NO_RESTART = 'attempts = 0\n mode = "fail"'
NO_RESCHEDULE = "attempts = 0\n unlimited = false"
ONE_RESCHEDULE = (
    'attempts = 1\n interval = "1h"\n delay = "5s"\n delay_function = "constant"\n'
    " unlimited = false"
)


def job_hcl(
    name: str,
    args: str = ECHO_ARGS,
    count: int = 1,
    update: str = "",
    reschedule: str | None = NO_RESCHEDULE,
) -> str:
    """A raw_exec service that stops within 1 s; ``reschedule=None`` keeps Nomad's default
    policy, ``update`` is added to quick health timers."""
    timers = 'min_healthy_time = "500ms"\n healthy_deadline = "3s"'
    policy = f"reschedule {{ {reschedule} }}" if reschedule is not None else ""
    return f"""
job "{name}" {{
  group "app" {{
    count = {count}
    restart {{ {NO_RESTART} }}
    {policy}
    update {{ {timers}\n {update} }}
    network {{ port "http" {{}} }}
    task "main" {{
      driver = "raw_exec"
      kill_timeout = "1s"
      config {{
        command = "{sys.executable}"
        args = {args}
      }}
      resources {{
        cpu = 50
        memory = 32
      }}
    }}
  }}
}}
"""


def register(client: nomad.Nomad, hcl: str) -> dict:
    job = parse(client, hcl)
    client.jobs.register_job({"Job": job})
    return client.job.get_job(job["ID"])


def ended(client: nomad.Nomad, job_id: str, version: int, timeout: float = 60) -> dict:
    """The deployment of ``version`` once it is successful or failed."""
    return wait_for(
        lambda: next(
            (
                d
                for d in client.job.get_deployments(job_id)
                if d["JobVersion"] == version and d["Status"] in ("successful", "failed")
            ),
            None,
        ),
        timeout=timeout,
        what=f"version {version}'s deployment to end",
    )


def allocs_of(client: nomad.Nomad, job_id: str) -> list[dict]:
    return sorted(client.job.get_allocations(job_id), key=lambda a: a["CreateIndex"])


def full(client: nomad.Nomad, alloc: dict) -> dict:
    return client.allocation.get_allocation(alloc["ID"])


def test_without_a_progress_deadline_the_first_unhealthy_allocation_fails_the_deployment(
    client: nomad.Nomad,
) -> None:
    """Follows TestDeploymentWatcher_Watch_NoProgressDeadline (shouldFailEarly: no progress
    deadline) and TestReconciler_FailedDeployment_DontReschedule: the allocation could be
    rescheduled, but it belongs to the failed deployment, so it stays failed."""
    register(
        client,
        job_hcl(
            "nodeadline",
            CRASH_ARGS,
            update='progress_deadline = "0s"',
            reschedule='unlimited = true\n delay = "5s"\n delay_function = "constant"',
        ),
    )
    failed = ended(client, "nodeadline", 0)
    assert (failed["Status"], failed["StatusDescription"]) == (
        "failed",
        "Failed due to unhealthy allocations",
    )
    state = failed["TaskGroups"]["app"]
    assert state["RequireProgressBy"] is None  # no deadline, none to meet
    assert (state["PlacedAllocs"], state["UnhealthyAllocs"]) == (1, 1)
    (alloc,) = allocs_of(client, "nodeadline")
    # Its follow-up evaluation comes due after the 5 s delay and replaces nothing.
    followup = wait_for(lambda: full(client, alloc)["FollowupEvalID"], what="a follow-up")
    wait_for(
        lambda: client.evaluation.get_evaluation(followup)["Status"] == "complete",
        timeout=30,
        what="the delayed reschedule evaluation to run",
    )
    (still,) = allocs_of(client, "nodeadline")
    assert (still["ClientStatus"], still["NextAllocation"]) == ("failed", "")


def test_with_a_progress_deadline_failed_allocations_are_rescheduled_until_it_passes(
    client: nomad.Nomad,
) -> None:
    """Follows TestDeploymentWatcher_Watch_ProgressDeadline and the watcher's
    handleAllocUpdate: an unhealthy allocation that may be rescheduled does not fail the
    deployment; the watcher marks it (DesiredTransition.Reschedule), the reconciler
    replaces it after its delay (TestReconciler_RescheduleNow_Service), and the deployment
    fails only when RequireProgressBy (first placement + progress_deadline) passes."""
    register(
        client,
        job_hcl(
            "deadline",
            CRASH_ARGS,
            update='progress_deadline = "8s"',
            reschedule='unlimited = true\n delay = "5s"\n delay_function = "constant"',
        ),
    )
    running = wait_for(
        lambda: (d := client.job.get_deployment("deadline")) and d["Status"] == "running" and d
    )
    failed = ended(client, "deadline", 0)
    assert failed["ID"] == running["ID"]
    assert failed["StatusDescription"] == "Failed due to progress deadline"
    allocs = allocs_of(client, "deadline")
    first, second = allocs[0], allocs[1]
    state = failed["TaskGroups"]["app"]
    assert parse_rfc3339(state["RequireProgressBy"]) == first["CreateTime"] + 8 * S
    assert state["PlacedAllocs"] == len(allocs) >= 2
    assert state["HealthyAllocs"] == 0
    first = full(client, first)
    assert first["DesiredTransition"]["Reschedule"] is True
    assert first["DeploymentStatus"]["Healthy"] is False
    assert (first["DesiredStatus"], first["NextAllocation"]) == ("stop", second["ID"])
    assert first["DesiredDescription"] == "alloc was rescheduled because it failed"
    second = full(client, second)
    assert second["DeploymentID"] == failed["ID"]
    (event,) = second["RescheduleTracker"]["Events"]
    assert (event["PrevAllocID"], event["Delay"]) == (first["ID"], 5 * S)
    assert event["RescheduleTime"] >= parse_rfc3339(first["TaskStates"]["main"]["FinishedAt"]) + (
        5 * S - 1 * S
    )  # rescheduleWindowSize: up to 1 s early


def fails_once_args(marker: Path) -> list[str]:
    """A task that exits 3 the first time it runs and serves http-echo from then on."""
    code = (
        "import os, runpy, sys\n"
        f"marker = {str(marker)!r}\n"
        "if not os.path.exists(marker):\n"
        "    open(marker, 'w').close()\n"
        "    sys.exit(3)\n"
        "sys.argv = ['echo', '-listen', os.environ['NOMAD_ADDR_http'], '-text', 'second try']\n"
        "runpy.run_module('nomadlab.echo', run_name='__main__')\n"
    )
    return ["-c", code]


def test_a_reschedule_within_a_deployment_lets_it_succeed(
    client: nomad.Nomad, tmp_path: Path
) -> None:
    """Follows TestReconciler_RescheduleNow_Service inside a deployment (the watcher's
    allowReplacements): the replacement joins the same deployment, which succeeds."""
    job = parse(
        client,
        job_hcl("secondtry", update='progress_deadline = "20s"', reschedule=ONE_RESCHEDULE),
    )
    job["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = fails_once_args(tmp_path / "ran")
    client.jobs.register_job({"Job": job})
    done = ended(client, "secondtry", 0)
    assert (done["Status"], done["StatusDescription"]) == (
        "successful",
        "Deployment completed successfully",
    )
    state = done["TaskGroups"]["app"]
    assert (state["PlacedAllocs"], state["HealthyAllocs"], state["UnhealthyAllocs"]) == (2, 1, 1)
    first, second = (full(client, a) for a in allocs_of(client, "secondtry"))
    assert second["DeploymentID"] == first["DeploymentID"] == done["ID"]
    assert second["PreviousAllocation"] == first["ID"]
    assert second["Name"] == first["Name"]


def test_auto_revert_after_an_allocation_that_cannot_be_rescheduled(client: nomad.Nomad) -> None:
    """Follows TestDeploymentWatcher_Watch_FailEarly with auto_revert
    (TestWatcher_SetAllocHealth_Unhealthy_Rollback): no reschedule attempt left, so the
    first unhealthy allocation fails the deployment and the last stable version is
    registered again. The rollback replaces the failed allocation at once under
    max_parallel, and never more copies than ``count`` run."""
    update = "max_parallel = 1\n auto_revert = true"
    register(client, job_hcl("revert", count=2, update=update))
    assert ended(client, "revert", 0)["Status"] == "successful"
    register(client, job_hcl("revert", CRASH_ARGS, count=2, update=update))
    most = 0

    def rolled_back() -> dict | None:
        nonlocal most
        most = max(most, len(live(client, "revert")))
        return deployment_of(client, "revert", 2, "successful")

    reverted = wait_for(rolled_back, what="the rollback's deployment to succeed")
    failed = deployment_of(client, "revert", 1, "failed")
    assert failed["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    assert failed["TaskGroups"]["app"]["PlacedAllocs"] == 1  # max_parallel held
    assert most <= 2
    assert sorted(a["JobVersion"] for a in live(client, "revert")) == [2, 2]
    assert reverted["TaskGroups"]["app"]["DesiredTotal"] == 2


def test_auto_revert_at_the_progress_deadline_replaces_allocations_waiting_to_reschedule(
    client: nomad.Nomad,
) -> None:
    """Follows TestDeploymentWatcher_Watch_ProgressDeadline with auto_revert, and
    filterByRescheduleable (scheduler/reconcile_util.go): a failed allocation waiting for
    a delayed reschedule stays untainted, so the rollback's update replaces it at once
    instead of leaving it failed (the other copy is updated in place). The policy has the
    service default's shape (exponential, unlimited) with a 10 s delay instead of 30 s, so
    the follow-up evaluation does not outlive the test by long (test_reschedule_policy
    checks the default itself)."""
    update = 'max_parallel = 1\n auto_revert = true\n progress_deadline = "5s"'
    policy = 'delay = "10s"\n delay_function = "exponential"\n max_delay = "1h"\n unlimited = true'
    register(client, job_hcl("slowretry", count=2, update=update, reschedule=policy))
    assert ended(client, "slowretry", 0)["Status"] == "successful"
    register(client, job_hcl("slowretry", CRASH_ARGS, count=2, update=update, reschedule=policy))
    failed = wait_for(
        lambda: deployment_of(client, "slowretry", 1, "failed"), what="version 1 to fail"
    )
    assert failed["StatusDescription"] == (
        "Failed due to progress deadline - rolling back to job version 0"
    )
    (broken,) = [a for a in allocs_of(client, "slowretry") if a["JobVersion"] == 1]
    broken = full(client, broken)
    followup = client.evaluation.get_evaluation(broken["FollowupEvalID"])
    finished = parse_rfc3339(broken["TaskStates"]["main"]["FinishedAt"])
    assert parse_rfc3339(followup["WaitUntil"]) == finished + 10 * S
    assert followup["TriggeredBy"] == "alloc-failure"
    reverted = wait_for(
        lambda: deployment_of(client, "slowretry", 2, "successful"), what="the rollback"
    )
    replaced = full(client, broken)
    assert replaced["DesiredStatus"] == "stop"
    assert replaced["DesiredDescription"] == "alloc is being updated due to job update"
    running = live(client, "slowretry")
    assert sorted(a["JobVersion"] for a in running) == [2, 2]
    assert {full(client, a)["DeploymentID"] for a in running} == {reverted["ID"]}
    # The copy updated in place joined the rollback's deployment: its progress deadline
    # counts from that deployment's start, not from the copy's creation.
    deadline = parse_rfc3339(reverted["TaskGroups"]["app"]["RequireProgressBy"])
    assert deadline >= reverted["CreateTime"] + 5 * S


def test_fixing_a_crashing_job_replaces_its_failed_allocations(client: nomad.Nomad) -> None:
    """Follows filterByRescheduleable and computeUpdates (scheduler/reconcile.go): failed
    allocations not yet due for a reschedule are untainted, so a new version replaces
    them, ``max_parallel`` at a time (TestReconciler_FailedDeployment_NewJob)."""
    update = 'max_parallel = 1\n progress_deadline = "0s"'
    later = 'delay = "5s"\n delay_function = "exponential"\n max_delay = "1h"\n unlimited = true'
    register(client, job_hcl("fixed", CRASH_ARGS, count=2, update=update, reschedule=later))
    assert ended(client, "fixed", 0)["Status"] == "failed"
    wait_for(
        lambda: [a["ClientStatus"] for a in allocs_of(client, "fixed")] == ["failed", "failed"],
        what="both allocations to fail",
    )
    register(client, job_hcl("fixed", count=2, update=update, reschedule=later))
    done = ended(client, "fixed", 1)
    assert done["Status"] == "successful"
    assert sorted(a["JobVersion"] for a in live(client, "fixed")) == [1, 1]
    new = [full(client, a) for a in allocs_of(client, "fixed") if a["JobVersion"] == 1]
    old = {a["ID"] for a in allocs_of(client, "fixed") if a["JobVersion"] == 0}
    assert {a["PreviousAllocation"] for a in new} == old
    # One at a time: the second replacement was placed once the first was healthy.
    first, second = sorted(new, key=lambda a: a["CreateIndex"])
    assert second["CreateTime"] >= parse_rfc3339(first["DeploymentStatus"]["Timestamp"])


def test_a_failed_deployment_makes_no_more_destructive_updates(client: nomad.Nomad) -> None:
    """Follows TestReconciler_PausedOrFailedDeployment_NoMoreDestructiveUpdates: once the
    version's deployment failed (without auto_revert), its remaining old allocations are
    not replaced, however often the job is evaluated."""
    update = 'max_parallel = 1\n progress_deadline = "0s"'
    register(client, job_hcl("halted", count=3, update=update))
    assert ended(client, "halted", 0)["Status"] == "successful"
    register(client, job_hcl("halted", CRASH_ARGS, count=3, update=update))
    assert ended(client, "halted", 1)["Status"] == "failed"
    evaluation = client.job.evaluate_job("halted")
    wait_for(
        lambda: client.evaluation.get_evaluation(evaluation["EvalID"])["Status"] == "complete",
        what="the evaluation",
    )
    versions = sorted(a["JobVersion"] for a in allocs_of(client, "halted"))
    assert versions == [0, 0, 0, 1]  # one replacement tried, none after the failure
    assert sorted(a["JobVersion"] for a in live(client, "halted")) == [0, 0]


def test_a_failed_canary_is_rescheduled_as_a_canary_then_reverted(client: nomad.Nomad) -> None:
    """Follows TestReconciler_RescheduleNow_Service_Canaries (a failed canary's
    replacement is a canary of the same deployment) and
    TestReconciler_FailedDeployment_AutoRevert_CancelCanaries: when the replacement fails
    too, no attempt is left, the deployment fails and reverts, and the canary goes."""
    update = 'max_parallel = 1\n canary = 1\n auto_revert = true\n progress_deadline = "20s"'
    register(client, job_hcl("canaryfail", count=2, update=update, reschedule=ONE_RESCHEDULE))
    assert ended(client, "canaryfail", 0)["Status"] == "successful"
    register(
        client,
        job_hcl("canaryfail", CRASH_ARGS, count=2, update=update, reschedule=ONE_RESCHEDULE),
    )
    failed = wait_for(
        lambda: deployment_of(client, "canaryfail", 1, "failed"), what="the canaries to fail"
    )
    assert failed["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    first, second = [a for a in allocs_of(client, "canaryfail") if a["JobVersion"] == 1]
    assert failed["TaskGroups"]["app"]["PlacedCanaries"] == [first["ID"], second["ID"]]
    second = full(client, second)
    assert second["DeploymentStatus"]["Canary"] is True
    assert second["PreviousAllocation"] == first["ID"]
    wait_for(
        lambda: sorted(a["JobVersion"] for a in live(client, "canaryfail")) == [2, 2],
        what="version 0's content to run as version 2",
    )
    reverted = ended(client, "canaryfail", 2)
    assert reverted["Status"] == "successful"


def test_a_service_job_reschedules_after_nomads_default_delay(tmp_path: Path) -> None:
    """Follows TestReconciler_RescheduleLater_Service with Nomad's default policy for a
    service job (structs.DefaultServiceJobReschedulePolicy: delay 30s, exponential, max
    delay 1h, unlimited): the failed allocation is not replaced at once; a follow-up
    evaluation waits until 30 s after the task finished. An agent of its own, stopped
    after the check, so that the follow-up does not hold the shared agent's reset."""
    with Agent(http_port=None, log_file=tmp_path / "agent.log") as agent:
        client = nomad.Nomad(address=agent.address, timeout=30)
        job = register(client, job_hcl("defaultpolicy", CRASH_ARGS, reschedule=None))
        assert job["TaskGroups"][0]["ReschedulePolicy"] == {
            "Attempts": 0,
            "Interval": 0,
            "Delay": 30 * S,
            "DelayFunction": "exponential",
            "MaxDelay": 3600 * S,
            "Unlimited": True,
        }
        (alloc,) = wait_for(
            lambda: [a for a in allocs_of(client, "defaultpolicy") if a["FollowupEvalID"]],
            what="the failed allocation's follow-up evaluation",
        )
        alloc = full(client, alloc)
        followup = client.evaluation.get_evaluation(alloc["FollowupEvalID"])
        finished = parse_rfc3339(alloc["TaskStates"]["main"]["FinishedAt"])
        assert parse_rfc3339(followup["WaitUntil"]) == finished + 30 * S
        assert (followup["TriggeredBy"], followup["Status"]) == ("alloc-failure", "pending")
        assert [a["ID"] for a in allocs_of(client, "defaultpolicy")] == [alloc["ID"]]
