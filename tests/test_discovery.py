"""The kit's service discovery verbs: ``nomad service list|info`` output, the checks section
of ``nomad alloc status``, the registry chart, on a real practice agent and the command."""

from __future__ import annotations

from pathlib import Path

import labkit
import pytest
from conftest import wait_for
from labkit import run_cli
from matplotlib.figure import Figure

from nomadlab.command.service_info import (
    format_service_checks,
    format_service_info,
    format_service_list,
)
from nomadlab.discovery import registry_sample
from nomadlab.errors import NomadLabError
from nomadlab.lab import Lab
from nomadlab.plots import services_over_time

agent = labkit.agent
lab = labkit.lab
no_threads_left = labkit.no_threads_left

REG = {
    "ID": "_nomad-task-0a1b2c3d-9999-group-backend-backend-http",
    "ServiceName": "backend",
    "Namespace": "default",
    "NodeID": "5f6e7d8c-1111-2222-3333-444455556666",
    "Datacenter": "dc1",
    "JobID": "backend",
    "AllocID": "0a1b2c3d-9999-8888-7777-666655554444",
    "Tags": ["v1", "api"],
    "Address": "127.0.0.1",
    "Port": 24001,
}


def test_service_list_and_info_print_as_nomad_does() -> None:
    stubs = [
        {"Namespace": "default", "Services": [
            {"ServiceName": "frontend", "Tags": []},
            {"ServiceName": "backend", "Tags": ["v1", "api"]},
        ]},
    ]  # fmt: skip
    assert format_service_list(stubs) == (
        "Service Name  Tags\nbackend       [api,v1]\nfrontend      []"
    )
    assert format_service_list(stubs, all_namespaces=True).splitlines()[0] == (
        "Service Name  Namespace  Tags"
    )
    assert format_service_list([]) == "No service registrations found"
    other = {**REG, "JobID": "another", "Port": 0, "Tags": []}
    assert format_service_info([REG, other]) == (
        "Job ID   Address          Tags      Node ID   Alloc ID\n"
        "another  127.0.0.1        []        5f6e7d8c  0a1b2c3d\n"
        "backend  127.0.0.1:24001  [v1,api]  5f6e7d8c  0a1b2c3d"
    )
    verbose = format_service_info([REG], verbose=True)
    assert verbose.splitlines()[0] == f"ID           = {REG['ID']}"
    assert "Address      = 127.0.0.1:24001" in verbose
    assert verbose.splitlines()[-1] == "Tags         = [v1,api]"


def test_checks_section_and_registry_samples() -> None:
    results = {
        "a": {"Service": "backend", "Check": "alive", "Mode": "healthiness", "Status": "success"},
        "b": {
            "Service": "backend",
            "Task": "server",
            "Check": "ready",
            "Mode": "readiness",
            "Status": "failure",
        },
    }
    assert format_service_checks(results) == (
        "Nomad Service Checks:\n"
        "Service  Task     Name   Mode         Status\n"
        "backend  (group)  alive  healthiness  success\n"
        "backend  server   ready  readiness    failure"
    )
    assert format_service_checks({}) == ""
    second = {**REG, "AllocID": "other"}
    sample = registry_sample([REG, second], {REG["AllocID"]: {"a": results["a"]},
                                             "other": results}, 5.0)  # fmt: skip
    assert sample == {"time": 5.0, "registered": 2, "passing": 1, "failing": 1}


def test_services_over_time_draws_each_series() -> None:
    samples = [
        {"time": 10.0, "registered": 1, "passing": 0, "failing": 1},
        {"time": 11.0, "registered": 1, "passing": 1, "failing": 0, "event": "scale → 3"},
        {"time": 14.0, "registered": 3, "passing": 3, "failing": 0},
    ]
    fig = services_over_time(samples)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines() if
             not line.get_label().startswith("_")}  # fmt: skip
    assert lines == {"registered": [1, 1, 3], "passing": [0, 1, 3], "failing": [1, 0, 0]}
    assert [t.get_text() for t in ax.texts] == ["scale → 3"]
    assert fig.alt == (
        "Service registry over time, instances over 4 s: registered 1 → 3; passing 0 → 1 → 3; "
        "failing 1 → 0. Events: scale → 3 at 1 s. At the end: 3 registered, 3 passing, 0 failing."
    )
    assert services_over_time([]).axes[0].texts[0].get_text() == "no samples yet"


def test_lab_lists_services_follows_checks_and_records_the_registry(lab: Lab) -> None:
    recorder = lab.record_services("backend")
    try:
        lab.run("jobs/backend.nomad.hcl", count=2)
        listed = lab.services()
        assert listed.splitlines() == ["Service Name  Tags", "backend       [v1]"]
        info = lab.service("back").splitlines()
        assert info[0].split() == ["Job", "ID", "Address", "Tags", "Node", "ID", "Alloc", "ID"]
        assert len(info) == 3 and all(row.startswith("backend  127.0.0.1:") for row in info[1:])
        port = info[1].split()[1].rsplit(":", 1)[1]
        assert len(lab.service("backend", filter=f"Port == {port}").splitlines()) == 2
        assert lab.service("backend", filter='"v2" in Tags') == "No service registrations found"
        checks = lab.service_checks("backend")
        assert checks.splitlines()[2].split() == [
            "backend", "(group)", 'service:', '"backend"', "check", "healthiness", "success",
        ]  # fmt: skip
        recorder.mark("scale → 3")
        lab.scale("backend", 3)
        wait_for(lambda: recorder.samples[-1]["passing"] == 3, what="3 passing instances recorded")
    finally:
        samples = recorder.stop()
    assert samples[0]["registered"] == 0
    assert max(s["registered"] for s in samples) == 3
    assert any(s.get("event") == "scale → 3" for s in samples)
    with pytest.raises(NomadLabError, match='No service registrations with prefix "nope"'):
        lab.service("nope")


def test_the_command_line_service_verbs(lab: Lab, agent, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOMAD_ADDR", agent.address)
    assert run_cli("service", "list").stdout.strip() == "No service registrations found"
    lab.run("jobs/backend.nomad.hcl", count=1)
    listed = run_cli("service", "list")
    assert (listed.returncode, listed.stdout.split()) == (
        0,
        ["Service", "Name", "Tags", "backend", "[v1]"],
    )
    info = run_cli("service", "info", "-verbose", "backend")
    assert info.returncode == 0
    assert info.stdout.splitlines()[1] == "Service Name = backend"
    missing = run_cli("service", "info", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error: No service registrations with prefix "nope" found'
