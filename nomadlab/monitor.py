"""Follow an evaluation, then its deployment, printing what ``nomad job run`` prints.

Mirrors ``command/monitor.go`` and the deployment monitor of
``command/deployment_status.go``, except that every wait is a blocking query
(``?index=N&wait=...``) instead of a one-second poll: the agent answers when something
changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from nomadlab.command.deployment_status import format_deployment
from nomadlab.command.helpers import format_time, limit
from nomadlab.command.monitor import format_alloc_metrics
from nomadlab.errors import NomadLabError, api_errors
from nomadlab.terminal import Ui

TERMINAL_EVAL = ("complete", "failed", "canceled", "cancelled")
TERMINAL_DEPLOYMENT = ("successful", "failed", "cancelled", "blocked")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# A failed deployment's description when auto_revert registers the last stable version
# (structs.DeploymentStatusDescriptionRollback), and how long to wait for that version's
# deployment: `nomad job run` sleeps one second and looks once; this looks as it changes.
ROLLING_BACK = " - rolling back to job version "
ROLLBACK_WAIT = 10.0


@dataclass
class Outcome:
    """What monitoring found: the last evaluation, its deployment and any placement failure."""

    eval_id: str
    evaluation: dict[str, Any] = field(default_factory=dict)
    deployment: dict[str, Any] | None = None
    failed_allocs: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0

    @property
    def deployment_id(self) -> str:
        """ID of the deployment the evaluation was part of, or ""."""
        return (self.deployment or {}).get("ID", "") or self.evaluation.get("DeploymentID", "")

    @property
    def deployment_status(self) -> str:
        """``successful``, ``failed``, ... or "" when there was no deployment."""
        return (self.deployment or {}).get("Status", "")


@dataclass
class _EvalState:
    status: str = "pending"
    node: str = ""
    job: str = ""
    deployment: str = ""
    index: int = 0
    allocs: dict[str, dict[str, Any]] = field(default_factory=dict)


class Monitor:
    """Follows evaluations and deployments of one agent, writing to a :class:`Ui`."""

    def __init__(self, nomad: Any, address: str, ui: Ui, *, wait: str = "10s",
                 length: int = 8) -> None:  # fmt: skip
        self.nomad = nomad
        self.address = address
        self.ui = ui
        self.wait = wait
        self.length = length

    def _get(self, endpoint: Any, *path: str, index: int = 0, wait: bool = True) -> tuple[Any, int]:
        """GET through python-nomad, as a blocking query when ``index`` is given."""
        params: dict[str, Any] = {}
        timeout = 30.0
        if index:
            params = {"index": index, "wait": self.wait}
            timeout = 30.0 + float(self.wait.rstrip("s"))
        start = time.monotonic()
        with api_errors(self.address, bool(self.nomad.token)):
            response = endpoint.request(*path, method="get", params=params, timeout=timeout)
        new_index = int(response.headers.get("X-Nomad-Index") or 0)
        if index and new_index <= index and time.monotonic() - start < 0.05:
            time.sleep(0.25)  # an agent that ignores ?index= must not make this loop spin
        return response.json(), new_index

    def monitor(self, eval_id: str, timeout: float | None = None) -> Outcome:
        """Follow ``eval_id`` (and the evaluations it chains to), then its deployment.

        Unlike ``nomad job run``, it stops after a placement failure or a failed evaluation
        instead of waiting for the deployment's progress deadline (10 minutes by default):
        nothing will change before the learner does something.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        outcome = self.monitor_eval(eval_id, deadline)
        deployment_id = outcome.evaluation.get("DeploymentID")
        if outcome.failed_allocs or outcome.evaluation.get("Status") != "complete":
            return outcome
        if deployment_id:
            outcome.deployment = self.monitor_deployment(deployment_id, deadline)
            done = outcome.deployment_status == "successful" or awaits_promotion(outcome.deployment)
            outcome.exit_code = 0 if done else 1
        return outcome

    def monitor_eval(self, eval_id: str, deadline: float | None) -> Outcome:
        ui, length = self.ui, self.length
        state = _EvalState()
        ui.info(f'{format_time()}: Monitoring evaluation "{limit(eval_id, length)}"')
        index = 0
        while True:
            evaluation, index = self._get(self.nomad.evaluation, eval_id, index=index)
            update = _EvalState(
                status=evaluation.get("Status", ""),
                node=evaluation.get("NodeID", ""),
                job=evaluation.get("JobID", ""),
                deployment=evaluation.get("DeploymentID", ""),
                index=evaluation.get("CreateIndex", 0),
                allocs={a["ID"]: a for a in self._eval_allocations(eval_id)},
            )
            self._update(state, update)
            state = update
            if update.status in TERMINAL_EVAL:
                break
            _check_deadline(deadline, f'evaluation "{limit(eval_id, length)}"')
        outcome = Outcome(eval_id=eval_id, evaluation=evaluation)
        failed = evaluation.get("FailedTGAllocs") or {}
        if not failed:
            ui.info(
                f'{format_time()}: Evaluation "{limit(eval_id, length)}" finished with status '
                f'"{update.status}"'
            )
        else:
            outcome.failed_allocs = failed
            outcome.exit_code = 2
            ui.info(
                f'{format_time()}: Evaluation "{limit(eval_id, length)}" finished with status '
                f'"{update.status}" but failed to place all allocations:'
            )
            for group in sorted(failed):
                metrics = failed[group]
                count = (metrics.get("CoalescedFailures") or 0) + 1
                noun = "allocation" if count == 1 else "allocations"
                ui.output(
                    f'{format_time()}: Task Group "{group}" (failed to place {count} {noun}):'
                )
                for line in format_alloc_metrics(metrics):
                    ui.output(line)
            if evaluation.get("BlockedEval"):
                ui.output(
                    f'{format_time()}: Evaluation "{limit(evaluation["BlockedEval"], length)}" '
                    "waiting for additional capacity to place remainder"
                )
        if evaluation.get("NextEval"):
            return self.monitor_eval(evaluation["NextEval"], deadline)
        return outcome

    def _eval_allocations(self, eval_id: str) -> list[dict[str, Any]]:
        try:
            allocs, _ = self._get(self.nomad.evaluation, eval_id, "allocations")
        except NomadLabError as exc:
            if getattr(exc, "status", 0) == 404:
                return []
            raise
        return allocs or []

    def _update(self, old: _EvalState, new: _EvalState) -> None:
        """Print what changed between two looks at the evaluation (monitor.update)."""
        ui, length, now = self.ui, self.length, format_time()
        if not old.node and new.node:
            ui.output(f'{now}: Evaluation triggered by node "{limit(new.node, length)}"')
        if not old.job and new.job:
            ui.output(f'{now}: Evaluation triggered by job "{new.job}"')
        if not old.deployment and new.deployment:
            ui.output(f'{now}: Evaluation within deployment: "{limit(new.deployment, length)}"')
        for alloc_id, alloc in sorted(new.allocs.items(), key=lambda kv: kv[1].get("Name", "")):
            previous = old.allocs.get(alloc_id)
            short, node = limit(alloc_id, length), limit(alloc.get("NodeID", ""), length)
            group = alloc.get("TaskGroup", "")
            if previous is None:
                if alloc.get("CreateIndex", 0) < new.index:
                    ui.output(
                        f'{now}: Allocation "{short}" modified: node "{node}", group "{group}"'
                    )
                elif alloc.get("DesiredStatus") == "run":
                    ui.output(
                        f'{now}: Allocation "{short}" created: node "{node}", group "{group}"'
                    )
            elif previous.get("ClientStatus") != alloc.get("ClientStatus"):
                desc = alloc.get("ClientDescription") or ""
                ui.output(
                    f'{now}: Allocation "{short}" status changed: "{previous.get("ClientStatus")}" '
                    f'-> "{alloc.get("ClientStatus")}"' + (f" ({desc})" if desc else "")
                )
        if old.status and new.status != "pending" and old.status != new.status:
            ui.output(f'{now}: Evaluation status changed: "{old.status}" -> "{new.status}"')

    def monitor_deployment(
        self, deployment_id: str, deadline: float | None = None
    ) -> dict[str, Any]:
        """Redraw the deployment's table on every change until it ends; return it."""
        ui, short = self.ui, limit(deployment_id, self.length)
        ui.info(f'{format_time()}: Monitoring deployment "{short}"')
        index, tick = 0, 0
        while True:
            deployment, index = self._get(self.nomad.deployment, deployment_id, index=index)
            status = deployment.get("Status", "")
            body = "\n".join(
                f"    {line}" if line else ""
                for line in f"{format_time()}\n{format_deployment(deployment, self.length)}".split(
                    "\n"
                )
            )
            if awaits_promotion(deployment):
                ui.done(
                    f'  ⏸ Deployment "{short}" awaits promotion: its canaries are healthy '
                    f"(nomad deployment promote {short}, or fail)\n\n{body}\n"
                )
                return deployment
            if status not in TERMINAL_DEPLOYMENT:
                spin = SPINNER[tick % len(SPINNER)]
                tick += 1
                ui.live(f'  {spin} Deployment "{short}" in progress...\n\n{body}\n')
                _check_deadline(deadline, f'deployment "{short}"')
                continue
            mark = "✓" if status == "successful" else "!"
            ui.done(f'  {mark} Deployment "{short}" {status}\n\n{body}\n')
            if status == "failed" and _auto_revert(deployment):
                rollback = self._rollback(deployment)
                if rollback is not None:
                    return self.monitor_deployment(rollback, deadline)
            return deployment

    def _rollback(self, failed: dict[str, Any]) -> str | None:
        """The deployment auto-revert started after ``failed``, awaited by blocking queries
        (another change may answer one first) for up to ``ROLLBACK_WAIT``; None when the
        watcher said it is not rolling back."""
        if ROLLING_BACK not in (failed.get("StatusDescription") or ""):
            return None
        job = failed.get("JobID", "")
        index = failed.get("ModifyIndex", 0) or 1
        give_up = time.monotonic() + ROLLBACK_WAIT
        while time.monotonic() < give_up:
            latest, index = self._get(self.nomad.job, job, "deployment", index=index)
            if latest and latest.get("ID") not in ("", failed.get("ID")):
                return str(latest["ID"])
        return None


