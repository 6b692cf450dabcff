"""Notebooks are committed clean, with the kit's skeleton; and a tool to make them so.

Only cells marked ``# NBVAL_CHECK_OUTPUT`` keep their output: nbval compares it with a new
run (after the masks in tests/nbval-sanitize.cfg), and it only does so for a cell that has an
execution count, so those cells keep theirs. Every other cell is committed without output
or execution count, and no cell or notebook carries metadata beyond the kernel's name.

Record the checked outputs of a notebook from a real run against a fresh practice agent, set
up exactly as the test session sets each one up (see nomadlab/pytest_notebooks.py), and strip the
rest::

    python tests/test_notebooks_clean.py --record notebooks/03_deploy_http_echo.ipynb

Strip a notebook saved from JupyterLab without running it again (checked outputs stay)::

    python tests/test_notebooks_clean.py --strip notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbval.plugin import find_comment_markers

from nomadlab.pytest_notebooks import judged_text, notebook_settings

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
METADATA = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
#: Notebook metadata a notebook may add: what it asks of its practice agent under test.
KEPT_METADATA = ("nomadlab",)
#: The skeleton every notebook follows, as markdown headings, in this order.
SECTIONS = ["Overview", "Prerequisites", "Exercise", "Summary", "Resources", "What's next"]


def checked(cell: dict[str, Any]) -> bool:
    """True when nbval compares this code cell's output (it says so, as nbval reads it)."""
    return dict(find_comment_markers(cell["source"])).get("check", False)


def strip(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep the output and execution count of checked cells only; drop all metadata noise."""
    kept = {key: notebook.metadata[key] for key in KEPT_METADATA if key in notebook.metadata}
    notebook.metadata = nbformat.from_dict({**METADATA, **kept})
    for cell in notebook.cells:
        cell.metadata = nbformat.from_dict({})
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
        if cell.cell_type != "code":
            continue
        if checked(cell):
            for output in cell.outputs:
                if "metadata" in output:
                    output.metadata = nbformat.from_dict({})
        else:
            cell.outputs = []
            cell.execution_count = None
    return notebook


def record(paths: list[Path]) -> None:
    """Run the notebooks against a fresh practice agent, keep the checked outputs only."""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    from nomadlab.pytest_notebooks import NotebookAgent

    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        agent = NotebookAgent(**notebook_settings(notebook.metadata))
        agent.start()
        try:
            kernel = KernelManager(  # this interpreter's kernel, as --nbval-current-env uses
                kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager()
            )
            try:
                NotebookClient(
                    notebook, km=kernel, timeout=300,
                    resources={"metadata": {"path": str(path.parent)}},
                ).execute()  # fmt: skip
            finally:
                if kernel.has_kernel:
                    kernel.shutdown_kernel()
            agent.check_clean(path.name)
        finally:
            problems = agent.stop()
        if problems:
            raise SystemExit("; ".join(problems))
        nbformat.write(strip(notebook), path)
        print(f"recorded {path}")


# -- the checks ---------------------------------------------------------------------------------


def test_there_are_notebooks() -> None:
    assert PATHS, f"no notebooks in {NOTEBOOKS}"


@pytest.fixture(params=PATHS, ids=[p.name for p in PATHS])
def notebook(request: pytest.FixtureRequest) -> nbformat.NotebookNode:
    path: Path = request.param
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"name {path.name}: NN_topic"
    text = judged_text(path, request.config.getoption("notebooks"))
    node = nbformat.reads(text, as_version=4)
    nbformat.validate(node)
    return node


def test_only_checked_cells_carry_outputs(notebook: nbformat.NotebookNode) -> None:
    for number, cell in enumerate(notebook.cells):
        where = f"cell {number} ({cell.source.splitlines()[0] if cell.source else 'empty'!r})"
        if cell.cell_type != "code":
            continue
        if checked(cell):
            assert cell.outputs, f"{where} is checked but has no committed output: record it"
            assert isinstance(cell.execution_count, int), (
                f"{where} is checked but has no execution count, so nbval would not compare it"
            )
            for output in cell.outputs:
                assert not output.get("metadata"), f"{where}: output metadata {output.metadata}"
                if output.output_type == "execute_result":
                    assert output.execution_count == cell.execution_count, where
                assert "image/png" not in output.get("data", {}), (
                    f"{where}: nbval never compares images; check a text output instead"
                )
        else:
            assert cell.outputs == [], f"{where} carries output but is not checked: strip it"
            assert cell.execution_count is None, f"{where} carries an execution count"


def test_no_metadata_noise(notebook: nbformat.NotebookNode) -> None:
    kept = {key: notebook.metadata[key] for key in KEPT_METADATA if key in notebook.metadata}
    assert notebook.metadata == {**METADATA, **kept}
    notebook_settings(notebook.metadata)  # what it asks of its agent makes sense
    for number, cell in enumerate(notebook.cells):
        assert cell.metadata == {}, f"cell {number} metadata: {cell.metadata}"


def test_skeleton(notebook: nbformat.NotebookNode) -> None:
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert notebook.cells[0].cell_type == "markdown"
    assert re.match(r"# \S", notebook.cells[0].source), "the first cell starts with a title"
    headings = [
        line[3:].strip() for text in markdown for line in text.splitlines() if line[:3] == "## "
    ]
    positions = []
    for section in SECTIONS:
        found = [i for i, h in enumerate(headings) if h.startswith(section)]
        assert found, f'no "## {section}" heading; headings: {headings}'
        positions.append(found[0])
    assert positions == sorted(positions), f"sections out of order: {headings}"
    exercise = next(t for t in markdown if "## Exercise" in t)
    assert re.search(r"<details>\s*<summary>Solution</summary>", exercise), exercise
    assert "</details>" in exercise


def test_runs_on_its_own_after_start(notebook: nbformat.NotebookNode) -> None:
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert any("nomadlab.start(" in source for source in code)


def test_strip_keeps_checked_output_and_drops_the_rest() -> None:
    notebook = nbformat.v4.new_notebook(metadata={"widgets": {}, "kernelspec": KERNELSPEC})
    kept = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=3)
    kept.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    dropped = nbformat.v4.new_code_cell("2", execution_count=4, metadata={"execution": {}})
    dropped.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    notebook.cells = [kept, dropped]
    strip(notebook)
    assert notebook.metadata == METADATA
    assert kept.outputs[0].text == "1\n" and kept.execution_count == 3
    assert dropped.outputs == [] and dropped.execution_count is None and dropped.metadata == {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", action="store_true", help="run, then keep checked outputs")
    mode.add_argument("--strip", action="store_true", help="keep checked outputs as they are")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks]
    if args.record:
        record(paths)
    else:
        for path in paths:
            nbformat.write(strip(nbformat.read(path, as_version=4)), path)
            print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
