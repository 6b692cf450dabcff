"""The client: a node that fingerprints itself and runs the allocations placed on it.

Each node watches the state store for its allocations (as a Nomad client long-polls
its servers), runs an alloc runner per allocation and a task runner per task: task
events, restarts per the group's ``restart`` block, and deployment health per the
``update`` block (healthy once every task has run for ``min_healthy_time``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import platform
import random
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from nomadlab.practice import structs
from nomadlab.practice.client import serviceregistration
from nomadlab.practice.client.drivers import DriverError, ExitResult, TaskHandle
from nomadlab.practice.client.interfaces import TaskError
from nomadlab.practice.client.taskenv import interpolate_config, task_environment
from nomadlab.practice.client.template_hook import TaskTemplates
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import now_ns, rfc3339, task_event
from nomadlab.practice.templates import TemplateError

log = logging.getLogger("nomad.client")

SECOND = 1_000_000_000


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

    async def run(self) -> None:
        """Watch the store for this node's allocations, as a client's blocking query does."""
        index = 0
        while True:
            index = await self.store.wait(["allocs"], index, 300)
            if self.alive:
                await self.sync()

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

    def alloc_dir(self, alloc_id: str) -> Path:
        return self.data_dir / "alloc" / alloc_id


class AllocRunner:
    """Runs one allocation: its directory, its tasks, its health, its client status."""

    def __init__(self, client: Client, alloc_id: str) -> None:
        self.client = client
        self.alloc_id = alloc_id
        alloc = client.store.allocs[alloc_id]
        self.job = alloc["Job"]
        self.group = next(g for g in self.job["TaskGroups"] if g["Name"] == alloc["TaskGroup"])
        self.dir = client.alloc_dir(alloc_id)
        self.tasks = {t["Name"]: TaskRunner(self, t) for t in self.group["Tasks"]}
        self.services = serviceregistration.AllocServices(self)
        self.changed = asyncio.Event()
        self.stopping = False
        self.deployment_id = alloc.get("DeploymentID") or ""
        self._main: asyncio.Task | None = None
        self._health: asyncio.Task | None = None
        self._reported_terminal = False
        self.gone = False

    @property
    def alloc(self) -> dict:
        return self.client.store.allocs[self.alloc_id]

    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"alloc-{self.alloc_id[:8]}")
        self._watch_health()

    async def _run(self) -> None:
        await asyncio.to_thread(make_dirs, self.dir, ("alloc/logs", "alloc/data", "alloc/tmp"))
        try:
            self.services.register(None)
        except serviceregistration.ServiceError as exc:
            for runner in self.tasks.values():
                runner.emit(
                    task_event("Setup Failure", str(exc), FailsTask=True), state="dead", failed=True
                )
        else:
            await asyncio.gather(*(runner.run() for runner in self.tasks.values()))
        self.services.deregister_all()
        for runner in self.tasks.values():
            runner.templates.stop()
        self.report()

    @property
    def finished(self) -> bool:
        """Every task has exited for good."""
        return self._main is not None and self._main.done()

    def update(self, alloc: dict) -> None:
        """An in-place update: a new job version, maybe a new deployment to report to."""
        new_version = alloc["Job"].get("JobModifyIndex") != self.job.get("JobModifyIndex")
        self.job = alloc["Job"]
        self.group = next(g for g in self.job["TaskGroups"] if g["Name"] == alloc["TaskGroup"])
        for runner in self.tasks.values():
            runner.task = next(t for t in self.group["Tasks"] if t["Name"] == runner.task["Name"])
        if new_version and not self.stopping:
            self.services.refresh()
        deployment_id = alloc.get("DeploymentID") or ""
        if deployment_id != self.deployment_id:
            self.deployment_id = deployment_id
            self._watch_health()

    def stop(self) -> None:
        """The server wants this allocation stopped: kill its tasks."""
        if not self.stopping:
            self.stopping = True
            self.services.deregister_all()  # before the kill, so lookups stop finding it
            for runner in self.tasks.values():
                runner.kill()

    async def vanish(self) -> None:
        """Die with the node: no more reports, every task process killed (SIGKILL)."""
        self.gone = True
        for task in (self._main, self._health):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(runner.vanish() for runner in self.tasks.values()))

    async def stop_and_wait(self) -> None:
        self.stop()
        if self._main is not None:
            await asyncio.gather(self._main, return_exceptions=True)

    def signal(self, task: str, name: str) -> None:
        """Signal one task, or every task when ``task`` is empty."""
        for runner in self._targets(task):
            runner.signal(name)

    def restart(self, task: str, all_tasks: bool) -> None:
        """Restart one task, every task, or (by default) the running ones, as Nomad words it."""
        if task and all_tasks:
            raise TaskError("task name cannot be set when restarting all tasks")
        if task:
            targets, reason = self._targets(task), "User requested task to restart"
        elif all_tasks:
            targets, reason = list(self.tasks.values()), "User requested all tasks to restart"
        else:
            targets = [r for r in self.tasks.values() if r.state["State"] == "running"]
            reason = "User requested running tasks to restart"
        if not targets:
            raise TaskError("Task not running")
        for runner in targets:
            runner.restart(reason)

    def _targets(self, task: str) -> list[TaskRunner]:
        if not task:
            return list(self.tasks.values())
        if task not in self.tasks:
            raise TaskError("Task not found")
        return [self.tasks[task]]

    def task_changed(self, runner: TaskRunner) -> None:
        """A task's state moved: kill siblings of a failed task, then report."""
        state = runner.state
        if state["State"] == "dead" and state["Failed"]:
            for sibling in self.tasks.values():
                if sibling is not runner and sibling.state["State"] != "dead":
                    sibling.kill(reason=f"Sibling task {runner.task['Name']!r} failed")
        self.report()
        self.changed.set()

    def report(self) -> None:
        """Write task states and the derived client status to the store (a client update)."""
        if self.gone or self.alloc_id not in self.client.store.allocs:
            return
        alloc = self.alloc
        alloc["TaskStates"] = {name: runner.state for name, runner in self.tasks.items()}
        alloc["ClientStatus"], alloc["ClientDescription"] = client_status(alloc["TaskStates"])
        alloc["ModifyTime"] = now_ns()
        self.client.store.upsert_allocs([alloc])
        if structs.is_terminal(alloc) and not self._reported_terminal:
            self._reported_terminal = True
            self.client.on_alloc_terminal(alloc)

    # Deployment health (client/allochealth) ---------------------------------------

    def _watch_health(self) -> None:
        """Track health for the deployment (``update`` block) or, for a service outside a
        deployment, for a drain's migration (``migrate`` block), as the health hook does."""
        if self._health is not None:
            self._health.cancel()
        if self.deployment_id or self.job["Type"] == "service":
            self._health = asyncio.create_task(self._track_health(self.deployment_id))

    async def _track_health(self, deployment_id: str) -> None:
        block = self.group.get("Update" if deployment_id else "Migrate") or {}
        if deployment_id and block.get("HealthCheck") == "manual":  # the operator sets it
            return None
        min_healthy = setting(block, "MinHealthyTime", 10 * SECOND) / SECOND
        deadline = time.monotonic() + setting(block, "HealthyDeadline", 300 * SECOND) / SECOND
        watch_start = time.monotonic()
        while True:
            states = [r.state for r in self.tasks.values()]
            if self.stopping:
                return None
            if any(s["State"] == "dead" and s["Failed"] for s in states):
                return self._set_health(deployment_id, False)
            running_since = [r.running_since for r in self.tasks.values()]
            checks_since = (
                self.services.checks.passing_since()
                if (block.get("HealthCheck") or "checks") == "checks"
                else 0.0
            )
            if all(running_since) and checks_since is not None:
                healthy_at = max([watch_start, *running_since, checks_since]) + min_healthy
                remaining = healthy_at - time.monotonic()
                if remaining <= 0:
                    return self._set_health(deployment_id, True)
            else:
                remaining = deadline - time.monotonic()
            remaining = min(remaining, deadline - time.monotonic())
            if remaining <= 0:
                return self._set_health(deployment_id, False)
            self.changed.clear()
            await event_or_timeout(self.changed, remaining)

    def _set_health(self, deployment_id: str, healthy: bool) -> None:
        alloc = self.alloc
        if (alloc.get("DeploymentID") or "") != deployment_id:
            return
        if (alloc.get("DeploymentStatus") or {}).get("Healthy") is not None:
            return  # an operator set it first
        alloc["DeploymentStatus"] = {
            "Healthy": healthy,
            "Timestamp": rfc3339(now_ns()),
            "Canary": bool((alloc.get("DeploymentStatus") or {}).get("Canary")),
            "ModifyIndex": self.client.store.index + 1,
        }
        self.client.store.upsert_allocs([alloc])


