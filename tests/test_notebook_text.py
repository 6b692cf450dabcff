"""What the notebooks teach holds on a real cluster: claims that were wrong stay gone, each
step the tutorial types has its terminal twin, each notebook links the next and its Nomad
docs, and the minutes each one announces are computed, not guessed.

The minutes (CONTRIBUTING.md, "Notebooks"): a newcomer's median time is its reading at 200
words a minute, plus a minute per code cell (read it, run it, read what it printed), plus
the time its cells wait (the notebook's run in `tests/durations.json`), plus 5 minutes for
the exercise; rounded to the nearest 5.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from nomadlab.lab import Lab
from nomadlab.practice import Agent

ROOT = Path(__file__).resolve().parent.parent
PATHS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DURATIONS = json.loads((ROOT / "tests" / "durations.json").read_text())
MAX_CELLS = 36  # "about 35": more only when the overview says why


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def code(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def minutes(notebook: nbformat.NotebookNode, run_seconds: float) -> int:
    """A newcomer's median minutes for ``notebook``, by the method in the module docstring."""
    words = len(re.findall(r"[A-Za-z0-9_']+", markdown(notebook)))
    cells = sum(c.cell_type == "code" for c in notebook.cells)
    raw = words / 200 + cells * 1.0 + run_seconds / 60 + 5
    return 5 * round(raw / 5)


# -- claims that are wrong on real Nomad ---------------------------------------------------------

WRONG = [
    ("02_job_hierarchy.ipynb", r"before it submits a job, the `nomad` command\s+asks the agent",
     "the nomad CLI parses HCL itself (command/helpers.go); /v1/jobs/parse is for API clients"),
    ("02_job_hierarchy.ipynb", r"`POST /v1/jobs/parse` \(`nomad job run -output`\)",
     "nomad job run -output prints the job without defaults: it does not call the API"),
    ("05_update_a_job.ipynb", r"first new allocation exited, so the deployment failed",
     "Nomad fails a deployment at the progress deadline, unless it is 0 or reschedules ran out"),
    ("05_update_a_job.ipynb", r"so a broken version fails in seconds",
     "without progress_deadline = 0, a broken version fails at the progress deadline"),
    ("05_update_a_job.ipynb", r"`Job Modify Index`: the version of the job",
     "the Job Modify Index is a Raft index, not the job's Version"),
    ("06_service_discovery.ipynb", r"after `healthy_deadline` \([^)]*\)\s+the deployment fails",
     "an unhealthy allocation is replaced; the deployment fails at progress_deadline"),
    ("06_service_discovery.ipynb", r"fails at `healthy_deadline` when they never pass",
     "an unhealthy allocation is replaced; the deployment fails at progress_deadline"),
    ("00_setup.ipynb", r"enough for notebooks 00 to 04", "all eight notebooks run on it"),
    ("07_failures_and_self_healing.ipynb", r"Nomad keeps the originals\s+and stops their",
     'disconnect reconciles with reconcile = "best_score" by default'),
]  # fmt: skip


@pytest.mark.parametrize(("name", "pattern", "why"), WRONG, ids=[w[0][:2] for w in WRONG])
def test_a_wrong_claim_stays_gone(name: str, pattern: str, why: str) -> None:
    found = re.search(pattern, markdown(read(name)))
    assert not found, f"{name} says {found[0]!r}: wrong on real Nomad, {why}"


def test_the_claims_that_replace_them() -> None:
    text = {path.name[:2]: markdown(read(path.name)) for path in PATHS}
    assert "The `nomad` command parses the jobspec itself" in text["02"]
    assert re.search(r"It shows only what the file says: no `Type`, no `Priority`", text["02"])
    for number in ("05", "06"):
        assert re.search(r"`progress_deadline = 0`", text[number]), number
        assert "reschedule" in text[number], number
    assert "It is not the job's `Version`" in text["05"]
    assert "runs all eight notebooks" in text["00"]
    summary = next(line for line in text["03"].splitlines() if "**Summary**: per group" in line)
    block = text["03"][text["03"].index(summary) :][:400]
    for state in ("queued", "starting", "running", "failed", "complete", "lost", "unknown"):
        assert state in block, f"03's Summary states leave out {state} (command/job_status.go)"
    assert 'By default (`reconcile = "best_score"`)' in text["07"]
    assert '`reconcile = "keep_original"`' in text["07"]
    assert "**In nomad mode too.**" in text["07"], "07 says where it switches to practice"
    assert "several_nodes(kit_lab" in code(read("07_failures_and_self_healing.ipynb"))


