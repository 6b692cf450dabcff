"""The nomadlab command as a learner types it: real subprocesses against a practice agent."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import labkit
import nomad
import pytest
import requests
from labkit import DOCKER_JOB, FakeNomad, alive, fast_echo, free_port, listening, run_cli, tasks_of

from nomadlab import agent as agents
from nomadlab.doctor import docker_ping
from nomadlab.practice import Agent

home = labkit.home
JOB = "http-microservice"


@pytest.fixture
def practice(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    """A practice agent started separately, named by NOMAD_ADDR as a learner would."""
    with Agent(http_port=None, log_file=tmp_path / "agent.log") as agent:
        monkeypatch.setenv("NOMAD_ADDR", agent.address)
        yield agent


def running(address: str, job: str = JOB) -> list[dict]:
    allocs = nomad.Nomad(address=address, timeout=30).job.get_allocations(job)
    return [a for a in allocs if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]


def test_job_run_status_scale_stop(practice: Agent, home: Path, tmp_path: Path) -> None:
    spec = fast_echo(tmp_path)
    assert run_cli("job", "status").stdout.strip() == "No running jobs"

    run = run_cli("job", "run", "-var", "count=2", str(spec))
    assert run.returncode == 0, run.stderr
    ui = f"{practice.address}/ui/jobs/{JOB}@default"
    assert run.stdout.startswith(f"==> View this job in the Web UI: {ui}\n\n==> ")
    assert re.search(r'^==> \S+: Monitoring evaluation "\w{8}"$', run.stdout, re.MULTILINE)
    assert re.search(r'^  ✓ Deployment "\w{8}" successful$', run.stdout, re.MULTILINE)
    assert re.search(r"^    echo\s+2\s+2\s+2\s+0\s+\S+$", run.stdout, re.MULTILINE)
    assert len(running(practice.address)) == 2 == len(tasks_of(home))

    listing = run_cli("job", "status")
    assert re.search(rf"^{JOB}\s+service\s+50\s+running\s+\S+$", listing.stdout, re.MULTILINE)
    status = run_cli("job", "status", JOB)
    assert status.returncode == 0 and "\nAllocations\n" in status.stdout

    scale = run_cli("job", "scale", JOB, "3")
    assert scale.returncode == 0, scale.stderr
    assert re.search(r"^    echo\s+3\s+\d\s+\d\s+0\s+\S+$", scale.stdout, re.MULTILINE)
    assert len(running(practice.address)) == 3
    assert run_cli("job", "scale", JOB, "echo", "1").returncode == 0
    assert len(running(practice.address)) == 1

    wrong = run_cli("job", "scale", JOB, "web", "1")
    assert wrong.returncode == 1 and 'no task group "web"' in wrong.stderr
    short = run_cli("job", "scale", JOB)
    assert short.returncode == 1 and "at least two arguments" in short.stderr

    stop = run_cli("job", "stop", "-purge", JOB)
    assert stop.returncode == 0 and 'finished with status "complete"' in stop.stdout
    assert run_cli("job", "status").stdout.strip() == "No running jobs"
    assert not tasks_of(home)


@pytest.mark.skipif(docker_ping()[0], reason="a Docker engine answers: the docker job would run")
def test_job_run_docker_job_exits_2_with_advice(practice: Agent) -> None:
    run = run_cli("job", "run", str(DOCKER_JOB))
    assert run.returncode == 2
    assert run.stdout.startswith("Job Warnings:\n1 warning(s):\n")
    assert "task network resources have been deprecated as of Nomad 0.12.0" in run.stdout
    assert '* Constraint "missing drivers": 1 nodes excluded by filter' in run.stdout
    assert "the practice agent runs no containers" in run.stderr
    assert "jobs/http-echo.nomad.hcl" in run.stderr
    assert "Traceback" not in run.stderr
    assert run_cli("job", "stop", "-purge", JOB).returncode == 0


def test_errors_are_one_paragraph_without_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOMAD_ADDR", f"http://127.0.0.1:{free_port()}")
    refused = run_cli("job", "status")
    assert refused.returncode == 1 and refused.stderr.startswith(
        "Error: Cannot reach a Nomad agent"
    )
    assert "Traceback" not in refused.stderr and "urllib3" not in refused.stderr
    with FakeNomad(deny=True) as fake:
        monkeypatch.setenv("NOMAD_ADDR", fake.address)
        denied = run_cli("job", "run", "jobs/http-echo.nomad.hcl")
        assert denied.returncode == 1
        assert "answered 403 (POST /v1/jobs/parse): Permission denied." in denied.stderr
        assert "NOMAD_TOKEN" in denied.stderr and "Traceback" not in denied.stderr
    assert run_cli().returncode == 1 and run_cli("frobnicate").returncode == 1
    assert "job run FILE" in run_cli("--help").stdout


def test_job_commands_find_the_agent_the_kit_started(home: Path) -> None:
    start = run_cli("tour", "-keep")  # leaves its agent running, recorded in NOMADLAB_HOME
    assert start.returncode == 0, start.stdout + start.stderr
    recorded = agents.find_running()
    assert recorded is not None and alive(recorded.pid)
    assert run_cli("job", "status").stdout.strip() == "No running jobs"
    agents.stop(recorded)


def test_doctor_reports_each_check_with_fixes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = int(os.environ["NOMADLAB_PORT"])
    with listening(port):
        report = run_cli("doctor")
    assert report.returncode == 0, report.stdout
    out = report.stdout
    for name in ("Python", "python-nomad", "tornado", "psutil", "nomad binary", "Docker engine"):
        assert re.search(rf"^\[(ok|warn)\] +{name}: ", out, re.MULTILINE), name
    assert f"[warn] port {port}: in use by pid {os.getpid()}" in out  # whom, not just "busy"
    assert "not on PATH: nomadlab.start() will run the practice agent" in out
    assert "Ready: nomadlab.start() will use practice mode" in out
    monkeypatch.setenv("NOMAD_ADDR", f"http://127.0.0.1:{free_port()}")
    broken = run_cli("doctor")
    assert broken.returncode == 1 and "[fail] NOMAD_ADDR" in broken.stdout
    assert "fix: Cannot reach a Nomad agent" in broken.stdout


def test_tour_runs_green_and_cleans_up(home: Path) -> None:
    tour = run_cli("tour")
    assert tour.returncode == 0, tour.stdout + tour.stderr
    out = tour.stdout
    for step in ("1/7 Start an agent", "2/7 Run the job", "4/7 Scale to 3", "7/7 Stop the job"):
        assert step in out
    assert re.search(r'^  ✓ Deployment "\w{8}" successful$', out, re.MULTILINE)
    assert len(re.findall(r"^http://\S+ → Hello and welcome to ", out, re.MULTILINE)) == 3
    assert out.rstrip().endswith(
        "✓ Tour complete: every step of the tutorial works here (practice mode)."
    )
    assert not agents.state_file().exists() and not tasks_of(home)


def test_ui_prints_the_url_and_opens_a_browser(practice: Agent, home: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    assert run_cli("job", "run", str(fast_echo(tmp_path))).returncode == 0
    ui = run_cli("ui", JOB[:4], env={"BROWSER": str(browser)})
    url = f"{practice.address}/ui/jobs/{JOB}@default"
    assert (ui.returncode, ui.stdout) == (0, f'Opening URL "{url}"\n'), ui.stderr
    assert opened.read_text().split() == [url]
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and f'data-job="{JOB}"' not in page.text and JOB in page.text
    listing = run_cli("ui", env={"BROWSER": str(browser)})
    assert listing.stdout == f'Opening URL "{practice.address}/ui/jobs"\n'
    missing = run_cli("ui", "nope", env={"BROWSER": str(browser)})
    assert missing.returncode == 1 and 'No job with ID or prefix "nope"' in missing.stderr
    assert run_cli("job", "stop", "-purge", JOB).returncode == 0
