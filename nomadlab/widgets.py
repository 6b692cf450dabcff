"""ipywidgets panels: scale a job with a slider and watch the deployment that follows.

``scale_panel(lab, job)`` shows a count slider, an Apply button, the deployment's progress
(Desired, Placed, Healthy, Unhealthy) and the job's allocations. Apply sends one request,
``nomad job scale``'s ``POST /v1/job/:id/scale``; then two background threads hold blocking
queries, one following the evaluation and its deployment (with :class:`~nomadlab.monitor.
Monitor`), one the job's allocations, and update the widgets whenever the agent answers.
Both stop when the deployment ends or the panel is closed.

It works without a browser too: ``panel.slider.value = 3; panel.apply(); panel.wait()``.
"""

from __future__ import annotations

import contextlib
import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from nomadlab.capacity import MAX_COUNT, Room, room
from nomadlab.command.helpers import limit
from nomadlab.errors import NomadLabError, PlacementFailed, api_errors
from nomadlab.monitor import Monitor, Outcome
from nomadlab.plots import STATUS_COLORS
from nomadlab.recording import TERMINAL, Background
from nomadlab.results import Table, allocation_table
from nomadlab.terminal import Ui

if TYPE_CHECKING:
    from nomadlab.lab import Lab

BARS = ("Desired", "Placed", "Healthy", "Unhealthy")
_BAR_COLORS = {
    "Desired": STATUS_COLORS["desired"],
    "Placed": STATUS_COLORS["placed"],
    "Healthy": STATUS_COLORS["healthy"],
    "Unhealthy": STATUS_COLORS["unhealthy"],
}
_SMALL = "color:#555;font-size:0.85em;line-height:1.35;margin:2px 0"
_COLUMNS = ["ID", "Node ID", "Version", "Desired", "Status", "Created", "Modified"]
_STATUS_COLORS = {"successful": STATUS_COLORS["healthy"], "failed": STATUS_COLORS["failed"],
                  "cancelled": STATUS_COLORS["complete"]}  # fmt: skip


# -- following the evaluation and deployment ---------------------------------------------------


class _Follower(Monitor):
    """Monitor's evaluation and deployment following, on a Background's client, reporting
    every deployment it reads to ``on_deployment``."""

    def __init__(self, background: Background, on_deployment: Any) -> None:
        super().__init__(background.nomad, background.address, Ui(), wait=background.wait)
        self.background = background
        self.on_deployment = on_deployment

    def _get(self, endpoint: Any, *path: str, index: int = 0, wait: bool = True) -> tuple[Any, int]:
        data, new_index = self.background.get(endpoint, *path, index=index)
        if getattr(endpoint, "ENDPOINT", "") == "deployment" and isinstance(data, dict):
            self.on_deployment(data)
        return data, new_index


# -- the panel ---------------------------------------------------------------------------------