def log_value(value: str) -> str:
    """A value in a log line as Nomad's logger writes it: quoted if it has spaces or quotes."""
    return json.dumps(value) if not value or any(c in value for c in ' "=\n') else value


def make_dirs(root: Path, subdirs: tuple[str, ...], *files: Path) -> None:
    """Create directories under ``root`` and empty files (run off the event loop: a slow
    disk must not stall the API)."""
    for sub in subdirs:
        (root / sub).mkdir(parents=True, exist_ok=True)
    for file in files:
        file.touch()


def client_status(task_states: dict) -> tuple[str, str]:
    """An allocation's ClientStatus from its tasks (client/allocrunner getClientStatus)."""
    states = task_states.values()
    if any(s["State"] == "dead" and s["Failed"] for s in states):
        return "failed", "Failed tasks"
    if any(s["State"] == "running" for s in states):
        return "running", "Tasks are running"
    if any(s["State"] == "pending" for s in states):
        return "pending", "No tasks have started"
    return "complete", "All tasks have completed"


class TaskRunner:
    """Runs one task through its life: setup, start, wait, restart or give up, kill."""

    def __init__(self, alloc_runner: AllocRunner, task: dict) -> None:
        self.alloc_runner = alloc_runner
        self.task = task
        self.state = structs.task_state()
        self.handle: TaskHandle | None = None
        self.templates = TaskTemplates(self)
        self.running_since: float | None = None
        self.kill_reason = ""
        self.kill_fails = False  # a kill that fails the task (a template that broke)
        self._killed = asyncio.Event()
        self._restart_requested = asyncio.Event()
        self._restarts_in_interval = 0
        self._interval_start = time.monotonic()

    async def vanish(self) -> None:
        """Kill the task's processes at once, as a machine's death would."""
        if self.handle is not None:
            await self.handle.kill(signal.SIGKILL, 1.0)

    def emit(self, event: dict, state: str | None = None, failed: bool | None = None) -> None:
        log.info(
            "client.alloc_runner.task_runner: Task event: alloc_id=%s task=%s type=%s msg=%s "
            "failed=%s",
            self.alloc_runner.alloc["ID"],
            log_value(self.task["Name"]),
            log_value(event["Type"]),
            log_value(event["DisplayMessage"]),
            "true" if event["FailsTask"] else "false",
        )
        self.state["Events"].append(event)
        if len(self.state["Events"]) > 10:
            del self.state["Events"][0]  # Nomad keeps the last 10 events
        if state is not None:
            self.state["State"] = state
        if failed is not None:
            self.state["Failed"] = failed
        self.alloc_runner.task_changed(self)

    def kill(self, reason: str = "") -> None:
        self.kill_reason = reason
        self._killed.set()

    def signal(self, name: str, reason: str | None = None) -> None:
        """``nomad alloc signal``: send a signal (by name, like SIGUSR1) to the task;
        ``reason`` is what the event shows when it is not a user's request."""
        number = getattr(signal, name, None)
        if not name.startswith("SIG") or not isinstance(number, int):
            # raw_exec's SignalTask: an unknown signal is sent as SIGINT, with a warning.
            log.warning("unknown signal to send to task, using SIGINT instead: signal=%s", name)
            number = signal.SIGINT
        if self.handle is None or self.state["State"] != "running":
            raise TaskError("Task not running")
        message = reason or f"Task being sent signal {name}"
        self.emit(task_event("Signaling", message, TaskSignal=name))
        self.handle.signal(number)

    def restart(self, reason: str) -> None:
        """``nomad alloc restart``: kill the task and start it again at once, outside the
        restart policy."""
        if self.handle is None or self.state["State"] != "running":
            raise TaskError("Task not running")
        self.emit(task_event("Restart Signaled", reason, RestartReason=reason))
        self._restart_requested.set()

    async def run(self) -> None:
        client = self.alloc_runner.client
        name = self.task["Name"]
        self.emit(task_event("Received", "Task received by client"))
        task_dir = self.alloc_runner.dir / name
        logs = self.alloc_runner.dir / "alloc" / "logs"
        stdout, stderr = logs / f"{name}.stdout.0", logs / f"{name}.stderr.0"
        await asyncio.to_thread(make_dirs, task_dir, ("local", "secrets", "tmp"), stdout, stderr)
        self.emit(task_event("Task Setup", "Building Task Directory"))
        try:
            write_dispatch_payload(self.alloc_runner.job, self.task, task_dir)
        except OSError as exc:
            message = f"failed to write dispatch payload: {exc}"
            self.emit(task_event("Setup Failure", message, SetupError=message, FailsTask=True),
                      state="dead", failed=True)  # fmt: skip
            return
        while not self._killed.is_set():
            alloc = self.alloc_runner.alloc
            env = task_environment(alloc, self.task, client.node, self.alloc_runner.dir)
            try:
                env.update(self.templates.prestart(env))
            except TemplateError as exc:
                self.template_failed(exc)
                return
            config = interpolate_config(self.task.get("Config") or {}, env, client.node)
            driver = client.drivers.get(self.task["Driver"])
            try:
                if driver is None:
                    raise DriverError(f'unknown driver "{self.task["Driver"]}"')
                self.handle = await driver.start(config, env, task_dir, stdout, stderr)
            except DriverError as exc:
                self.emit(task_event("Driver Failure", str(exc), DriverError=str(exc)))
                result = None
            else:
                self.state["StartedAt"] = rfc3339(now_ns())
                self.running_since = time.monotonic()
                self.emit(task_event("Started", "Task started by client"), state="running")
                self._register_services()
                result = await self._wait_or_kill()
                self.alloc_runner.services.deregister(name)
                self.running_since = None
                requested = self._restart_requested.is_set()
                self._restart_requested.clear()
                batch = self.alloc_runner.job["Type"] == "batch"
                done = result.successful and batch and not requested and not self._killed.is_set()
                if done:
                    self.state["FinishedAt"] = rfc3339(now_ns())
                self.emit(
                    terminated_event(result),
                    state="dead" if done else None,
                    failed=False if done else None,
                )
                if self._killed.is_set():
                    break
                if done:
                    return
                if requested:
                    self._restarting("User requested restart", delay=0.0)
                    continue
            if not await self._restart():
                return
        await self._finish_kill()

    def template_failed(self, error: TemplateError) -> None:
        """A template that cannot be rendered fails the task (no restart), as in Nomad."""
        self.templates.stop()
        message = f"Template failed: {error}"
        self.emit(task_event("Killing", message, KillReason=message, FailsTask=True))
        if self.state["State"] == "running":
            self.kill_fails = True
            self.kill(message)
            return
        self.state["FinishedAt"] = rfc3339(now_ns())
        self.emit(task_event("Killed", "Task successfully killed"), state="dead", failed=True)

    def _register_services(self) -> None:
        """The task's own services, registered once it runs (a failure is a task event)."""
        try:
            self.alloc_runner.services.register(self.task["Name"])
        except serviceregistration.ServiceError as exc:
            message = f'poststart hook "nomad_services" failed: {exc}'
            self.emit(task_event("Task hook failed", message))

    async def _wait_or_kill(self) -> ExitResult:
        assert self.handle is not None
        waiter = asyncio.ensure_future(self.handle.wait())
        killer = asyncio.ensure_future(self._killed.wait())
        restarter = asyncio.ensure_future(self._restart_requested.wait())
        await asyncio.wait({waiter, killer, restarter}, return_when=asyncio.FIRST_COMPLETED)
        killer.cancel()
        restarter.cancel()
        if waiter.done():
            return waiter.result()
        waiter.cancel()
        timeout = setting(self.task, "KillTimeout", 5 * SECOND) / SECOND
        kill_signal = getattr(signal, self.task.get("KillSignal") or "SIGINT", signal.SIGINT)
        if not self._killed.is_set():  # a user's restart: "Restart Signaled" said it already
            return await self.handle.kill(kill_signal, timeout)
        self.emit(
            task_event(
                "Killing",
                f"Sent interrupt. Waiting {format_duration(timeout)} before force killing",
                KillTimeout=int(timeout * SECOND),
                KillReason=self.kill_reason,
            )
        )
        return await self.handle.kill(kill_signal, timeout)

    async def _finish_kill(self) -> None:
        self.state["FinishedAt"] = rfc3339(now_ns())
        failed = self.kill_fails
        self.emit(task_event("Killed", "Task successfully killed"), state="dead", failed=failed)

    def _restarting(self, reason: str, delay: float) -> None:
        """Count a restart and say when it comes (the task is pending until then)."""
        self.state["Restarts"] += 1
        self.state["LastRestart"] = rfc3339(now_ns())
        self.emit(
            task_event(
                "Restarting",
                reason,
                f"Task restarting in {format_duration(delay)}",
                RestartReason=reason,
                StartDelay=int(delay * SECOND),
            ),
            state="pending",
        )

    async def _restart(self) -> bool:
        """Apply the restart policy after an exit; False when the task is done for good."""
        policy = self.alloc_runner.group.get("RestartPolicy") or {}
        attempts = setting(policy, "Attempts", 2)
        interval = setting(policy, "Interval", 1800 * SECOND) / SECOND
        delay = setting(policy, "Delay", 15 * SECOND) / SECOND
        now = time.monotonic()
        if now - self._interval_start > interval:
            self._interval_start, self._restarts_in_interval = now, 0
        self._restarts_in_interval += 1
        if self._restarts_in_interval > attempts:
            if policy.get("Mode") == "delay":
                delay = max(0.0, self._interval_start + interval - now)
                reason = "Exceeded allowed attempts, applying a delay"
                self._interval_start, self._restarts_in_interval = now + delay, 0
            else:
                message = (
                    f"Exceeded allowed attempts {attempts} in interval "
                    f'{format_duration(interval)} and mode is "fail"'
                )
                self.state["FinishedAt"] = rfc3339(now_ns())
                self.emit(
                    task_event("Not Restarting", message, FailsTask=True, RestartReason=message),
                    state="dead",
                    failed=True,
                )
                return False
        else:
            reason = "Restart within policy"
            delay += random.uniform(0, delay * 0.25)  # Nomad jitters restarts by up to 25%
        self._restarting(reason, delay)
        await event_or_timeout(self._killed, delay)
        return True


