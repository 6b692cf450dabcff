"""The scheduler: evaluations in, allocations out.

An evaluation asks "does this job's desired state match what runs?". The scheduler
reconciles each task group (place missing allocations, stop extra ones, replace changed
ones under the ``update`` block's ``max_parallel``, reschedule failed ones), checks node
feasibility (drivers, datacenter, eligibility), bin-packs CPU and memory, picks ports,
and writes the result as one plan. What cannot be placed is recorded on the evaluation
(``FailedTGAllocs``, the group's later failures coalesced into one) and waits in a blocked
evaluation, as in Nomad. An evaluation yields to the event loop every few milliseconds, so
placing a big job never stalls the API.
"""

from __future__ import annotations

import asyncio
import logging
import time

from nomadlab.practice import structs
from nomadlab.practice.scheduler.context import EvalContext
from nomadlab.practice.scheduler.feasible import infeasible
from nomadlab.practice.scheduler.rank import (
    assign_resources,
    exhausted,
    score_node,
    static_port_collision,
)
from nomadlab.practice.scheduler.reconcile import Reconciler
from nomadlab.practice.scheduler.util import (
    Plan,
    coalesce,
    exhaust_resources,
    is_template,
    new_allocation,
    new_deployment,
    new_metric,
    stop,
    update_job_status,
)
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns

log = logging.getLogger("nomad.scheduler")

SLICE = 0.01  # seconds of placement work between yields to the event loop