@pytest.mark.parametrize(
    ("jobspec", "broken"),
    [
        ("jobs/http-echo-update.nomad.hcl", {"python": "false", "auto_revert": True}),
        ("jobs/backend.nomad.hcl", {"count": 3, "health_status": "500"}),
    ],
)
def test_broken_versions_fail_on_their_first_unhealthy_allocation(
    agent: Agent, jobspec: str, broken: dict
) -> None:
    """05's and 06's broken versions set progress_deadline = 0, which makes Nomad fail the
    deployment on the first unhealthy allocation (deploymentwatcher's shouldFailEarly), so
    the step is fast on a real cluster too; the file's own deadline stays non-zero."""
    lab = Lab(agent.address, quiet=True)
    name = {"http-echo-update": "05_update_a_job.ipynb", "backend": "06_service_discovery.ipynb"}
    source = code(read(name[Path(jobspec).name.split(".")[0]]))
    call = next(line for line in source.splitlines() if "lab.run(" in line and (
        'python=shutil.which("false")' in line or 'health_status="500"' in line))  # fmt: skip
    assert 'progress_deadline="0"' in call, call
    group = lab.parse(jobspec, **broken, progress_deadline="0")["TaskGroups"][0]
    assert group["Update"]["ProgressDeadline"] == 0
    assert lab.parse(jobspec)["TaskGroups"][0]["Update"]["ProgressDeadline"] > 0


# -- boxes, twins, links, resources, length and minutes ------------------------------------------

BOXES = {
    "02": ["`.nomad` and `.nomad.hcl`", "the task's `network`", "`mbits` is ignored"],
    "03": ["Tutorial vs today's Nomad: the address", "`http://127.0.0.1:8080`",
           "*Job Warnings*"],
    "06": ["Tutorial vs today's Nomad: Consul", '`provider = "nomad"`'],
}  # fmt: skip


@pytest.mark.parametrize("number", sorted(BOXES))
def test_tutorial_vs_today_boxes(number: str) -> None:
    path = next(p for p in PATHS if p.name.startswith(number))
    boxes = "\n".join(
        line for line in markdown(read(path.name)).splitlines() if line.startswith(">")
    )
    assert "Tutorial vs today's Nomad" in boxes
    for words in BOXES[number]:
        assert words in boxes, f"{path.name}: no box says {words!r}"


TWINS = {
    "01": ["node status"],
    "03": ["job run", "job status", "alloc logs"],
    "04": ["job run", "job scale"],
    "05": ["job plan", "job run", "deployment promote"],
    "06": ["job run"],
    "07": ["node status", "job run", "node drain"],
}


@pytest.mark.parametrize("number", sorted(TWINS))
def test_the_tutorials_commands_have_terminal_twins(number: str) -> None:
    path = next(p for p in PATHS if p.name.startswith(number))
    lines = [line.strip() for line in code(read(path.name)).splitlines()]
    twins = [line.removeprefix("%nomad ") for line in lines if line.startswith("%nomad ")]
    for verb in TWINS[number]:
        assert any(t.startswith(verb + " ") or t == verb for t in twins), (path.name, verb)
    assert not any(line.startswith("!nomad") for line in lines), "one mechanism: %nomad"


@pytest.mark.parametrize("path", PATHS, ids=[p.name[:2] for p in PATHS])
def test_links_next_and_resources(path: Path) -> None:
    text = markdown(read(path.name))
    resources = text[text.index("## Resources") : text.index("## What's next")]
    assert re.search(r"https://developer\.hashicorp\.com/nomad/", resources), path.name
    later = [p.name for p in PATHS if p.name > path.name]
    if later:
        after = text[text.index("## What's next") :]
        assert f"]({later[0]})" in after, f"{path.name} does not link {later[0]}"


@pytest.mark.parametrize("path", PATHS, ids=[p.name[:2] for p in PATHS])
def test_length_and_minutes(path: Path) -> None:
    notebook = read(path.name)
    cells = len(notebook.cells)
    if cells > MAX_CELLS:
        assert f"({cells} cells" in notebook.cells[0].source, (
            f"{path.name} has {cells} cells: split it, or say why in its overview"
        )
    expected = minutes(notebook, DURATIONS[f"notebooks/{path.name}"])
    stated = re.search(r"About (\d+) minutes", markdown(notebook))
    assert stated, f"{path.name} does not say how long it takes"
    assert int(stated[1]) == expected, (
        f"{path.name} says about {stated[1]} minutes; the method gives {expected}"
    )
