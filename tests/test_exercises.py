"""Checked exercises and checkpoints (notebooks 01–07), and the terminal verbs notebooks cite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import labkit
import pytest
from conftest import JOBS, wait_for
from labkit import fast_echo, run_cli, sleep_job
from test_hierarchy import TWO_GROUPS

import nomadlab
from nomadlab.errors import NomadLabError, PlacementFailed
from nomadlab.exercises import notebooks
from nomadlab.lab import Lab, several_nodes
from nomadlab.practice import Agent


@pytest.fixture
def lab(agent: Agent, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Lab:
    """A Lab on a fresh practice agent, run from a folder of its own (for jobs/shop.nomad.hcl)."""
    labkit.isolate(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("NOMAD_ADDR", agent.address)
    monkeypatch.chdir(tmp_path)
    return Lab(agent.address, quiet=True)


@pytest.fixture
def notebook() -> Iterator[dict]:
    """The namespace of a notebook's IPython shell, where 00's and 01's answers live."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    yield shell.user_ns
    InteractiveShell.clear_instance()


def test_every_checker_gives_a_hint_on_a_fresh_agent(lab: Lab) -> None:
    assert list(notebooks()) == ["00", "01", "02", "03", "04", "05", "06", "07"]
    for number, expected in [
        ("00", "Set both variables, my_mode and docker_job_runs_here"),
        ("01", "Build usable, a dict from each node's name"),
        ("02", "save your jobspec as jobs/shop.nomad.hcl"),
        ("03", "http-microservice is not running. Run it with two copies: lab.run("),
        ("04", "no running job has a static port"),
        ("05", "no echo-update deployment yet"),
        ("06", "no backend instance is registered: run the backend (lab.run("),
        ("07", "no agent with 3 nodes runs: notebook 07 starts one"),
    ]:
        verdict = nomadlab.check(number, lab)
        assert not verdict.passed and expected in verdict.message, (number, verdict)
        assert str(verdict).startswith("✗ Not yet: ")


def test_00_checks_the_mode_and_the_docker_answer(lab: Lab, notebook: dict) -> None:
    notebook["my_mode"] = "practice"
    assert "Set both variables" in nomadlab.check("00", lab).message
    notebook["docker_job_runs_here"] = True
    wrong = nomadlab.check("00", lab)  # the test's lab attaches to its agent
    assert not wrong.passed and "my_mode is 'practice', but that is not" in wrong.message
    notebook["my_mode"] = lab.mode
    docker = nomadlab.check("00", lab)
    assert not docker.passed and "docker_job_runs_here is True: look again" in docker.message
    notebook["docker_job_runs_here"] = False
    verdict = nomadlab.check("00", lab)
    assert str(verdict) == (
        "✓ the lab is in attach mode, and the tutorial's Docker job cannot run here: "
        "no node has a healthy docker driver."
    )


def test_01_compares_the_learners_usable_with_the_nodes(lab: Lab, notebook: dict) -> None:
    name = lab.nomad.nodes.get_nodes()[0]["Name"]
    notebook["usable"] = {"node-1": ["raw_exec"]}
    assert f"this agent's nodes are {name}." in nomadlab.check("01", lab).message
    notebook["usable"] = {name: ["docker", "raw_exec"]}
    wrong = nomadlab.check("01", lab)
    assert not wrong.passed and f"usable[{name!r}] is ['docker', 'raw_exec']" in wrong.message
    notebook["usable"] = {name: ["raw_exec"]}
    assert "Now set docker_job_runs_here" in nomadlab.check("01", lab).message
    notebook["docker_job_runs_here"] = False
    verdict = nomadlab.check(1, lab)
    assert str(verdict).startswith("✓ ") and f"{name}: raw_exec" in verdict.message
    assert "cannot run here: no node has docker" in verdict.message


def test_00_and_01_in_a_terminal_send_the_learner_to_the_notebook(lab: Lab) -> None:
    for number in ("00", "01"):
        hint = run_cli("check", number)
        assert hint.returncode == 1, hint.stderr
        assert f"variable{'s' if number == '00' else ''} of notebook {number}: run" in hint.stdout


