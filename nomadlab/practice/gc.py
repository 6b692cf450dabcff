"""Garbage collection, as Nomad's core scheduler does it (nomad/core_sched.go).

Terminal evaluations and their allocations, terminal deployments and dead jobs are removed
once older than Nomad's thresholds, every five minutes (``nomad/config.go`` defaults), or
at once by ``nomad system gc`` (``PUT /v1/system/gc``), which ignores the thresholds. A
client removes the directory of an allocation the server no longer has. Age is measured as
Nomad measures it: a time table maps wall-clock times to state indexes.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import time

from nomadlab.practice import structs
from nomadlab.practice.state import StateStore

log = logging.getLogger("nomad.core.sched")

MINUTE = 60.0
HOUR = 60 * MINUTE
# nomad/config.go DefaultConfig: every collector runs each 5 minutes.
GC_INTERVAL = 5 * MINUTE
EVAL_GC_THRESHOLD = 1 * HOUR
BATCH_EVAL_GC_THRESHOLD = 24 * HOUR
JOB_GC_THRESHOLD = 4 * HOUR
DEPLOYMENT_GC_THRESHOLD = 1 * HOUR
TIME_TABLE_LIMIT = 72 * HOUR

TERMINAL_EVAL_STATUSES = ("complete", "failed", "canceled")
ACTIVE_DEPLOYMENT_STATUSES = (
    "running",
    "paused",
    "pending",
    "blocked",
    "unblocking",
    "initializing",
)


class TimeTable:
    """Which state index was current at which time (nomad/timetable.go), to turn "older
    than an hour" into "modified at or before index N"."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._indexes: list[int] = []

    def witness(self, index: int, when: float) -> None:
        """Record that ``index`` was current at ``when``; forget entries past the limit."""
        self._times.append(when)
        self._indexes.append(index)
        cut = bisect.bisect_left(self._times, when - TIME_TABLE_LIMIT)
        del self._times[:cut], self._indexes[:cut]

    def nearest_index(self, when: float) -> int:
        """The last index witnessed at or before ``when`` (0 if none)."""
        position = bisect.bisect_right(self._times, when)
        return self._indexes[position - 1] if position else 0


