"""Updating a job from the kit: lab.plan, lab.run(check_index=...), lab.history, lab.promote,
lab.fail, lab.revert and the same verbs in the ``nomadlab`` command, on a real agent."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from labkit import ROOT, run_cli
from labkit import agent as agent
from labkit import lab as lab

from nomadlab.errors import JobNotUpdated
from nomadlab.lab import Lab
from nomadlab.practice import Agent
from nomadlab.widgets import deployment_panel

JOBSPEC = ROOT / "jobs" / "http-echo-update.nomad.hcl"
JOB = "echo-update"


def versions(lab: Lab) -> list[int]:
    return sorted(
        a["JobVersion"]
        for a in lab.nomad.job.get_allocations(JOB)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    )


def test_plan_then_run_with_check_index(
    agent: Agent, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.run(JOBSPEC, count=2)
    loud = Lab(agent.address)
    plan = loud.plan(JOBSPEC, count=2, text="v1")
    out = capsys.readouterr().out
    assert out.startswith('+/- Job: "echo-update"\n+/- Task Group: "echo" (')
    assert "1 create/destroy update, 1 ignore" in out
    assert '  +/- Task: "server" (forces create/destroy update)' in out
    assert re.search(r'\+/- args\[5\]: "v0 from \$\{NOMAD_ALLOC_ID\}" => "v1 from', out)
    index = plan["JobModifyIndex"]
    assert f"Job Modify Index: {index}\n" in out
    assert f'nomad job run -check-index {index} -var="count=2" -var="text=v1" ' in out
    assert lab.nomad.job.get_job(JOB)["Version"] == 0  # a plan changes nothing

    with pytest.raises(JobNotUpdated) as stale:
        lab.run(JOBSPEC, check_index=index - 1, count=2, text="v1")
    assert str(stale.value).startswith(
        f"Enforcing job modify index {index - 1}: job exists with conflicting job modify "
        f"index: {index}\nJob not updated."
    )
    result = lab.run(JOBSPEC, check_index=index, count=2, text="v1")
    assert result.deployment_status == "successful"
    assert versions(lab) == [1, 1]

    history = lab.history(JOB, p=True)
    assert history.startswith("Version     = 1\nStable      = true\nSubmit Date = ")
    assert '\nDiff        =\n+/- Job: "echo-update"\n' in history
    assert "\n\nVersion     = 0\nStable      = true\n" in history

    reverted = lab.revert(JOB, 0)
    assert reverted.deployment_status == "successful"
    assert lab.nomad.job.get_job(JOB)["Version"] == 2
    assert "v0 from" in lab.get(JOB)


def test_a_canary_waits_for_promotion_then_promote(
    agent: Agent, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.run(JOBSPEC, count=2)
    loud = Lab(agent.address)
    waiting = loud.run(JOBSPEC, count=2, canary=1, text="v1")
    out = capsys.readouterr().out
    assert "awaits promotion: its canaries are healthy" in out
    assert "Description = Deployment is running but requires manual promotion" in out
    assert re.search(r"Task Group\s+Promoted\s+Desired\s+Canaries\s+Placed", out)
    assert waiting.ok and waiting.deployment_status == "running"
    assert versions(lab) == [0, 0, 1]

    done = lab.promote(JOB)
    assert done.deployment_status == "successful"
    assert versions(lab) == [1, 1]


def test_failing_a_canary_keeps_the_old_version(lab: Lab) -> None:
    lab.run(JOBSPEC, count=2)
    lab.run(JOBSPEC, count=2, canary=1, text="v1")
    failed = lab.fail(JOB)
    assert failed.deployment_status == "failed"
    deployment = lab.latest_deployment(JOB)
    assert deployment["StatusDescription"] == "Deployment marked as failed"


def test_the_command_line_verbs(agent: Agent, lab: Lab, tmp_path: Path) -> None:
    env = {"NOMAD_ADDR": agent.address}
    python = f"python={sys.executable}"
    first = run_cli("job", "run", "-var", python, "-var", "count=1", str(JOBSPEC), env=env)
    assert first.returncode == 0, first.stderr
    plan = run_cli(
        "job", "plan", "-var", python, "-var", "count=1", "-var", "text=v1", str(JOBSPEC), env=env
    )
    assert plan.returncode == 1, plan.stderr  # allocations would change
    index = int(re.search(r"Job Modify Index: (\d+)", plan.stdout).group(1))
    stale = run_cli(
        "job", "run", "-check-index", str(index + 100), "-var", python, "-var", "count=1",
        "-var", "text=v1", str(JOBSPEC), env=env,
    )  # fmt: skip
    assert stale.returncode == 1
    assert "job exists with conflicting job modify index" in stale.stderr
    assert "Job not updated" in stale.stderr
    canary = run_cli(
        "job", "run", "-check-index", str(index), "-var", python, "-var", "count=1",
        "-var", "text=v1", "-var", "canary=1", str(JOBSPEC), env=env,
    )  # fmt: skip
    assert canary.returncode == 0, canary.stderr
    deployment = lab.latest_deployment(JOB)["ID"]
    status = run_cli("deployment", "status", deployment[:8], env=env)
    assert "Description = Deployment is running but requires manual promotion" in status.stdout
    promoted = run_cli("deployment", "promote", deployment[:8], env=env)
    assert promoted.returncode == 0, promoted.stderr
    history = run_cli("job", "history", "-p", JOB, env=env)
    assert history.stdout.startswith("Version     = 1\n")
    assert "Diff        =\n+/- Job:" in history.stdout
    revert = run_cli("job", "revert", JOB, "0", env=env)
    assert revert.returncode == 0, revert.stderr
    assert lab.nomad.job.get_job(JOB)["Version"] == 2


def test_the_deployment_panel_promotes_and_shows_versions_side_by_side(lab: Lab) -> None:
    lab.run(JOBSPEC, count=2)
    lab.run(JOBSPEC, count=2, canary=1, text="v1")
    panel = deployment_panel(lab, JOB)
    try:
        assert panel.versions == {0: 2, 1: 1}
        assert "Running now: version 0 × 2 │ version 1 × 1" in panel.running.value
        assert "canaries 1/1 placed, not promoted" in panel.groups.value
        assert "requires manual promotion" in panel.status.value
        assert not panel.promote_button.disabled and not panel.fail_button.disabled
        panel.promote_button.click()
        done = panel.wait("successful")
        assert done["TaskGroups"]["echo"]["Promoted"] is True
        assert panel.promote_button.disabled and panel.fail_button.disabled
        deadline = time.monotonic() + 60
        while panel.versions != {1: 2} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert panel.versions == {1: 2}
    finally:
        panel.close()


def test_the_deployment_panel_fails_a_canary(lab: Lab) -> None:
    lab.run(JOBSPEC, count=1)
    lab.run(JOBSPEC, count=1, canary=1, text="v1")
    panel = deployment_panel(lab, JOB)
    try:
        panel.fail()
        failed = panel.wait("failed")
        assert failed["StatusDescription"] == "Deployment marked as failed"
        panel.fail_button.click()  # a terminal deployment: the error shows in the panel
        assert "can&#x27;t fail terminal deployment" in panel.status.value
    finally:
        panel.close()


def test_the_blue_green_exercise_is_checked(lab: Lab) -> None:
    import nomadlab

    lab.run(JOBSPEC, count=2)
    assert not nomadlab.check("05", lab).passed
    lab.run(JOBSPEC, count=2, canary=2, text="green")
    waiting = nomadlab.check("05", lab)
    assert not waiting.passed and "promote them" in waiting.message
    lab.promote(JOB)
    assert nomadlab.check("05", lab).passed