def test_02_passes_on_the_solution_and_hints_at_what_is_missing(lab: Lab, tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    shop = tmp_path / "jobs" / "shop.nomad.hcl"
    shop.write_text(TWO_GROUPS.replace("count = 2", "count = 3"))
    assert (
        'group "web" runs 3 copies; the exercise asks for 2.' in nomadlab.check("02", lab).message
    )
    shop.write_text(TWO_GROUPS.replace("static = 6379", "static = 6380"))
    assert 'static port "db" with the number 6379' in nomadlab.check("02", lab).message
    shop.write_text("job {")
    assert "the agent cannot parse" in nomadlab.check("02", lab).message
    shop.write_text(TWO_GROUPS)
    verdict = nomadlab.check("02_job_hierarchy", lab)
    assert verdict.passed and "cache (count 1, static port 6379)" in verdict.message, verdict


def test_03_passes_with_two_answering_copies(lab: Lab, tmp_path: Path) -> None:
    lab.run(fast_echo(tmp_path), count=1)
    one = nomadlab.check("03", lab)
    assert not one.passed and "has 1 running allocation(s)" in one.message
    lab.run(fast_echo(tmp_path), count=2)
    verdict = wait_for(lambda: (v := nomadlab.check("3", lab)).passed and v, what="two copies")
    assert verdict.message.count("Hello and welcome") == 2
    lab.stop("http-microservice", purge=True)


def test_04_passes_with_a_static_port_and_two_copies(lab: Lab, tmp_path: Path) -> None:
    port = labkit.free_port()
    job = sleep_job(tmp_path, "http-static", count=2, port=f"{{ static = {port} }}")
    with pytest.raises(PlacementFailed):
        lab.run(job)
    verdict = wait_for(lambda: (v := nomadlab.check("04", lab)).passed and v, what="one copy")
    assert f"http-static asks for 2 copies on static port {port}: 1 runs" in verdict.message
    lab.stop("http-static", purge=True)


def test_06_passes_when_the_frontend_renders_the_v2_backends(lab: Lab) -> None:
    lab.run("jobs/backend.nomad.hcl", count=2)
    untagged = nomadlab.check("06", lab)
    assert not untagged.passed and "registered with the tags [v1], none with v2" in untagged.message
    assert '["v1", "v2"]' not in untagged.message, "the hint does not give the solution"
    lab.run("jobs/backend.nomad.hcl", count=2, tags=["v1", "v2"])
    no_frontend = nomadlab.check("06", lab)
    assert not no_frontend.passed and "now run the frontend" in no_frontend.message
    lab.run("jobs/frontend.nomad.hcl")
    by_name = nomadlab.check("06", lab)
    assert not by_name.passed and 'renders nomadService "backend"' in by_name.message
    assert "upstream=" not in by_name.message, "the hint does not give the solution"
    lab.run("jobs/frontend.nomad.hcl", upstream="v2.backend")
    verdict = wait_for(lambda: (v := nomadlab.check("06", lab)).passed and v, what="v2 rendered")
    assert "2 of 2 backend instance(s) carry the tag v2" in verdict.message
    assert 'nomadService "v2.backend"' in verdict.message
    assert nomadlab.checkpoint("06", lab).endswith("(purged backend, frontend).")
    assert lab.nomad.jobs.get_jobs() == []
    assert not nomadlab.check("06", lab).passed


def test_06_terminal_hint_names_the_command(lab: Lab) -> None:
    hint = run_cli("check", "06")
    assert hint.returncode == 1, hint.stderr
    assert "`nomadlab job run jobs/backend.nomad.hcl`" in hint.stdout or (
        "nomadlab job run jobs/backend.nomad.hcl" in hint.stdout
    ), hint.stdout
    assert "lab.run" not in hint.stdout, "the terminal's advice names commands"


SPREAD = """spread {
      attribute = "${node.unique.name}"
    }"""
DISTINCT = """constraint {
      distinct_hosts = true
    }"""


def test_07_looks_at_the_three_node_agent_and_passes_on_distinct_hosts(
    lab: Lab, tmp_path: Path
) -> None:
    cluster = several_nodes(lab, nodes=3)  # as notebook 07's first cell: a second agent
    try:
        assert cluster.address != lab.address
        assert "http-pair is not running" in nomadlab.check("07", lab).message
        pair = (JOBS / "http-echo-ha.nomad.hcl").read_text()
        pair = pair.replace('job "http-ha"', 'job "http-pair"')
        assert SPREAD in pair, "the notebook's solution replaces this block"
        path = tmp_path / "pair.nomad.hcl"
        path.write_text(pair)
        cluster.run(path, count=4)  # spread doubles up: every copy is placed
        spread = nomadlab.check("07", lab)
        assert not spread.passed and "no distinct_hosts constraint" in spread.message
        assert "constraint {" not in spread.message, "the hint does not give the solution away"
        path.write_text(pair.replace(SPREAD, DISTINCT))
        cluster.run(path, count=3)
        few = nomadlab.check("07", lab)
        assert not few.passed and "asks for 3 copies on 3 nodes" in few.message, few
        assert "lab.run(pair, count=4)" in few.message
        with pytest.raises(PlacementFailed):
            cluster.run(path, count=4)
        verdict = wait_for(lambda: (v := nomadlab.check("07", lab)).passed and v, what="3 copies")
        assert "3 run on 3 different nodes, and 1 wait" in verdict.message, verdict
        terminal = run_cli("check", "07")  # NOMAD_ADDR: the one-node agent, as the kit's
        assert terminal.returncode == 0, terminal.stderr
        assert "✓ http-pair asks for 4 copies" in terminal.stdout, terminal.stdout
        moved = nomadlab.checkpoint("07", lab)
        assert moved.endswith(f"Agent at {cluster.address} ready (purged http-pair)."), moved
        assert cluster.nomad.jobs.get_jobs() == []
        assert lab.nomad.jobs.get_jobs() == []
    finally:
        assert cluster.stop_agent()
    assert "no agent with 3 nodes runs" in nomadlab.check("07", lab).message


def test_checkpoint_moves_the_agent_to_the_start_of_a_notebook(lab: Lab, tmp_path: Path) -> None:
    lab.run(sleep_job(tmp_path, "left-over"), detach=True)
    message = nomadlab.checkpoint("04", lab)
    assert message == f"Agent at {lab.address} ready (purged left-over)."
    assert lab.nomad.jobs.get_jobs() == []
    assert nomadlab.checkpoint("03", lab).endswith("(no jobs to purge).")
    with pytest.raises(NomadLabError, match="there are checks for notebooks 00, 01, 02, 03"):
        nomadlab.checkpoint("99", lab)


def test_terminal_check_and_checkpoint(lab: Lab, tmp_path: Path) -> None:
    hint = run_cli("check", "03")
    assert hint.returncode == 1, hint.stderr
    assert "✗ Not yet:" in hint.stdout and "`nomadlab job run -var count=2" in hint.stdout
    assert "lab.run" not in hint.stdout, "the terminal's advice names commands"
    lab.run(sleep_job(tmp_path, "left-over"), detach=True)
    moved = run_cli("checkpoint", "3")
    assert moved.returncode == 0 and "(purged left-over)" in moved.stdout, moved.stderr
    unknown = run_cli("check", "42")
    assert unknown.returncode == 1 and "No exercise check for notebook '42'" in unknown.stderr


def test_job_allocs_and_alloc_fs(lab: Lab, tmp_path: Path) -> None:
    lab.run(fast_echo(tmp_path))
    allocs = run_cli("job", "allocs", "http-micro")
    assert allocs.returncode == 0, allocs.stderr
    header = allocs.stdout.splitlines()[0].split()
    assert header[:8] == ["ID", "Node", "ID", "Task", "Group", "Version", "Desired", "Status"]
    alloc_id = allocs.stdout.splitlines()[1].split()[0]
    listing = run_cli("alloc", "fs", alloc_id, "alloc/logs")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0].split() == ["Mode", "Size", "Modified", "Time", "Name"]
    assert "server.stdout.0" in listing.stdout
    root = run_cli("alloc", "fs", alloc_id)
    assert "alloc/" in root.stdout, root.stdout
    log = run_cli("alloc", "fs", "http-microservice", "alloc/logs/server.stdout.0")
    assert log.returncode == 0 and log.stdout.strip(), log.stderr
    missing = run_cli("alloc", "fs", "ffffffff")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
    assert "Traceback" not in missing.stderr
    lab.stop("http-microservice", purge=True)


