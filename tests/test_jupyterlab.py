"""Notebooks run top to bottom in JupyterLab, in real headless Chromium, as a learner runs them.

nbval runs every notebook's code in a kernel; only a browser shows whether what the learner
sees renders: the ipywidgets panels (JupyterLab's widget manager builds their views) and
the charts (an ``<img>`` the page decodes). One JupyterLab server and one Chromium serve the
module; each notebook gets a practice agent of its own, as under nbval
(``nomadlab/pytest_notebooks.py``), reached through a kernel spec whose environment names
it. The test opens a copy of the notebook, runs Run All Cells (the command the Run menu's
item runs), waits until every code cell has run and the kernel is idle, then asserts: no
error output except from cells marked ``# NBVAL_RAISES_EXCEPTION``, no traceback written to
stderr, every widget view and every chart rendered, and nothing left on the agent.

``make test`` runs the notebooks that show panels and charts (:data:`SHOWN`);
``--all-notebooks`` runs all eight.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import nbformat
import pytest
import requests
from browser import Browser, browser  # noqa: F401  (the fixture)
from conftest import ROOT
from test_jupyter_proxy import laptop_env, serve_jupyter

from nomadlab.launcher import lab_environment
from nomadlab.pytest_notebooks import NO_DOCKER, NotebookAgent, judged_text, notebook_settings

NOTEBOOKS = ROOT / "notebooks"
#: The notebooks whose panels a browser must build: 04's scale panel and 05's deployment
#: panel, with charts around them. The charts of 02, 06 and 07 are the same kind of output
#: (``plots.Chart``, an ``<img>``); 00, 01 and 03 show text alone.
SHOWN = {"04_scale_and_observe": "widget-slider", "05_update_a_job": "widget-button"}
RAISES = "# NBVAL_RAISES_EXCEPTION"
WIDGET = "application/vnd.jupyter.widget-view+json"
#: Run All Cells' ceiling: the longest notebook waits about 70 s on deployments.
RUN_TIMEOUT_MS = 360_000

READ_NOTEBOOK = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.content.widgets.map(cell => ({
        type: cell.model.type,
        count: cell.model.type === "code" ? cell.model.executionCount : null,
        source: cell.model.sharedModel.getSource(),
        outputs: cell.model.type === "code" ? cell.model.outputs.toJSON() : [],
    }));
}"""
# Run All Cells, as the Run menu runs it; its promise settles when the last cell has run.
# Meanwhile, and after, a watch notes each cell's widget views: a panel the notebook closes
# later (05's) is gone from the page at the end, so what counts is that it was built.
RUN_ALL = """() => {
    window.nomadlabRun = null;
    const cells = window.jupyterapp.shell.currentWidget.content.widgets;
    const seen = cells.map(() => ({widgets: 0, classes: [], images: 0, broken: false}));
    window.nomadlabLook = () => {
        cells.forEach((cell, i) => {
            const outputs = cell.node.querySelectorAll(".jp-OutputArea-output");
            const views = Array.from(outputs, o => [...o.querySelectorAll(".jupyter-widgets")]);
            seen[i].widgets = Math.max(seen[i].widgets, views.flat().length);
            for (const view of views.flat())
                for (const name of view.classList)
                    if (name.startsWith("widget-") && !seen[i].classes.includes(name))
                        seen[i].classes.push(name);
            const images = Array.from(outputs, o => [...o.querySelectorAll("img")]).flat();
            seen[i].images = images.filter(img => img.complete && img.naturalWidth > 0).length;
            const text = Array.from(outputs, o => o.textContent).join("");
            seen[i].broken ||= /Error displaying widget|Error rendering/.test(text);
        });
        return seen;
    };
    setInterval(window.nomadlabLook, 100);
    window.jupyterapp.commands.execute("notebook:run-all-cells").then(
        ok => { window.nomadlabRun = {ok}; },
        error => { window.nomadlabRun = {error: String(error)}; });
}"""


SCROLL_TO_CELL = """(index) => {
    const node = window.jupyterapp.shell.currentWidget.content.widgets[index].node;
    node.scrollIntoView({block: "start"});
    return node;
}"""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "notebook" in metafunc.fixturenames:
        every = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
        chosen = every if metafunc.config.getoption("all_notebooks") else sorted(SHOWN)
        metafunc.parametrize("notebook", chosen)


