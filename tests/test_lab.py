"""Lab's verbs against a real practice agent started by nomadlab.start(), over real HTTP."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import nomad
import pytest
import requests
from labkit import (
    DOCKER_JOB,
    ECHO,
    JOBS,
    alive,
    fast_echo,
    isolate,
    stop_recorded_agent,
    two_group_job,
)
from nomad.api.exceptions import URLNotFoundNomadException

import nomadlab
from nomadlab import agent as agents
from nomadlab.allocations import host_ports
from nomadlab.command.deployment_status import format_deployment_groups
from nomadlab.command.helpers import format_list, parse_time, pretty_time_diff
from nomadlab.command.monitor import format_alloc_metrics
from nomadlab.doctor import docker_ping
from nomadlab.errors import DeploymentFailed, NomadAPIError, NomadLabError, PlacementFailed
from nomadlab.jobfiles import hcl_value
from nomadlab.lab import Lab
from nomadlab.terminal import TerminalUi

JOB = "http-microservice"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One practice agent for the module, started the way a notebook starts it."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        mp.setenv("NOMADLAB_AGENT", "practice")
        started = nomadlab.start(quiet=True)
        try:
            yield started
        finally:
            started.quiet = True
            started.stop_agent()
            stop_recorded_agent(home)
    assert not alive(started.agent.pid)


@pytest.fixture(autouse=True)
def clean_jobs(lab: Lab) -> Iterator[None]:
    """Every test starts and ends with no jobs on the agent."""
    yield
    quiet, lab.quiet = lab.quiet, True
    for job in lab.nomad.jobs.get_jobs():
        lab.nomad.job.deregister_job(job["ID"], purge=True)
    lab.quiet = quiet


@pytest.fixture
def job(request: pytest.FixtureRequest) -> str:
    """A job ID of this test's own: the practice agent keeps a purged job's deployment."""
    return "echo-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[5:40].strip("-")


@pytest.fixture
def client(lab: Lab) -> nomad.Nomad:
    """Plain python-nomad on the same agent, to check what Lab reports."""
    return nomad.Nomad(address=lab.address, timeout=30)


def running(client: nomad.Nomad, job: str) -> list[dict]:
    allocs = client.job.get_allocations(job)
    return [a for a in allocs if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]


def test_start_reports_practice_mode_and_records_the_agent(lab: Lab, client: nomad.Nomad) -> None:
    assert lab.mode == "practice"
    assert lab.agent.started_by_kit
    assert client.status.leader.get_leader()
    line = lab.agent.describe()
    assert line.startswith("nomadlab: practice mode: nomadlab's practice agent, standing in for")
    ui = f"{lab.address}/ui/"
    assert f"started (pid {lab.agent.pid}) · API {lab.address} · UI {ui}" in line
    assert line.endswith(f" · log {lab.agent.log_file}")
    state = json.loads(agents.state_file().read_text())
    assert state["pid"] == lab.agent.pid and state["address"] == lab.address
    assert state["mode"] == "practice" and state["log_file"] == str(lab.agent.log_file)


def test_run_prints_nomad_job_run_progress(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.quiet = False
    result = lab.run(fast_echo(tmp_path, name=job))
    out = capsys.readouterr().out
    ev, dep = result.eval_id[:8], result.deployment_id[:8]
    expected = [
        rf"^==> View this job in the Web UI: {lab.address}/ui/jobs/{job}@default\n\n",
        rf'^==> \S+: Monitoring evaluation "{ev}"$',
        rf'^    \S+: Evaluation triggered by job "{job}"$',
        rf'^    \S+: Evaluation within deployment: "{dep}"$',
        r'^    \S+: Allocation "\w{8}" created: node "[\w-]{8}", group "echo"$',
        r'^    \S+: Evaluation status changed: "pending" -> "complete"$',
        rf'^==> \S+: Evaluation "{ev}" finished with status "complete"$',
        rf'^==> \S+: Monitoring deployment "{dep}"$',
        rf'^  ✓ Deployment "{dep}" successful$',
        r"^    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline$",
        r"^    echo        1        1       1        0          \S+$",
    ]
    position = 0
    for pattern in expected:
        match = re.compile(pattern, re.MULTILINE).search(out, position)
        assert match, f"{pattern!r} not found in order in:\n{out}"
        position = match.end()
    assert result.ok and result.deployment_status == "successful"
    assert result.eval_id in [e["ID"] for e in client.job.get_evaluations(job)]
    assert client.job.get_deployment(job)["ID"] == result.deployment_id
    assert [r["alloc_id"] for r in result.allocations] == [a["ID"] for a in running(client, job)]
    assert dep in repr(result) and "running" in repr(result)
    assert result.deployment_id in result._repr_html_() and "<table>" in result._repr_html_()


def test_deployment_is_awaited_with_blocking_queries(lab: Lab, job: str, tmp_path: Path) -> None:
    seen: list[str] = []

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        seen.append(response.request.url or "")

    lab.nomad.deployment.session.hooks["response"].append(record)
    try:
        result = lab.run(fast_echo(tmp_path, name=job))
    finally:
        lab.nomad.deployment.session.hooks["response"].remove(record)
    polls = [u for u in seen if f"/v1/deployment/{result.deployment_id}" in u]
    assert polls, seen
    assert all("index=" in u and "wait=" in u for u in polls[1:]), polls
    assert len(polls) >= 2  # the first read, then at least one blocking query until it ended


def test_run_passes_variables_like_dash_var(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path
) -> None:
    result = lab.run(fast_echo(tmp_path, name=job), count=2)
    assert (
        len(running(client, job))
        == 2
        == len([r for r in result.allocations if r["Desired"] == "run"])
    )


@pytest.mark.parametrize("where", ["below the checkout", "outside it"])
def test_run_finds_the_jobs_dir_from_elsewhere(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    monkeypatch.chdir(ECHO.parent if where == "below the checkout" else tmp_path)
    job = lab.parse("jobs/http-echo.nomad.hcl", count=3)
    assert job["ID"] == JOB and job["TaskGroups"][0]["Count"] == 3
    with pytest.raises(NomadLabError, match="No jobspec at"):
        lab.parse("jobs/nope.nomad.hcl")


def test_parse_error_names_the_file(lab: Lab, tmp_path: Path) -> None:
    bad = tmp_path / "bad.nomad.hcl"
    bad.write_text('job "x" {\n  group "g" {\n')
    with pytest.raises(NomadAPIError) as caught:
        lab.run(bad)
    assert str(bad) in str(caught.value) and caught.value.status == 400


@pytest.mark.skipif(docker_ping()[0], reason="a Docker engine answers: the docker job would run")
def test_docker_job_without_docker_explains_what_to_do(
    lab: Lab, client: nomad.Nomad, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.quiet = False
    with pytest.raises(PlacementFailed) as caught:
        lab.run(DOCKER_JOB)
    out = capsys.readouterr().out
    assert out.startswith('Job Warnings:\n1 warning(s):\n\n* Group "echo" has warnings: ')
    assert '\t* Task "server": task network resources have been deprecated' in out
    assert 'finished with status "complete" but failed to place all allocations:' in out
    assert 'Task Group "echo" (failed to place 1 allocation):' in out
    assert '* Constraint "missing drivers": 1 nodes excluded by filter' in out
    message = str(caught.value)
    assert '"missing drivers"' in message and "docker driver" in message
    assert "the practice agent runs no containers" in message
    assert "install Nomad and Docker" in message
    assert 'lab.run("jobs/http-echo.nomad.hcl")' in message
    assert caught.value.result.failed_placements.keys() == {"echo"}
    assert client.job.get_job(JOB)["Status"] == "pending"  # still registered, as Nomad keeps it
    assert "Placement Failure" in str(lab.status(JOB))


def test_a_failed_deployment_says_what_its_task_last_did(lab: Lab, tmp_path: Path) -> None:
    # No reschedule attempt: the first failed allocation fails the deployment at once (with
    # the file's unlimited policy Nomad would wait for the 1 m progress deadline).
    spec = tmp_path / "no-reschedule.nomad.hcl"
    text = (JOBS / "http-echo-update.nomad.hcl").read_text()
    spec.write_text(
        re.sub(r"reschedule \{[^}]*\}", "reschedule {\n attempts = 0\n unlimited = false\n }", text)
    )
    with pytest.raises(DeploymentFailed) as caught:
        lab.run(spec, python="/bin/false", count=1)
    message = str(caught.value)
    assert message.startswith('Deployment "')
    assert '"failed": Failed due to unhealthy allocations. Allocation "' in message
    assert (
        'task "server": Terminated (Exit Code: 1), then Not Restarting (Exceeded allowed '
        'attempts 0 in interval 30m0s and mode is "fail").'
    ) in message
    assert 'lab.logs("echo-update", type="stderr")' in message


def test_status_lists_jobs_then_shows_one(lab: Lab, job: str, tmp_path: Path) -> None:
    assert str(lab.status()) == "No running jobs"
    lab.run(fast_echo(tmp_path, name=job))
    listing = str(lab.status())
    assert listing.splitlines()[0].split() == ["ID", "Type", "Priority", "Status", "Submit", "Date"]
    assert re.search(rf"^{job}\s+service\s+50\s+running\s+\S+$", listing, re.MULTILINE)
    one = lab.status(job[:-3])  # a prefix, as the CLI accepts
    text = str(one)
    assert re.search(rf"^ID\s+= {job}$", text, re.MULTILINE)
    for section in ("Summary", "Latest Deployment", "Deployed", "Allocations"):
        assert f"\n{section}\n" in text
    assert re.search(r"^echo\s+0\s+0\s+1\s+0\s+0\s+0\s+0$", text, re.MULTILINE)
    assert one.data["job"]["ID"] == job and "<pre>" in one._repr_html_()
    with pytest.raises(NomadLabError, match="No job with ID or prefix"):
        lab.status("nope")


def test_scale_changes_the_count_and_follows_the_deployment(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path
) -> None:
    lab.run(fast_echo(tmp_path, name=job))
    result = lab.scale(job, 3)
    assert result.deployment_status == "successful"
    assert len(running(client, job)) == 3
    assert (
        client.job.request(job, "scale", method="get").json()["TaskGroups"]["echo"]["Desired"] == 3
    )
    lab.scale(job, 1, group="echo")
    assert len(running(client, job)) == 1
    with pytest.raises(NomadLabError, match='no task group "web"'):
        lab.scale(job, 2, group="web")


def test_scale_asks_for_the_group_when_there_are_several(lab: Lab, tmp_path: Path) -> None:
    lab.run(two_group_job(tmp_path))
    with pytest.raises(NomadLabError, match="say which to scale"):
        lab.scale("two-groups", 2)
    result = lab.scale("two-groups", 2, group="back")
    assert sorted(r["Task Group"] for r in result.allocations if r["Desired"] == "run") == [
        "back",
        "back",
        "front",
    ]


def test_allocations_addresses_url_and_get_use_the_allocation(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path
) -> None:
    lab.run(fast_echo(tmp_path, name=job), count=2)
    expected = []
    for stub in running(client, job):
        ports = client.allocation.get_allocation(stub["ID"])["AllocatedResources"]["Shared"][
            "Ports"
        ]
        (port,) = [p for p in ports if p["Label"] == "http"]
        expected.append(f"http://{port['HostIP']}:{port['Value']}")
    assert sorted(lab.addresses(job)) == sorted(expected)
    assert lab.url(job) in expected
    table = lab.allocations(job)
    assert str(table).splitlines()[0].split()[:3] == ["ID", "Node", "ID"]
    assert sorted(r["alloc_id"] for r in table) == sorted(a["ID"] for a in running(client, job))
    assert all(r["Address"].startswith("http=") for r in table)
    assert table._repr_html_().count("<tr>") == 3
    reply = lab.get(job)
    host, port = re.fullmatch(r"Hello and welcome to (\S+) running on port (\d+)\n", reply).groups()
    assert f"http://{host}:{port}" in expected
    assert lab.get(job, "/health").strip() == '{"status":"ok"}'


def test_logs_by_job_and_by_allocation(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path
) -> None:
    lab.run(fast_echo(tmp_path, name=job))
    lab.get(job)
    (alloc,) = running(client, job)
    by_job = lab.logs(job)
    assert "[INFO] server is listening on" in by_job and '"GET / HTTP/1.1" 200' in by_job
    assert lab.logs(alloc["ID"][:8], task="server") == client.client.stream_logs.stream(
        alloc["ID"], "server", "stdout", plain=True
    )
    assert isinstance(lab.logs(job, type="stderr"), str)
    with pytest.raises(NomadLabError, match="names no job"):
        lab.logs("zzzz")


def test_stop_then_purge(lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path) -> None:
    lab.run(fast_echo(tmp_path, name=job))
    result = lab.stop(job)
    assert result.eval_status == "complete"
    assert client.job.get_job(job)["Stop"] is True
    assert "(stopped)" in str(lab.status())
    lab.stop(job, purge=True)
    with pytest.raises(URLNotFoundNomadException):
        client.job.get_job(job)


def test_purge_shows_only_the_instance_just_stopped(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path
) -> None:
    lab.run(fast_echo(tmp_path, name=job))
    (first,) = client.job.get_allocations(job)
    lab.stop(job, purge=True)
    lab.run(fast_echo(tmp_path, name=job))
    (second,) = client.job.get_allocations(job)
    result = lab.stop(job, purge=True)
    assert [row["alloc_id"] for row in result.allocations] == [second["ID"]]
    assert first["ID"] != second["ID"]


def test_reset_purges_only_the_jobs_the_kit_ran(
    lab: Lab, job: str, client: nomad.Nomad, tmp_path: Path
) -> None:
    lab.run(fast_echo(tmp_path, name=job))
    lab.run(fast_echo(tmp_path, name="second"))
    parsed = lab.parse(fast_echo(tmp_path, name="not-mine"))
    client.jobs.register_job({"Job": parsed})  # registered behind the kit's back
    assert sorted(lab.reset()) == sorted([job, "second"])
    assert [j["ID"] for j in client.jobs.get_jobs()] == ["not-mine"]
    assert lab.reset() == []


def test_agent_log_and_stop_agent_refuses_an_agent_it_did_not_start(lab: Lab) -> None:
    assert "Nomad agent started" in lab.agent_log(lines=None)
    assert len(lab.agent_log(lines=3).splitlines()) <= 3
    other = Lab(lab.address, quiet=True)  # attached, as with NOMAD_ADDR
    assert other.mode == "attach" and other.stop_agent() is False
    assert alive(lab.agent.pid)
    with pytest.raises(NomadLabError, match="did not start the agent"):
        other.agent_log()


def test_run_again_after_purge_follows_a_new_deployment(lab: Lab, job: str, tmp_path: Path) -> None:
    first = lab.run(fast_echo(tmp_path, name=job))
    lab.stop(job, purge=True)
    second = lab.run(fast_echo(tmp_path, name=job))
    assert second.deployment_id and second.deployment_id != first.deployment_id
    assert second.deployment_status == "successful"


def execute(client: Any, code: str) -> list[dict]:
    """Run ``code`` in a Jupyter kernel; the iopub messages it produced, until idle."""
    msg_id = client.execute(code)
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
        messages.append(msg)


def test_in_jupyter_progress_updates_in_place_and_errors_are_one_paragraph(
    lab: Lab, job: str, tmp_path: Path
) -> None:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        spec = fast_echo(tmp_path, name=job)
        messages = execute(
            client, f"import nomadlab\nlab = nomadlab.start()\nlab.run({str(spec)!r})"
        )
        kinds = [m["msg_type"] for m in messages]
        text = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert "practice mode: nomadlab's practice agent" in text  # the module's, found again
        assert f"reused (pid {lab.agent.pid})" in text and "Monitoring evaluation" in text
        displays = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
        assert displays and displays[0]["msg_type"] == "display_data"
        ids = {m["content"]["transient"]["display_id"] for m in displays}
        assert len(ids) == 1  # one block, updated in place
        assert "✓ Deployment" in displays[-1]["content"]["data"]["text/plain"]
        assert "Healthy  Unhealthy" in displays[-1]["content"]["data"]["text/plain"]
        (result,) = [m for m in messages if m["msg_type"] == "execute_result"]
        assert "<table>" in result["content"]["data"]["text/html"]
        assert kinds.index("execute_result") > kinds.index("display_data")
        (error,) = [
            m for m in execute(client, f"lab.run({str(DOCKER_JOB)!r})") if m["msg_type"] == "error"
        ]
        assert error["content"]["ename"] == "PlacementFailed"
        (line,) = error["content"]["traceback"]  # the explanation only, no stack of frames
        assert line.startswith("PlacementFailed: Nomad could not place job")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_ui_redraws_the_live_block_only_on_a_tty() -> None:
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        ui = TerminalUi(stream)
        ui.info("step")
        ui.live("spinning 1\nrow")
        ui.live("spinning 2\nrow")
        ui.done("done\nrow")
    assert tty.getvalue() == (
        "==> step\nspinning 1\nrow\n\x1b[2F\x1b[Jspinning 2\nrow\n\x1b[2F\x1b[Jdone\nrow\n"
    )
    assert pipe.getvalue() == "==> step\ndone\nrow\n"  # no escape codes in logs and CI


def test_formats_follow_nomads_cli() -> None:
    assert format_list([["Task Group", "Desired"], ["echo", ""]]) == (
        "Task Group  Desired\necho        <none>"
    )
    groups = {
        "web": {"DesiredTotal": 3, "DesiredCanaries": 1, "Promoted": False, "AutoRevert": True,
                "PlacedAllocs": 1, "HealthyAllocs": 0, "UnhealthyAllocs": 0,
                "ProgressDeadline": 600_000_000_000, "RequireProgressBy": "0001-01-01T00:00:00Z"},
    }  # fmt: skip
    header, row = format_deployment_groups(groups).splitlines()
    assert header.split("  ") == [
        "Task Group", "Auto Revert", "Promoted", "Desired", "Canaries", "Placed", "Healthy",
        "Unhealthy", "Progress Deadline",
    ]  # fmt: skip
    assert (
        row
        == "web         true         false     3        1         1       0        0          N/A"
    )
    metrics = {
        "NodesEvaluated": 1,
        "NodesAvailable": {"dc1": 1},
        "ConstraintFiltered": {"missing drivers": 1},
        "DimensionExhausted": {"memory": 2},
    }
    assert format_alloc_metrics(metrics) == [
        '  * Constraint "missing drivers": 1 nodes excluded by filter',
        '  * Dimension "memory" exhausted on 2 nodes',
    ]
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert pretty_time_diff(now - timedelta(seconds=3725), now) == "1h2m ago"
    assert pretty_time_diff(now - timedelta(days=45), now) == "1mo15d ago"
    assert parse_time("2025-01-01T00:00:00.123456789Z") == now
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_variables_become_an_hcl_variables_file() -> None:
    assert hcl_value(3) == "3" and hcl_value(True) == "true"
    assert hcl_value('say "${hi}"') == '"say \\"$${hi}\\""'
    assert hcl_value(["a", 1]) == '["a", 1]'
    assert hcl_value({"k": "v"}) == '{ "k" = "v" }'


def test_host_ports_read_the_allocation_never_localhost() -> None:
    alloc = {
        "AllocatedResources": {
            "Shared": {"Ports": [{"Label": "http", "Value": 25000, "HostIP": "10.1.2.3"}]},
            "Tasks": {"server": {"Networks": [{"IP": "10.9.9.9", "DynamicPorts": [
                {"Label": "admin", "Value": 26000}]}]}},
        }
    }  # fmt: skip
    assert host_ports(alloc) == {"http": ("10.1.2.3", 25000), "admin": ("10.9.9.9", 26000)}
    assert host_ports({"AllocatedResources": None}) == {}


def test_ui_shows_the_job_page_in_the_notebook(
    lab: Lab, job: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display

    from nomadlab import jupyter_proxy

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    lab.run(fast_echo(tmp_path, name=job))
    url = lab.ui(job[:5])
    assert url == f"{lab.address}/ui/jobs/{job}@default" == shown[-1].src
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "practice agent" in page.text and job in page.text
    assert lab.ui() == f"{lab.address}/ui/jobs"
    # Behind JupyterHub or Binder the browser reaches the agent through Jupyter's proxy.
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/learner/")
    assert lab.ui(job) == f"/user/learner/nomad/ui/jobs/{job}@default"  # the kit's agent
    assert lab.ui_url(job) == url
    monkeypatch.setattr(jupyter_proxy, "agent_port", lambda: 1)  # not the entry's agent
    port = lab.address.rsplit(":", 1)[1]
    assert lab.ui(job) == f"/user/learner/proxy/{port}/ui/jobs/{job}@default"
