"""The alloc runner: one allocation's directory, its task runners, its services and its
health (Nomad's client/allocrunner alloc_runner.go, with the health hook and allochealth's
tracker), and the client status it reports.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from nomadlab.contract import format_duration
from nomadlab.practice.client import interfaces, serviceregistration
from nomadlab.practice.client.allocdir import make_alloc_dirs
from nomadlab.practice.client.interfaces import TaskError
from nomadlab.practice.client.taskrunner import SECOND, TaskRunner, event_or_timeout, setting
from nomadlab.practice.structs import now_ns, rfc3339, task_event

log = logging.getLogger("nomad.client.alloc_runner")


class AllocRunner:
    """Runs one allocation: its directory, its tasks, its health, its client status."""

    def __init__(self, client: interfaces.Client, alloc_id: str) -> None:
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
        # Nothing is written into a task's directories before it runs (no template, no
        # dispatch payload): the watchdog builds them with each task's start, in the hop
        # that starts it, instead of one more hop to a thread first.
        self.dirs_at_start = not any(writes_before_start(self.job, t) for t in self.group["Tasks"])
        self._main: asyncio.Task | None = None
        self._health: asyncio.Task | None = None
        self._killer: asyncio.Task | None = None
        self._kill_event_sent = False
        self._restarting: asyncio.Task | None = None
        self.reported_terminal = False  # the client has told the server it is terminal
        self._verdict: tuple[str, bool, str] | None = None  # health, not yet sent
        self.gone = False

    @property
    def alloc(self) -> dict:
        return self.client.store.allocs[self.alloc_id]

    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"alloc-{self.alloc_id[:8]}")
        self._watch_health()

    async def _run(self) -> None:
        if not self.dirs_at_start:
            await asyncio.to_thread(make_alloc_dirs, self.dir, list(self.tasks))
        try:
            self.services.register(None)
        except serviceregistration.ServiceError as exc:
            self._kill_event_sent = True  # every task fails at once: no live sibling to tell
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
            self._kill_tasks()

    def _kill_tasks(self) -> None:
        """Kill every task once (killTasks), however many reasons come."""
        if self._killer is None:
            self._killer = asyncio.create_task(self._kill_all(), name=f"kill-{self.alloc_id[:8]}")

    async def _kill_all(self) -> None:
        """The pre-kill hooks (the group's services leave, its ``shutdown_delay`` passes), then
        the leader, waited for, then the other tasks at once; each gets a "Killing" event."""
        await self._pre_kill()
        leader = next((r for r in self.tasks.values() if r.task.get("Leader")), None)
        if leader is not None:
            leader.kill(killing_event(leader.task))
            exited = asyncio.ensure_future(leader.exited.wait())
            assert self._main is not None
            await asyncio.wait({exited, self._main}, return_when=asyncio.FIRST_COMPLETED)
            exited.cancel()
        for runner in self.tasks.values():
            if runner is not leader:
                runner.kill(killing_event(runner.task))

    async def _pre_kill(self) -> None:
        """The group service hook's PreKill: deregister the group's services, then wait the
        group's ``shutdown_delay`` so that whoever looked them up can drain."""
        self.services.deregister(None)
        delay = setting(self.group, "ShutdownDelay", 0)
        if delay:
            await asyncio.sleep(delay / SECOND)

    async def vanish(self) -> None:
        """Die with the node: no more reports, every task process killed (SIGKILL)."""
        self.gone = True
        for task in (self._main, self._health, self._killer, self._restarting):
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

    def restart_tasks(self, reason: str) -> None:
        """A group service's check_restart (the alloc runner as WorkloadRestarter): the group
        services re-register, then every running task restarts through its restart policy."""
        if self.stopping or self._killer is not None:
            log.debug("restart of an alloc that should not run: alloc_id=%s", self.alloc_id)
            return
        if self._restarting is None or self._restarting.done():
            self._restarting = asyncio.create_task(self._restart_tasks(reason))

    async def _restart_tasks(self, reason: str) -> None:
        await self._pre_kill()  # the task restart hook: PreKill, then register again
        if self.stopping or self._killer is not None:
            return
        try:
            self.services.register(None)
        except serviceregistration.ServiceError as exc:
            log.warning("group services of %s not registered: %s", self.alloc_id[:8], exc)
        for runner in self.tasks.values():
            try:
                runner.restart(reason, failure=True)
            except TaskError:
                continue  # a task not running is not restarted

    def _targets(self, task: str) -> list[TaskRunner]:
        if not task:
            return list(self.tasks.values())
        if task not in self.tasks:
            raise TaskError("Task not found")
        return [self.tasks[task]]

    def task_changed(self, runner: TaskRunner) -> None:
        """A task's state moved: take the group down if it died in a way that ends it, then
        report."""
        self._kill_on_task_death()
        self.report()
        self.changed.set()

    def _kill_on_task_death(self) -> None:
        """handleTaskStateUpdates: a failed task ("Sibling Task Failed") or a dead leader
        ("Leader Task Dead", which wins) has the live tasks told why, then all killed."""
        if self._kill_event_sent:
            return
        kill_event, live = None, []
        for name, runner in self.tasks.items():
            if runner.state["State"] != "dead":
                live.append(runner)
            elif runner.state["Failed"]:
                kill_event = kill_event or task_event(
                    "Sibling Task Failed",
                    f"Task's sibling {json.dumps(name)} failed",
                    FailedSibling=name,
                )
            elif runner.task.get("Leader"):
                kill_event = task_event("Leader Task Dead", "Leader Task in Group dead")
        if kill_event is None or not live:
            return
        self._kill_event_sent = True
        for runner in live:
            runner.emit(dict(kill_event))
        self._kill_tasks()

    def report(self) -> None:
        """Have the client send this allocation's state with its next batch of updates."""
        self.client.alloc_updated(self)

    def client_update(self) -> dict | None:
        """The allocation with its task states and the client status they make, as the
        client sends it to the server; None once the server has collected it."""
        if self.gone or self.alloc_id not in self.client.store.allocs:
            return None
        alloc = self.alloc
        alloc["TaskStates"] = {name: runner.state for name, runner in self.tasks.items()}
        alloc["ClientStatus"], alloc["ClientDescription"] = client_status(alloc["TaskStates"])
        alloc["ModifyTime"] = now_ns()
        if self._verdict is not None:
            (deployment_id, healthy, at), self._verdict = self._verdict, None
            if awaits_verdict(alloc, deployment_id):
                alloc["DeploymentStatus"] = {
                    "Healthy": healthy,
                    "Timestamp": at,
                    "Canary": bool((alloc.get("DeploymentStatus") or {}).get("Canary")),
                    "ModifyIndex": self.client.store.index + 1,
                }
        return alloc

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
        """The health hook's verdict, sent with the allocation's next update (as Nomad's
        client sends DeploymentStatus with the client status it follows from)."""
        if awaits_verdict(self.alloc, deployment_id):
            self._verdict = (deployment_id, healthy, rfc3339(now_ns()))
            self.report()


def awaits_verdict(alloc: dict, deployment_id: str) -> bool:
    """The allocation is still in ``deployment_id`` and nobody has set its health yet (an
    operator may, through the API, before the health hook does)."""
    return (alloc.get("DeploymentID") or "") == deployment_id and (
        alloc.get("DeploymentStatus") or {}
    ).get("Healthy") is None


def writes_before_start(job: dict, task: dict) -> bool:
    """The task's prestart hooks write into its directory: templates, a dispatch payload."""
    payload = job.get("Payload") and (task.get("DispatchPayload") or {}).get("File")
    return bool(task.get("Templates") or payload)


def killing_event(task: dict) -> dict:
    """The "Killing" event the alloc runner sends each task it kills: its kill timeout."""
    timeout = setting(task, "KillTimeout", 5 * SECOND)
    message = f"Sent interrupt. Waiting {format_duration(timeout)} before force killing"
    return task_event("Killing", message, KillTimeout=timeout)


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
