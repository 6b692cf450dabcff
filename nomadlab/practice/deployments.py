"""The deployment watcher: turns allocation health into deployment progress.

It counts placed, healthy and unhealthy allocations per group and keeps each group's
``RequireProgressBy`` (first placement, then each healthy allocation, plus
``progress_deadline``). An unhealthy allocation fails the deployment at once only when its
group has no progress deadline or its reschedule policy allows no further attempt;
otherwise the watcher lets the reconciler replace it (``DesiredTransition.Reschedule``) and
the deployment fails when the progress deadline passes. It asks the scheduler for the next
batch of a rolling update with a ``deployment-watcher`` evaluation as allocations turn
healthy, promotes canaries (by hand, or by itself with ``auto_promote``), pauses and fails
deployments, and on a failure with ``auto_revert`` registers the last stable version
again, as nomad/deploymentwatcher does."""

from __future__ import annotations

import asyncio
import copy
import logging
import time

from nomadlab.practice import structs
from nomadlab.practice.jobspec import format_errors
from nomadlab.practice.scheduler import Scheduler
from nomadlab.practice.server import APIError
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns, parse_rfc3339, rfc3339, spec_changed
from nomadlab.practice.structs.reschedule import alloc_policy, reschedule_eligible

log = logging.getLogger("nomad.deployments_watcher")

# Nomad's watcher queries the state at most 100 times a second (LimitStateQueriesPerSecond)
# and hears of allocations in the clients' 200 ms batches; this one lets a change settle
# for 10 ms before it looks, so a placement's own hops to its task's start come first.
GATHER = 0.01


class DeploymentError(Exception):
    """A request the deployment cannot take (Nomad answers these with a 500 and the text)."""


