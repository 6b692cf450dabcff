"""The deployment watcher: turns allocation health into deployment progress.

It counts placed, healthy and unhealthy allocations per group, ends a deployment
``successful`` or ``failed`` with Nomad's descriptions, enforces ``progress_deadline``
and, while a rolling update is under way, asks the scheduler for the next batch with a
``deployment-watcher`` evaluation each time an allocation turns healthy.
"""

from __future__ import annotations

import asyncio
import time

from nomadlab.practice import structs
from nomadlab.practice.scheduler import Scheduler
from nomadlab.practice.server import APIError
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns, rfc3339

SUCCESSFUL = "Deployment completed successfully"
FAILED_UNHEALTHY = "Failed due to unhealthy allocations"
FAILED_DEADLINE = "Failed due to progress deadline"


class DeploymentWatcher:
    """Watches allocations and deployments in the store, like nomad/deploymentwatcher."""

    def __init__(self, store: StateStore, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler
        self._progress: dict[str, float] = {}  # deployment ID → monotonic time of last progress
        self._healthy_seen: dict[str, int] = {}

    async def run(self) -> None:
        index = 0
        while True:
            index = await self.store.wait(["allocs", "deployments"], index, self._next_deadline())
            started = time.monotonic()
            for deployment in list(self.store.deployments.values()):
                if deployment["Status"] == "running":
                    self.check(deployment)
            # A big deployment costs a scan per change: let changes gather for as long as
            # the last round took (at most 0.25 s), so the loop stays free for the API.
            await asyncio.sleep(min(0.25, time.monotonic() - started))

    def _next_deadline(self) -> float:
        """Seconds until the nearest progress deadline, so the watcher wakes for it."""
        deadlines = [
            self._progress[d["ID"]] + deadline_seconds(d) - time.monotonic()
            for d in self.store.deployments.values()
            if d["Status"] == "running" and d["ID"] in self._progress and deadline_seconds(d)
        ]
        return max(0.05, min(deadlines, default=60.0))

    def check(self, deployment: dict) -> None:
        """Update the counters of one running deployment and end it when it is decided."""
        allocs = self.store.deployment_allocs(deployment["ID"])
        changed = False
        healthy_total = 0
        for name, state in deployment["TaskGroups"].items():
            group_allocs = [a for a in allocs if a["TaskGroup"] == name]
            health = [(a.get("DeploymentStatus") or {}).get("Healthy") for a in group_allocs]
            counters = {
                "PlacedAllocs": len(group_allocs),
                "HealthyAllocs": health.count(True),
                "UnhealthyAllocs": health.count(False),
            }
            healthy_total += counters["HealthyAllocs"]
            if any(state[k] != v for k, v in counters.items()):
                state.update(counters)
                changed = True
        now = time.monotonic()
        seen = self._healthy_seen.get(deployment["ID"])
        progressed = seen is not None and healthy_total > seen
        if seen is None or progressed:  # the first look starts the progress deadline
            self._healthy_seen[deployment["ID"]] = healthy_total
            self._progress[deployment["ID"]] = now
            for state in deployment["TaskGroups"].values():
                if state["ProgressDeadline"]:
                    by = now_ns() + state["ProgressDeadline"]
                    state["RequireProgressBy"] = rfc3339(by)
            changed = True
        groups = deployment["TaskGroups"].values()
        job = self.store.job(deployment["Namespace"], deployment["JobID"])
        if any(s["UnhealthyAllocs"] > 0 for s in groups):
            self.finish(deployment, "failed", FAILED_UNHEALTHY)
        elif deadline_seconds(deployment) and now - self._progress[
            deployment["ID"]
        ] > deadline_seconds(deployment):
            self.finish(deployment, "failed", FAILED_DEADLINE)
        elif job is not None and self._complete(deployment, job):
            self.finish(deployment, "successful", SUCCESSFUL)
            job["Stable"] = True
            for version in self.store.job_versions.get((job["Namespace"], job["ID"]), []):
                if version["Version"] == deployment["JobVersion"]:
                    version["Stable"] = True
            self.store.commit(["jobs", "job_versions"])
        elif changed:
            deployment["ModifyTime"] = now_ns()
            self.store.upsert("deployments", deployment)
            if progressed and job is not None and self._outdated(deployment, job):
                self.scheduler.enqueue(
                    new_evaluation(
                        job,
                        "deployment-watcher",
                        DeploymentID=deployment["ID"],
                        JobModifyIndex=job["JobModifyIndex"],
                    )
                )

    def _outdated(self, deployment: dict, job: dict) -> list[dict]:
        """Live allocations of an older version still waiting to be replaced."""
        return [
            a
            for a in self.store.job_allocs(job["Namespace"], job["ID"])
            if a["DesiredStatus"] == "run"
            and not structs.is_terminal(a)
            and a["JobVersion"] != deployment["JobVersion"]
        ]

    def _complete(self, deployment: dict, job: dict) -> bool:
        return (
            job["Version"] == deployment["JobVersion"]
            and not self._outdated(deployment, job)
            and all(
                s["HealthyAllocs"] >= s["DesiredTotal"] for s in deployment["TaskGroups"].values()
            )
        )

    def set_alloc_health(self, deployment: dict, healthy: list[str], unhealthy: list[str]) -> dict:
        """``nomad deployment`` allocation-health: an operator marks allocations healthy or
        unhealthy (Deployment.SetAllocHealth), then the deployment is checked at once."""
        if not healthy and not unhealthy:
            raise APIError(400, "must specify at least one healthy/unhealthy allocation ID")
        if deployment["Status"] not in ("running", "paused"):
            raise APIError(500, "can't set health of allocations for a terminal deployment")
        marked = []
        for alloc_id, is_healthy in [(i, True) for i in healthy] + [(i, False) for i in unhealthy]:
            alloc = self.store.allocs.get(alloc_id)
            if alloc is None:
                raise APIError(500, f'unknown alloc "{alloc_id}"')
            if alloc.get("DeploymentID") != deployment["ID"]:
                raise APIError(
                    500, f'Allocation "{alloc_id}" is not part of deployment "{deployment["ID"]}"'
                )
            alloc["DeploymentStatus"] = {
                "Healthy": is_healthy,
                "Timestamp": rfc3339(now_ns()),
                "Canary": bool((alloc.get("DeploymentStatus") or {}).get("Canary")),
                "ModifyIndex": self.store.index + 1,
            }
            marked.append(alloc)
        self.store.upsert_allocs(marked)
        job = self.store.job(deployment["Namespace"], deployment["JobID"])
        evaluation = new_evaluation(
            job,
            "deployment-watcher",
            DeploymentID=deployment["ID"],
            JobModifyIndex=job["JobModifyIndex"],
        )
        index = self.scheduler.enqueue(evaluation)
        self.check(deployment)
        return {
            "EvalID": evaluation["ID"],
            "EvalCreateIndex": index,
            "DeploymentModifyIndex": deployment["ModifyIndex"],
            "RevertedJobVersion": None,
            "Index": self.store.index,
        }

    def finish(self, deployment: dict, status: str, description: str) -> None:
        deployment["Status"] = status
        deployment["StatusDescription"] = description
        deployment["ModifyTime"] = now_ns()
        self._progress.pop(deployment["ID"], None)
        self._healthy_seen.pop(deployment["ID"], None)
        self.store.upsert("deployments", deployment)


def deadline_seconds(deployment: dict) -> float:
    """The shortest progress deadline of the deployment's groups, in seconds (0: none)."""
    deadlines = [
        s["ProgressDeadline"] for s in deployment["TaskGroups"].values() if s["ProgressDeadline"]
    ]
    return min(deadlines, default=0) / 1e9
