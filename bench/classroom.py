"""How many learners one host carries: N simulated learners, each with its own NOMADLAB_HOME
and practice agent (ACLs on, as on a JupyterHub), all running the tutorial's flow at once:
run the echo job, call it, scale to 3, read the logs, stop it.

Reports, for each N: flows that succeeded, p50/p95 of a flow against one learner alone, and
memory per learner (the agent with its tasks, at 3 copies; plus a kernel, measured once).
The largest N where every flow succeeds and p95 <= 3x solo is the room's capacity.

    .venv/bin/python bench/classroom.py            # N = 1, 2, 4, 6, 8, ... until it fails
    .venv/bin/python bench/classroom.py --max 4    # stop at 4 (a shared machine)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import nomad
import psutil
import requests
from common import parse_echo_job, until

from nomadlab.allocations import alloc_ports
from nomadlab.practice import Agent

JOB = "http-microservice"


def flow(agent: Agent) -> float:
    """The tutorial's flow on ``agent``; its wall time in seconds (raises if a step fails)."""
    client = nomad.Nomad(address=agent.address, token=agent.token, timeout=30)
    started = time.monotonic()
    job = parse_echo_job(client)
    client.jobs.register_job({"Job": job})

    def running(count: int) -> list[dict]:
        allocs = [a for a in client.job.get_allocations(JOB) if a["ClientStatus"] == "running"]
        return allocs if len(allocs) >= count else []

    (alloc,) = until(lambda: running(1), timeout=120)[:1]
    host, port = alloc_ports(client.allocation.get_allocation(alloc["ID"]))["http"]
    answer = until(lambda: _get(f"http://{host}:{port}/"), timeout=60, poll=0.05)
    assert answer.ok, answer.text
    job["TaskGroups"][0]["Count"] = 3
    client.jobs.register_job({"Job": job})
    until(lambda: running(3), timeout=120, poll=0.05)
    logs = requests.get(
        f"{agent.address}/v1/client/fs/logs/{alloc['ID']}",
        params={"task": "server", "type": "stdout", "plain": "true", "origin": "start"},
        headers={"X-Nomad-Token": agent.token},
        timeout=30,
    )
    assert logs.ok, logs.text
    client.job.deregister_job(JOB, purge=True)
    until(
        lambda: all(a["ClientStatus"] != "running" for a in client.allocations.get_allocations()),
        timeout=120,
        poll=0.05,
    )
    return time.monotonic() - started


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.RequestException:
        return None


def memory_mib(pid: int) -> float:
    """Unique memory (USS) of a process and its descendants, in MiB."""
    total = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().uss
        except psutil.Error:
            continue
    return total / 2**20


def run(n: int, workdir: Path) -> tuple[list[float], int, float]:
    """N learners at once: their flow times, how many failed, memory per learner (MiB)."""
    agents = []
    for number in range(n):
        home = workdir / f"learner-{n}-{number}"
        home.mkdir()
        os.environ["NOMADLAB_HOME"] = str(home)
        agents.append(Agent(http_port=None, log_file=home / "agent.log", acl=True).start())
    times: list[float] = []
    failed = 0
    peak: list[float] = []
    lock = threading.Lock()

    def learner(agent: Agent) -> None:
        nonlocal failed
        try:
            took = flow(agent)
        except Exception as exc:
            print(f"  a flow failed: {exc!r}", file=sys.stderr)
            with lock:
                failed += 1
            return
        with lock:
            times.append(took)

    def sample() -> None:
        while any(t.is_alive() for t in threads):
            peak.append(sum(memory_mib(a.pid) for a in agents if a.pid))
            time.sleep(0.5)

    threads = [threading.Thread(target=learner, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    sampler = threading.Thread(target=sample)
    sampler.start()
    for thread in threads:
        thread.join()
    sampler.join()
    for agent in agents:
        agent.stop()
    return times, failed, (max(peak) if peak else 0.0) / n


def kernel_mib() -> float:
    """Unique memory of one idle IPython kernel, the other thing each learner runs."""
    from jupyter_client.manager import start_new_kernel

    manager, kernel = start_new_kernel()
    try:
        kernel.execute_interactive("import nomadlab", timeout=60)
        pid = manager.provisioner.process.pid
        return memory_mib(pid)
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=64, help="the largest N to try")
    parser.add_argument("--solo-runs", type=int, default=3, help="flows of one learner alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="classroom-") as tmp:
        workdir = Path(tmp)
        solo = []
        for run_number in range(args.solo_runs):
            (workdir / f"solo-{run_number}").mkdir()
            times, failed, solo_mib = run(1, workdir / f"solo-{run_number}")
            assert not failed, "one learner alone failed the flow"
            solo += times
        base = statistics.median(solo)
        kernel = kernel_mib()
        print(f"solo: p50 {base:.2f}s, agent+tasks {solo_mib:.0f} MiB, kernel {kernel:.0f} MiB")
        best, best_mib = 1, solo_mib
        n = 2
        while n <= args.max:
            times, failed, mib = run(n, workdir)
            ok = not failed and p95(times) <= 3 * base
            print(
                f"N={n:3d}: {n - failed}/{n} flows, p50 {statistics.median(times or [0]):.2f}s"
                f", p95 {p95(times) if times else 0:.2f}s ({p95(times) / base if times else 0:.1f}x"
                f" solo), {mib:.0f} MiB per learner + kernel {kernel:.0f} MiB"
                + ("" if ok else "  <- over the bar")
            )
            if not ok:
                break
            best, best_mib = n, mib
            n = n + 2 if n >= 2 else n + 1
        cores = os.cpu_count() or 1
        gib = psutil.virtual_memory().total / 2**30
        per_gib = 1024 / (best_mib + kernel)  # a learner's agent, tasks and kernel
        print(
            f"capacity: {best} learners on {cores} cores ({best / cores:.1f} per core); memory "
            f"holds {per_gib:.1f} learners per GiB ({per_gib * gib:.0f} in {gib:.1f} GiB), so "
            + ("the cores" if best < per_gib * gib else "memory")
            + " set the size of the room"
        )


if __name__ == "__main__":
    main()
