"""The state store: Nomad's in-memory tables with Raft-like indexes and blocking queries.

Every write bumps one global index and stamps the tables it touched, so a reader can
ask "has anything in `allocs` changed since index N?" and wait for the answer without
polling (Nomad's blocking queries). The scheduler and the clients watch it the same way.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable

TABLES = (
    "jobs",
    "job_versions",
    "allocs",
    "evals",
    "deployments",
    "nodes",
    "job_summary",
    "services",
)


class StateStore:
    """Tables of wire-shaped dicts keyed by ID (jobs by (namespace, id))."""

    def __init__(self) -> None:
        self.index = 1
        self.table_index: dict[str, int] = dict.fromkeys(TABLES, 1)
        self.jobs: dict[tuple[str, str], dict] = {}
        self.job_versions: dict[tuple[str, str], list[dict]] = {}
        self.allocs: dict[str, dict] = {}
        self.evals: dict[str, dict] = {}
        self.deployments: dict[str, dict] = {}
        self.nodes: dict[str, dict] = {}
        self.services: dict[str, dict] = {}  # service registrations (nomadlab.practice.services)
        self._waiters: set[tuple[frozenset[str], int, asyncio.Future[None]]] = set()

    # Writes ------------------------------------------------------------------

    def commit(self, tables: Iterable[str]) -> int:
        """Start a write touching ``tables``: a new index, and wake whoever waits on them."""
        self.index += 1
        touched = set(tables)
        for table in touched:
            self.table_index[table] = self.index
        for waiter in [w for w in self._waiters if w[0] & touched]:
            self._waiters.discard(waiter)
            if not waiter[2].done():
                waiter[2].set_result(None)
        return self.index

    def upsert_job(self, job: dict) -> int:
        """Store a job version: a new Version when its spec changed."""
        key = (job["Namespace"], job["ID"])
        index = self.commit(["jobs", "job_versions", "job_summary"])
        previous = self.jobs.get(key)
        job["CreateIndex"] = previous["CreateIndex"] if previous else index
        job["ModifyIndex"] = index
        job["JobModifyIndex"] = index
        job["Version"] = previous["Version"] + 1 if previous else 0
        self.jobs[key] = job
        self.job_versions.setdefault(key, []).insert(0, copy.deepcopy(job))
        return index

    def update_job_status(self, job: dict, status: str) -> None:
        """Change a job's Status without making a new version."""
        if job["Status"] == status:
            return
        index = self.commit(["jobs", "job_summary"])
        job["Status"] = status
        job["ModifyIndex"] = index

    def delete_job(self, namespace: str, job_id: str) -> int:
        """Purge a job and its versions (its allocations and evaluations stay, as in Nomad)."""
        index = self.commit(["jobs", "job_versions", "job_summary"])
        self.jobs.pop((namespace, job_id), None)
        self.job_versions.pop((namespace, job_id), None)
        return index

    def upsert(self, table: str, obj: dict) -> int:
        """Insert or replace ``obj`` in ``table`` (evals, deployments, nodes; allocations go
        through :meth:`upsert_allocs`)."""
        index = self.commit([table])
        rows: dict[str, dict] = getattr(self, table)
        if obj["ID"] not in rows:
            obj["CreateIndex"] = index
        obj["ModifyIndex"] = index
        rows[obj["ID"]] = obj
        return index

    def upsert_allocs(self, allocs: list[dict]) -> int:
        """Write several allocations under one index, as one plan is applied."""
        index = self.commit(["allocs", "job_summary", "jobs"])
        for alloc in allocs:
            if alloc["ID"] not in self.allocs:
                alloc["CreateIndex"] = index
                alloc["AllocModifyIndex"] = index
            alloc["ModifyIndex"] = index
            self.allocs[alloc["ID"]] = alloc
        return index

    # Reads -------------------------------------------------------------------

    def job(self, namespace: str, job_id: str) -> dict | None:
        """The latest version of a job, or None."""
        return self.jobs.get((namespace, job_id))

    def job_allocs(self, namespace: str, job_id: str, any_create_index: bool = False) -> list[dict]:
        """A job's allocations, oldest first: of the job as it exists now, unless
        ``any_create_index`` (then also those of a purged job of that name)."""
        job = self.jobs.get((namespace, job_id))
        return sorted(
            (
                a
                for a in self.allocs.values()
                if a["JobID"] == job_id
                and a["Namespace"] == namespace
                and (
                    any_create_index or job is None or a["Job"]["CreateIndex"] == job["CreateIndex"]
                )
            ),
            key=lambda a: (a["CreateIndex"], a["Name"]),
        )

    def job_evals(self, namespace: str, job_id: str) -> list[dict]:
        """Every evaluation of a job, newest first."""
        return sorted(
            (
                e
                for e in self.evals.values()
                if e["JobID"] == job_id and e["Namespace"] == namespace
            ),
            key=lambda e: e["CreateIndex"],
            reverse=True,
        )

    def job_deployments(self, namespace: str, job_id: str) -> list[dict]:
        """Deployments of the job as it exists now (not of a purged job of that name),
        newest first."""
        job = self.jobs.get((namespace, job_id))
        return sorted(
            (
                d
                for d in self.deployments.values()
                if d["JobID"] == job_id
                and d["Namespace"] == namespace
                and (job is None or d["JobCreateIndex"] == job["CreateIndex"])
            ),
            key=lambda d: d["CreateIndex"],
            reverse=True,
        )

    def node_allocs(self, node_id: str) -> list[dict]:
        """Every allocation placed on a node."""
        return [a for a in self.allocs.values() if a["NodeID"] == node_id]

    def max_index(self, tables: Iterable[str]) -> int:
        """The index a read of ``tables`` reports in X-Nomad-Index."""
        return max(self.table_index[t] for t in tables)

    # Blocking queries ----------------------------------------------------------

    def release_waiters(self) -> None:
        """Answer every parked blocking query now (the agent is shutting down)."""
        for _, _, future in self._waiters:
            if not future.done():
                future.set_result(None)
        self._waiters.clear()

    async def wait(self, tables: Iterable[str], min_index: int, timeout: float) -> int:
        """Return once any of ``tables`` has an index above ``min_index``, or at ``timeout``.

        A waiter is one idle future, so hundreds of long-polling clients cost nothing.
        """
        watched = frozenset(tables)
        if self.max_index(watched) > min_index or timeout <= 0:
            return self.max_index(watched)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (watched, min_index, future)
        self._waiters.add(waiter)
        try:
            await asyncio.wait({future}, timeout=timeout)
        finally:
            self._waiters.discard(waiter)
        return self.max_index(watched)
