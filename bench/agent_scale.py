"""Practice agent figures over time: deployments, scaling, API latency, idle blocking queries.

    python bench/agent_scale.py [--allocs 50] [--waiters 500]

Prints, for this machine: register → deployment successful (less the job's
min_healthy_time), scale 1 → 3 and 1 → N → all healthy (likewise), p50/p99 latency of
GET /v1/job/:id/allocations with N allocations, the agent's resident memory with N
allocations, and the agent's CPU while it holds W idle blocking queries.
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
from common import parse_echo_job, until

from nomadlab.practice import Agent

JOB_ID = "http-microservice"
MIN_HEALTHY_S = 1.0


def echo_job(client: nomad.Nomad) -> dict:
    """The tutorial's raw_exec job with a 1s min_healthy_time, small enough to run 50 copies."""
    job = parse_echo_job(client)
    group = job["TaskGroups"][0]
    group["Update"] = {"MinHealthyTime": int(MIN_HEALTHY_S * 1e9)}
    group["Tasks"][0]["Resources"] = {"CPU": 20, "MemoryMB": 32}
    return job


def deployment_done(client: nomad.Nomad, previous: str | None = None) -> dict | None:
    deployment = client.job.get_deployment(JOB_ID)
    if deployment and deployment["ID"] != previous and deployment["Status"] == "successful":
        return deployment
    if deployment and deployment["Status"] in ("failed", "cancelled"):
        raise RuntimeError(f"deployment {deployment['Status']}: {deployment['StatusDescription']}")
    return None


def timed_scale(client: nomad.Nomad, count: int) -> float:
    before = client.job.get_deployment(JOB_ID)["ID"]
    start = time.perf_counter()
    client.job.request(
        JOB_ID, "scale", method="post", json={"Count": count, "Target": {"Group": "echo"}}
    )
    until(lambda: deployment_done(client, before))
    return time.perf_counter() - start - MIN_HEALTHY_S


def latency(url: str, requests_count: int = 500) -> tuple[float, float]:
    session = requests.Session()
    samples = []
    for _ in range(requests_count):
        start = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def idle_waiters(agent: Agent, client: nomad.Nomad, waiters: int) -> tuple[float, int, float]:
    """Park ``waiters`` blocking queries, measure the agent's CPU while they wait, then
    wake them all with one change; returns (CPU %, parked count, seconds to answer all)."""
    url = f"{agent.address}/v1/job/{JOB_ID}/allocations"
    index = int(requests.get(url, timeout=10).headers["X-Nomad-Index"])
    answered: list[float] = []
    lock = threading.Lock()

    def wait_one() -> None:
        response = requests.get(url, params={"index": index, "wait": "5m"}, timeout=400)
        response.raise_for_status()
        with lock:
            answered.append(time.perf_counter())

    threads = [threading.Thread(target=wait_one, daemon=True) for _ in range(waiters)]
    for thread in threads:
        thread.start()

    def parked() -> int:
        stats = client.agent.get_agent()["stats"]["practice"]
        return int(stats["blocking_queries"]) >= waiters and int(stats["blocking_queries"])

    count = until(parked, timeout=120)
    process = psutil.Process(agent.pid)
    process.cpu_percent(None)
    time.sleep(5)
    cpu = process.cpu_percent(None)
    alloc = client.job.get_allocations(JOB_ID)[0]
    woke = time.perf_counter()
    client.allocation.stop_allocation(alloc["ID"])
    for thread in threads:
        thread.join(timeout=120)
    return cpu, count, max(answered) - woke


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocs", type=int, default=50)
    parser.add_argument("--waiters", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(http_port=None, log_file=Path(tmp) / "agent.log").start()
        try:
            client = nomad.Nomad(address=agent.address, timeout=60)
            start = time.perf_counter()
            client.jobs.register_job({"Job": echo_job(client)})
            until(lambda: deployment_done(client))
            first = time.perf_counter() - start - MIN_HEALTHY_S
            to_three = timed_scale(client, 3)
            timed_scale(client, 1)
            to_many = timed_scale(client, args.allocs)
            url = f"{agent.address}/v1/job/{JOB_ID}/allocations"
            p50, p99 = latency(url)
            rss = psutil.Process(agent.pid).memory_info().rss / 2**20
            cpu, parked, wake = idle_waiters(agent, client, args.waiters)
        finally:
            agent.stop(timeout=60)
    print(f"practice agent over time, {psutil.cpu_count()} CPUs (min_healthy_time subtracted)")
    rows = [
        ("register → deployment successful", f"{first:.3f} s"),
        ("scale 1 → 3 → all healthy", f"{to_three:.3f} s"),
        (f"scale 1 → {args.allocs} → all healthy", f"{to_many:.3f} s"),
        (f"GET job allocations, {args.allocs} allocs", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"),
        (f"agent resident memory, {args.allocs} allocs", f"{rss:.1f} MiB"),
        ("idle blocking queries held", f"{parked}"),
        (f"agent CPU while {parked} queries wait", f"{cpu:.1f} %"),
        (f"one change → all {parked} answered", f"{wake:.3f} s"),
    ]
    for name, value in rows:
        print(f"  {name:<42} {value}")


if __name__ == "__main__":
    main()
