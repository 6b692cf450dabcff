"""The notebooks' terminal twins: ``%nomad …`` runs ``nomad …`` when the kit drives real
Nomad (here the stand-in ``nomad`` on PATH, in nomad mode) and ``nomadlab …`` otherwise,
printing the command line first. nbval runs every twin in practice mode; this file shows
that the same cells call ``nomad`` when it is there."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import labkit
import nbformat
import pytest

import nomadlab
from nomadlab.lab import Lab
from nomadlab.magic import command_for
from nomadlab.practice import Agent

home = labkit.home
standin_bin = labkit.standin_bin
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_deploy_http_echo.ipynb"


@pytest.fixture
def shell() -> Iterator[object]:
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def twins(path: Path) -> list[str]:
    """The notebook's ``%nomad`` cells, in order."""
    notebook = nbformat.read(path, as_version=4)
    return [c.source for c in notebook.cells if c.source.startswith("%nomad ")]


def test_practice_agents_get_the_kits_cli(agent: Agent, standin_bin: Path, monkeypatch) -> None:
    lab = Lab(agent.address, quiet=True)
    assert command_for(lab, ["job", "status"]) == [
        sys.executable,
        "-m",
        "nomadlab",
        "job",
        "status",
    ]
    monkeypatch.setenv("PATH", f"{standin_bin}{os.pathsep}{os.environ['PATH']}")
    assert command_for(lab, ["job", "status"])[0] == sys.executable, "a practice agent: nomadlab"


def test_notebook_03s_twins_call_nomad_in_nomad_mode(
    home: Path, standin_bin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    shell: object, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    record = tmp_path / "invocations.jsonl"
    monkeypatch.setenv("PATH", f"{standin_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("NOMAD_STANDIN_RECORD", str(record))
    monkeypatch.chdir(NOTEBOOK.parent)  # as the notebook runs: jobs/ is one folder up
    cells = twins(NOTEBOOK)
    assert [c.split()[1:3] for c in cells][:2] == [["job", "status"], ["job", "run"]]
    shell.run_cell("import nomadlab\nlab = nomadlab.start(quiet=True)")  # registers %nomad
    lab = shell.user_ns["lab"]
    try:
        assert lab.mode == "nomad"
        for cell in cells:
            assert shell.run_cell(cell).success, cell
        printed = capsys.readouterr().out
        calls = [json.loads(line)["argv"] for line in record.read_text().splitlines()]
        words = [cell.removeprefix("%nomad ").split() for cell in cells]
        assert [c for c in calls if c[0] not in ("agent", "version")] == words
        for cell in cells:
            assert f"$ nomad {cell.removeprefix('%nomad ')}\n" in printed
        assert "Deployment" in printed and "successful" in printed
        assert "is listening on" in printed, "alloc logs printed the service's log"
        assert "(exit code 1)" in printed, "the first status asks for a job not run yet"
    finally:
        lab.stop("http-microservice", purge=True)
        assert lab.stop_agent() is True


def test_load_ext_registers_the_magic(shell: object) -> None:
    shell.run_line_magic("load_ext", "nomadlab")
    assert "nomad" in shell.magics_manager.magics["line"]
    assert nomadlab.load_ipython_extension
