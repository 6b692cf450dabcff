"""The task runner's template hook (client/allocrunner/taskrunner/template): render a
task's ``template`` blocks before it starts, re-render them when the service registry
changes, and apply each template's ``change_mode`` (restart, signal, noop) after a random
``splay``. ``env = true`` templates become task environment variables.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from pathlib import Path

from nomadlab.contract import SECOND
from nomadlab.practice import services
from nomadlab.practice.client.interfaces import TaskError, TaskRunner
from nomadlab.practice.client.taskenv import interpolate
from nomadlab.practice.templates import Template, TemplateError, parse_env

log = logging.getLogger("nomad.client.template")

RESTART_REASON = "Template with change_mode restart re-rendered"
SIGNAL_REASON = "Template re-rendered"


class RegistrySources:
    """What a task's templates read: the server's registrations and the task's environment."""

    def __init__(self, runner: TaskRunner, env: dict[str, str]) -> None:
        self.store = runner.alloc_runner.client.store
        self.namespace = runner.alloc_runner.alloc["Namespace"]
        self.environment = env

    def service(self, name: str, namespace: str, choose: str) -> list[dict]:
        return services.by_name(self.store, namespace or self.namespace, name, "", choose)

    def services(self, namespace: str) -> list[dict]:
        listed = services.list_stubs(self.store, namespace or self.namespace)
        return [s for stub in listed for s in stub["Services"]]

    def env(self, name: str) -> str:
        return self.environment.get(name, "")


class TaskTemplates:
    """One task's templates: their last output, the variables of ``env`` templates, and the
    watch that re-renders them."""

    def __init__(self, runner: TaskRunner) -> None:
        self.runner = runner
        self.rendered: dict[int, str] = {}
        self.env: dict[str, str] = {}
        self._base_env: dict[str, str] = {}
        self._watch: asyncio.Task | None = None
        self._pending_change: asyncio.Task | None = None

    @property
    def templates(self) -> list[dict]:
        return self.runner.task.get("Templates") or []

    def prestart(self, env: dict[str, str]) -> dict[str, str]:
        """Render every template before the task starts; the variables of ``env``
        templates. TemplateError when one cannot be rendered or written."""
        self._base_env = env
        self.render_all()
        if self.templates and self._watch is None:
            self._watch = asyncio.create_task(self._watch_registry())
        return dict(self.env)

    def stop(self) -> None:
        for task in (self._watch, self._pending_change):
            if task is not None:
                task.cancel()
        self._watch = self._pending_change = None

    def render_all(self) -> list[dict]:
        """Render and write each template; the templates whose output changed."""
        changed = []
        env: dict[str, str] = {}
        sources = RegistrySources(self.runner, self._base_env)
        for number, spec in enumerate(self.templates):
            output = self._render(spec, sources)
            if spec.get("Envvars"):
                env.update(parse_env(output))
            if self.rendered.get(number) != output:
                self._write(spec, output)
                if number in self.rendered:
                    changed.append(spec)
                self.rendered[number] = output
        self.env = env
        return changed

    def _render(self, spec: dict, sources: RegistrySources) -> str:
        text = spec.get("EmbeddedTmpl") or ""
        if spec.get("SourcePath"):
            source = self._inside_alloc(spec["SourcePath"], "source")
            try:
                text = source.read_text()
            except OSError as exc:
                raise TemplateError(f"failed to read template source: {exc.strerror}") from exc
        name = spec.get("DestPath") or "template"
        return Template(
            text, name, spec.get("LeftDelim") or "", spec.get("RightDelim") or ""
        ).render(sources)

    def _inside_alloc(self, path: str, what: str) -> Path:
        """A template path, relative to the task directory, that stays in the allocation."""
        alloc_dir = self.runner.alloc_runner.dir.resolve()
        node = self.runner.alloc_runner.client.node
        target = (
            self.runner.alloc_runner.dir
            / self.runner.task["Name"]
            / interpolate(path, self._base_env, node)
        ).resolve()
        if target != alloc_dir and alloc_dir not in target.parents:
            raise TemplateError(f"template {what} path {path!r} escapes the allocation directory")
        return target

    def _write(self, spec: dict, output: str) -> None:
        destination = self._inside_alloc(spec.get("DestPath") or "", "destination")
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            temporary = destination.with_name(f".{destination.name}.tmp")
            temporary.write_text(output)
            os.chmod(temporary, int(spec.get("Perms") or "0644", 8))
            temporary.replace(destination)  # readers never see half a file
        except (OSError, ValueError) as exc:
            raise TemplateError(f"failed writing template {spec.get('DestPath')!r}: {exc}") from exc

    async def _watch_registry(self) -> None:
        """Re-render on every registry change, as consul-template's blocking queries do."""
        store = self.runner.alloc_runner.client.store
        index = store.max_index([services.TABLE])
        while True:
            index = await store.wait([services.TABLE], index, 300)
            try:
                changed = self.render_all()
            except TemplateError as exc:
                self.runner.template_failed(exc)
                return
            if changed:
                self._schedule(changed)

    def _schedule(self, changed: list[dict]) -> None:
        """Apply the change modes after the largest splay (one action for many changes)."""
        if self._pending_change is not None and not self._pending_change.done():
            return  # the pending action will see the latest render
        splay = max((t.get("Splay") or 0) for t in changed) / SECOND
        self._pending_change = asyncio.create_task(self._apply(changed, random.uniform(0, splay)))

    async def _apply(self, changed: list[dict], delay: float) -> None:
        await asyncio.sleep(delay)
        modes = {t.get("ChangeMode") or "restart" for t in changed}
        try:
            if "restart" in modes:
                self.runner.restart(RESTART_REASON)
            elif "signal" in modes:
                for name in sorted({t.get("ChangeSignal") or "SIGHUP" for t in changed}):
                    self.runner.signal(name, SIGNAL_REASON)
        except TaskError as exc:
            # Not running (restarting, say): it starts again with the new render anyway.
            log.info("template change of %s not applied: %s", self.runner.task["Name"], exc)
