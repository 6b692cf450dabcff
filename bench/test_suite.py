"""The README's test command on a fresh clone: wall time and CPU, setup included.

    python bench/test_suite.py [--workers N] [--keep]

Clones this repository's HEAD into a temporary directory (nothing of this checkout's
venv or caches comes along), then times ``make .venv/bin/.installed`` (the setup: a venv
from the lock) and ``make test`` (ruff, then every test and notebook), each in wall-clock
seconds and in CPU seconds of everything they started. Prints the load average before
and after: on a shared machine the figures depend on it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``command`` and its descendants, and its last output line."""
    wall, cpu = time.monotonic(), children_cpu()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.monotonic() - wall, children_cpu() - cpu
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return wall, cpu, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, help="TEST_WORKERS (default: the Makefile's)")
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()
    clone = Path(tempfile.mkdtemp(prefix="nomadlab-fresh-")) / "nomadlab"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD", "VIRTUAL_ENV"))}
    make = ["make", "--no-print-directory"]
    if args.workers:
        make.append(f"TEST_WORKERS={args.workers}")
    load_before = os.getloadavg()[0]
    try:
        setup = timed([*make, ".venv/bin/.installed"], clone, env)
        tests = timed([*make, "test"], clone, env)
    finally:
        if not args.keep:
            shutil.rmtree(clone.parent)
    summary = re.sub(r"\s+in [\d.]+s.*", "", tests[2].strip("= "))
    commit = subprocess.getoutput(f"git -C {ROOT} rev-parse --short HEAD")
    load_after = os.getloadavg()[0]
    print(f"fresh clone of {commit}, {os.cpu_count()} cores, load {load_before:.1f} before, "
          f"{load_after:.1f} after")  # fmt: skip
    print(f"setup      {setup[0]:6.0f} s wall {setup[1]:6.0f} s CPU")
    print(f"make test  {tests[0]:6.0f} s wall {tests[1]:6.0f} s CPU   ({summary})")
    total = setup[0] + tests[0]
    print(f"total      {total:6.0f} s wall ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
