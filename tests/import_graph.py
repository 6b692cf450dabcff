"""The import graph of ``nomadlab/``, read from the code's own imports with ``ast``.

Every import counts, at any depth: at module level, under ``if TYPE_CHECKING:`` and inside a
function, since an import moved into a function still ties the two modules together.
``python tests/import_graph.py`` prints the modules, the circles and the largest modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "nomadlab"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → file, packages named by their ``__init__.py``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` lives in: itself, or the longest known prefix (a name inside it)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The kit's modules that ``module`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            owner = _owner(name, known) if name.split(".")[0] == "nomadlab" else None
            if owner and owner != module:
                found.add(owner)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the kit's modules it imports."""
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def with_packages(edges: dict[str, set[str]], lazy: set[str]) -> dict[str, set[str]]:
    """``edges`` plus what Python runs first: importing ``pkg.sub.mod`` runs ``pkg/__init__.py``
    and ``pkg/sub/__init__.py``, so a module importing it imports those packages too (all but
    the ``lazy`` ones, whose ``__init__`` loads its parts only when an attribute is asked for)."""
    packages = {target for targets in edges.values() for target in targets} | set(edges)
    found = {module: set(targets) for module, targets in edges.items()}
    for module, targets in edges.items():
        for target in targets:
            parts = target.split(".")
            for size in range(1, len(parts)):
                package = ".".join(parts[:size])
                inside = module == package or module.startswith(f"{package}.")
                if package in packages and package not in lazy and not inside:
                    found[module].add(package)
    return found


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    edges = graph()
    known = modules()
    folders: dict[str, int] = {}
    for path in known.values():
        folder = str(path.parent.relative_to(ROOT.parent))
        folders[folder] = folders.get(folder, 0) + 1
    print("modules per folder:")
    for folder, count in sorted(folders.items()):
        print(f"  {folder:32} {count}")
    found = circles(edges)
    print(f"circles: {len(found)}")
    for group in found:
        print("  " + " ↔ ".join(group))
    sizes = sorted(((len(p.read_text().splitlines()), n) for n, p in known.items()), reverse=True)
    print("largest modules:")
    for lines, name in sizes[:8]:
        print(f"  {lines:5}  {name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