class CoreScheduler:
    """Job, evaluation and deployment garbage collection over the state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.time_table = TimeTable()

    def threshold(self, age: float, force: bool) -> float:
        """The highest ModifyIndex an object may have to be older than ``age`` seconds."""
        if force:
            return math.inf
        return self.time_table.nearest_index(time.time() - age)

    async def run(self) -> None:
        """The periodic collectors, each GC_INTERVAL (the leader's schedulePeriodic)."""
        while True:
            self.time_table.witness(self.store.index, time.time())
            await asyncio.sleep(GC_INTERVAL)
            self.collect(force=False)

    def collect(self, force: bool) -> dict[str, int]:
        """Run every collector (forceGC when ``force``); returns how much each removed."""
        jobs, job_evals, job_allocs = self.job_gc(force)
        evals, allocs = self.eval_gc(force)
        deployments = self.deployment_gc(force)
        removed = {
            "jobs": jobs,
            "evals": job_evals + evals,
            "allocs": job_allocs + allocs,
            "deployments": deployments,
        }
        if any(removed.values()):
            log.info(
                "core.sched: garbage collected: jobs=%d evals=%d allocs=%d deployments=%d",
                *removed.values(),
            )
        return removed

    # The collectors ------------------------------------------------------------

    def job_gc(self, force: bool) -> tuple[int, int, int]:
        """Purge dead jobs whose evaluations may all be collected (jobGC)."""
        threshold = self.threshold(JOB_GC_THRESHOLD, force)
        gc_jobs, gc_evals, gc_allocs = [], [], []
        for key, job in list(self.store.jobs.items()):
            if not job_gcable(job) or job["CreateIndex"] > threshold:
                continue
            job_evals, job_allocs = [], []
            for evaluation in self.store.job_evals(*key):
                collect, allocs = self.gc_eval(evaluation, threshold, allow_batch=True)
                if not collect:
                    break
                job_evals.append(evaluation["ID"])
                job_allocs.extend(allocs)
            else:
                gc_jobs.append(key)
                gc_evals.extend(job_evals)
                gc_allocs.extend(job_allocs)
        self._reap(gc_evals, gc_allocs)
        for namespace, job_id in gc_jobs:
            self.store.delete_job(namespace, job_id)
        return len(gc_jobs), len(gc_evals), len(gc_allocs)

    def eval_gc(self, force: bool) -> tuple[int, int]:
        """Remove terminal evaluations whose allocations are terminal, and old terminal
        allocations of evaluations that must stay (evalGC)."""
        threshold = self.threshold(EVAL_GC_THRESHOLD, force)
        batch_threshold = self.threshold(BATCH_EVAL_GC_THRESHOLD, force)
        gc_evals, gc_allocs = [], []
        for evaluation in list(self.store.evals.values()):
            limit = batch_threshold if evaluation["Type"] == "batch" else threshold
            collect, allocs = self.gc_eval(evaluation, limit, allow_batch=False)
            if collect:
                gc_evals.append(evaluation["ID"])
            gc_allocs.extend(allocs)
        self._reap(gc_evals, gc_allocs)
        return len(gc_evals), len(gc_allocs)

    def deployment_gc(self, force: bool) -> int:
        """Remove finished deployments no live allocation refers to (deploymentGC)."""
        threshold = self.threshold(DEPLOYMENT_GC_THRESHOLD, force)
        gc_deployments = [
            deployment["ID"]
            for deployment in self.store.deployments.values()
            if deployment["Status"] not in ACTIVE_DEPLOYMENT_STATUSES
            and deployment["ModifyIndex"] <= threshold
            and all(terminal_status(a) for a in self.store.deployment_allocs(deployment["ID"]))
        ]
        if gc_deployments:
            self.store.delete("deployments", gc_deployments)
        return len(gc_deployments)

    def gc_eval(self, evaluation: dict, threshold: float, allow_batch: bool) -> tuple[bool, list]:
        """Whether an evaluation may go, and which of its allocations may (gcEval)."""
        if (
            evaluation["Status"] not in TERMINAL_EVAL_STATUSES
            or evaluation["ModifyIndex"] > threshold
        ):
            return False, []
        job = self.store.job(evaluation["Namespace"], evaluation["JobID"])
        allocs = self.store.eval_allocs(evaluation["ID"])
        if evaluation["Type"] == "batch":
            # A running batch job keeps its current allocations, or they would run again.
            dead = job is None or (job["Status"] == "dead" and (job["Stop"] or allow_batch))
            if not dead:
                old = [
                    a["ID"]
                    for a in allocs
                    if a["CreateIndex"] < job["JobModifyIndex"]
                    and a["ModifyIndex"] < threshold
                    and terminal_status(a)
                ]
                return len(old) == len(allocs), old
        eligible = [a["ID"] for a in allocs if alloc_gc_eligible(a, job, threshold)]
        return len(eligible) == len(allocs), eligible

    def _reap(self, evals: list[str], allocs: list[str]) -> None:
        if allocs:
            self.store.delete_allocs(allocs)
        if evals:
            self.store.delete("evals", evals)


def terminal_status(alloc: dict) -> bool:
    """Stopped by the server or finished on the client (Allocation.TerminalStatus)."""
    return alloc["DesiredStatus"] in ("stop", "evict") or structs.is_terminal(alloc)


def job_gcable(job: dict) -> bool:
    """Whether a job may be collected at all (the state store's jobIsGCable index)."""
    periodic = bool((job.get("Periodic") or {}).get("Enabled"))
    if periodic or job.get("ParameterizedJob"):
        return bool(job["Stop"])
    if job["Status"] != "dead":
        return False
    return bool(job["Stop"]) or job["Type"] in ("batch", "sysbatch")


def alloc_gc_eligible(alloc: dict, job: dict | None, threshold: float) -> bool:
    """Whether an allocation may be collected (allocGCEligible)."""
    if not terminal_status(alloc) or alloc["ModifyIndex"] > threshold:
        return False
    if alloc["ClientStatus"] == "running":
        return False
    if job is None:
        return True
    group = next((g for g in job["TaskGroups"] if g["Name"] == alloc["TaskGroup"]), None)
    if group is None:
        return True
    if (
        not job["Stop"]
        and not group.get("RescheduleOnLost", True)
        and alloc["ClientStatus"] == "lost"
    ):
        return False
    if job["Stop"] or job["Status"] == "dead" or alloc["DesiredStatus"] == "stop":
        return True
    if alloc["ClientStatus"] != "failed":
        return True
    policy = group.get("ReschedulePolicy")
    if not policy or (not policy.get("Unlimited") and not policy.get("Attempts")):
        return True
    if alloc.get("NextAllocation"):
        return True
    if policy.get("Unlimited"):
        return False
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    if not events:
        return False
    return structs.now_ns() - events[-1]["RescheduleTime"] > (policy.get("Interval") or 0)
