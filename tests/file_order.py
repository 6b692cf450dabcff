"""The order test files are dealt out to xdist's workers: the longest, and the busiest.

With ``--dist loadfile`` a worker runs a file from start to end, and files are dealt out in
the order sorted here (``make test`` passes ``--no-loadscope-reorder``, without which
xdist deals out first the files with the most tests):

- longest first, so that no long file starts last and runs on alone at the end;
- but every other place goes to the file that keeps the CPU busiest per second of wall (a
  fuzz, chart rendering): the longest files mostly wait on timers (a deployment's
  ``min_healthy_time``, a notebook's steps), and six of them at once leave both cores idle.

A file not yet recorded counts as the longest. ``--record-durations`` writes each file's
wall and CPU seconds, from a whole run, to ``tests/durations.json``.
"""

from __future__ import annotations

import itertools
import json
import resource
from collections import defaultdict
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

DURATIONS = Path(__file__).resolve().parent / "durations.json"
BUSY_FILE_SECONDS = 10.0  # a shorter file is over too soon to keep a core busy
_CPU_AT_SETUP = pytest.StashKey[float]()
_totals: defaultdict[str, dict[str, float]] = defaultdict(lambda: {"wall": 0.0, "cpu": 0.0})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help="write each file's wall and CPU seconds to tests/durations.json (whole suite)",
    )


def dealing_order(recorded: dict[str, dict[str, float]], paths: list[str]) -> list[str]:
    """``paths`` in the order to deal them out: unrecorded ones first, then by turns the
    longest left and the busiest left (CPU seconds per wall second, of files that last)."""
    unknown = [p for p in paths if p not in recorded]
    known = [p for p in paths if p in recorded]
    longest = sorted(known, key=lambda p: -recorded[p]["wall"])
    substantial = [p for p in known if recorded[p]["wall"] >= BUSY_FILE_SECONDS]
    busiest = sorted(substantial, key=lambda p: -recorded[p]["cpu"] / recorded[p]["wall"])
    order, taken = list(unknown), set(unknown)
    for pair in itertools.zip_longest(longest, busiest):
        for path in pair:
            if path is not None and path not in taken:
                order.append(path)
                taken.add(path)
    return order


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    paths = list(dict.fromkeys(_path(item.nodeid) for item in items))
    place = {path: i for i, path in enumerate(dealing_order(recorded, paths))}
    items.sort(key=lambda item: place[_path(item.nodeid)])


def _path(nodeid: str) -> str:
    return nodeid.split("::")[0]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)  # agents, kernels, commands
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_CPU_AT_SETUP] = _cpu()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """The teardown report carries the test's CPU seconds, to the controller under xdist."""
    outcome = yield
    if call.when == "teardown" and _CPU_AT_SETUP in item.stash:
        report = outcome.get_result()
        spent = _cpu() - item.stash[_CPU_AT_SETUP]
        report.user_properties = [*report.user_properties, ("cpu_seconds", spent)]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    totals = _totals[_path(report.nodeid)]
    totals["wall"] += report.duration
    totals["cpu"] += dict(report.user_properties).get("cpu_seconds", 0.0)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):
        rounded = {
            path: {key: round(value, 1) for key, value in totals.items()}
            for path, totals in sorted(_totals.items())
        }
        DURATIONS.write_text(json.dumps(rounded, indent=1) + "\n")
