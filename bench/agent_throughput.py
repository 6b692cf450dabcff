"""Practice agent API throughput: C client processes each send R non-blocking reads, with
the agent's CPU share beside the figure (the clients share this machine's cores with it).

    python bench/agent_throughput.py [--clients 20] [--requests 1000] [--path /v1/jobs]

The agent holds the tutorial's job (one allocation). Prints requests per second over the
whole run, p50/p99 latency, and the CPU the agent and the clients used, as a share of the
machine (100 % = every core busy for the whole run). The baseline in the same run: one
client alone (the agent's latency without contention).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import nomad
import psutil
import requests
from common import machine, parse_echo_job, percentile, summary, until

from nomadlab.practice import Agent


def client(url: str, count: int, start_at: float) -> tuple[list[float], float]:
    """``count`` GETs of ``url`` from ``start_at`` on: their latencies (ms) and this
    process's CPU seconds meanwhile."""
    session = requests.Session()
    session.get(url, timeout=30).raise_for_status()  # connected before the clock starts
    time.sleep(max(0.0, start_at - time.time()))
    cpu = time.process_time()
    samples = []
    for _ in range(count):
        sent = time.perf_counter()
        session.get(url, timeout=30).raise_for_status()
        samples.append((time.perf_counter() - sent) * 1000)
    return samples, time.process_time() - cpu


def load(url: str, clients: int, count: int, agent_pid: int) -> dict:
    agent = psutil.Process(agent_pid)
    with multiprocessing.Pool(clients) as pool:
        start_at = time.time() + 1.0 + 0.05 * clients
        pending = pool.starmap_async(client, [(url, count, start_at)] * clients)
        time.sleep(max(0.0, start_at - time.time()))
        before = agent.cpu_times()
        began = time.perf_counter()
        results = pending.get(timeout=3600)
        wall = time.perf_counter() - began
        after = agent.cpu_times()
    samples = [ms for latencies, _ in results for ms in latencies]
    cores = psutil.cpu_count() or 1
    agent_cpu = (after.user + after.system) - (before.user + before.system)
    return {
        "rate": len(samples) / wall,
        "p50": statistics.median(samples),
        "p99": percentile(samples, 0.99),
        "agent_share": agent_cpu / (wall * cores) * 100,
        "clients_share": sum(cpu for _, cpu in results) / (wall * cores) * 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--path", default="/v1/jobs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(http_port=None, log_file=Path(tmp) / "agent.log").start()
        try:
            api = nomad.Nomad(address=agent.address, timeout=30)
            api.jobs.register_job({"Job": parse_echo_job(api)})
            until(lambda: api.job.get_allocations("http-microservice"), poll=0.05)
            url = f"{agent.address}{args.path}"
            alone = load(url, 1, args.requests, agent.pid)
            many = load(url, args.clients, args.requests, agent.pid)
        finally:
            agent.stop(timeout=60)
    print(f"practice agent API throughput, GET {args.path}; {machine()}")
    for name, got in ((f"1 client x {args.requests}", alone),
                      (f"{args.clients} clients x {args.requests}", many)):  # fmt: skip
        print(
            f"  {name:<24} {got['rate']:7.0f} req/s   p50 {got['p50']:5.1f} ms   "
            f"p99 {got['p99']:5.1f} ms   agent CPU {got['agent_share']:4.1f} %   "
            f"clients CPU {got['clients_share']:4.1f} %"
        )
    summary(
        f"GET {args.path}, {args.clients} clients x {args.requests}: throughput",
        f"{many['rate']:.0f} req/s",
        baseline=f"{alone['rate']:.0f} req/s (1 client)",
        ratio=f"{many['rate'] / alone['rate']:.2f}x",
    )
    summary(
        f"GET {args.path}, {args.clients} clients x {args.requests}: p99",
        f"{many['p99']:.1f} ms",
        baseline=f"{alone['p99']:.1f} ms (1 client)",
        ratio=f"{many['p99'] / alone['p99']:.1f}x",
    )


if __name__ == "__main__":
    main()
