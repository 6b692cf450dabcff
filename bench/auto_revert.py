"""Auto-revert after a broken version, timed: from the broken version's deployment failing
to the rollback's copies all healthy, less ``min_healthy_time``; and the most copies that
ran at once meanwhile.

    python bench/auto_revert.py [--runs 3] [--count 2] [--policy none|default] [--deadline 10]

The job is jobs/http-echo-update.nomad.hcl with ``max_parallel = 1``, ``auto_revert`` and
its tasks never restarted. With ``--policy none`` no reschedule attempt is allowed, so the
first failed allocation fails the deployment at once (Nomad's shouldFailEarly); with
``default``, Nomad's service default (30 s, exponential, unlimited) and a progress
deadline of ``--deadline`` seconds, which then fails it. The broken version's command is
``false``: it exits at once. The rollback only has to replace the failed copy (the others
are updated in place), which takes one ``min_healthy_time`` (2 s); what is left is the
agent's own cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nomad
from common import until

from nomadlab.practice import Agent

SPEC = Path(__file__).resolve().parent.parent / "jobs" / "http-echo-update.nomad.hcl"
JOB_ID = "echo-update"
MIN_HEALTHY_S = 2.0


SECOND = 1_000_000_000
SERVICE_DEFAULT = {
    "Attempts": 0,
    "Interval": 0,
    "Delay": 30 * SECOND,
    "DelayFunction": "exponential",
    "MaxDelay": 3600 * SECOND,
    "Unlimited": True,
}


def job(
    client: nomad.Nomad, count: int, command: str, text: str, policy: str, deadline: int
) -> dict:
    parsed = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": SPEC.read_text(),
            "Variables": (
                f'python = "{command}"\ntext = "{text}"\ncount = {count}\nauto_revert = true\n'
            ),
        },
    ).json()
    group = parsed["TaskGroups"][0]
    if policy == "none":
        group["ReschedulePolicy"].update(Attempts=0, Unlimited=False)
    else:
        group["ReschedulePolicy"] = dict(SERVICE_DEFAULT)
        group["Update"].update(ProgressDeadline=deadline * SECOND, HealthyDeadline=5 * SECOND)
    return parsed


def deployment(client: nomad.Nomad, version: int, status: str) -> dict | None:
    return next(
        (
            d
            for d in client.job.get_deployments(JOB_ID)
            if d["JobVersion"] == version and d["Status"] == status
        ),
        None,
    )


def live(client: nomad.Nomad) -> list[dict]:
    return [
        a
        for a in client.job.get_allocations(JOB_ID)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--policy", choices=["none", "default"], default="none")
    parser.add_argument("--deadline", type=int, default=10, help="progress deadline (s)")
    args = parser.parse_args()
    broken = shutil.which("false") or "false"
    figures, most = [], 0
    with tempfile.TemporaryDirectory() as home:
        os.environ["NOMADLAB_HOME"] = home
        with Agent(http_port=None, log_file=Path(home) / "agent.log") as agent:
            client = nomad.Nomad(address=agent.address, timeout=30)
            client.jobs.register_job(
                {"Job": job(client, args.count, sys.executable, "v0", args.policy, args.deadline)}
            )
            until(lambda: deployment(client, 0, "successful"))
            for run in range(args.runs):
                version = client.job.get_job(JOB_ID)["Version"] + 1
                client.jobs.register_job(
                    {
                        "Job": job(
                            client, args.count, broken, f"bad{run}", args.policy, args.deadline
                        )
                    }
                )
                until(lambda v=version: deployment(client, v, "failed"))
                start = time.perf_counter()

                def converged(v: int = version + 1) -> bool:
                    nonlocal most
                    running = live(client)
                    most = max(most, len(running))
                    return bool(deployment(client, v, "successful")) and all(
                        a["JobVersion"] == v for a in running
                    )

                until(converged, poll=0.05)
                figures.append(time.perf_counter() - start - MIN_HEALTHY_S)
            client.job.deregister_job(JOB_ID, purge=True)
    print(
        f"auto-revert of {args.count} copies, max_parallel 1, reschedule {args.policy}: "
        "deployment failed → rollback "
        f"healthy, less min_healthy_time: median {statistics.median(figures):.2f} s (runs: "
        + ", ".join(f"{f:.2f}" for f in figures)
        + f"); most copies running at once: {most}"
    )


if __name__ == "__main__":
    main()
