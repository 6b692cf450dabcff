"""The scale panel driven from code against a real practice agent, and in a real kernel."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import labkit
import pytest
import requests
from conftest import wait_for
from labkit import SHARED_NODES as NODES
from labkit import sleep_job

from nomadlab.errors import NomadLabError, PlacementFailed
from nomadlab.lab import Lab
from nomadlab.practice import Agent
from nomadlab.widgets import MAX_COUNT, ScalePanel, scale_panel

agent, lab, job, no_threads_left = labkit.agent, labkit.lab, labkit.job, labkit.no_threads_left


def running(lab: Lab, job: str) -> list[dict]:
    return [a for a in lab.nomad.job.get_allocations(job)
            if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]  # fmt: skip


def bars(panel: ScalePanel) -> dict[str, tuple[int, int]]:
    return {name: (bar.value, bar.max) for name, bar in panel.bars.items()}


def test_apply_scales_to_the_slider_count_and_shows_the_deployment(
    lab: Lab, job: str, tmp_path: Path
) -> None:
    lab.run(sleep_job(tmp_path, job))
    panel = scale_panel(lab, job)
    assert panel.slider.value == 1 and panel.slider.min == 1
    assert len(panel.rows) == 1 and not panel.busy
    assert "nomad job scale" in panel.command.value

    panel.slider.value = 3
    assert f"nomad job scale {job} app 3" in panel.command.value
    panel.apply()
    assert panel.busy and panel.button.disabled and panel.slider.disabled
    with pytest.raises(NomadLabError, match="still deploying"):
        panel.apply()
    deployment = panel.wait(300)

    assert deployment is not None and deployment["Status"] == "successful"
    assert deployment["TaskGroups"]["app"]["DesiredTotal"] == 3
    assert len(running(lab, job)) == 3
    assert lab.nomad.job.get_job(job)["TaskGroups"][0]["Count"] == 3
    assert bars(panel) == {"Desired": (3, 3), "Placed": (3, 3), "Healthy": (3, 3),
                           "Unhealthy": (0, 3)}  # fmt: skip
    assert [panel.numbers[n].value for n in ("Desired", "Healthy")] == ["3", "3 / 3"]
    assert "successful" in panel.status.value and deployment["ID"][:8] in panel.status.value
    assert len(panel.rows) == 3 and {r["Status"] for r in panel.rows} == {"running"}
    assert panel.table.value.count("<tr>") == 1 + 3  # header and one row each
    assert not panel.busy and not panel.button.disabled and not panel.slider.disabled

    panel.slider.value = 1  # down again: the stopped ones leave the table
    panel.apply()
    assert panel.wait(300)["TaskGroups"]["app"]["HealthyAllocs"] == 1
    assert len(running(lab, job)) == 1 and len(panel.rows) == 1
    assert "2 stopped allocations not shown" in panel.table.value
    panel.close()


def test_apply_button_is_the_same_and_slider_ticks_send_nothing(
    lab: Lab, job: str, tmp_path: Path
) -> None:
    lab.run(sleep_job(tmp_path, job))
    panel = scale_panel(lab, job)
    sent: list[str] = []

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        sent.append(f"{response.request.method} {response.request.path_url}")

    lab.nomad.job.session.hooks["response"].append(record)
    try:
        for value in (2, 4, 3, 2):
            panel.slider.value = value
        assert sent == []  # moving the slider asks nothing of the agent
        panel.button.click()
        assert sent == [f"POST /v1/job/{job}/scale"]
    finally:
        lab.nomad.job.session.hooks["response"].remove(record)
    assert panel.wait(300)["TaskGroups"]["app"]["DesiredTotal"] == 2
    assert len(running(lab, job)) == 2 and len(panel.rows) == 2


def test_slider_maximum_comes_from_the_nodes_free_resources(
    lab: Lab, job: str, tmp_path: Path
) -> None:
    nodes = lab.nomad.nodes.get_nodes()
    assert len(nodes) == NODES
    shares = {lab.nomad.node.get_node(n["ID"])["NodeResources"]["Cpu"]["CpuShares"] for n in nodes}
    assert len(shares) == 1  # the practice agent splits the host evenly
    cpu = shares.pop() // 3 + 1  # two allocations fit on a node, three do not
    lab.run(sleep_job(tmp_path, job, cpu=cpu))
    panel = scale_panel(lab, job)
    # The one placed allocation takes room on its node: 1 more fits there, 2 on the other.
    assert sorted(panel.room.more.values()) == [1, 2] and panel.room.placed == 1
    assert panel.slider.max == panel.room.maximum == 4
    why = panel.room.describe()
    assert why.startswith("At most 4:")
    assert f"asks for {cpu} MHz of CPU and 32 MB of memory" in why
    assert "2 ready nodes have room for 3 more" in why and "besides the 1 placed now" in why
    assert panel.slider.tooltip == why and "At most 4" in panel.capacity.value

    panel.slider.value = 9  # beyond the maximum: the slider keeps it in range
    assert panel.slider.value == 4
    panel.apply()
    assert panel.wait(300)["Status"] == "successful" and len(running(lab, job)) == 4


def test_a_static_port_allows_one_allocation_per_host(lab: Lab, job: str, tmp_path: Path) -> None:
    from nomadlab.agent import free_port

    lab.run(sleep_job(tmp_path, job, port=f"{{ static = {free_port()} }}"))
    panel = scale_panel(lab, job)
    # Every practice node shares this computer's address, and the one allocation holds it.
    assert panel.room.maximum == 1 and panel.slider.max == 1
    assert "static port http=" in panel.room.describe()

    panel.slider.max = 2  # force a count the scheduler cannot place
    panel.slider.value = 2
    panel.apply()
    with pytest.raises(PlacementFailed, match="could not place"):
        panel.wait(300)
    assert "could not place" in panel.status.value and not panel.busy


def test_the_slider_is_capped_on_a_roomy_machine(lab: Lab, job: str, tmp_path: Path) -> None:
    lab.run(sleep_job(tmp_path, job, cpu=1))
    panel = scale_panel(lab, job)
    assert panel.room.fits > MAX_COUNT
    assert panel.slider.max == MAX_COUNT and f"Capped at {MAX_COUNT}" in panel.room.describe()
    assert scale_panel(lab, job, cap=7).slider.max == 7


def test_close_while_deploying_stops_following(lab: Lab, job: str, tmp_path: Path) -> None:
    # A slow job: allocations must run 4 minutes to count as healthy. Its first deployment
    # is failed by hand (nomad deployment fail), as scaling waits for an active one.
    lab.run(sleep_job(tmp_path, job, min_healthy="4m"), detach=True)
    first = wait_for(lambda: lab.nomad.job.get_deployment(job), what="the first deployment")
    lab.nomad.deployment.fail_deployment(first["ID"])
    panel = scale_panel(lab, job)
    panel.slider.value = 2
    panel.apply()
    threads = [t for t in threading.enumerate() if t.name.endswith(job)]
    assert len(threads) == 2 and all(t.is_alive() for t in threads)
    panel.close()
    assert not any(t.is_alive() for t in threads)
    assert panel.deployment is None  # it never ended; closing does not pretend it did


def test_several_groups_need_a_name(lab: Lab, job: str, tmp_path: Path) -> None:
    lab.run(sleep_job(tmp_path, job, groups=("front", "back")))
    with pytest.raises(NomadLabError, match="say which to scale"):
        scale_panel(lab, job)
    with pytest.raises(NomadLabError, match='no task group "middle"'):
        scale_panel(lab, job, group="middle")
    panel = scale_panel(lab, job, group="back")
    panel.slider.value = 2
    panel.apply()
    assert panel.wait(300)["TaskGroups"]["back"]["HealthyAllocs"] == 2
    counts = {g["Name"]: g["Count"] for g in lab.nomad.job.get_job(job)["TaskGroups"]}
    assert counts == {"front": 1, "back": 2} and len(panel.rows) == 2


def test_updates_reach_the_browser_from_the_background_thread(
    agent: Agent, job: str, tmp_path: Path
) -> None:
    """In a real kernel, the panel's widgets keep changing after the cell has returned."""
    from jupyter_client.manager import start_new_kernel

    spec = sleep_job(tmp_path, job)
    env = {**os.environ, "NOMADLAB_HOME": str(tmp_path / "home")}
    env.pop("NOMAD_ADDR", None)
    manager, kernel = start_new_kernel(kernel_name="python3", env=env)
    try:
        code = (
            "from nomadlab.lab import Lab\nfrom nomadlab.widgets import scale_panel\n"
            f"lab = Lab({agent.address!r}, quiet=True)\nlab.run({str(spec)!r})\n"
            f"panel = scale_panel(lab, {job!r})\ndisplay(panel)\n"
            "panel.slider.value = 2\npanel.apply()\n"
        )
        reply = kernel.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        states: list[dict] = []
        deadline = time.monotonic() + 300
        while not any("successful" in str(s.get("value")) for s in states):
            assert time.monotonic() < deadline, states
            try:
                message = kernel.get_iopub_msg(timeout=5)
            except Exception:  # queue.Empty: nothing yet
                continue
            if message["msg_type"] == "comm_msg":
                states.append(message["content"]["data"].get("state") or {})
        values = [s["value"] for s in states if "value" in s]
        assert "2 / 2" in values  # the Healthy bar's number, set by the background thread
        printed: list[str] = []
        done = kernel.execute_interactive(
            "import threading\n"
            "print(panel.wait(60)['Status'], panel.busy,"
            f" [t.name for t in threading.enumerate() if t.name.endswith({job!r})])",
            timeout=120,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )
        assert done["content"]["status"] == "ok"
        assert "".join(printed).strip() == "successful False []"
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