def test_terminal_errors_speak_the_command(lab: Lab) -> None:
    scale = run_cli("job", "scale", "no-such-job", "3")
    assert scale.returncode == 1
    assert "`nomadlab job status` lists the jobs" in scale.stderr and "lab." not in scale.stderr
    typo = run_cli("job", "run", "jobs/htp-echo.nomad.hcl")
    assert typo.returncode == 1
    jobs = sorted(p.name for p in JOBS.glob("*") if p.suffix in (".nomad", ".hcl"))
    assert f"The jobs in jobs: {', '.join(jobs)}." in typo.stderr, typo.stderr
    assert "Did you mean nomadlab job run jobs/http-echo.nomad.hcl?" in typo.stderr


@pytest.mark.parametrize("command", [["job", "status"], ["job", "allocs", "x"], ["check", "03"]])
def test_nomad_addr_without_a_scheme_gets_the_kits_message(lab: Lab, command: list[str]) -> None:
    address = lab.address.removeprefix("http://")
    done = run_cli(*command, env={"NOMAD_ADDR": address})
    assert done.returncode == 1
    assert f"NOMAD_ADDR='{address}' needs a scheme, like http://127.0.0.1:4646" in done.stderr
    assert "Traceback" not in done.stderr and "requests" not in done.stderr


def test_nomad_addr_without_a_scheme_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_ADDR", "127.0.0.1:4646")
    with pytest.raises(NomadLabError, match="needs a scheme"):
        nomadlab.start(quiet=True)
    with pytest.raises(NomadLabError, match="needs a scheme"):
        Lab("127.0.0.1:4646")
