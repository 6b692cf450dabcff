"""The order test files are dealt out to xdist's workers: the longest first.

With ``--dist loadfile`` a worker runs a file from start to end, and files are dealt out in
the order sorted here (``make test`` passes ``--no-loadscope-reorder``, without which
xdist deals out first the files with the most tests). Longest first, so that no long file
starts last and runs on alone at the end. (Dealing the busiest files out early, beside the
longest, which mostly wait on timers, was measured too: slower, 256 s against 224 s.)

A file not yet recorded counts as the longest. ``--record-durations`` writes each file's
wall seconds, from a whole run, to ``tests/durations.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

DURATIONS = Path(__file__).resolve().parent / "durations.json"
_walls: Counter[str] = Counter()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="write each file's wall seconds to tests/durations.json (run the whole suite)",
    )


def dealing_order(recorded: dict[str, float], paths: list[str]) -> list[str]:
    """``paths`` in the order to deal them out: unrecorded ones first, then the longest."""
    return sorted(paths, key=lambda path: (path in recorded, -recorded.get(path, 0.0)))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    paths = list(dict.fromkeys(_path(item.nodeid) for item in items))
    place = {path: i for i, path in enumerate(dealing_order(recorded, paths))}
    items.sort(key=lambda item: place[_path(item.nodeid)])


def _path(nodeid: str) -> str:
    return nodeid.split("::")[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _walls[_path(report.nodeid)] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):
        walls = {path: round(seconds, 1) for path, seconds in sorted(_walls.items())}
        DURATIONS.write_text(json.dumps(walls, indent=1) + "\n")