def awaits_promotion(deployment: dict[str, Any]) -> bool:
    """Running, and every group with canaries has them all healthy but is not promoted:
    nothing more happens until someone promotes (or fails) the deployment."""
    if deployment.get("Status") != "running":
        return False
    waiting = [
        s
        for s in (deployment.get("TaskGroups") or {}).values()
        if s.get("DesiredCanaries") and not s.get("Promoted")
    ]
    return bool(waiting) and all(
        s.get("HealthyAllocs", 0) >= s["DesiredCanaries"] and not s.get("AutoPromote")
        for s in waiting
    )


def unhealthy_reason(allocs: list[dict[str, Any]]) -> str:
    """Why a deployment's first unhealthy allocation (of ``allocs``, the deployment's) was
    unhealthy, from what its tasks last recorded; empty if none was marked unhealthy."""
    for alloc in allocs:
        if (alloc.get("DeploymentStatus") or {}).get("Healthy") is not False:
            continue
        where = f'Allocation "{limit(alloc["ID"])}"'
        for task, state in sorted((alloc.get("TaskStates") or {}).items()):
            if state.get("Failed"):
                events = [
                    f"{e['Type']} ({e['DisplayMessage']})" if e.get("DisplayMessage") else e["Type"]
                    for e in (state.get("Events") or [])[-2:]
                ]
                return f'{where}, task "{task}": {", then ".join(events)}.'
        return f"{where} was not healthy within its update block's healthy_deadline."
    return ""


def _auto_revert(deployment: dict[str, Any]) -> bool:
    return any(g.get("AutoRevert") for g in (deployment.get("TaskGroups") or {}).values())


def _check_deadline(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise NomadLabError(
            f"Gave up watching {what}: it is still in progress. Nomad carries on without us; "
            "check it with lab.status(job) (or `nomadlab job status JOB`)."
        )