class ScalePanel(widgets.VBox):
    """A count slider and Apply button for one task group, with live deployment progress
    and the group's allocations. ``apply()`` and ``wait()`` drive it from code."""

    def __init__(self, lab: Lab, job: str, group: str | None = None, *,
                 cap: int = MAX_COUNT) -> None:  # fmt: skip
        """Build the panel for ``job`` (an ID or prefix) and ``group`` (needed if several)."""
        self.lab = lab
        self.job = lab.job_id(job)
        with self._api():
            spec = lab.nomad.job.get_job(self.job)
            latest = lab.nomad.job.get_deployment(self.job)
            stubs = lab.nomad.job.get_allocations(self.job)
        groups = [g.get("Name", "") for g in spec.get("TaskGroups") or []]
        self.group = group = lab.choose_group(
            self.job, groups, group, f'scale_panel(lab, "{self.job}", group="{{group}}")'
        )
        self.room = room(lab, spec, group, cap)
        count = next(g.get("Count", 1) for g in spec["TaskGroups"] if g.get("Name") == group)
        self.deployment: dict[str, Any] | None = None
        self.allocations: list[dict[str, Any]] = stubs
        self.rows = allocation_table([])  # the table's rows (results.Table)
        self.outcome: Outcome | None = None
        self.error: NomadLabError | None = None
        self._lock = threading.RLock()
        self._background: Background | None = None
        self._done = threading.Event()
        self._done.set()

        why = self.room.describe()
        self.slider = widgets.IntSlider(
            value=max(1, min(count, self.room.maximum)),
            min=1,
            max=max(self.room.maximum, count),
            description="count",
            continuous_update=False,
            tooltip=why,
            layout=widgets.Layout(width="420px"),
        )
        self.button = widgets.Button(
            description="Apply",
            button_style="primary",
            icon="check",
            tooltip=f"POST /v1/job/{self.job}/scale with the slider's count",
        )
        self.command = widgets.HTML()
        self.capacity = widgets.HTML(f"<div style='{_SMALL}'>{html.escape(why)}</div>")
        self.status = widgets.HTML()
        self.bars = {
            name: widgets.IntProgress(
                value=0,
                min=0,
                max=1,
                description=name,
                style={"bar_color": _BAR_COLORS[name], "description_width": "80px"},
                layout=widgets.Layout(width="420px"),
            )
            for name in BARS
        }
        self.numbers = {name: widgets.Label("") for name in BARS}
        self.table = widgets.HTML(layout=widgets.Layout(max_height="320px", overflow="auto"))

        self.slider.observe(self._slid, names="value")
        self.button.on_click(self._clicked)
        title = widgets.HTML(
            f"<b>{html.escape(self.job)}</b> · task group <code>{html.escape(group)}</code>"
        )
        rows = [widgets.HBox([self.bars[n], self.numbers[n]]) for n in BARS]
        super().__init__(
            children=[
                title,
                widgets.HBox([self.slider, self.button]),
                self.command,
                self.capacity,
                self.status,
                *rows,
                self.table,
            ]
        )
        self._slid()
        self._show_allocations(stubs)
        if latest:
            self._show_deployment(latest)
        else:
            self._set_status("No deployment yet.")

    def __repr__(self) -> str:
        return f"<ScalePanel {self.job!r} group {self.group!r}, count slider 1–{self.slider.max}>"

    def _api(self) -> Any:
        return api_errors(self.lab.address, bool(self.lab.nomad.token))

    # -- what the learner (or a test) calls ----------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a scale's evaluation or deployment is being followed."""
        return not self._done.is_set()

    def apply(self) -> None:
        """Scale the group to the slider's value, as ``nomad job scale JOB GROUP N`` does, and
        follow the deployment in the background. Returns at once; :meth:`wait` waits."""
        if self.busy:
            raise NomadLabError(
                f'Job "{self.job}" is still deploying the last scale; panel.wait() waits for it.'
            )
        count = int(self.slider.value)
        try:
            response = self.lab.submit_scale(
                self.job, self.group, count, "submitted using the nomadlab scale panel",
                "Wait for the current deployment to finish and apply again.",
            )  # fmt: skip
        except NomadLabError as exc:
            self._set_status(str(exc), color=STATUS_COLORS["failed"])
            raise
        self.deployment, self.outcome, self.error = None, None, None
        eval_id = response.get("EvalID", "")
        if not eval_id:
            self._set_status(f"Count is {count}; Nomad had nothing to do.")
            return
        self._set_status(f'Scaling to {count}: evaluation "{limit(eval_id)}" pending…')
        self._done.clear()
        self._enable(False)
        background = self._background = Background(self.lab.agent)
        background.start(lambda: self._follow(background, eval_id), f"scale {self.job}")
        background.start(lambda: self._follow_allocations(background), f"allocs {self.job}")

    def wait(self, timeout: float | None = 300.0) -> dict[str, Any] | None:
        """Wait for the last :meth:`apply` to finish; return the final deployment (or None).

        Raises PlacementFailed when the scheduler could not place every allocation, and
        NomadLabError if it is still deploying after ``timeout`` seconds.
        """
        if not self._done.wait(timeout):
            raise NomadLabError(
                f'Job "{self.job}" is still deploying after {timeout:g}s; the panel keeps '
                "following it (panel.wait() again, or lab.status to look)."
            )
        if self._background is not None:
            for thread in self._background.threads:
                thread.join(10)
        if self.error is not None:
            raise self.error
        return self.deployment

    def close(self) -> None:
        """Stop following (if it still does) and close the widgets."""
        self._stop()
        super().close()

    # -- background threads --------------------------------------------------------------------

    def _follow(self, background: Background, eval_id: str) -> None:
        try:
            follower = _Follower(background, self._show_deployment)
            outcome = self.outcome = follower.monitor(eval_id)
            evaluation = outcome.evaluation
            if outcome.failed_allocs:
                job, _ = background.get(background.nomad.job, self.job)
                self.error = PlacementFailed(self.lab._placement_advice(job, outcome))
                self._set_status(str(self.error), color=STATUS_COLORS["failed"])
            elif evaluation.get("Status") != "complete":
                reason = evaluation.get("StatusDescription") or "no reason given"
                self.error = NomadLabError(
                    f'Evaluation "{limit(eval_id)}" ended "{evaluation.get("Status")}": {reason}.'
                )
                self._set_status(str(self.error), color=STATUS_COLORS["failed"])
            elif outcome.deployment:
                self.deployment = outcome.deployment
                self._show_deployment(outcome.deployment)
            else:
                self._set_status(f'Evaluation "{limit(eval_id)}" complete; no deployment.')
            stubs, _ = background.get(background.nomad.job, self.job, "allocations")
            self._show_allocations(stubs)
        except NomadLabError as exc:
            if not background.stopping.is_set():
                self.error = exc
                self._set_status(str(exc), color=STATUS_COLORS["failed"])
        except Exception as exc:  # never leave the panel busy on a surprise
            self.error = NomadLabError(f"Following the scale failed: {type(exc).__name__}: {exc}")
        finally:
            try:
                background.stop()
            finally:  # whatever stopping raised (kept in background.errors), the panel is free
                self._enable(True)
                self._done.set()

    def _follow_allocations(self, background: Background) -> None:
        index = 1
        while True:
            stubs, index = background.get(background.nomad.job, self.job, "allocations",
                                          index=index)  # fmt: skip
            self._show_allocations(stubs)

    def _stop(self) -> None:
        background = getattr(self, "_background", None)  # None if __init__ failed
        if background is not None:
            background.stop()
            for thread in background.threads:
                thread.join(10)

    # -- drawing ---------------------------------------------------------------------------------

    def _slid(self, change: Any = None) -> None:
        command = f"nomad job scale {self.job} {self.group} {self.slider.value}"
        self.command.value = f"<code style='color:#555'>$ {html.escape(command)}</code>"

    def _clicked(self, button: Any = None) -> None:
        with contextlib.suppress(NomadLabError):  # apply() has shown it in the panel
            self.apply()

    def _enable(self, enabled: bool) -> None:
        with self._lock:
            self.slider.disabled = not enabled
            self.button.disabled = not enabled

    def _set_status(self, text: str, color: str = "#333") -> None:
        with self._lock:
            self.status.value = f"<span style='color:{color}'>{html.escape(text)}</span>"

    def _show_deployment(self, deployment: dict[str, Any]) -> None:
        state = (deployment.get("TaskGroups") or {}).get(self.group) or {}
        values = {
            "Desired": state.get("DesiredTotal", 0),
            "Placed": state.get("PlacedAllocs", 0),
            "Healthy": state.get("HealthyAllocs", 0),
            "Unhealthy": state.get("UnhealthyAllocs", 0),
        }
        top = max(1, values["Desired"], *values.values())
        status = deployment.get("Status", "")
        mark = {"successful": "✓ ", "failed": "! ", "cancelled": "! "}.get(status, "")
        text = (
            f'{mark}Deployment "{limit(deployment.get("ID", ""))}" {status}: '
            f"{deployment.get('StatusDescription', '')}"
        )
        with self._lock:
            for name, value in values.items():
                self.bars[name].max = top
                self.bars[name].value = value
                self.numbers[name].value = str(value) if name == "Desired" else f"{value} / {top}"
            self._set_status(text, _STATUS_COLORS.get(status, "#333"))

    def _show_allocations(self, stubs: list[dict[str, Any]]) -> None:
        """The group's allocations Nomad wants running, plus ones still stopping; newest first."""
        mine = [a for a in stubs if a.get("TaskGroup") == self.group]
        shown = [a for a in mine if a.get("DesiredStatus") == "run"
                 or a.get("ClientStatus") not in TERMINAL]  # fmt: skip
        hidden = len(mine) - len(shown)
        table = allocation_table(shown)
        note = (
            f"<div style='{_SMALL}'>{hidden} stopped allocation{'s' if hidden != 1 else ''} "
            f"not shown: lab.allocations({self.job!r}) lists them all.</div>"
            if hidden
            else ""
        )
        with self._lock:
            self.allocations = stubs
            self.rows = table
            self.table.value = _table_html(table) + note


