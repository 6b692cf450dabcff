"""The rolling update of notebook 05, timed: from ``lab.run`` of a new version to every
allocation on it, less the job's ``min_healthy_time`` × the update's steps.

    python bench/job_update.py [--runs 3] [--count 3] [--max-parallel 1]

A rolling update of N copies, ``max_parallel`` at a time, takes N / max_parallel steps,
and each step waits ``min_healthy_time`` (2s in jobs/http-echo-update.nomad.hcl) by
design; what is left is the agent's own cost: scheduling, starting the processes,
stopping the old ones and following the deployment.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import until

from nomadlab.lab import Lab
from nomadlab.practice import Agent

SPEC = Path(__file__).resolve().parent.parent / "jobs" / "http-echo-update.nomad.hcl"
JOB_ID = "echo-update"
MIN_HEALTHY_S = 2.0


def on_version(lab: Lab, version: int, count: int) -> bool:
    """Every allocation Nomad wants running runs ``version``, and no older one is left."""
    live = [
        a
        for a in lab.nomad.job.get_allocations(JOB_ID)
        if a["ClientStatus"] in ("pending", "running")
    ]
    return len(live) == count and all(
        a["JobVersion"] == version and a["ClientStatus"] == "running" for a in live
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--max-parallel", type=int, default=1)
    args = parser.parse_args()
    steps = math.ceil(args.count / args.max_parallel)
    with tempfile.TemporaryDirectory() as home:
        os.environ["NOMADLAB_HOME"] = home
        with Agent(http_port=None, log_file=Path(home) / "agent.log") as agent:
            lab = Lab(agent.address, quiet=True)
            settings = {"count": args.count, "max_parallel": args.max_parallel}
            lab.run(SPEC, text="v0", **settings)
            figures = []
            for run in range(1, args.runs + 1):
                version = lab.nomad.job.get_job(JOB_ID)["Version"] + 1
                start = time.perf_counter()
                lab.run(SPEC, text=f"v{run}", **settings)
                until(lambda v=version: on_version(lab, v, args.count))
                figures.append(time.perf_counter() - start - MIN_HEALTHY_S * steps)
            lab.stop(JOB_ID, purge=True)
    print(
        f"rolling update of {args.count} copies, max_parallel {args.max_parallel} "
        f"({steps} steps): lab.run → all on the new version, less min_healthy_time × steps: "
        f"median {statistics.median(figures):.2f} s (runs: "
        + ", ".join(f"{f:.2f}" for f in figures)
        + ")"
    )


if __name__ == "__main__":
    main()
