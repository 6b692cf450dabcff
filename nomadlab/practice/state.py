"""The state store: Nomad's in-memory tables with Raft-like indexes and blocking queries.

Every write bumps one global index and stamps the tables it touched, so a reader can
ask "has anything in `allocs` changed since index N?" and wait for the answer without
polling (Nomad's blocking queries). The scheduler and the clients watch it the same way.
Allocations are also indexed by job, node, deployment and evaluation, and evaluations and
deployments by job (go-memdb's secondary indexes), so no read scans every allocation.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Iterator

from nomadlab.practice.structs import NAMESPACE
from nomadlab.practice.structs.namespace import DEFAULT_DESCRIPTION, namespace

TABLES = (
    "jobs",
    "job_versions",
    "allocs",
    "evals",
    "deployments",
    "nodes",
    "job_summary",
    "services",
    "acl_token",  # only its index: the tokens live in nomadlab.practice.acl
    "namespaces",
)
JOB_TRACKED_VERSIONS = 6  # nomad/structs: versions of a job kept for `nomad job history`


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
        # Each job's JobSubmissions by version, newest first (as many as its versions).
        self.job_submissions: dict[tuple[str, str], dict[int, dict]] = {}
        # namespaceInit: the default namespace, written at index 1.
        self.namespaces: dict[str, dict] = {
            NAMESPACE: namespace(
                Name=NAMESPACE, Description=DEFAULT_DESCRIPTION, CreateIndex=1, ModifyIndex=1
            )
        }
        self._allocs_by: dict[str, dict[object, dict[str, dict]]] = {
            "job": {},
            "node": {},
            "deployment": {},
            "eval": {},
        }
        self._by_job: dict[str, dict[tuple[str, str], dict[str, dict]]] = {
            "evals": {},
            "deployments": {},
        }
        self._node_changes: dict[str, set[str]] = {}
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
        versions = self.job_versions.setdefault(key, [])
        versions.insert(0, copy.deepcopy(job))
        if len(versions) > JOB_TRACKED_VERSIONS:
            # Keep the newest stable version: if it is the one to go, the one before goes.
            stable = next((i for i, v in enumerate(versions) if v.get("Stable")), -1)
            limit = JOB_TRACKED_VERSIONS
            if stable == limit:
                versions[limit - 1], versions[limit] = versions[limit], versions[limit - 1]
            del versions[limit]
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
        self.job_submissions.pop((namespace, job_id), None)
        return index

    def add_job_submission(self, submission: dict) -> None:
        """Keep a version's source unless that version has one already; only the newest
        JOB_TRACKED_VERSIONS are kept (updateJobSubmission, pruneJobSubmissions)."""
        self.commit(["job_versions"])
        kept = self.job_submissions.setdefault((submission["Namespace"], submission["JobID"]), {})
        kept.setdefault(submission["Version"], submission)
        for version in sorted(kept, reverse=True)[JOB_TRACKED_VERSIONS:]:
            del kept[version]

    def upsert(self, table: str, obj: dict) -> int:
        """Insert or replace ``obj`` in ``table`` (evals, deployments, nodes; allocations go
        through :meth:`upsert_allocs`)."""
        index = self.commit([table])
        rows: dict[str, dict] = getattr(self, table)
        if obj["ID"] not in rows:
            obj["CreateIndex"] = index
        obj["ModifyIndex"] = index
        rows[obj["ID"]] = obj
        if table in self._by_job:
            key = (obj["Namespace"], obj["JobID"])
            self._by_job[table].setdefault(key, {})[obj["ID"]] = obj
        return index

    def delete(self, table: str, ids: Iterable[str]) -> int:
        """Remove evaluations or deployments (garbage collection)."""
        index = self.commit([table])
        rows: dict[str, dict] = getattr(self, table)
        for row_id in ids:
            obj = rows.pop(row_id, None)
            if obj is not None and table in self._by_job:
                key = (obj["Namespace"], obj["JobID"])
                _discard(self._by_job[table], key, row_id)
        return index

    def upsert_allocs(self, allocs: list[dict]) -> int:
        """Write several allocations under one index, as one plan is applied."""
        index = self.commit(["allocs", "job_summary", "jobs"])
        for alloc in allocs:
            previous = self.allocs.get(alloc["ID"])
            if previous is None:
                alloc["CreateIndex"] = index
                alloc["AllocModifyIndex"] = index
            else:
                self._unindex(previous)
            alloc["ModifyIndex"] = index
            self.allocs[alloc["ID"]] = alloc
            for name, key in _alloc_keys(alloc):
                self._allocs_by[name].setdefault(key, {})[alloc["ID"]] = alloc
            self._node_changes.setdefault(alloc["NodeID"], set()).add(alloc["ID"])
        return index

    def delete_allocs(self, ids: Iterable[str]) -> int:
        """Remove allocations (garbage collection); their clients see them go."""
        index = self.commit(["allocs", "job_summary", "jobs"])
        for alloc_id in ids:
            alloc = self.allocs.pop(alloc_id, None)
            if alloc is not None:
                self._unindex(alloc)
                self._node_changes.setdefault(alloc["NodeID"], set()).add(alloc_id)
        return index

    def _unindex(self, alloc: dict) -> None:
        for name, key in _alloc_keys(alloc):
            _discard(self._allocs_by[name], key, alloc["ID"])

    def replay_node_changes(self, node_id: str) -> None:
        """Hand a node's client every allocation on it again, as if each had just changed
        (a client coming back reconciles everything the server wants there)."""
        self._node_changes.setdefault(node_id, set()).update(
            a["ID"] for a in self.node_allocs(node_id)
        )

    def take_node_changes(self, node_id: str) -> tuple[list[dict], list[str]]:
        """What changed on a node since the last call (its client's view): allocations
        written, in the order they were first written, and IDs of those removed."""
        changed = self._node_changes.pop(node_id, set())
        allocs = [self.allocs[i] for i in changed if i in self.allocs]
        removed = [i for i in changed if i not in self.allocs]
        return sorted(allocs, key=lambda a: a["CreateIndex"]), removed

    def snapshot(self) -> StateStore:
        """A deep copy of every table and index, for a dry run that must change nothing here."""
        waiters, self._waiters = self._waiters, set()
        try:
            return copy.deepcopy(self)
        finally:
            self._waiters = waiters

    # Reads -------------------------------------------------------------------

    def job(self, namespace: str, job_id: str) -> dict | None:
        """The latest version of a job, or None."""
        return self.jobs.get((namespace, job_id))

    def job_allocs(self, namespace: str, job_id: str, any_create_index: bool = False) -> list[dict]:
        """A job's allocations, oldest first: of the job as it exists now, unless
        ``any_create_index`` (then also those of a purged job of that name)."""
        return sorted(
            self.iter_job_allocs(namespace, job_id, any_create_index),
            key=lambda a: (a["CreateIndex"], a["Name"]),
        )

    def iter_job_allocs(
        self, namespace: str, job_id: str, any_create_index: bool = False
    ) -> Iterator[dict]:
        """``job_allocs`` in no order, for a question about any of them: the job's status
        and its deployment's progress ask it after every allocation update, where sorting
        two hundred allocations each time cost more than the question."""
        job = self.jobs.get((namespace, job_id))
        return (
            a
            for a in self._allocs_by["job"].get((namespace, job_id), {}).values()
            if any_create_index or job is None or a["Job"]["CreateIndex"] == job["CreateIndex"]
        )

    def deployment_allocs(self, deployment_id: str) -> list[dict]:
        """The allocations of a deployment."""
        return list(self._allocs_by["deployment"].get(deployment_id, {}).values())

    def eval_allocs(self, eval_id: str) -> list[dict]:
        """The allocations an evaluation created."""
        return list(self._allocs_by["eval"].get(eval_id, {}).values())

    def job_evals(self, namespace: str, job_id: str) -> list[dict]:
        """Every evaluation of a job, newest first."""
        return sorted(
            self._by_job["evals"].get((namespace, job_id), {}).values(),
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
                for d in self._by_job["deployments"].get((namespace, job_id), {}).values()
                if job is None or d["JobCreateIndex"] == job["CreateIndex"]
            ),
            key=lambda d: d["CreateIndex"],
            reverse=True,
        )

    def node_allocs(self, node_id: str) -> list[dict]:
        """Every allocation placed on a node."""
        return list(self._allocs_by["node"].get(node_id, {}).values())

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
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = (watched, min_index, future)
        self._waiters.add(waiter)
        # The future itself, with a timer: asyncio.wait would add a hop to every wake-up.
        timer = loop.call_later(timeout, _time_up, future)
        try:
            await future
        finally:
            timer.cancel()
            self._waiters.discard(waiter)
        return self.max_index(watched)


def _time_up(future: asyncio.Future[None]) -> None:
    """A blocking wait's timeout: it answers with what the state holds then."""
    if not future.done():
        future.set_result(None)


def _alloc_keys(alloc: dict) -> list[tuple[str, object]]:
    """The secondary index entries of an allocation."""
    keys: list[tuple[str, object]] = [
        ("job", (alloc["Namespace"], alloc["JobID"])),
        ("node", alloc["NodeID"]),
        ("eval", alloc["EvalID"]),
    ]
    if alloc.get("DeploymentID"):
        keys.append(("deployment", alloc["DeploymentID"]))
    return keys


def _discard(index: dict, key: object, row_id: str) -> None:
    """Remove one row from a secondary index, and the key once it holds none."""
    rows = index.get(key)
    if rows is not None:
        rows.pop(row_id, None)
        if not rows:
            del index[key]