def _table_html(table: Table) -> str:
    """The allocation table, padded for a widget (notebook table styles do not reach it), with
    each ClientStatus in its chart colour."""
    if not table:
        return f"<div style='{_SMALL}'>{html.escape(table.empty)}</div>"
    cell = "padding:1px 12px 1px 0;text-align:left;white-space:nowrap"
    head = "".join(f"<th style='{cell}'>{html.escape(c)}</th>" for c in _COLUMNS)
    body = ""
    for row in table:
        cells = ""
        for column in _COLUMNS:
            value = html.escape(str(row.get(column, "")))
            color = STATUS_COLORS.get(value, "inherit") if column == "Status" else "inherit"
            cells += f"<td style='{cell};color:{color}'>{value}</td>"
        body += f"<tr>{cells}</tr>"
    style = "border-collapse:collapse;line-height:1.4;font-size:0.9em;"
    style += "font-family:var(--jp-code-font-family,monospace)"
    return f"<table style='{style}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def scale_panel(lab: Lab, job: str, group: str | None = None, *,
                cap: int = MAX_COUNT) -> ScalePanel:  # fmt: skip
    """A panel to scale ``job``'s ``group`` with a slider and watch the deployment (see
    :class:`ScalePanel`); show it by making it the last expression of a cell."""
    return ScalePanel(lab, job, group, cap=cap)


