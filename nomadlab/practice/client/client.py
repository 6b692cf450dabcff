"""The client: a node that fingerprints itself and runs the allocations placed on it.

Each node watches the state store for its allocations (as a Nomad client long-polls its
servers) and runs an alloc runner per allocation (allocrunner.py), which runs a task runner
per task (taskrunner.py).
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path

import psutil

from nomadlab.practice import structs
from nomadlab.practice.client import interfaces
from nomadlab.practice.client.allocrunner import AllocRunner
from nomadlab.practice.client.taskrunner import SECOND, event_or_timeout
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import now_ns, rfc3339

# How long the client gathers its allocations' changes before it writes them to the server
# in one update: Nomad's client waits 200 ms (allocSyncIntv); this one 10 ms, so that a
# task's start is not held behind the watchers each of its events would wake.
ALLOC_SYNC = 0.01


def fingerprint_node(
    name: str, share: float, http_addr: str, drivers: dict, datacenter: str = structs.DATACENTER
) -> dict:
    """A ready node with this host's CPU and memory (``share`` of them) and its drivers."""
    cores = psutil.cpu_count() or 1
    frequency = psutil.cpu_freq()
    mhz = int(frequency.max or frequency.current) if frequency and frequency.current else 2000
    cpu = int(cores * mhz * share)
    memory = int(psutil.virtual_memory().total / 2**20 * share)
    disk = int(shutil.disk_usage(os.getcwd()).free / 2**20 * share)
    ip = http_addr.rsplit(":", 1)[0].strip("[]")
    now = now_ns()
    return {
        "ID": structs.new_id(),
        "SecretID": "",
        "Datacenter": datacenter,
        "Name": name,
        "HTTPAddr": http_addr,
        "TLSEnabled": False,
        "Attributes": {
            "kernel.name": platform.system().lower(),
            "kernel.version": platform.release(),
            "cpu.arch": platform.machine(),
            "cpu.numcores": str(cores),
            "cpu.frequency": str(mhz),
            "cpu.totalcompute": str(cpu),
            "memory.totalbytes": str(memory * 2**20),
            "os.name": platform.system().lower(),
            "unique.hostname": name,
            "nomad.version": structs.VERSION,
            "driver.raw_exec": "1" if drivers["raw_exec"].enabled else "0",
            "nomad.service_discovery": "true",
        },
        "NodeResources": {
            "Cpu": {"CpuShares": cpu, "TotalCpuCores": cores, "ReservableCpuCores": None},
            "Memory": {"MemoryMB": memory},
            "Disk": {"DiskMB": disk},
            "Networks": [
                {"Mode": "host", "Device": "lo", "CIDR": f"{ip}/32", "IP": ip, "MBits": 1000}
            ],
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {"Cpu": {"CpuShares": 0}, "Memory": {"MemoryMB": 0}},
        "Links": {},
        "Meta": {},
        "NodeClass": "",
        "NodePool": "default",
        "Version": structs.VERSION,
        "ComputedClass": "",
        "Drain": False,
        "DrainStrategy": None,
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusDescription": "",
        "StatusUpdatedAt": now // SECOND,
        "Events": [
            {
                "Message": "Node registered",
                "Subsystem": "Cluster",
                "Details": None,
                "Timestamp": rfc3339(now),
                "CreateIndex": 0,
            }
        ],
        "Drivers": {driver.name: driver.fingerprint() for driver in drivers.values()},
        "HostVolumes": None,
        "HostNetworks": None,
        "LastDrain": None,
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }


class Client:
    """One node: runs its allocations and reports their state back to the store."""

    def __init__(self, store: StateStore, node: dict, drivers: dict, data_dir: Path) -> None:
        self.store = store
        self.node = node
        self.drivers = drivers
        self.data_dir = data_dir
        self.runners: dict[str, AllocRunner] = {}
        self._destroying: set[asyncio.Task] = set()
        self.on_alloc_terminal: Callable[[dict], None] = lambda alloc: None
        self.alive = True
        self._wake = asyncio.Event()
        self._recovering: asyncio.Future | None = None
        self._updated: dict[str, interfaces.AllocRunner] = {}  # the next batch, by alloc ID
        self._sync_handle: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Watch the store for this node's allocations, as a client's blocking query does."""
        index = 0
        while True:
            index = await self.store.wait(["allocs"], index, 300)
            if self.alive:
                await self.sync()

    def alloc_updated(self, runner: interfaces.AllocRunner) -> None:
        """Send ``runner``'s allocation with the next batch of updates, ``ALLOC_SYNC`` from
        the first change in it (Nomad's client batches them every 200 ms: allocSync)."""
        self._updated[runner.alloc_id] = runner
        if self._sync_handle is None:
            self._sync_handle = asyncio.get_running_loop().call_later(ALLOC_SYNC, self.sync_allocs)

    def sync_allocs(self) -> None:
        """Write the batch of changed allocations to the store at once, and tell the
        server of each allocation that has become terminal."""
        if self._sync_handle is not None:
            self._sync_handle.cancel()
            self._sync_handle = None
        runners, self._updated = list(self._updated.values()), {}
        updates = [(runner, alloc) for runner in runners if (alloc := runner.client_update())]
        if not updates:
            return
        self.store.upsert_allocs([alloc for _, alloc in updates])
        for runner, alloc in updates:
            if structs.is_terminal(alloc) and not runner.reported_terminal:
                runner.reported_terminal = True
                self.on_alloc_terminal(alloc)

    async def heartbeat(self, beat: Callable[[str], float]) -> None:
        """Heartbeat to the server within each TTL it hands back, while the node lives."""
        while True:
            ttl = beat(self.node["ID"])
            self._wake.clear()
            await event_or_timeout(self._wake, ttl)
            while not self.alive:
                self._wake.clear()
                await self._wake.wait()

    async def fail(self) -> None:
        """The machine dies: its task processes are gone at once and it reports nothing
        more; the server notices only when its heartbeats stop."""
        self.alive = False
        self._updated.clear()  # what it had not sent yet is lost with it
        runners = list(self.runners.values())
        self.runners.clear()
        await asyncio.gather(*(runner.vanish() for runner in runners))

    def recover(self) -> None:
        """The machine is back: it heartbeats at once and runs what the server still wants
        on it (allocations it lost meanwhile have been replaced)."""
        self.alive = True
        self._wake.set()
        self.store.replay_node_changes(self.node["ID"])
        self._recovering = asyncio.ensure_future(self.sync())

    async def sync(self, batch: int = 10) -> None:
        """Start runners for new allocations, stop those the server no longer wants: only
        the allocations written since the last sync, yielding to the loop every ``batch``."""
        changed, removed = self.store.take_node_changes(self.node["ID"])
        for alloc_id in removed:
            self._destroy(alloc_id)
        for number, alloc in enumerate(changed, 1):
            if number % batch == 0:
                await asyncio.sleep(0)
            runner = self.runners.get(alloc["ID"])
            if runner is None:
                if alloc["DesiredStatus"] == "run" and not structs.is_terminal(alloc):
                    runner = AllocRunner(self, alloc["ID"])
                    self.runners[alloc["ID"]] = runner
                    runner.start()
            elif alloc["DesiredStatus"] != "run":
                runner.stop()
            else:
                runner.update(alloc)

    def collect_all_allocs(self) -> list[str]:
        """``PUT /v1/client/gc`` (CollectAllAllocs): destroy every finished allocation's
        runner and directory; returns their IDs."""
        collected = []
        for alloc_id, runner in list(self.runners.items()):
            alloc = self.store.allocs.get(alloc_id)
            if runner.finished and (alloc is None or structs.is_terminal(alloc)):
                self._destroy(alloc_id)
                collected.append(alloc_id)
        return collected

    def _destroy(self, alloc_id: str) -> None:
        """The server collected an allocation: stop its runner if any, remove its directory
        (the client's alloc GC)."""
        runner = self.runners.pop(alloc_id, None)

        async def destroy() -> None:
            if runner is not None:
                await runner.stop_and_wait()
            await asyncio.to_thread(shutil.rmtree, self.alloc_dir(alloc_id), True)

        task = asyncio.create_task(destroy(), name=f"destroy-{alloc_id[:8]}")
        self._destroying.add(task)
        task.add_done_callback(self._destroying.discard)

    async def shutdown(self) -> None:
        """Stop every task on this node (the agent is exiting)."""
        await asyncio.gather(*(r.stop_and_wait() for r in self.runners.values()))
        self.sync_allocs()

    def alloc_dir(self, alloc_id: str) -> Path:
        return self.data_dir / "alloc" / alloc_id
