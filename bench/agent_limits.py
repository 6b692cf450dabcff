"""Practice agent under a huge job and many re-registrations.

    python bench/agent_limits.py [--count 100000] [--registrations 1000]

Prints, for this machine: the latency of GET /v1/status/leader (p50, p99, max) idle, while
a job with Count = N is placed (what fits runs, the rest is coalesced into one blocked
evaluation), and while its placed allocations start their processes; and the agent's
resident memory and the size of GET /v1/job/:id/versions after R re-registrations of the
tutorial's job.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import nomad
import psutil
import requests
from common import parse_echo_job, summary, until

from nomadlab.practice import Agent


def sleeper(client: nomad.Nomad, count: int) -> dict:
    """The tutorial's job with ``count`` copies of /bin/sleep asking little, so that a few
    hundred fit."""
    job = parse_echo_job(client)
    job.update(ID="huge", Name="huge")
    group = job["TaskGroups"][0]
    group["Count"] = count
    task = group["Tasks"][0]
    task["Config"] = {"command": "/bin/sleep", "args": ["3600"]}
    task["Resources"] = {"CPU": 20, "MemoryMB": 16}
    return job


def percentiles(samples: list[tuple[float, float]], since: float, until_: float) -> dict:
    """p50, p99 and max (ms) of the requests sent between two moments."""
    window = sorted(ms for sent, ms in samples if since <= sent < until_)
    return {
        "n": len(window),
        "p50": statistics.median(window),
        "p99": window[max(0, int(len(window) * 0.99) - 1)],
        "max": window[-1],
    }


def leader_latency_while_placing(agent: Agent, client: nomad.Nomad, count: int) -> dict:
    """Ask for the leader in a loop: idle, while the evaluation places the job, and while
    the placed allocations start their processes."""
    samples: list[tuple[float, float]] = []  # (sent at, milliseconds)
    done = threading.Event()

    def ask() -> None:
        session = requests.Session()
        url = f"{agent.address}/v1/status/leader"
        while not done.is_set():
            sent = time.perf_counter()
            session.get(url, timeout=60).raise_for_status()
            samples.append((sent, (time.perf_counter() - sent) * 1000))

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(2.0)  # a baseline before the job arrives
    start = time.perf_counter()
    try:
        job = sleeper(client, count)
        group = job["TaskGroups"][0]["Name"]
        eval_id = client.jobs.register_job({"Job": job})["EvalID"]
        evaluation = until(
            lambda: (e := client.evaluation.get_evaluation(eval_id))["Status"] == "complete" and e,
            poll=0.05,
        )
        placed = time.perf_counter()
        allocs = client.job.get_allocations("huge")
        until(
            lambda: client.job.get_summary("huge")["Summary"][group]["Running"] == len(allocs),
            poll=0.1,
        )
        running = time.perf_counter()
    finally:
        done.set()
        asker.join()
    return {
        "placed": len(allocs),
        "coalesced": evaluation["FailedTGAllocs"][group]["CoalescedFailures"],
        "eval_seconds": placed - start,
        "running_seconds": running - start,
        "idle": percentiles(samples, 0, start),
        "placing": percentiles(samples, start, placed),
        "starting": percentiles(samples, placed, running),
    }


def rss_after_registrations(agent: Agent, client: nomad.Nomad, registrations: int) -> dict:
    """Register the tutorial's job again and again, each time with another job meta."""
    job = parse_echo_job(client)
    for number in range(registrations):
        job["Meta"] = {"round": str(number)}
        client.jobs.register_job({"Job": job})
    response = requests.get(f"{agent.address}/v1/job/{job['ID']}/versions", timeout=60)
    return {
        "rss": psutil.Process(agent.pid).memory_info().rss / 2**20,
        "versions": len(response.json()["Versions"]),
        "versions_bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--registrations", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(http_port=None, log_file=Path(tmp) / "agent.log").start()
        try:
            client = nomad.Nomad(address=agent.address, timeout=120)
            huge = leader_latency_while_placing(agent, client, args.count)
            client.job.deregister_job("huge", purge=True)
            until(
                lambda: all(
                    a["ClientStatus"] != "running" for a in client.allocations.get_allocations()
                ),
                poll=0.1,
                timeout=120,
            )
            client.system.initiate_garbage_collection()
            rss = rss_after_registrations(agent, client, args.registrations)
        finally:
            agent.stop(timeout=60)
    print(f"practice agent limits, {psutil.cpu_count()} CPUs")

    def latency(name: str) -> str:
        w = huge[name]
        return f"p50 {w['p50']:.1f} ms, p99 {w['p99']:.1f} ms, max {w['max']:.1f} ms ({w['n']})"

    rows = [
        (
            f"Count = {args.count}: placed / coalesced",
            f"{huge['placed']} / {huge['coalesced']} (+1 failure)",
        ),
        ("  register → eval complete", f"{huge['eval_seconds']:.2f} s"),
        ("  register → every placed alloc running", f"{huge['running_seconds']:.2f} s"),
        ("  GET /v1/status/leader, idle agent", latency("idle")),
        ("  … while the evaluation places the job", latency("placing")),
        ("  … while the placed tasks start", latency("starting")),
        (
            f"after {args.registrations} re-registrations: agent RSS",
            f"{rss['rss']:.1f} MiB",
        ),
        (
            "  GET /v1/job/:id/versions",
            f"{rss['versions']} versions, {rss['versions_bytes'] / 1024:.0f} KiB",
        ),
    ]
    for name, value in rows:
        print(f"  {name:<46} {value}")
    idle = huge["idle"]["p99"]
    for window in ("placing", "starting"):
        p99 = huge[window]["p99"]
        summary(
            f"Count = {args.count}: /v1/status/leader p99 while {window}",
            f"{p99:.1f} ms",
            baseline=f"{idle:.1f} ms idle",
            ratio=f"{p99 / idle:.1f}x",
        )
    summary(f"agent RSS after {args.registrations} re-registrations", f"{rss['rss']:.1f} MiB")


if __name__ == "__main__":
    main()