# -- watching a deployment and acting on it ------------------------------------------------------


def version_counts(stubs: list[dict[str, Any]]) -> dict[int, int]:
    """How many allocations of each job version Nomad wants running, oldest version first."""
    counts: dict[int, int] = {}
    for alloc in stubs:
        if alloc.get("DesiredStatus") == "run" and alloc.get("ClientStatus") not in TERMINAL:
            counts[alloc["JobVersion"]] = counts.get(alloc["JobVersion"], 0) + 1
    return dict(sorted(counts.items()))


def group_progress(state: dict[str, Any]) -> str:
    """One group's line: canaries healthy and promoted, then placed and healthy of desired."""
    text = ""
    if state.get("DesiredCanaries"):
        promoted = "promoted" if state.get("Promoted") else "not promoted"
        canaries = len(state.get("PlacedCanaries") or [])
        text += f"canaries {canaries}/{state['DesiredCanaries']} placed, {promoted} · "
    return (
        text + f"placed {state.get('PlacedAllocs', 0)}, healthy {state.get('HealthyAllocs', 0)}, "
        f"unhealthy {state.get('UnhealthyAllocs', 0)} of {state.get('DesiredTotal', 0)}"
    )


class DeploymentPanel(widgets.VBox):
    """A job's latest deployment, live: each group's progress with its canaries, the versions
    running side by side, and Promote and Fail buttons (``nomad deployment promote|fail``).
    ``promote()``, ``fail()`` and ``wait()`` drive it from code."""

    def __init__(self, lab: Lab, job: str) -> None:
        self.lab = lab
        self.job = lab.job_id(job)
        self.deployment: dict[str, Any] | None = None
        self.versions: dict[int, int] = {}
        self.error: NomadLabError | None = None
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.status = widgets.HTML()
        self.groups = widgets.HTML()
        self.running = widgets.HTML()
        self.promote_button = widgets.Button(description="Promote", icon="arrow-up",
                                             button_style="success")  # fmt: skip
        self.fail_button = widgets.Button(description="Fail", icon="times", button_style="danger")
        self.promote_button.on_click(lambda _: self._act(self.promote))
        self.fail_button.on_click(lambda _: self._act(self.fail))
        title = widgets.HTML(f"<b>{html.escape(self.job)}</b> · latest deployment")
        super().__init__(
            children=[
                title,
                self.status,
                self.groups,
                self.running,
                widgets.HBox([self.promote_button, self.fail_button]),
            ]
        )
        with self._api():
            self._show(
                lab.nomad.job.get_deployment(self.job), lab.nomad.job.get_allocations(self.job)
            )
        self._background = Background(lab.agent)
        self._background.start(self._follow_deployment, f"deployment-panel-{self.job}")
        self._background.start(self._follow_allocations, f"deployment-allocs-{self.job}")

    def __repr__(self) -> str:
        deployment = self.deployment or {}
        return (
            f"<DeploymentPanel {self.job!r}: {deployment.get('Status', 'no deployment')}, "
            f"versions running {self.versions}>"
        )

    def _api(self) -> Any:
        return api_errors(self.lab.address, bool(self.lab.nomad.token))

    # -- what the learner (or a test) calls ----------------------------------------------------

    def promote(self) -> dict[str, Any]:
        """Promote every group's canaries (``nomad deployment promote ID``)."""
        with self._api():
            return self.lab.nomad.deployment.promote_deployment_all(self._deployment_id())

    def fail(self) -> dict[str, Any]:
        """Fail the deployment (``nomad deployment fail ID``); auto-revert may roll back."""
        with self._api():
            return self.lab.nomad.deployment.fail_deployment(self._deployment_id())

    def wait(self, until: str = "successful", timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the job's latest deployment has status ``until``; return it."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: (self.deployment or {}).get("Status") == until or self.error, timeout
            )
        if self.error is not None:
            raise self.error
        if not done:
            raise NomadLabError(
                f'The latest deployment of "{self.job}" is {(self.deployment or {}).get("Status")}'
                f", not {until}, after {timeout:g}s."
            )
        return self.deployment or {}

    def close(self) -> None:
        """Stop following and close the widgets."""
        self._background.stop()
        super().close()

    # -- following and drawing -----------------------------------------------------------------

    def _deployment_id(self) -> str:
        if not self.deployment:
            raise NomadLabError(f'Job "{self.job}" has no deployment to act on.')
        return self.deployment["ID"]

    def _act(self, action: Any) -> None:
        try:
            action()
        except NomadLabError as exc:
            self._set_error(exc)

    def _follow_deployment(self) -> None:
        background, index = self._background, 1
        while True:
            deployment, index = background.get(background.nomad.job, self.job, "deployment",
                                               index=index)  # fmt: skip
            self._show(deployment, None)

    def _follow_allocations(self) -> None:
        background, index = self._background, 1
        while True:
            stubs, index = background.get(background.nomad.job, self.job, "allocations",
                                          index=index)  # fmt: skip
            self._show(None, stubs)

    def _set_error(self, exc: NomadLabError) -> None:
        with self._changed:
            self.status.value = (
                f"<span style='color:{STATUS_COLORS['failed']}'>{html.escape(str(exc))}</span>"
            )
            self._changed.notify_all()

    def _show(self, deployment: dict[str, Any] | None, stubs: list[dict[str, Any]] | None) -> None:
        with self._changed:
            if deployment is not None:
                self.deployment = deployment
                status = deployment.get("Status", "")
                color = _STATUS_COLORS.get(status, "#333")
                self.status.value = (
                    f"<span style='color:{color}'>Deployment "
                    f"<code>{limit(deployment.get('ID', ''))}</code> (version "
                    f"{deployment.get('JobVersion')}) {html.escape(status)}: "
                    f"{html.escape(deployment.get('StatusDescription', ''))}</span>"
                )
                self.groups.value = "".join(
                    f"<div><code>{html.escape(name)}</code> {html.escape(group_progress(state))}"
                    "</div>"
                    for name, state in sorted((deployment.get("TaskGroups") or {}).items())
                )
                active = status in ("running", "paused")
                waiting = any(
                    s.get("DesiredCanaries") and not s.get("Promoted")
                    for s in (deployment.get("TaskGroups") or {}).values()
                )
                self.promote_button.disabled = not (active and waiting)
                self.fail_button.disabled = not active
            elif not self.deployment:
                self.status.value = "No deployment yet."
            if stubs is not None:
                self.versions = version_counts(stubs)
                self.running.value = "Running now: " + (
                    " │ ".join(f"version {v} × {n}" for v, n in self.versions.items()) or "nothing"
                )
            self._changed.notify_all()


def deployment_panel(lab: Lab, job: str) -> DeploymentPanel:
    """A panel to watch ``job``'s latest deployment and promote or fail it (see
    :class:`DeploymentPanel`); show it by making it the last expression of a cell."""
    return DeploymentPanel(lab, job)


__all__ = [
    "MAX_COUNT",
    "DeploymentPanel",
    "Room",
    "ScalePanel",
    "deployment_panel",
    "room",
    "scale_panel",
]
