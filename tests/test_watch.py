"""nomadlab.watch: samples recorded from blocking queries while a job is scaled, and the
fetch helpers that feed the charts, against a real practice agent."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import labkit
import pytest
import requests
from conftest import task_processes
from labkit import isolate, sleep_job

import nomadlab
from nomadlab import plots, recording
from nomadlab.allocations import alloc_ports
from nomadlab.contract import SECOND, parse_duration
from nomadlab.errors import NomadLabError
from nomadlab.lab import Lab
from nomadlab.practice import Agent
from nomadlab.recording import Background, Recorder, counts, desired

agent, lab, job, no_threads_left = labkit.agent, labkit.lab, labkit.job, labkit.no_threads_left


def changes(values: list[int]) -> list[int]:
    """The values without consecutive repeats: [1, 1, 3, 3, 1] → [1, 3, 1]."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def test_recording_while_scaling_1_3_1(lab: Lab, job: str, tmp_path: Path) -> None:
    lab.run(sleep_job(tmp_path, job))
    with nomadlab.watch(lab, job) as recording:
        assert recording.recording
        recording.mark("scale → 3")
        lab.scale(job, 3)
        recording.mark("scale → 1")
        lab.scale(job, 1)
    assert not recording.recording
    samples = recording.samples

    assert samples[0]["desired"] == samples[0]["running"] == samples[0]["healthy"] == 1
    assert changes([s["desired"] for s in samples]) == [1, 3, 1]
    assert max(s["placed"] for s in samples) == max(s["healthy"] for s in samples) == 3
    assert samples[-1] | {"time": 0, "index": 0} == {
        "time": 0, "index": 0, "desired": 1, "placed": 1, "running": 1, "healthy": 1,
        "restarts": 0,
    }  # fmt: skip
    for s in samples:
        assert s["healthy"] <= s["running"] <= s["placed"]

    events = [(i, s["event"]) for i, s in enumerate(samples) if "event" in s]
    assert [e for _, e in events] == ["scale → 3", "scale → 1"]
    up, down = (i for i, _ in events)
    assert samples[up]["desired"] == 1 and samples[down]["desired"] == 3
    running = [s["running"] for s in samples]
    assert running[up:down] == sorted(running[up:down]) and running[down - 1] == 3
    assert running[down:] == sorted(running[down:], reverse=True) and running[-1] == 1

    times = [s["time"] for s in samples]
    assert times == sorted(times)
    assert recording.started_at <= times[0] and times[-1] >= recording.stopped_at
    indexes = [s["index"] for s in samples]
    assert indexes == sorted(indexes) and indexes[-1] > indexes[0]

    chart = plots.counts_over_time(samples)
    legend = [t.get_text() for t in chart.legends[0].get_texts()]
    assert legend == ["desired", "placed", "running", "healthy"]
    assert {t.get_text() for t in chart.axes[0].texts} == {"scale → 3", "scale → 1"}


def test_samples_come_from_blocking_queries(lab: Lab, job: str, tmp_path: Path) -> None:
    lab.run(sleep_job(tmp_path, job))
    seen: list[requests.Response] = []
    recording = Recorder(lab.agent, job, wait="30s")
    # The recorder's client is its own; watch what it asks the agent and what it gets back.
    recording.start()
    background = recording._background
    assert background is not None
    background.nomad.session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    recording.mark("scale → 2")
    lab.scale(job, 2)
    recording.stop()

    blocking = [r for r in seen if "index=" in (r.request.url or "")]
    assert blocking, [r.request.url for r in seen]
    for response in blocking:
        url = response.request.url or ""
        assert "wait=30s" in url
        asked = int(re.search(r"index=(\d+)", url).group(1))
        assert int(response.headers["X-Nomad-Index"]) > asked  # answered because it changed
    paths = {re.sub(r"\?.*", "", r.request.url or "").split("/v1/")[1] for r in blocking}
    assert f"job/{job}/allocations" in paths and f"job/{job}" in paths


def test_stop_is_prompt_idempotent_and_leaves_no_thread(lab: Lab, job: str) -> None:
    recording = nomadlab.watch(lab, job)  # a job that does not exist yet: all zeros
    threads = [t for t in threading.enumerate() if t.name.startswith(f"watch {job}")]
    assert len(threads) == 2 and all(t.daemon for t in threads)
    samples = recording.stop()
    assert not any(t.is_alive() for t in threads)
    assert recording.stop() is samples and len(samples) == 2
    assert all(s["desired"] == s["placed"] == 0 for s in samples)
    assert "stopped" in repr(recording)
    with pytest.raises(NomadLabError, match="not running"):
        recording.wait_until(lambda s: s["desired"] == 1, timeout=1)