def write_dispatch_payload(job: dict, task: dict, task_dir: Path) -> None:
    """A dispatched job's payload into ``local/<dispatch_payload.file>`` (taskrunner's
    dispatch hook); the file never leaves the task's local directory."""
    file = (task.get("DispatchPayload") or {}).get("File")
    if not file or not job.get("Payload"):
        return
    local = (task_dir / "local").resolve()
    target = (local / file).resolve()
    if local not in target.parents:
        raise OSError(f"dispatch_payload file {file!r} escapes the task's local directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(base64.b64decode(job["Payload"]))


def terminated_event(result: ExitResult) -> dict:
    """The "Terminated" event: Message holds the driver's exit message (none for a process),
    DisplayMessage the exit code and signal (structs.TaskEvent.PopulateEventDisplayMessage)."""
    display = f"Exit Code: {result.exit_code}" + (
        f", Signal: {result.signal}" if result.signal else ""
    )
    return task_event("Terminated", "", display, ExitCode=result.exit_code, Signal=result.signal)


def setting(block: dict, key: str, default: int) -> int:
    """A policy's value where it is set (zero included), else Nomad's default."""
    value = block.get(key)
    return default if value is None else value


async def event_or_timeout(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; True if it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


def format_duration(seconds: float) -> str:
    """Go's time.Duration string: 5s, 1m30s, 30m0s, 15.25s."""
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s"