class JupyterLab(NamedTuple):
    """The module's JupyterLab server: its URL, token, root directory and kernel specs."""

    url: str
    token: str
    root: Path
    kernels: Path

    def get(self, path: str) -> Any:
        return requests.get(f"{self.url}{path}", headers=self.auth, timeout=30).json()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """A JupyterLab server as ``make lab`` starts it (the kit's Jupyter settings), with
    settings, workspaces and kernel specs of its own, and its app exposed to the page."""
    root = tmp_path_factory.mktemp("jupyterlab")
    private = tmp_path_factory.mktemp("jupyter-private")
    env = lab_environment(laptop_env(), Path(sys.executable).parent, ROOT)
    env.update(
        DOCKER_HOST=NO_DOCKER,
        JUPYTER_PATH=str(private / "share"),
        JUPYTER_RUNTIME_DIR=str(private / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(private / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(private / "workspaces"),
    )
    for url, auth in serve_jupyter(env, root, "--LabApp.expose_app_in_browser=True"):
        token = auth["Authorization"].removeprefix("token ")
        yield JupyterLab(url, token, root, private / "share" / "kernels")


def kernel_for(kernels: Path, name: str, agent: NotebookAgent) -> dict[str, str]:
    """A kernel spec whose kernels reach ``agent`` (a server's kernels inherit the server's
    environment, fixed when it started); the notebook metadata that selects it."""
    spec = kernels / f"nomadlab-{name}"
    spec.mkdir(parents=True, exist_ok=True)
    env = {"NOMAD_ADDR": agent.agent.address, "NOMADLAB_HOME": str(agent.tmp / "home")}
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": f"Python ({name})", "language": "python", "env": env}
    ))  # fmt: skip
    return {"name": spec.name, "display_name": f"Python ({name})", "language": "python"}


def lab_copy(
    name: str, root: Path, source: str, kernelspec: dict[str, str]
) -> nbformat.NotebookNode:
    """The notebook as the run judges it (``--notebooks``), in the server's root, with its
    kernel, and cells that raise on purpose tagged so that Run All goes on past them."""
    notebook = nbformat.reads(judged_text(NOTEBOOKS / f"{name}.ipynb", source), as_version=4)
    notebook.metadata["kernelspec"] = kernelspec
    for cell in notebook.cells:
        if cell.cell_type == "code" and RAISES in cell.source:
            cell.metadata.setdefault("tags", []).append("raises-exception")
    nbformat.write(notebook, root / f"{name}.ipynb")
    return notebook


def problems_in(cells: list[dict[str, Any]]) -> list[str]:
    """What a learner would see go wrong in the run's cells: a cell that never ran, an
    error where none is expected (or none where one is), a traceback on stderr."""
    found = []
    for number, cell in enumerate(cells, 1):
        if cell["type"] != "code":
            continue
        where = f"cell {number} ({cell['source'].splitlines()[0][:60] if cell['source'] else ''})"
        if cell["count"] is None:
            found.append(f"{where} did not run")
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        raises = RAISES in cell["source"]
        for error in errors if not raises else []:
            found.append(f"{where} raised {error['ename']}: {error['evalue']}")
        if raises and not errors and cell["count"] is not None:
            found.append(f"{where} is marked {RAISES} but raised nothing")
        for output in cell["outputs"]:
            text = "".join(output.get("text", ""))
            if output.get("name") == "stderr" and "Traceback" in text:
                found.append(f"{where} wrote a traceback to stderr: {text[-300:]}")
    return found


def rendered(page: Any, cells: list[dict[str, Any]]) -> list[str]:
    """The widget views and charts the kernel sent that the page did not render (after
    waiting for them: views build and images decode after the run)."""
    wanted = [
        (
            sum(WIDGET in o.get("data", {}) for o in cell["outputs"]),
            sum("image/png" in o.get("data", {}) for o in cell["outputs"]),
        )
        for cell in cells
    ]

    def missing() -> list[str]:
        found = []
        seen = page.evaluate("() => window.nomadlabLook()")
        for number, ((widgets, images), shown) in enumerate(zip(wanted, seen, strict=True), 1):
            if shown["broken"]:
                found.append(f"cell {number} shows a widget error")
            if widgets and shown["widgets"] < widgets:
                found.append(f"cell {number}: {shown['widgets']} of {widgets} widget views")
            if shown["images"] < images:
                found.append(f"cell {number}: {shown['images']} of {images} charts drawn")
        return found

    deadline = time.monotonic() + 30
    while (left := missing()) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    return left


def widget_classes(page: Any) -> set[str]:
    """The ipywidgets view classes (``widget-slider``, ``widget-button``, …) the run showed."""
    return {
        name for cell in page.evaluate("() => window.nomadlabLook()") for name in cell["classes"]
    }


