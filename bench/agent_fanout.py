"""Practice agent against bare processes: scale the echo job from 1 to N allocations and
time until all N answer HTTP 200, beside N bare ``python -m nomadlab.echo`` started at once
on this machine in the same run; meanwhile the API's latency.

    python bench/agent_fanout.py [--allocs 40] [--nodes 1] [--runs 3]

Prints per run and as medians: scale 1 → N → all answering (agent) and N bare echoes → all
answering, their ratio; GET /v1/status/leader p50/p99 idle and while the N tasks start; a
blocking query's answer after a change made while they start; GET /v1/job/:id/allocations
and /v1/allocations p50/p99 with N allocations (beside /v1/status/leader's, the cheapest
read); the agent's resident memory with N allocations. Then a ``SUMMARY |`` line per figure
(figure | value | baseline | ratio | goal | met? | load).
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nomad
import psutil
import requests
from common import Answering, free_ports, machine, parse_echo_job, percentile, summary, until

from nomadlab.practice import Agent

JOB_ID = "http-microservice"


def bare_fanout(count: int) -> float:
    """N bare echoes started at once → all answering (seconds)."""
    ports = free_ports(count)
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "nomadlab.echo", "-listen", f"127.0.0.1:{p}", "-text", "hi"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for p in ports
    ]
    try:
        until(Answering([("127.0.0.1", p) for p in ports]), poll=0.005)
        return time.perf_counter() - start
    finally:
        for process in processes:
            process.kill()
            process.wait()


def echo_job(client: nomad.Nomad) -> dict:
    """The tutorial's job, small enough for 200 copies, healthy 0.3 s after it runs."""
    job = parse_echo_job(client)
    group = job["TaskGroups"][0]
    group["Update"] = {"MinHealthyTime": 300_000_000}
    group["Tasks"][0]["Resources"] = {"CPU": 20, "MemoryMB": 16}
    return job


def deployed(client: nomad.Nomad) -> bool:
    return (client.job.get_deployment(JOB_ID) or {}).get("Status") == "successful"


def addresses(client: nomad.Nomad) -> list[tuple[str, int]]:
    """The job's running allocations' ports, in one request (``/v1/allocations?resources=true``
    lists each allocation's resources), not one per allocation: the bench's own requests
    would otherwise compete with the tasks it times."""
    found = []
    for stub in client.allocations.request(params={"resources": "true"}, method="get").json():
        if stub["JobID"] != JOB_ID or stub["DesiredStatus"] != "run":
            continue
        found += [(p["HostIP"], p["Value"]) for p in stub["AllocatedResources"]["Shared"]["Ports"]]
    return found


class LeaderProbe:
    """Asks GET /v1/status/leader in a loop from a process of its own (not slowed by this
    one's polling), keeping (sent at, milliseconds)."""

    def __init__(self, address: str) -> None:
        self.url = f"{address}/v1/status/leader"
        self.samples: list[tuple[float, float]] = []
        self.stop = multiprocessing.Event()
        self.queue: multiprocessing.Queue = multiprocessing.Queue()
        self.process = multiprocessing.Process(
            target=ask, args=(self.url, self.stop, self.queue), daemon=True
        )

    def start(self) -> None:
        self.process.start()

    def finish(self) -> None:
        self.stop.set()
        self.samples = self.queue.get(timeout=120)
        self.process.join(60)

    def window(self, since: float, until_: float) -> list[float]:
        return [ms for sent, ms in self.samples if since <= sent < until_]


def ask(url: str, stop: multiprocessing.synchronize.Event, queue: multiprocessing.Queue) -> None:
    session = requests.Session()
    samples = []
    while not stop.is_set():
        sent = time.perf_counter()
        session.get(url, timeout=60).raise_for_status()
        samples.append((sent, (time.perf_counter() - sent) * 1000))
        time.sleep(0.01)
    queue.put(samples)


def blocking_answer(address: str, node_id: str) -> float:
    """Park a blocking query on a node, change the node, and time the query's answer
    after the change's own response (milliseconds)."""
    url = f"{address}/v1/node/{node_id}"
    index = int(requests.get(url, timeout=10).headers["X-Nomad-Index"])
    answered: list[float] = []
    waiter = threading.Thread(
        target=lambda: (
            requests.get(url, params={"index": index, "wait": "30s"}, timeout=60),
            answered.append(time.perf_counter()),
        )
    )
    waiter.start()
    time.sleep(0.05)
    requests.post(f"{url}/eligibility", json={"Eligibility": "ineligible"}, timeout=10)
    changed = time.perf_counter()
    waiter.join(60)
    requests.post(f"{url}/eligibility", json={"Eligibility": "eligible"}, timeout=10)
    return (answered[0] - changed) * 1000


