"""The kit's layers, read from its own imports: no circles, and each layer imports only
what it may (see CONTRIBUTING's map of the tree)."""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import circles, graph, imports, modules, with_packages

EDGES = graph()
PRACTICE = "nomadlab.practice"
CONTRACT = "nomadlab.contract"
# What the kit may import of the practice agent: the package's start-up API (Agent, main,
# CLASSROOM), which launches the agent; never its internals.
START_UP = {PRACTICE}


def test_the_import_graph_reads_what_the_code_imports(tmp_path: Path) -> None:
    """The graph sees imports at any depth, relative ones and ``from pkg import module``."""
    root = tmp_path / "nomadlab"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("from . import b\n")
    (root / "a.py").write_text("def f():\n    from nomadlab.sub import b\n")
    (root / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n"
    )
    known = modules(root)
    assert imports("nomadlab.a", known["nomadlab.a"], known) == {"nomadlab.sub.b"}
    assert imports("nomadlab.sub", known["nomadlab.sub"], known) == {"nomadlab.sub.b"}
    assert circles(graph(root)) == [["nomadlab.a", "nomadlab.sub.b"]]


def test_no_module_imports_itself_back_through_others() -> None:
    assert circles(EDGES) == []


def test_no_package_runs_a_module_that_imports_it_back() -> None:
    """Importing ``pkg.mod`` runs ``pkg/__init__.py`` first, so a package whose ``__init__``
    reaches a module that imports one of its submodules is a circle too, even when no module
    names the other. The kit's and the practice agent's top packages load lazily."""
    assert circles(with_packages(EDGES, lazy={"nomadlab", PRACTICE})) == []


def test_the_kit_imports_only_the_practice_agents_start_up() -> None:
    reaching_in = {
        module: sorted(t for t in targets if t.startswith(f"{PRACTICE}.") or t == PRACTICE)
        for module, targets in EDGES.items()
        if not module.startswith(PRACTICE)
    }
    internals = {m: [t for t in ts if t not in START_UP] for m, ts in reaching_in.items()}
    assert {m: ts for m, ts in internals.items() if ts} == {}


def test_the_practice_agent_imports_only_the_contract_of_the_kit() -> None:
    kit = {
        module: sorted(t for t in targets if not t.startswith(PRACTICE) and t != "nomadlab")
        for module, targets in EDGES.items()
        if module.startswith(PRACTICE)
    }
    assert {m: ts for m, ts in kit.items() if set(ts) - {CONTRACT}} == {}


def test_the_contract_is_a_leaf() -> None:
    assert EDGES[CONTRACT] == set()


@pytest.mark.parametrize("module", sorted(m for m in EDGES if m.startswith("nomadlab.command")))
def test_the_cli_formatters_depend_on_data_only(module: str) -> None:
    """command/ turns Nomad's JSON into the CLI's text: it never follows, fetches or holds
    a Lab, so it imports only its own helpers and the contract's formats."""
    assert {t for t in EDGES[module] if not t.startswith("nomadlab.command")} <= {CONTRACT}