def run_all(lab: JupyterLab, page: Any, name: str) -> list[dict[str, Any]]:
    """Open ``name`` in JupyterLab, Run All Cells, wait for the kernel to be idle; the cells."""
    page.goto(f"{lab.url}/lab/tree/{name}.ipynb?reset&token={lab.token}")
    page.wait_for_function(
        """(path) => { const panel = window.jupyterapp?.shell.currentWidget;
            return panel?.context?.path === path && panel.sessionContext.isReady
                && panel.sessionContext.session?.kernel?.status === "idle"; }""",
        arg=f"{name}.ipynb",
    )
    page.evaluate(RUN_ALL)
    page.wait_for_function("() => window.nomadlabRun !== null", timeout=RUN_TIMEOUT_MS)
    outcome = page.evaluate("() => window.nomadlabRun")
    assert "error" not in outcome, f"Run All Cells failed: {outcome['error']}"
    page.wait_for_function(
        """() => window.jupyterapp.shell.currentWidget.sessionContext.session
                    ?.kernel?.status === "idle" """
    )
    return page.evaluate(READ_NOTEBOOK)


def screenshots(page: Any, cells: list[dict[str, Any]], prefix: Path) -> None:
    """A PNG of each cell that shows a widget or a chart (``--lab-screenshots``)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for number, cell in enumerate(cells, 1):
        kinds = {kind for output in cell["outputs"] for kind in output.get("data", {})}
        if kinds & {WIDGET, "image/png"}:
            # Scrolled to first: an offscreen cell's box is an estimate until it is drawn.
            node = page.evaluate_handle(SCROLL_TO_CELL, number - 1).as_element()
            page.wait_for_timeout(300)
            node.screenshot(path=f"{prefix}-cell{number:02d}.png")


@pytest.fixture
def page(browser: Browser) -> Iterator[Any]:  # noqa: F811
    """A fresh tab; left for a blank page before it closes (JupyterLab's sockets close)."""
    page = browser.page()
    page.set_default_timeout(60_000)
    yield page
    page.goto("about:blank")
    page.close()


def test_the_notebook_runs_clean_in_jupyterlab(
    jupyterlab: JupyterLab, page: Any, notebook: str, request: pytest.FixtureRequest
) -> None:
    """Run All Cells in a real browser: every cell runs, none shows an error, every panel
    and chart renders, and the notebook leaves nothing on its agent."""
    settings = notebook_settings(nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", 4).metadata)
    agent = NotebookAgent(nodes=settings["nodes"])
    agent.start()
    try:
        kernelspec = kernel_for(jupyterlab.kernels, notebook, agent)
        lab_copy(notebook, jupyterlab.root, request.config.getoption("notebooks"), kernelspec)
        cells = run_all(jupyterlab, page, notebook)
        problems = problems_in(cells) + rendered(page, cells)
        assert not problems, f"{notebook} in JupyterLab:\n" + "\n".join(problems)
        if notebook in SHOWN:
            assert SHOWN[notebook] in widget_classes(page), widget_classes(page)
        if folder := request.config.getoption("lab_screenshots"):
            screenshots(page, cells, Path(folder) / notebook)
        page.goto("about:blank")
        for session in jupyterlab.get("/api/sessions"):
            requests.delete(
                f"{jupyterlab.url}/api/sessions/{session['id']}",
                headers=jupyterlab.auth,
                timeout=60,
            ).raise_for_status()
        agent.check_clean(f"{notebook}.ipynb")
    finally:
        problems = agent.stop()
    assert not problems, "; ".join(problems)


def test_the_checks_name_what_a_learner_would_see_go_wrong() -> None:
    """What the browser run reads from the notebook's model, judged: an error, a cell
    Run All never reached, a traceback on stderr, a cell that should raise and did not."""
    error = {"output_type": "error", "ename": "KeyError", "evalue": "'echo'", "traceback": []}
    stderr = {"output_type": "stream", "name": "stderr", "text": "Traceback (most recent…"}
    warning = {"output_type": "stream", "name": "stderr", "text": "a warning\n"}
    cells = [
        {"type": "markdown", "count": None, "source": "# Title", "outputs": []},
        {"type": "code", "count": 1, "source": "lab.run(SPEC)", "outputs": [warning]},
        {"type": "code", "count": 2, "source": "lab.scale(JOB)", "outputs": [error]},
        {"type": "code", "count": None, "source": "lab.stop(JOB)", "outputs": []},
        {"type": "code", "count": 3, "source": f"{RAISES}\n1 / 0", "outputs": [error]},
        {"type": "code", "count": 4, "source": f"{RAISES}\npass", "outputs": []},
        {"type": "code", "count": 5, "source": "thread()", "outputs": [stderr]},
    ]
    assert problems_in(cells) == [
        "cell 3 (lab.scale(JOB)) raised KeyError: 'echo'",
        "cell 4 (lab.stop(JOB)) did not run",
        f"cell 6 ({RAISES}) is marked {RAISES} but raised nothing",
        "cell 7 (thread()) wrote a traceback to stderr: Traceback (most recent…",
    ]