def list_latency(url: str, count: int = 300) -> list[float]:
    session = requests.Session()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def agent_fanout(count: int, nodes: int, log_dir: Path) -> dict:
    agent = Agent(http_port=None, nodes=nodes, log_file=log_dir / "agent.log").start()
    try:
        client = nomad.Nomad(address=agent.address, timeout=120)
        client.jobs.register_job({"Job": echo_job(client)})
        until(lambda: deployed(client) and Answering(addresses(client))(), poll=0.02)
        probe = LeaderProbe(agent.address)
        probe.start()
        time.sleep(1.0)
        node_id = client.nodes.get_nodes()[0]["ID"]
        start = time.perf_counter()
        client.job.request(
            JOB_ID, "scale", method="post", json={"Count": count, "Target": {"Group": "echo"}}
        )
        blocking = blocking_answer(agent.address, node_id)
        until(
            lambda: (
                sum(a["DesiredStatus"] == "run" for a in client.job.get_allocations(JOB_ID))
                == count
            ),
            poll=0.02,
        )
        found = addresses(client)  # placed: their ports are known, the tasks may not run yet
        until(Answering(found), poll=0.005)
        elapsed = time.perf_counter() - start
        probe.finish()
        job_list = list_latency(f"{agent.address}/v1/job/{JOB_ID}/allocations")
        all_list = list_latency(f"{agent.address}/v1/allocations")
        leader = list_latency(f"{agent.address}/v1/status/leader")
        rss = psutil.Process(agent.pid).memory_info().rss / 2**20
    finally:
        agent.stop(timeout=60)
    return {
        "elapsed": elapsed,
        "idle": probe.window(0, start),
        "starting": probe.window(start, start + elapsed),
        "blocking": blocking,
        "job_list": job_list,
        "all_list": all_list,
        "leader": leader,
        "rss": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocs", type=int, default=40)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    print(f"scale 1 → {args.allocs} on {args.nodes} node(s), {args.runs} runs")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            load = psutil.getloadavg()[0]  # before this run's own processes count in it
            bare = bare_fanout(args.allocs)
            got = agent_fanout(args.allocs, args.nodes, Path(tmp))
            ratio = got["elapsed"] / bare
            runs.append({**got, "bare": bare, "ratio": ratio, "load": load})
            print(f"run {run + 1} (load {load:.2f} before it, {psutil.getloadavg()[0]:.2f} after)")
            rows = [
                (f"scale 1 → {args.allocs}, all answering", f"{got['elapsed']:.2f} s"),
                (f"{args.allocs} bare echoes, all answering", f"{bare:.2f} s"),
                ("  ratio", f"{ratio:.2f}x"),
                ("leader p50/p99 idle", f"{pct(got['idle'])}"),
                ("leader p50/p99 while tasks start", f"{pct(got['starting'])}"),
                ("blocking query answer after its change", f"{got['blocking']:.1f} ms"),
                (f"GET job allocations, {args.allocs}", pct(got["job_list"])),
                (f"GET /v1/allocations, {args.allocs}", pct(got["all_list"])),
                ("GET /v1/status/leader (same moment)", pct(got["leader"])),
                (f"agent RSS, {args.allocs} allocations", f"{got['rss']:.1f} MiB"),
            ]
            for name, value in rows:
                print(f"  {name:<42} {value}")
    summarize(runs, args.allocs, args.nodes)


def summarize(runs: list[dict], allocs: int, nodes: int) -> None:
    """The figures' SUMMARY lines: medians over the runs (p99s are each run's, then the
    median of those)."""

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def p99(key: str) -> float:
        return statistics.median(percentile(r[key], 0.99) for r in runs)

    n = f"(median of {len(runs)} runs)"
    # The load before the runs: after one, the 1-minute average counts its own N tasks.
    load = median("load")
    ratio = median("ratio")
    summary(
        f"scale 1 → {allocs} on {nodes} node(s), all answering / {allocs} bare echoes {n}",
        f"{median('elapsed'):.2f} s",
        "≤ 1.15x",
        ratio <= 1.15,
        f"{median('bare'):.2f} s",
        f"{ratio:.2f}x",
        load=load,
    )
    starting, idle = p99("starting"), p99("idle")
    summary(
        f"/v1/status/leader p99 while the {allocs} tasks start {n}",
        f"{starting:.1f} ms",
        "≤ 100 ms",
        starting <= 100,
        f"{idle:.1f} ms idle",
        f"{starting / idle:.1f}x",
        load=load,
    )
    blocking = median("blocking")
    summary(
        f"blocking query answered after its change, while they start {n}",
        f"{blocking:.1f} ms",
        "≤ 100 ms",
        blocking <= 100,
        load=load,
    )
    leader = p99("leader")
    for key, path in (("job_list", "/v1/job/:id/allocations"), ("all_list", "/v1/allocations")):
        value = p99(key)
        summary(
            f"GET {path} p99, {allocs} allocations {n}",
            f"{value:.1f} ms",
            "≤ 10 ms",
            value <= 10,
            f"{leader:.1f} ms (/v1/status/leader)",
            f"{value / leader:.1f}x",
            load=load,
        )
    rss = median("rss")
    summary(
        f"agent resident memory, {allocs} allocations {n}",
        f"{rss:.1f} MiB",
        "≤ 80 MiB",
        rss <= 80,
        load=load,
    )


def pct(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms"


if __name__ == "__main__":
    main()
