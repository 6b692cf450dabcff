"""``nomadlab lab`` (what ``make lab`` runs): JupyterLab at the kit's root, with its environment.

The lab opens at the repository root, so ``jobs/`` is in the file browser beside
``notebooks/``, with ``notebooks/00_setup.ipynb`` open first. The kit's ``jupyter/`` folder
joins ``JUPYTER_CONFIG_PATH``: no news pop-up, and terminals whose ``nomadlab`` and
``python`` are this interpreter's. When the lab stops, it offers to stop the agent the kit
started (``nomadlab agent stop`` does it later).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from nomadlab import agent as agents
from nomadlab.jobfiles import KIT_ROOT

FIRST_NOTEBOOK = "notebooks/00_setup.ipynb"


def lab_environment(environ: Mapping[str, str], bin_dir: Path, root: Path) -> dict[str, str]:
    """``environ`` with the kit's bin directory first on PATH and its Jupyter settings."""
    env = dict(environ)
    paths = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != str(bin_dir)]
    env["PATH"] = os.pathsep.join([str(bin_dir), *paths])
    env["NOMADLAB_BIN"] = str(bin_dir)
    given = env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
    config = [str(root / "jupyter"), *filter(None, given)]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(dict.fromkeys(config))
    return env


def lab_command(root: Path, extra: list[str], as_root: bool) -> list[str]:
    """The ``jupyter lab`` command line: root directory, first notebook, and ``extra``."""
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}"]
    if as_root:  # JupyterLab refuses root unless told; containers often run as root
        command.append("--allow-root")
    return [*command, *extra, FIRST_NOTEBOOK]


def offer_to_stop_agent(ask: Callable[[str], str] | None) -> str:
    """After the lab: stop the agent the kit started if the learner agrees; what happened.

    ``ask`` prompts and returns the answer; None where nobody can answer (no terminal).
    """
    from nomadlab.lab import Lab  # only once JupyterLab has stopped

    running = agents.find_running()
    if running is None or not running.started_by_kit:
        return ""
    what = f"The {running.mode} agent nomadlab started (pid {running.pid}, {running.address})"
    if ask is None:
        return f"{what} is still running; `nomadlab agent stop` stops it."
    answer = ask(f"{what} is still running. Stop it? [Y/n] ").strip().lower()
    if answer not in ("", "y", "yes"):
        return "Left it running; `nomadlab agent stop` stops it."
    lab = Lab(running, quiet=True)
    return (
        f"Stopped the {running.mode} agent (pid {running.pid})."
        if lab.stop_agent()
        else "The agent had already stopped."
    )


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return "n"


def main(argv: list[str] | None = None) -> int:
    """``nomadlab lab [jupyter lab options]``: run JupyterLab until it stops, then tidy up."""
    bin_dir = Path(sys.executable).parent
    env = lab_environment(os.environ, bin_dir, KIT_ROOT)
    command = lab_command(KIT_ROOT, list(argv or []), as_root=os.geteuid() == 0)
    lab = subprocess.Popen(command, cwd=KIT_ROOT, env=env)
    # Ctrl-C belongs to JupyterLab (it asks before shutting down); wait for it to finish.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = lab.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    message = offer_to_stop_agent(_ask if sys.stdin.isatty() else None)
    if message:
        print(message)
    return code
