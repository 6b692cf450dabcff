"""The notebook plugin: an agent per notebook (with the nodes it asks for), parallel workers,
notebooks judged as committed, and nothing left running by a notebook that forgets to clean up.

Each test runs pytest in a subprocess on notebooks written here, in a git repository of their
own, the way ``make test`` runs the kit's notebooks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
from conftest import ROOT, task_processes

from nomadlab.agent import port_free
from nomadlab.pytest_notebooks import judged_text


def _notebook(path: Path, cells: list[str], metadata: dict | None = None) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(metadata=metadata or {})
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, path)
    return notebook


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _pytest(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "nomadlab.pytest_notebooks", "--nbval-lax",
         "--nbval-current-env", "-p", "no:randomly", "-p", "no:cacheprovider", "-q", *args],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "course"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "pytest.ini").write_text("[pytest]\n")
    _git(repo, "init", "-q")
    return repo


SEEN = """
import json, os, urllib.request
address = os.environ["NOMAD_ADDR"]
nodes = json.load(urllib.request.urlopen(address + "/v1/nodes"))
server = json.load(urllib.request.urlopen(address + "/v1/agent/self"))["config"]["Server"]
with open({record!r}, "w") as out:
    json.dump({{"address": address, "home": os.environ["NOMADLAB_HOME"],
               "nodes": len(nodes), "grace": server["HeartbeatGrace"]}}, out)
"""

LEAVE_A_JOB = """
import json
import nomadlab
lab = nomadlab.start()
lab.run("jobs/http-echo.nomad.hcl", detach=True)
import time
while not (running := [a["ID"] for a in lab.nomad.job.get_allocations("http-microservice")
                       if a["ClientStatus"] == "running"]):
    time.sleep(0.2)
with open({record!r}, "w") as out:
    json.dump(running, out)
"""


def test_each_notebook_gets_its_agent_in_parallel_and_nothing_outlives_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    records = {name: tmp_path / f"{name}.json" for name in ("one", "three")}
    allocs = tmp_path / "allocs.json"
    _notebook(repo / "notebooks" / "01_one.ipynb", [SEEN.format(record=str(records["one"]))])
    _notebook(
        repo / "notebooks" / "02_three.ipynb",
        [SEEN.format(record=str(records["three"])), LEAVE_A_JOB.format(record=str(allocs))],
        metadata={"nomadlab": {"nodes": 3}},
    )
    result = _pytest(repo, "-n", "2", "--dist", "loadfile", "notebooks")
    seen = {name: json.loads(path.read_text()) for name, path in records.items()}

    assert seen["one"]["nodes"] == 1 and seen["three"]["nodes"] == 3
    # Several nodes: the classroom's heartbeat timers, as several_nodes() starts them.
    assert seen["one"]["grace"] == 0 and seen["three"]["grace"] == 3 * 10**9
    assert seen["one"]["address"] != seen["three"]["address"], "one agent per notebook"
    assert seen["one"]["home"] != seen["three"]["home"], "one NOMADLAB_HOME per notebook"
    assert "3 passed, 1 error" in result.stdout, result.stdout[-5000:]
    assert "02_three.ipynb did not clean up what it started" in result.stdout
    assert "jobs still registered: http-microservice (now purged)" in result.stdout
    for record in seen.values():  # every agent stopped, its port free, no task left
        port = int(record["address"].rsplit(":", 1)[1])
        assert port_free(port), f"an agent still listens on {record['address']}"
    left = set(json.loads(allocs.read_text()))
    assert left and not task_processes(left), "a task process outlived its notebook's agent"
    assert not [
        p for p in psutil.process_iter(["cmdline"])
        if any(r["address"].rsplit(":", 1)[1] in (p.info["cmdline"] or []) for r in seen.values())
    ], "an agent process outlived the run"  # fmt: skip


def test_outputs_saved_by_jupyterlab_do_not_fail_make_test(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    path = repo / "notebooks" / "01_saved.ipynb"
    notebook = _notebook(path, ["# NBVAL_CHECK_OUTPUT\nprint(6 * 7)", "x = 1\nx"])
    notebook.cells[0].execution_count = 1
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="42\n")]
    nbformat.write(notebook, path)
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clean")
    # What a learner's JupyterLab autosaves: other outputs, counts, metadata, a changed reply.
    notebook.metadata["widgets"] = {"state": {}}
    notebook.cells[0].outputs[0].text = "41\n"
    notebook.cells[1].execution_count = 7
    notebook.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "1"})]
    nbformat.write(notebook, path)

    def first_output(source: str) -> str:
        return nbformat.reads(judged_text(path, source), as_version=4).cells[0].outputs[0].text

    assert first_output("working") == "41\n", "the working copy would fail the check"
    assert first_output("committed") == "42\n"
    committed = _pytest(repo, "--notebooks=committed", "notebooks")

    assert committed.returncode == 0, committed.stdout[-5000:]
    assert "2 passed" in committed.stdout
    assert nbformat.read(path, as_version=4).cells[0].outputs[0].text == "41\n", "untouched"


def test_make_strip_cleans_a_saved_notebook_for_a_commit(tmp_path: Path) -> None:
    path = tmp_path / "notebooks" / "01_saved.ipynb"
    path.parent.mkdir()
    notebook = _notebook(path, ["# NBVAL_CHECK_OUTPUT\nprint(1)", "2"])
    notebook.cells[0].execution_count = 3
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    notebook.cells[1].execution_count = 4
    notebook.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    notebook.metadata["nomadlab"] = {"nodes": 3}
    nbformat.write(notebook, path)
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "-o", ".venv/bin/.installed", "strip", f"NOTEBOOKS={path}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stripped = nbformat.read(path, as_version=4)
    assert stripped.cells[0].outputs[0].text == "1\n"
    assert stripped.cells[1].outputs == [] and stripped.cells[1].execution_count is None
    assert stripped.metadata["nomadlab"] == {"nodes": 3}, "what the notebook asks of its agent"