def test_a_thread_may_stop_its_background_while_the_owner_starts_another(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scale panel's follower stops its background when the evaluation ends, which can
    # be before the panel has started its second thread: that thread must be waited for,
    # not joined before it starts (which raised, and left the panel busy for good).
    background = Background(lab.agent)
    starting, stopped = threading.Event(), threading.Event()

    class SlowToStart(threading.Thread):
        def start(self) -> None:
            if self.name == "second":
                starting.set()
                stopped.wait(1)  # the first thread stops everything meanwhile, if it can
            super().start()

    def first() -> None:
        starting.wait(10)
        try:
            background.stop()
        finally:
            stopped.set()

    monkeypatch.setattr(recording.threading, "Thread", SlowToStart)
    background.start(first, "first")
    background.start(lambda: background.get(background.nomad.agent, "self"), "second")
    for thread in background.threads:
        thread.join(10)
    assert [t.name for t in background.threads] == ["first", "second"]
    assert not background.alive and background.errors == []


def test_a_job_registered_while_recording_and_wait_until(
    lab: Lab, job: str, tmp_path: Path
) -> None:
    with nomadlab.watch(lab, job) as recording:
        recording.mark("run")
        lab.run(sleep_job(tmp_path, job, count=2), detach=True)
        reached = recording.wait_until(lambda s: s["healthy"] == 2, timeout=120)
        assert reached["desired"] == reached["running"] == 2
        assert recording.latest["healthy"] == 2
        with pytest.raises(NomadLabError, match=r"Waited 0\.5s"):
            recording.wait_until(lambda s: s["desired"] == 9, timeout=0.5)
        lab.stop(job, purge=True)
        gone = recording.wait_until(lambda s: s["desired"] == 0 and s["placed"] == 0)
    assert gone["running"] == 0
    assert changes([s["desired"] for s in recording.samples]) == [0, 2, 0]


def test_a_restart_is_counted(lab: Lab, job: str, tmp_path: Path) -> None:
    spec = sleep_job(tmp_path, job).read_text()
    spec = spec.replace("    update {", '    restart {\n      delay = "1s"\n    }\n    update {')
    path = tmp_path / "restarting.nomad.hcl"
    path.write_text(spec)
    lab.run(path)
    alloc = lab.nomad.job.get_allocations(job)[0]["ID"]
    with nomadlab.watch(lab, job) as recording:
        recording.mark("kill")
        for proc in task_processes({alloc}):
            proc.kill()
        recording.wait_until(lambda s: s["restarts"] == 1 and s["running"] == 1, timeout=120)
    running = [s["running"] for s in recording.samples]
    assert changes(running) == [1, 0, 1]
    timeline = plots.allocation_timeline(plots.fetch_allocations(lab, job))
    legend = [t.get_text() for t in timeline.legends[0].get_texts()]
    assert "restart" in legend


def test_recording_an_agent_that_goes_away_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch, tmp_path / "home")
    with Agent(http_port=None, log_file=tmp_path / "agent.log") as doomed:
        recording = nomadlab.watch(Lab(doomed.address, quiet=True), "anything")
        doomed.stop()
    background = recording._background
    assert background is not None
    for thread in background.threads:
        thread.join(60)  # the agent's exit ends their blocking queries
    assert not background.alive
    with pytest.raises(NomadLabError, match='Stopped recording job "anything" early: '):
        recording.stop()


def test_fetch_helpers_give_full_allocations_and_nodes(lab: Lab, job: str, tmp_path: Path) -> None:
    lab.run(sleep_job(tmp_path, job, count=3))
    allocations = plots.fetch_allocations(lab, job)
    assert len(allocations) == 3
    assert all(alloc_ports(a) for a in allocations)  # stubs would have none
    ports = {p for a in allocations for _, p in alloc_ports(a).values()}
    assert len(ports) == 3  # dynamic ports: a different one each
    nodes = plots.fetch_nodes(lab)
    assert len(nodes) == 2
    chart = plots.allocations_by_node(allocations, nodes)
    per_node = chart.axes[0]
    assert [t.get_text() for t in per_node.get_xticklabels()] == sorted(n["Name"] for n in nodes)
    assert sum(int(t.get_text()) for t in per_node.texts) == 3


def test_counts_and_desired_from_nomad_json() -> None:
    def stub(group: str, desired: str, client: str, healthy: bool | None = None,
             restarts: int = 0) -> dict:  # fmt: skip
        return {
            "TaskGroup": group, "DesiredStatus": desired, "ClientStatus": client,
            "DeploymentStatus": None if healthy is None else {"Healthy": healthy},
            "TaskStates": {"t": {"Restarts": restarts}},
        }  # fmt: skip

    stubs = [
        stub("a", "run", "running", True),
        stub("a", "run", "running", None, restarts=2),
        stub("a", "run", "pending"),
        stub("a", "stop", "running", True),  # being stopped: no longer placed
        stub("a", "run", "failed", False),
        stub("b", "run", "running", True),
    ]
    assert counts(stubs, "a") == {"placed": 3, "running": 2, "healthy": 1, "restarts": 2}
    assert counts(stubs) == {"placed": 4, "running": 3, "healthy": 2, "restarts": 2}
    job = {"TaskGroups": [{"Name": "a", "Count": 3}, {"Name": "b", "Count": 2}], "Stop": False}
    assert desired(job) == 5 and desired(job, "b") == 2
    assert desired({**job, "Stop": True}) == 0 and desired(None) == 0
    assert [parse_duration(w) / SECOND for w in ("30s", "5m", "250ms")] == [30, 300, 0.25]
