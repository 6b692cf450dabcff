"""The periodic dispatcher (nomad/periodic.go): launches each periodic job's children at the
times its ``crons`` name, ``<id>/periodic-<unix>``, and ``nomad job periodic force`` now."""

from __future__ import annotations

import logging
import time

from nomadlab import contract
from nomadlab.practice.server import APIError, Server
from nomadlab.practice.state import StateStore

log = logging.getLogger("nomad.periodic")


class PeriodicDispatch:
    """Tracks enabled periodic jobs and launches their children when they come due."""

    def __init__(self, store: StateStore, server: Server) -> None:
        self.store = store
        self.server = server
        # (namespace, job ID) → (the spec's JobModifyIndex, next launch in Unix seconds)
        self._next: dict[tuple[str, str], tuple[int, float]] = {}

    async def run(self) -> None:
        index = 0
        while True:
            index = await self.store.wait(["jobs"], index, self._seconds_to_next())
            self.launch_due(time.time())

    def _seconds_to_next(self) -> float:
        self.track(time.time())
        soonest = min((at for _, at in self._next.values()), default=time.time() + 3600)
        return max(0.05, soonest - time.time())

    def track(self, now: float) -> None:
        """Follow new, changed, stopped and purged periodic jobs."""
        live = {}
        for key, job in self.store.jobs.items():
            periodic = job.get("Periodic")
            if periodic and periodic.get("Enabled") and not job["Stop"]:
                tracked = self._next.get(key)
                if tracked is None or tracked[0] != job["JobModifyIndex"]:
                    tracked = (job["JobModifyIndex"], self._after(job, now))
                live[key] = tracked
        self._next = live

    def launch_due(self, now: float) -> None:
        self.track(now)
        for key, (modify_index, at) in list(self._next.items()):
            if at > now:
                continue
            job = self.store.jobs[key]
            self._next[key] = (modify_index, self._after(job, now))
            if job["Periodic"].get("ProhibitOverlap") and self._running_children(job):
                log.debug("periodic: skipping launch of %s: a previous run is not done", job["ID"])
                continue
            self.launch(job, at)

    def force(self, namespace: str, job_id: str) -> dict:
        """``PUT /v1/job/:id/periodic/force``: launch a child now."""
        job = self.store.job(namespace, job_id)
        if job is None:
            raise APIError(404, "job not found")
        if job.get("Periodic") is None:
            raise APIError(500, "can't force launch non-periodic job")
        if not job["Periodic"].get("Enabled") or job["Stop"]:
            raise APIError(500, "can't force launch disabled periodic job")
        _, evaluation, index = self.launch(job, time.time())
        return {"EvalID": evaluation["ID"], "EvalCreateIndex": index, "Index": index}

    def launch(self, job: dict, at: float) -> tuple[dict, dict, int]:
        """One child of ``job`` for launch time ``at`` (periodic.go deriveJob)."""
        second = int(at)
        while self.store.job(job["Namespace"], f"{job['ID']}/periodic-{second}") is not None:
            second += 1  # two forced launches in one second: never overwrite a child
        child_id = f"{job['ID']}/periodic-{second}"
        log.info("periodic: launching job %s", child_id)
        return self.server.launch_child(job, child_id, Periodic=None)

    def _after(self, job: dict, now: float) -> float:
        periodic = job["Periodic"]
        specs = [periodic["Spec"]] if periodic.get("Spec") else periodic.get("Specs") or []
        return contract.next_launch(specs, now, periodic.get("TimeZone") or "")

    def _running_children(self, job: dict) -> bool:
        return any(
            child.get("ParentID") == job["ID"] and child["Status"] != "dead"
            for (namespace, _), child in self.store.jobs.items()
            if namespace == job["Namespace"]
        )
