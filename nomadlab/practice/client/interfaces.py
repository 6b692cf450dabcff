"""What the runners' hooks may use of the runners, and the errors both sides raise.

As Nomad's ``client/allocrunner/interfaces`` and ``taskrunner/interfaces``: the alloc and
task runners import their hooks (service registration, checks, templates) and the hooks
import only this module, so no hook imports a runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from nomadlab.practice.state import StateStore
from nomadlab.practice.templates import TemplateError


class TaskError(Exception):
    """A request a task cannot honour now ("Task not running", "Task not found")."""


class Client(Protocol):
    """The node an allocation runs on, as its hooks see it."""

    @property
    def store(self) -> StateStore: ...

    @property
    def node(self) -> dict: ...


class TaskRunner(Protocol):
    """One task's runner, as its hooks (and the alloc runner's) drive it."""

    @property
    def task(self) -> dict: ...

    @property
    def alloc_runner(self) -> AllocRunner: ...

    def restart(self, reason: str) -> None:
        """Kill the task and start it again (TaskError when it is not running)."""

    def signal(self, name: str, reason: str | None = None) -> None:
        """Send the task a signal by name (TaskError when it is not running)."""

    def template_failed(self, error: TemplateError) -> None:
        """A template can no longer be rendered: fail the task."""


class AllocRunner(Protocol):
    """One allocation's runner, as its hooks see it."""

    @property
    def client(self) -> Client: ...

    @property
    def alloc_id(self) -> str: ...

    @property
    def alloc(self) -> dict: ...

    @property
    def group(self) -> dict: ...

    @property
    def dir(self) -> Path: ...

    @property
    def tasks(self) -> Mapping[str, TaskRunner]: ...

    @property
    def changed(self) -> asyncio.Event:
        """Set whenever something health tracking watches has moved."""
