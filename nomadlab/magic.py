"""``%nomad job run jobs/http-echo.nomad.hcl`` in a notebook: the terminal's words, run.

The line magic runs ``nomad …`` when the notebook's lab drives real Nomad and a ``nomad``
binary is on PATH, else the same words as ``nomadlab …`` (the kit's CLI mirrors nomad's
verbs). It prints the command line first, so the learner sees what to type in a terminal,
then what the command prints. It is registered by ``nomadlab.start()`` in IPython, or by
``%load_ext nomadlab``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from functools import wraps
from pathlib import Path
from typing import Any

from nomadlab import lab as labs
from nomadlab.jobfiles import KIT_ROOT
from nomadlab.lab import Lab


def command_for(lab: Lab, words: list[str]) -> list[str]:
    """``nomad`` + words when ``lab`` is real Nomad (the kit started ``nomad``, or a cluster
    that is not a practice agent) and ``nomad`` is on PATH; else ``nomadlab`` + words."""
    nomad = shutil.which("nomad")
    if nomad and (lab.mode == "nomad" or not lab.agent.practice):
        return [nomad, *words]
    return [sys.executable, "-m", "nomadlab", *words]


def jobs_root() -> Path:
    """The folder holding ``jobs/`` (notebooks run in ``notebooks/`` and say ``jobs/...``)."""
    here = Path.cwd()
    return next((p for p in (here, *here.parents[:3]) if (p / "jobs").is_dir()), KIT_ROOT)


def run(lab: Lab, line: str) -> int:
    """Run ``line``'s words against ``lab``, printing the command line and its output."""
    words = shlex.split(line)
    command = command_for(lab, words)
    shown = "nomad" if command[0] != sys.executable else "nomadlab"
    print(f"$ {shown} {shlex.join(words)}", flush=True)
    # The jobspecs' `python` variable: the kernel's interpreter, which has the kit (Nomad
    # reads NOMAD_VAR_<name>; lab.run passes the same).
    env = {**os.environ, "NOMAD_ADDR": lab.address, "NOMAD_VAR_python": sys.executable}
    with subprocess.Popen(
        command, cwd=jobs_root(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, text=True,
    ) as child:  # fmt: skip
        try:
            for output in child.stdout or ():
                print(output, end="", flush=True)
        except KeyboardInterrupt:
            child.terminate()
            raise
    if child.returncode:
        print(f"(exit code {child.returncode})")
    return child.returncode


def _notebook_lab(namespace: dict[str, Any]) -> Lab:
    """The notebook's ``lab`` (07's is the three-node cluster), else the kit's agent."""
    lab = namespace.get("lab")
    return lab if isinstance(lab, Lab) else labs.start(quiet=True)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%nomad`` in ``ipython``."""

    def nomad(line: str) -> None:
        run(_notebook_lab(ipython.user_ns), line)

    nomad.__doc__ = __doc__
    ipython.register_magic_function(nomad, "line", "nomad")


def register() -> None:
    """Register ``%nomad`` when running inside IPython (a notebook); nothing otherwise."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    ipython = get_ipython()
    if ipython is not None:
        load_ipython_extension(ipython)


@wraps(labs.start)
def start(*args: Any, **kwargs: Any) -> Lab:
    """``nomadlab.start()``: :func:`nomadlab.lab.start`, then ``%nomad`` in a notebook."""
    lab = labs.start(*args, **kwargs)
    register()
    return lab
