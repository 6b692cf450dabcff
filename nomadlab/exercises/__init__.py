"""Checked exercises and checkpoints: one module per notebook, found by its number.

``nomadlab check NN`` / ``nomadlab.check("NN")`` inspect the agent after notebook NN's
exercise and answer ✓ or a specific hint (never the solution). ``nomadlab checkpoint NN`` /
``nomadlab.checkpoint("NN")`` put the agent in the state a learner has at the start of
notebook NN, so an instructor can move a room to the same page.

A notebook's module is ``nomadlab/exercises/nNN_topic.py`` (``n03_deploy_http_echo.py``) and
exports ``check(lab) -> Verdict`` and ``checkpoint(lab) -> str``; see CONTRIBUTING.md.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from nomadlab.errors import NomadLabError
from nomadlab.lab import Lab, start


@dataclass(frozen=True)
class Verdict:
    """A checker's answer: passed, and a message (what was found, or a hint)."""

    passed: bool
    message: str

    @classmethod
    def ok(cls, message: str) -> Verdict:
        return cls(True, message)

    @classmethod
    def hint(cls, message: str) -> Verdict:
        return cls(False, message)

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗ Not yet:'} {self.message}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def notebooks() -> dict[str, str]:
    """The notebooks that have a module here: number → module name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if match := re.fullmatch(r"n(\d\d)_\w+", info.name):
            found[match[1]] = info.name
    return dict(sorted(found.items()))


def module(notebook: str | int) -> ModuleType:
    """The module of notebook ``notebook`` ("3", "03", 3 or "03_deploy_http_echo")."""
    match = re.match(r"\d+", str(notebook))
    number = f"{int(match[0]):02d}" if match else str(notebook)
    known = notebooks()
    if number not in known:
        raise NomadLabError(
            f"No exercise check for notebook {notebook!r}; there are checks for notebooks "
            f"{', '.join(known)}."
        )
    return importlib.import_module(f"{__name__}.{known[number]}")


def _lab(lab: Lab | None) -> Lab:
    if lab is not None:
        return lab
    return start(quiet=True)


def check(notebook: str | int, lab: Lab | None = None) -> Verdict:
    """Check notebook ``notebook``'s exercise against the agent (``lab``, or the kit's)."""
    return module(notebook).check(_lab(lab))


def checkpoint(notebook: str | int, lab: Lab | None = None) -> str:
    """Put the agent in the state a learner has at the start of notebook ``notebook``."""
    return module(notebook).checkpoint(_lab(lab))


#: What :func:`notebook_variable` returns for a variable the notebook has not set.
MISSING = object()


def notebook_variable(name: str) -> Any:
    """The value of ``name`` in the notebook that runs the check (IPython's namespace), or
    :data:`MISSING` (not set, or a terminal): for exercises whose answer is a variable."""
    if "IPython" not in sys.modules:
        return MISSING
    from IPython import get_ipython  # loaded already: the check runs in a notebook

    shell = get_ipython()
    return MISSING if shell is None else shell.user_ns.get(name, MISSING)


def group_ports(group: dict) -> dict[str, int]:
    """A task group's port labels → static number (0 for a dynamic port)."""
    found = {}
    for network in group.get("Networks") or []:
        for port in network.get("DynamicPorts") or []:
            found[port["Label"]] = 0
        for port in network.get("ReservedPorts") or []:
            found[port["Label"]] = port.get("Value", 0)
    return found


def clean_slate(lab: Lab) -> str:
    """No jobs: every job on a local agent the kit started, only the kit's on a cluster."""
    if lab.agent.local:
        with lab._api():
            jobs = [job["ID"] for job in lab.nomad.jobs.get_jobs()]
        for job in jobs:
            lab.stop(job, purge=True)
        lab.reset()
    else:
        jobs = lab.reset()
    purged = f"purged {', '.join(jobs)}" if jobs else "no jobs to purge"
    return f"Agent at {lab.address} ready ({purged})."
