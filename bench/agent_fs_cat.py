"""The agent's resident memory while ``nomad alloc fs cat`` streams a 200 MB file.

The file is read and sent a 64 KiB chunk at a time, so the agent's memory should not grow
with the file. Prints the growth of the agent's RSS (peak during the cat minus before) and
the throughput.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from nomadlab.practice import Agent

MB = 200
TASK = f"""
import os, time
with open(os.environ["NOMAD_ALLOC_DIR"] + "/big", "wb") as f:
    for _ in range({MB}):
        f.write(b"x" * (1 << 20))
open(os.environ["NOMAD_ALLOC_DIR"] + "/ready", "w").close()
time.sleep(600)
"""


def main() -> None:
    job = {
        "ID": "big-file",
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": sys.executable, "args": ["-c", TASK]},
                    }
                ],
            }
        ],
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        Agent(http_port=None, log_file=Path(tmp) / "agent.log") as agent,
    ):
        requests.put(f"{agent.address}/v1/jobs", json={"Job": job}, timeout=10).raise_for_status()
        fs = f"{agent.address}/v1/client/fs"
        while not (allocs := requests.get(f"{agent.address}/v1/allocations", timeout=10).json()):
            time.sleep(0.1)
        alloc = allocs[0]["ID"]
        while not requests.get(f"{fs}/stat/{alloc}", params={"path": "alloc/ready"}).ok:
            time.sleep(0.1)
        process = psutil.Process(agent.pid)
        before = peak = process.memory_info().rss
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, process.memory_info().rss)
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        received = 0
        with requests.get(
            f"{fs}/cat/{alloc}", params={"path": "alloc/big"}, stream=True, timeout=300
        ) as response:
            for chunk in response.iter_content(1 << 16):
                received += len(chunk)
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    print(f"fs cat of a {received / 2**20:.0f} MiB file: {received / 2**20 / elapsed:.0f} MiB/s")
    print(
        f"agent resident memory: {before / 2**20:.1f} MiB before, peak {peak / 2**20:.1f} MiB "
        f"(+{(peak - before) / 2**20:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