class DeploymentWatcher:
    """Watches allocations and deployments in the store, like nomad/deploymentwatcher."""

    def __init__(self, store: StateStore, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler
        self._healthy_seen: dict[str, int] = {}  # deployment ID → healthy allocations seen
        # deployment ID → the progress cutoff that passed without failing it (canaries
        # waiting for promotion): the watcher does not wake for it again.
        self._deadline_hit: dict[str, int] = {}

    async def run(self) -> None:
        index = 0
        while True:
            index = await self.store.wait(["allocs", "deployments"], index, self._next_deadline())
            await asyncio.sleep(GATHER)
            started = time.monotonic()
            for deployment in list(self.store.deployments.values()):
                if deployment["Status"] == "running":
                    self.check(deployment)
            # A big deployment costs a scan per change: let changes gather for as long as
            # the last round took (at most 0.25 s), so the loop stays free for the API.
            await asyncio.sleep(min(0.25, time.monotonic() - started))

    def _next_deadline(self) -> float:
        """Seconds until the nearest progress deadline, so the watcher wakes for it."""
        now = now_ns()
        cutoffs = [
            (cutoff - now) / 1e9
            for d in self.store.deployments.values()
            if d["Status"] == "running"
            and (cutoff := self._progress_cutoff(d))
            and cutoff != self._deadline_hit.get(d["ID"])
        ]
        return max(0.05, min(cutoffs, default=60.0))

    def check(self, deployment: dict) -> None:
        """Update the counters of one running deployment and act on them as Nomad's
        deployment watcher does: fail it early or at its progress deadline, let failed
        allocations be rescheduled, promote, or end it successful."""
        allocs = self.store.deployment_allocs(deployment["ID"])
        changed = self._count(deployment, allocs)
        healthy_total = sum(s["HealthyAllocs"] for s in deployment["TaskGroups"].values())
        seen = self._healthy_seen.get(deployment["ID"], 0)
        progressed = healthy_total > seen
        self._healthy_seen[deployment["ID"]] = healthy_total
        job = self.store.job(deployment["Namespace"], deployment["JobID"])
        fail, rollback = self._fail_early(deployment, allocs)
        cutoff = self._progress_cutoff(deployment)
        deadline_hit = deployment["ID"] in self._deadline_hit
        if cutoff and now_ns() >= cutoff and cutoff != self._deadline_hit.get(deployment["ID"]):
            deadline_hit = True
            self._deadline_hit[deployment["ID"]] = cutoff
            late, revert = self._should_fail(deployment)
            fail, rollback = fail or late, rollback or revert
        if fail:
            # Once the deadline passed, a failure is described as a deadline failure.
            description = structs.DEPLOYMENT_FAILED_ALLOCATIONS
            if deadline_hit:
                description = structs.DEPLOYMENT_PROGRESS_DEADLINE
            self.fail(deployment, description, rollback)
        elif self._auto_promotable(deployment, allocs):
            self.promote(deployment, all_groups=True)
        elif job is not None and self._complete(deployment, job):
            self.finish(deployment, "successful", structs.DEPLOYMENT_SUCCESSFUL)
            job["Stable"] = True
            for version in self.store.job_versions.get((job["Namespace"], job["ID"]), []):
                if version["Version"] == deployment["JobVersion"]:
                    version["Stable"] = True
            self.store.commit(["jobs", "job_versions"])
        elif replace := self._allow_replacements(allocs):
            self._update(deployment, evaluate=True)
            log.debug(
                "deployment %s: rescheduling %d unhealthy allocation(s)",
                deployment["ID"],
                len(replace),
            )
        elif changed:
            next_batch = progressed and job is not None and self._outdated(deployment, job)
            self._update(deployment, evaluate=next_batch)

    def _count(self, deployment: dict, allocs: list[dict]) -> bool:
        """Set each group's counters and its RequireProgressBy (the state store's
        updateDeploymentWithAlloc): the first placement starts the progress deadline, and
        each allocation turning healthy pushes it to its health time plus the deadline."""
        changed = False
        for name, state in deployment["TaskGroups"].items():
            group_allocs = [a for a in allocs if a["TaskGroup"] == name]
            health = [(a.get("DeploymentStatus") or {}).get("Healthy") for a in group_allocs]
            counters = {
                "PlacedAllocs": len(group_allocs),
                "HealthyAllocs": health.count(True),
                "UnhealthyAllocs": health.count(False),
            }
            deadline = state["ProgressDeadline"]
            if deadline and group_allocs:
                by = parse_rfc3339(state["RequireProgressBy"])
                if not by:
                    # The first placement: an allocation updated in place into this
                    # deployment counts from the deployment's start, not its creation.
                    placed = min(a["CreateTime"] for a in group_allocs)
                    by = max(placed, deployment["CreateTime"]) + deadline
                for alloc in group_allocs:
                    status = alloc.get("DeploymentStatus") or {}
                    if status.get("Healthy") and status.get("Timestamp"):
                        by = max(by, parse_rfc3339(status["Timestamp"]) + deadline)
                counters["RequireProgressBy"] = rfc3339(by)
            if any(state[k] != v for k, v in counters.items()):
                state.update(counters)
                changed = True
        return changed

    def _progress_cutoff(self, deployment: dict) -> int:
        """getDeploymentProgressCutoff: the earliest RequireProgressBy of the groups not yet
        done (0: none runs against a deadline)."""
        allocs = self.store.deployment_allocs(deployment["ID"])
        cutoffs = []
        for name, state in deployment["TaskGroups"].items():
            by = parse_rfc3339(state["RequireProgressBy"])
            if by and not self._group_done(state, name, allocs):
                cutoffs.append(by)
        return min(cutoffs, default=0)

    @staticmethod
    def _group_done(state: dict, name: str, allocs: list[dict]) -> bool:
        """doneGroups: promoted if it wants canaries, and enough healthy allocations run."""
        if state["DesiredCanaries"] and not state["Promoted"]:
            return False
        healthy = sum(
            1
            for a in allocs
            if a["TaskGroup"] == name
            and a["DesiredStatus"] == "run"
            and not structs.is_terminal(a)
            and (a.get("DeploymentStatus") or {}).get("Healthy")
        )
        return healthy >= state["DesiredTotal"]

    @staticmethod
    def _should_fail(deployment: dict) -> tuple[bool, bool]:
        """shouldFail, at the progress deadline: whether a group lacks healthy allocations
        (canaries while unpromoted), and whether such a group reverts automatically."""
        fail = False
        for state in deployment["TaskGroups"].values():
            wanted = state["DesiredTotal"]
            if state["DesiredCanaries"] and not state["Promoted"]:
                wanted = state["DesiredCanaries"]
            if state["HealthyAllocs"] >= wanted:
                continue
            fail = True
            if state["AutoRevert"]:
                return True, True
        return fail, False

    @staticmethod
    def _fail_early(deployment: dict, allocs: list[dict]) -> tuple[bool, bool]:
        """handleAllocUpdate's shouldFailEarly: an unhealthy allocation fails the deployment
        at once when its group has no progress deadline, or when its reschedule policy allows
        no further attempt. Returns (fail, roll back)."""
        fail = rollback = False
        for alloc in allocs:
            state = deployment["TaskGroups"].get(alloc["TaskGroup"])
            if state is None or (alloc.get("DeploymentStatus") or {}).get("Healthy") is not False:
                continue
            if state["ProgressDeadline"] and reschedule_eligible(alloc, alloc_policy(alloc)):
                continue
            fail = True
            rollback = rollback or state["AutoRevert"]
        return fail, rollback

    def _allow_replacements(self, allocs: list[dict]) -> list[dict]:
        """Mark the unhealthy allocations that may be rescheduled (DesiredTransition
        Reschedule): within an active deployment the reconciler waits for this mark."""
        marked = []
        for alloc in allocs:
            status = alloc.get("DeploymentStatus") or {}
            transition = alloc.get("DesiredTransition") or {}
            if status.get("Healthy") is False and not transition.get("Reschedule"):
                updated = copy.deepcopy(alloc)
                updated["DesiredTransition"] = {**transition, "Reschedule": True}
                marked.append(updated)
        if marked:
            self.store.upsert_allocs(marked)
        return marked

    def _outdated(self, deployment: dict, job: dict) -> bool:
        """Allocations of an older version still wait to be replaced: running ones, or
        failed ones waiting for a reschedule (the update replaces them too)."""
        return any(
            a["DesiredStatus"] == "run"
            and a["ClientStatus"] in ("pending", "running", "failed")
            and a["JobVersion"] != deployment["JobVersion"]
            for a in self.store.iter_job_allocs(job["Namespace"], job["ID"])
        )

    def _complete(self, deployment: dict, job: dict) -> bool:
        return (
            job["Version"] == deployment["JobVersion"]
            and not structs.requires_promotion(deployment)
            and not self._outdated(deployment, job)
            and all(
                s["HealthyAllocs"] >= s["DesiredTotal"] for s in deployment["TaskGroups"].values()
            )
        )

    def _auto_promotable(self, deployment: dict, allocs: list[dict]) -> bool:
        """Every group waiting for promotion auto-promotes, and its canaries are healthy."""
        waiting = {
            name: state
            for name, state in deployment["TaskGroups"].items()
            if state["DesiredCanaries"] > 0 and not state["Promoted"]
        }
        return bool(waiting) and all(
            state["AutoPromote"]
            and self._healthy_canaries(allocs, name) >= state["DesiredCanaries"]
            for name, state in waiting.items()
        )

    @staticmethod
    def _healthy_canaries(allocs: list[dict], group: str) -> int:
        return sum(
            1
            for a in allocs
            if a["TaskGroup"] == group
            and (a.get("DeploymentStatus") or {}).get("Canary")
            and (a.get("DeploymentStatus") or {}).get("Healthy")
        )

    # Requests (nomad/deployment_endpoint.go → deploymentwatcher) -------------------

    def promote(
        self, deployment: dict, all_groups: bool = True, groups: list[str] | None = None
    ) -> dict:
        """Promote the canaries of all (or the named) groups; the rolling update goes on."""
        if deployment["Status"] not in ("running", "paused"):
            raise DeploymentError("can't promote terminal deployment")
        allocs = self.store.deployment_allocs(deployment["ID"])
        chosen = {
            name: state
            for name, state in deployment["TaskGroups"].items()
            if state["DesiredCanaries"] > 0
            and not state["Promoted"]
            and (all_groups or name in (groups or []))
        }
        if not chosen:
            raise DeploymentError("no canaries to promote")
        errors = [
            f'Task group "{name}" has {healthy}/{state["DesiredCanaries"]} healthy allocations'
            for name, state in sorted(chosen.items())
            if (healthy := self._healthy_canaries(allocs, name)) < state["DesiredCanaries"]
        ]
        if errors:
            raise DeploymentError(format_errors(errors))
        promoted = []
        for name, state in chosen.items():
            state["Promoted"] = True
            if state["ProgressDeadline"] and state["RequireProgressBy"]:
                # Promotion restarts the progress deadline (UpdateDeploymentPromotion).
                state["RequireProgressBy"] = rfc3339(now_ns() + state["ProgressDeadline"])
            for alloc in allocs:
                status = alloc.get("DeploymentStatus") or {}
                if alloc["TaskGroup"] == name and status.get("Canary"):
                    status["Canary"] = False
                    promoted.append(alloc)
        if promoted:
            self.store.upsert_allocs(promoted)
        deployment["StatusDescription"] = structs.running_description(deployment)
        return self._update(deployment, evaluate=True)

    def pause(self, deployment: dict, pause: bool) -> dict:
        """Pause a deployment (no new placements), or resume it."""
        if deployment["Status"] not in ("running", "paused"):
            verb = "pause" if pause else "resume"
            raise DeploymentError(f"can't {verb} terminal deployment")
        deployment["Status"] = "paused" if pause else "running"
        deployment["StatusDescription"] = (
            structs.DEPLOYMENT_PAUSED if pause else structs.running_description(deployment)
        )
        return self._update(deployment, evaluate=not pause)

    def fail(
        self,
        deployment: dict,
        description: str = structs.DEPLOYMENT_FAILED_BY_USER,
        rollback: bool | None = None,
    ) -> dict:
        """Fail a deployment; with ``auto_revert`` (of the group that failed it, or of any
        group when ``rollback`` is None), register the last stable version again."""
        if deployment["Status"] not in ("running", "paused"):
            raise DeploymentError("can't fail terminal deployment")
        reverted = None
        if rollback is None:
            rollback = any(s["AutoRevert"] for s in deployment["TaskGroups"].values())
        if rollback:
            description, reverted = self._rollback(deployment, description)
        self.finish(deployment, "failed", description)
        response = self._update(deployment, evaluate=True)  # of the reverted job, if any
        if reverted is not None:
            response["RevertedJobVersion"] = reverted["Version"]
        return response

    def _rollback(self, deployment: dict, description: str) -> tuple[str, dict | None]:
        """The description of a failure with auto-revert, and the job version it registered."""
        key = (deployment["Namespace"], deployment["JobID"])
        job = self.store.jobs.get(key)
        stable = next(
            (
                v
                for v in self.store.job_versions.get(key, [])
                if v["Stable"] and v["Version"] != deployment["JobVersion"]
            ),
            None,
        )
        if job is None or stable is None:
            return structs.deployment_no_rollback_target(description), None
        if not spec_changed(stable, job):
            return structs.deployment_rollback_noop(description, stable["Version"]), None
        rollback = copy.deepcopy(stable)
        rollback.update(Stable=False, Stop=False, Status="pending", SubmitTime=now_ns())
        self.store.upsert_job(rollback)
        return structs.deployment_rollback(description, stable["Version"]), rollback

    def _update(self, deployment: dict, evaluate: bool) -> dict:
        """Store a changed deployment, and evaluate its job so the scheduler acts on it."""
        deployment["ModifyTime"] = now_ns()
        index = self.store.upsert("deployments", deployment)
        response = {
            "EvalID": "",
            "EvalCreateIndex": 0,
            "DeploymentModifyIndex": index,
            "RevertedJobVersion": None,
            "Index": index,
        }
        job = self.store.job(deployment["Namespace"], deployment["JobID"])
        if evaluate and job is not None:
            evaluation = new_evaluation(
                job,
                "deployment-watcher",
                DeploymentID=deployment["ID"],
                JobModifyIndex=job["JobModifyIndex"],
            )
            response["EvalCreateIndex"] = self.scheduler.enqueue(evaluation)
            response["EvalID"] = evaluation["ID"]
        return response

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
        self._healthy_seen.pop(deployment["ID"], None)
        self._deadline_hit.pop(deployment["ID"], None)
        self.store.upsert("deployments", deployment)
