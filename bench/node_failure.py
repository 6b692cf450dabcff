"""Practice agent figure: from a node's failure to all its allocations running elsewhere.

    python bench/node_failure.py [--runs 3] [--count 6]

On a 3-node practice agent running jobs/http-echo-ha.nomad.hcl, fail the node holding the
first copy (``/v1/practice/node/:id/fail``) and time: failure → node ``down`` (Nomad's
heartbeat TTL, 10–20s, plus its 10s grace, less the time since the last heartbeat), and
node ``down`` → every allocation it held replaced and running on another node: the figure
with Nomad's TTL and grace taken out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nomad
import requests
from common import until

from nomadlab.practice import Agent
from nomadlab.practice.structs import parse_rfc3339

JOB_ID = "http-ha"
HA_JOB = Path(__file__).resolve().parent.parent / "jobs" / "http-echo-ha.nomad.hcl"


def run_job(client: nomad.Nomad, count: int) -> None:
    job = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": HA_JOB.read_text(),
            "Variables": f'python = "{sys.executable}"\ncount = {count}\n',
        },
    ).json()
    client.jobs.register_job({"Job": job})


def running(client: nomad.Nomad) -> list[dict]:
    return [
        a
        for a in client.job.get_allocations(JOB_ID)
        if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"
    ]


def one_failure(count: int) -> tuple[float, float, int]:
    """Seconds failure → down, down → all replacements running, and how many moved."""
    log = Path(tempfile.mkstemp(prefix="nomadlab-bench-", suffix=".log")[1])
    with Agent(http_port=None, nodes=3, log_file=log) as agent:
        client = nomad.Nomad(address=agent.address, timeout=30)
        run_job(client, count)
        allocs = until(lambda: (r := running(client)) and len(r) == count and r)
        node_id = allocs[0]["NodeID"]
        victims = {a["ID"] for a in allocs if a["NodeID"] == node_id}
        failed_at = time.time_ns()
        requests.put(f"{agent.address}/v1/practice/node/{node_id}/fail", timeout=30)
        node = until(lambda: (n := client.node.get_node(node_id))["Status"] == "down" and n)
        down_at = parse_rfc3339(node["Events"][-1]["Timestamp"])

        def replaced() -> bool:
            moved = [a for a in running(client) if a["PreviousAllocation"] in victims]
            return len(moved) == len(victims) and all(a["NodeID"] != node_id for a in moved)

        until(replaced)
        done_at = time.time_ns()
        client.job.deregister_job(JOB_ID, purge=True)
    log.unlink(missing_ok=True)
    return (down_at - failed_at) / 1e9, (done_at - down_at) / 1e9, len(victims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    detect, replace = [], []
    for _ in range(args.runs):
        to_down, to_running, moved = one_failure(args.count)
        detect.append(to_down)
        replace.append(to_running)
        print(
            f"  run: {moved} allocation(s) moved; fail→down {to_down:.1f}s, "
            f"down→running elsewhere {to_running:.2f}s",
            flush=True,
        )
    print(
        f"node failure → down (heartbeat TTL + grace), median of {args.runs}: "
        f"{statistics.median(detect):.1f}s"
    )
    print(
        f"node down → all its allocations running elsewhere (TTL and grace taken out), "
        f"median of {args.runs}: {statistics.median(replace):.2f}s"
    )


if __name__ == "__main__":
    main()
