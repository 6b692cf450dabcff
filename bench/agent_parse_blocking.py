"""How the API answers while a 1 MB jobspec with 60,000 meta keys is parsed.

Prints the p50/p99/max latency of ``GET /v1/status/leader`` polled during the first
30 s of the parse (parsing runs in a worker process, off the agent's event loop), and the
agent's resident memory before and after.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from nomadlab.practice import Agent

KEYS = 60_000
WINDOW = 30.0


def big_jobspec() -> str:
    meta = "\n".join(f'k{i} = "v"' for i in range(KEYS))
    return (
        f'job "big" {{\nmeta {{\n{meta}\n}}\ngroup "g" {{\ntask "t" {{\ndriver = "raw_exec"\n'
        'config { command = "/bin/true" }\n}\n}\n}\n'
    )


def main() -> None:
    hcl = big_jobspec()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Agent(http_port=None, log_file=Path(tmp) / "agent.log") as agent,
    ):
        rss = psutil.Process(agent.pid).memory_info().rss
        session = requests.Session()
        done = threading.Event()

        def parse() -> None:
            try:
                answer = requests.post(
                    f"{agent.address}/v1/jobs/parse", json={"JobHCL": hcl}, timeout=WINDOW
                )
                print(f"parse answered {answer.status_code} within the window")
            except requests.Timeout:
                pass
            done.set()

        threading.Thread(target=parse, daemon=True).start()
        latencies = []
        deadline = time.monotonic() + WINDOW
        while not done.is_set() and time.monotonic() < deadline:
            start = time.perf_counter()
            session.get(f"{agent.address}/v1/status/leader", timeout=60).raise_for_status()
            latencies.append(time.perf_counter() - start)
            time.sleep(0.01)
        after = psutil.Process(agent.pid).memory_info().rss
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"jobspec: {len(hcl.encode()) / 1e6:.2f} MB, {KEYS} meta keys")
    print(
        f"/v1/status/leader while it parses ({len(latencies)} requests): "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"agent resident memory: {rss / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB during")


if __name__ == "__main__":
    main()