class Scheduler:
    """Nomad's eval broker and a single scheduler worker, on the agent's event loop."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.blocked: dict[str, str] = {}  # blocked eval ID → "resources" | "constraints"
        self._timers: set[asyncio.TimerHandle] = set()
        self.context: EvalContext | None = None  # of the evaluation being processed
        self._slice_started = 0.0

    # The broker ----------------------------------------------------------------

    def enqueue(self, evaluation: dict, wait_until_ns: int = 0) -> int:
        """Store a new evaluation and queue it (at ``wait_until_ns`` if given)."""
        index = self.store.upsert("evals", evaluation)
        delay = wait_until_ns - now_ns()
        if delay > 0:

            def due() -> None:
                self._timers.discard(handle)
                self.queue.put_nowait(evaluation["ID"])

            handle = asyncio.get_running_loop().call_later(delay / 1e9, due)
            self._timers.add(handle)
        else:
            self.queue.put_nowait(evaluation["ID"])
        return index

    def unblock(self, reason: str) -> None:
        """Capacity or nodes changed: blocked evaluations get another go."""
        for eval_id, why in list(self.blocked.items()):
            if reason == "nodes" or why == reason:
                del self.blocked[eval_id]
                evaluation = self.store.evals.get(eval_id)
                if evaluation and evaluation["Status"] == "blocked":
                    evaluation["Status"] = "pending"
                    self.store.upsert("evals", evaluation)
                    self.queue.put_nowait(eval_id)

    async def run(self) -> None:
        """The worker: take evaluations one at a time, as Nomad's scheduler workers do."""
        while True:
            eval_id = await self.queue.get()
            evaluation = self.store.evals.get(eval_id)
            if evaluation is None or evaluation["Status"] != "pending":
                continue
            try:
                await self.process(evaluation)
            except Exception as exc:
                log.exception("[ERROR] worker: failed to process evaluation %s", eval_id)
                evaluation["Status"] = "failed"
                evaluation["StatusDescription"] = f"scheduler error: {exc}"
                self.store.upsert("evals", evaluation)

    def stop(self) -> None:
        """Cancel delayed evaluations (the agent is shutting down)."""
        for handle in self._timers:
            handle.cancel()

    # One evaluation ------------------------------------------------------------

    async def process(self, evaluation: dict) -> None:
        """Reconcile the evaluation's job and apply the plan."""
        job = self.store.job(evaluation["Namespace"], evaluation["JobID"])
        self._cancel_older_blocked(evaluation)
        self._apply(evaluation, job, await self.reconcile(evaluation, job))

    async def reconcile(self, evaluation: dict, job: dict | None) -> Plan:
        """What the evaluation would do to the job's allocations, without applying it."""
        store = self.store
        self._slice_started = time.monotonic()
        plan = Plan()
        allocs = store.job_allocs(
            evaluation["Namespace"], evaluation["JobID"], any_create_index=True
        )
        if job is not None:  # a purged job's allocations give way to the job of that name now
            current = job["CreateIndex"]
            for alloc in allocs:
                if alloc["Job"]["CreateIndex"] != current and alloc["DesiredStatus"] == "run":
                    plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
            allocs = [a for a in allocs if a["Job"]["CreateIndex"] == current]
        stopping = job is None or job["Stop"] or is_template(job)
        if stopping:
            self._cancel_deployments(evaluation["Namespace"], evaluation["JobID"])
        else:
            plan.deployment, plan.updates_allowed = self._deployment_for(job, evaluation)
            plan.failed_deployment_id = self._failed_deployment_id(job)
            self.context = EvalContext(store, job, plan)
        groups = {} if stopping else {g["Name"]: g for g in job["TaskGroups"]}
        for name in sorted({a["TaskGroup"] for a in allocs} | set(groups)):
            group_allocs = [a for a in allocs if a["TaskGroup"] == name]
            if name not in groups:
                for alloc in group_allocs:
                    if alloc["DesiredStatus"] == "run":
                        plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
                        plan.count(name, "Stop")
                continue
            plan.queued.setdefault(name, 0)  # every group has a count, 0 once all are placed
            await Reconciler(self, job, groups[name], group_allocs, evaluation, plan).run()
        self.context = None
        return plan

    def _apply(self, evaluation: dict, job: dict | None, plan: Plan) -> None:
        store = self.store
        deployment = plan.deployment
        if deployment is not None:
            placed = [a for a in plan.allocs if a.get("DeploymentID") == deployment["ID"]]
            if "CreateIndex" not in deployment and not placed:
                deployment = None
            else:
                if deployment["Status"] == "running":
                    deployment["StatusDescription"] = structs.running_description(deployment)
                store.upsert("deployments", deployment)
                evaluation["DeploymentID"] = deployment["ID"]
        if plan.allocs:
            store.upsert_allocs(plan.allocs)
        for followup, wait_until in plan.followups:
            self.enqueue(followup, wait_until)
        evaluation["Status"] = "complete"
        evaluation["QueuedAllocations"] = plan.queued if job else {}
        evaluation["ModifyTime"] = now_ns()
        if plan.failed:
            evaluation["FailedTGAllocs"] = plan.failed
            blocked = new_evaluation(
                job,
                "queued-allocs",
                Status="blocked",
                StatusDescription="created to place remaining allocations",
                PreviousEval=evaluation["ID"],
                JobModifyIndex=job["JobModifyIndex"],
            )
            constraints_only = all(m["NodesExhausted"] == 0 for m in plan.failed.values())
            self.blocked[blocked["ID"]] = "constraints" if constraints_only else "resources"
            store.upsert("evals", blocked)
            evaluation["BlockedEval"] = blocked["ID"]
        store.upsert("evals", evaluation)
        if job is not None:
            update_job_status(store, job)

    def _cancel_older_blocked(self, evaluation: dict) -> None:
        """A newer evaluation of the job supersedes its blocked one."""
        for other in self.store.job_evals(evaluation["Namespace"], evaluation["JobID"]):
            if other["Status"] == "blocked" and other["ID"] != evaluation["ID"]:
                other["Status"] = "canceled"
                other["StatusDescription"] = f"evaluation {evaluation['ID'][:8]} successful"
                self.blocked.pop(other["ID"], None)
                self.store.upsert("evals", other)

    def _cancel_deployments(self, namespace: str, job_id: str) -> None:
        """A stopped or purged job's active deployment is cancelled, as the reconciler's
        ``cancelUnneededDeployments`` does (so a forced GC can collect it)."""
        for deployment in self.store.job_deployments(namespace, job_id):
            if deployment["Status"] in ("running", "paused"):
                deployment["Status"] = "cancelled"
                deployment["StatusDescription"] = structs.DEPLOYMENT_STOPPED_JOB
                self.store.upsert("deployments", deployment)

    def _deployment_for(self, job: dict, evaluation: dict) -> tuple[dict | None, bool]:
        """The job version's deployment (the running one, or a new one for a new version),
        and whether destructive updates may proceed (not after a failed deployment)."""
        if job["Type"] != "service":
            return None, True
        for deployment in self.store.job_deployments(job["Namespace"], job["ID"]):
            if deployment["JobVersion"] == job["Version"]:
                if deployment["Status"] in ("running", "paused"):
                    return deployment, deployment["Status"] == "running"
                return None, deployment["Status"] != "failed"
            if deployment["Status"] in ("running", "paused"):
                deployment["Status"] = "cancelled"
                deployment["StatusDescription"] = structs.DEPLOYMENT_NEWER_JOB
                self.store.upsert("deployments", deployment)
        # createDeployment: whatever triggered the evaluation (a register, or an allocation's
        # failure evaluated after it), a version that has not run yet gets one when the
        # plan places or updates an allocation into it (see _apply).
        changes = ("job-register", "job-scaling", "deployment-watcher")
        if evaluation["TriggeredBy"] not in changes and any(
            a["Job"]["Version"] == job["Version"] and a["Job"]["CreateIndex"] == job["CreateIndex"]
            for a in self.store.iter_job_allocs(job["Namespace"], job["ID"])
        ):
            return None, True
        return new_deployment(job, evaluation), True

    def _failed_deployment_id(self, job: dict) -> str:
        """The job version's deployment when it failed (the reconciler's deploymentFailed):
        it replaces nothing more, and its failed allocations are not rescheduled."""
        for deployment in self.store.job_deployments(job["Namespace"], job["ID"]):
            if deployment["JobVersion"] == job["Version"] and deployment["Status"] == "failed":
                return deployment["ID"]
        return ""

    # Placement ---------------------------------------------------------------

    async def place(
        self,
        job: dict,
        group: dict,
        name: str,
        evaluation: dict,
        plan: Plan,
        previous: dict | None = None,
    ) -> dict | None:
        """Choose a node for one new allocation; record why not on failure.

        Every feasible node that has room is scored (rank.py) and the best one wins; a
        replacement for a failed allocation avoids the nodes it failed on. Once a group has
        failed, its later placements only count as coalesced failures, as in Nomad.
        """
        if group["Name"] in plan.failed:
            coalesce(plan, group, 1)
            return None
        if time.monotonic() - self._slice_started > SLICE:
            await asyncio.sleep(0)
            self._slice_started = time.monotonic()
        context = self.context
        assert context is not None
        context.refresh()
        ask_cpu = sum(t["Resources"]["CPU"] for t in group["Tasks"])
        ask_mem = sum(t["Resources"]["MemoryMB"] for t in group["Tasks"])
        metric = new_metric()
        collision = static_port_collision(group, context.ports)
        copies = context.group_copies(group["Name"])
        penalty_nodes = reschedule_penalty_nodes(previous)
        scored = []
        for node in sorted(self.store.nodes.values(), key=lambda n: n["Name"]):
            metric["NodesEvaluated"] += 1
            used_cpu, used_mem, job_copies = context.node_usage(node["ID"])
            reason = infeasible(node, job, group, job_copies, copies[node["ID"]])
            if reason:
                metric["NodesFiltered"] += 1
                metric["ConstraintFiltered"][reason] = (
                    metric["ConstraintFiltered"].get(reason, 0) + 1
                )
                if node["NodeClass"]:
                    metric["ClassFiltered"][node["NodeClass"]] = (
                        metric["ClassFiltered"].get(node["NodeClass"], 0) + 1
                    )
                continue
            metric["NodesAvailable"][node["Datacenter"]] = (
                metric["NodesAvailable"].get(node["Datacenter"], 0) + 1
            )
            capacity = node["NodeResources"]
            if used_cpu + ask_cpu > capacity["Cpu"]["CpuShares"]:
                exhausted(metric, "cpu")
                continue
            if used_mem + ask_mem > capacity["Memory"]["MemoryMB"]:
                exhausted(metric, "memory")
                continue
            if collision:  # every practice node shares this host's ports
                exhausted(metric, f"network: reserved port collision {collision}")
                continue
            score, scores = score_node(
                node,
                job,
                group,
                (used_cpu + ask_cpu, used_mem + ask_mem),
                copies,
                self.store.nodes,
                penalty_nodes,
            )
            scored.append((score, node, scores))
        if not scored:
            exhaust_resources(metric, group, 1)
            plan.failed[group["Name"]] = metric
            plan.queued[group["Name"]] = plan.queued.get(group["Name"], 0) + 1
            return None
        best = max(scored, key=lambda s: s[0])[1]  # the first of equals, in node name order
        metric["NodesInPool"] = len(self.store.nodes)
        metric["ScoreMetaData"] = [
            {"NodeID": node["ID"], "Scores": scores, "NormScore": score}
            for score, node, scores in sorted(scored, key=lambda s: -s[0])[:5]
        ]
        alloc = new_allocation(job, group, name, best, evaluation, metric)
        assign_resources(alloc, group, best, context.ports)
        plan.allocs.append(alloc)
        return alloc


def reschedule_penalty_nodes(previous: dict | None) -> set[str]:
    """Nodes a failed allocation ran on, which its replacement should avoid."""
    if previous is None or previous["ClientStatus"] != "failed":
        return set()
    events = (previous.get("RescheduleTracker") or {}).get("Events") or []
    return {previous["NodeID"], *(e["PrevNodeID"] for e in events)}
