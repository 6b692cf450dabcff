"""What the runners and their hooks may use of each other, and the errors both sides raise.

As Nomad's ``client/interfaces``, ``client/allocrunner/interfaces`` and
``taskrunner/interfaces``: the client imports the alloc runner, which imports the task
runner, and each imports its hooks (service registration, checks, templates); the hooks, and
a runner looking back up at what runs it, see only these protocols, so nothing imports
upwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from nomadlab.practice.state import StateStore
from nomadlab.practice.templates import TemplateError


class TaskError(Exception):
    """A request a task cannot honour now ("Task not running", "Task not found")."""


class Client(Protocol):
    """The node an allocation runs on, as its runners and hooks see it."""

    @property
    def store(self) -> StateStore: ...

    @property
    def node(self) -> dict: ...

    @property
    def drivers(self) -> dict: ...

    @property
    def on_alloc_terminal(self) -> Callable[[dict], None]:
        """Told once when an allocation it runs has become terminal."""

    def alloc_dir(self, alloc_id: str) -> Path: ...

    def alloc_updated(self, runner: AllocRunner) -> None:
        """Send ``runner``'s allocation state to the server with the next batch."""


class ServiceHooks(Protocol):
    """An allocation's service registration, as its task runners drive it."""

    def register(self, task_name: str | None) -> None: ...

    def deregister(self, task_name: str | None) -> None: ...


class TaskRunner(Protocol):
    """One task's runner, as its hooks (and the alloc runner's) drive it."""

    @property
    def task(self) -> dict: ...

    @property
    def alloc_runner(self) -> AllocRunner: ...

    def restart(self, reason: str, failure: bool = False) -> None:
        """Kill the task and start it again, through the restart policy for a ``failure``
        (TaskError when it is not running)."""

    def signal(self, name: str, reason: str | None = None) -> None:
        """Send the task a signal by name (TaskError when it is not running)."""

    def template_failed(self, error: TemplateError) -> None:
        """A template can no longer be rendered: fail the task."""


class AllocRunner(Protocol):
    """One allocation's runner, as its task runners and hooks see it."""

    @property
    def client(self) -> Client: ...

    @property
    def alloc_id(self) -> str: ...

    @property
    def alloc(self) -> dict: ...

    @property
    def job(self) -> dict: ...

    @property
    def group(self) -> dict: ...

    @property
    def dir(self) -> Path: ...

    @property
    def dirs_at_start(self) -> bool:
        """Each task's directories are built with its start (none built beforehand)."""

    @property
    def tasks(self) -> Mapping[str, TaskRunner]: ...

    @property
    def changed(self) -> asyncio.Event:
        """Set whenever something health tracking watches has moved."""

    @property
    def services(self) -> ServiceHooks: ...

    @property
    def reported_terminal(self) -> bool:
        """The client has told the server the allocation is terminal."""

    def client_update(self) -> dict | None:
        """The allocation as the client sends it to the server (None once collected)."""

    def task_changed(self, runner: TaskRunner) -> None:
        """A task's state moved: react, then report it."""

    def restart_tasks(self, reason: str) -> None:
        """A group check's check_restart: restart every running task as a failure."""
