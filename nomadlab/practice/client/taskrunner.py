"""The task runner: one task through its life (Nomad's
client/allocrunner/taskrunner task_runner.go): setup, start, wait, restarts per the group's
``restart`` block, signals, kill, and the task events that tell the story.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import signal
import time
from pathlib import Path

from nomadlab.contract import SECOND, format_duration
from nomadlab.practice import structs
from nomadlab.practice.client import interfaces, serviceregistration
from nomadlab.practice.client.allocdir import make_alloc_dirs, task_dirs, task_logs
from nomadlab.practice.client.drivers import DriverError, ExitResult, TaskHandle
from nomadlab.practice.client.interfaces import TaskError
from nomadlab.practice.client.taskenv import interpolate_config, task_environment
from nomadlab.practice.client.template_hook import TaskTemplates
from nomadlab.practice.structs import now_ns, rfc3339, task_event
from nomadlab.practice.templates import TemplateError

log = logging.getLogger("nomad.client")
WITHIN_POLICY = "Restart within policy"  # the one restart reason a Restarting event omits


class TaskRunner:
    """Runs one task through its life: setup, start, wait, restart or give up, kill."""

    def __init__(self, alloc_runner: interfaces.AllocRunner, task: dict) -> None:
        self.alloc_runner = alloc_runner
        self.task = task
        self.state = structs.task_state()
        self.handle: TaskHandle | None = None
        self.templates = TaskTemplates(self)
        self.running_since: float | None = None
        self.kill_fails = False  # a kill that fails the task (a template that broke)
        self.exited = asyncio.Event()  # run() has returned (Nomad's WaitCh)
        self._killed = asyncio.Event()
        self._restart_requested = asyncio.Event()
        self._restart_failure = False
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

    def kill(self, event: dict | None = None, fails: bool = False) -> None:
        """Kill the task for good (TaskRunner.Kill): no more restarts; ``event`` says why
        (it is recorded even on a task already dead, as Nomad records it)."""
        self.kill_fails = self.kill_fails or fails
        self._killed.set()
        if event is not None:
            self.emit(event)

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

    def restart(self, reason: str, failure: bool = False) -> None:
        """Kill the task and start it again: at once for a user's request (``nomad alloc
        restart``), through the restart policy for a ``failure`` (a check_restart)."""
        if self.handle is None or self.state["State"] != "running":
            raise TaskError("Task not running")
        self.emit(task_event("Restart Signaled", reason, RestartReason=reason))
        self._restart_failure = failure
        self._restart_requested.set()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.exited.set()

    async def _run(self) -> None:
        client = self.alloc_runner.client
        name = self.task["Name"]
        self.emit(task_event("Received", "Task received by client"))
        task_dir = self.alloc_runner.dir / name
        dirs = task_dirs(self.alloc_runner.dir, name) if self.alloc_runner.dirs_at_start else []
        stdout, stderr = task_logs(self.alloc_runner.dir, name)
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
                self.handle = await driver.start(config, env, task_dir, stdout, stderr, dirs)
            except DriverError as exc:
                if dirs:  # the task never reached the watchdog: its directories, as Nomad's
                    await asyncio.to_thread(make_alloc_dirs, self.alloc_runner.dir, [name])
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
                requested = self._restart_requested.is_set() and not self._restart_failure
                self._restart_requested.clear()
                self._restart_failure = False
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
                if requested:  # the restart tracker's restartTriggered: no reason, no delay
                    self._restarting("", delay=0.0)
                    continue
            if not await self._restart():
                return
        await self._finish_kill()

    def template_failed(self, error: TemplateError) -> None:
        """A template that cannot be rendered fails the task (no restart), as in Nomad."""
        self.templates.stop()
        message = f"Template failed: {error}"
        event = task_event("Killing", message, KillReason=message, FailsTask=True)
        if self.state["State"] == "running":
            self.kill(event, fails=True)
            return
        self.emit(event)
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
        # The pre-kill hooks: the task's services leave before it is signalled.
        self.alloc_runner.services.deregister(self.task["Name"])
        if self._killed.is_set() and await self._shutdown_delay(waiter):
            return waiter.result()
        waiter.cancel()
        timeout = setting(self.task, "KillTimeout", 5 * SECOND) / SECOND
        kill_signal = getattr(signal, self.task.get("KillSignal") or "SIGINT", signal.SIGINT)
        return await self.handle.kill(kill_signal, timeout)

    async def _shutdown_delay(self, waiter: asyncio.Future) -> bool:
        """Wait out the task's ``shutdown_delay`` before the kill (handleKill), the task
        pending meanwhile; True if the task exited on its own in the meantime."""
        delay = setting(self.task, "ShutdownDelay", 0)
        if not delay:
            return False
        message = f"Waiting for shutdown_delay of {format_duration(delay)} before killing the task."
        self.emit(task_event("Waiting for shutdown delay", message), state="pending")
        await asyncio.wait({waiter}, timeout=delay / SECOND)
        return waiter.done()

    async def _finish_kill(self) -> None:
        self.state["FinishedAt"] = rfc3339(now_ns())
        failed = self.kill_fails
        self.emit(task_event("Killed", "Task successfully killed"), state="dead", failed=failed)

    def _restarting(self, reason: str, delay: float) -> None:
        """Count a restart and say when it comes (the task is pending until then)."""
        self.state["Restarts"] += 1
        self.state["LastRestart"] = rfc3339(now_ns())
        display = f"Task restarting in {format_duration(delay * SECOND)}"
        if reason and reason != WITHIN_POLICY:
            display = f"{reason} - {display}"
        self.emit(
            task_event(
                "Restarting",
                reason,
                display,
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
                    f'{format_duration(interval * SECOND)} and mode is "fail"'
                )
                self.state["FinishedAt"] = rfc3339(now_ns())
                self.emit(
                    task_event("Not Restarting", message, FailsTask=True, RestartReason=message),
                    state="dead",
                    failed=True,
                )
                return False
        else:
            reason = WITHIN_POLICY
            delay += random.uniform(0, delay * 0.25)  # Nomad jitters restarts by up to 25%
        self._restarting(reason, delay)
        await event_or_timeout(self._killed, delay)
        return True


def log_value(value: str) -> str:
    """A value in a log line as Nomad's logger writes it: quoted if it has spaces or quotes."""
    return json.dumps(value) if not value or any(c in value for c in ' "=\n') else value


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
