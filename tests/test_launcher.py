"""`make lab` / `nomadlab lab`: the lab's environment and command, and stopping the agent after."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import labkit
import pytest
from labkit import alive, run_cli

import nomadlab
from nomadlab.launcher import (
    FIRST_NOTEBOOK,
    KIT_ROOT,
    lab_command,
    lab_environment,
    offer_to_stop_agent,
)

home = labkit.home


def test_the_lab_opens_at_the_root_with_00_setup_and_the_kits_settings() -> None:
    bin_dir = Path(sys.executable).parent
    env = lab_environment(
        {"PATH": f"/usr/bin{os.pathsep}{bin_dir}", "JUPYTER_CONFIG_PATH": "/etc/mine"},
        bin_dir,
        KIT_ROOT,
    )
    assert env["PATH"].split(os.pathsep) == [str(bin_dir), "/usr/bin"]
    assert env["NOMADLAB_BIN"] == str(bin_dir)
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(KIT_ROOT / "jupyter"), "/etc/mine"]
    command = lab_command(KIT_ROOT, ["--no-browser"], as_root=True)
    assert command[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={KIT_ROOT}" in command and "--allow-root" in command
    assert command[-1] == FIRST_NOTEBOOK and (KIT_ROOT / FIRST_NOTEBOOK).is_file()
    assert "--allow-root" not in lab_command(KIT_ROOT, [], as_root=False)
    overrides = json.loads(
        (KIT_ROOT / "jupyter/labconfig/default_setting_overrides.json").read_text()
    )
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_stopping_the_lab_offers_to_stop_the_agent_the_kit_started(home: Path) -> None:
    assert offer_to_stop_agent(lambda prompt: "y") == "", "no agent, no question"
    lab = nomadlab.start(quiet=True)
    pid = lab.agent.pid
    asked: list[str] = []

    left = offer_to_stop_agent(lambda prompt: asked.append(prompt) or "n")
    assert "Stop it? [Y/n]" in asked[0] and f"pid {pid}" in asked[0]
    assert left == "Left it running; `nomadlab agent stop` stops it." and alive(pid)
    assert "`nomadlab agent stop` stops it" in offer_to_stop_agent(None)  # no terminal to ask
    assert offer_to_stop_agent(lambda prompt: "") == f"Stopped the practice agent (pid {pid})."
    assert not alive(pid)


def test_nomadlab_agent_start_then_stop(home: Path) -> None:
    nothing = run_cli("agent", "stop")
    assert nothing.returncode == 0 and "No agent started by nomadlab is running" in nothing.stdout
    started = run_cli("agent", "start")
    assert started.returncode == 0, started.stderr
    assert "practice mode" in started.stdout and "started (pid" in started.stdout
    assert "reused (pid" in run_cli("agent", "start").stdout, "one agent, found again"
    pid = json.loads((home / "agent.json").read_text())["pid"]
    stopped = run_cli("agent", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"Stopped the practice agent (pid {pid})." in stopped.stdout
    assert not alive(pid) and not (home / "agent.json").exists()


@pytest.mark.parametrize("argv", [["agent", "stop", "-bogus"]])
def test_agent_stop_refuses_unknown_flags(home: Path, argv: list[str]) -> None:
    assert run_cli(*argv).returncode == 2
