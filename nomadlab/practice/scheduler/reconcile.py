"""Reconciling one task group: which allocations to keep, place, stop, update in place or
replace under ``max_parallel``, and reschedule after a failure (scheduler/reconcile.go)."""

from __future__ import annotations

import copy
import re
from typing import Protocol

from nomadlab.practice import structs
from nomadlab.practice.scheduler.util import Plan, coalesce, deployment_group_state, stop
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns
from nomadlab.practice.structs.reschedule import alloc_policy, next_delay, next_reschedule_time

# Fields of a task whose change needs a new allocation (scheduler/util.go tasksUpdated).
DESTRUCTIVE_TASK_FIELDS = (
    "Driver",
    "User",
    "Config",
    "Env",
    "Meta",
    "Resources",
    "Artifacts",
    "Templates",
    "Vault",
    "KillSignal",
    "Lifecycle",
)
DESTRUCTIVE_GROUP_FIELDS = ("Networks", "EphemeralDisk", "Meta", "Volumes")
# A failed allocation due within this much is replaced now (rescheduleWindowSize); follow-up
# evaluations gather the reschedules due within 5 s of each other (batchedFailedAllocWindowSize).
RESCHEDULE_WINDOW = 1_000_000_000
FAILED_ALLOC_BATCH_WINDOW = 5_000_000_000


class Placer(Protocol):
    """What the reconciler needs from the scheduler: the state, and placing one allocation."""

    store: StateStore

    async def place(
        self,
        job: dict,
        group: dict,
        name: str,
        evaluation: dict,
        plan: Plan,
        previous: dict | None = None,
    ) -> dict | None: ...


class Reconciler:
    """One task group's reconciliation (scheduler/reconcile.go, the parts a learner meets)."""

    def __init__(
        self,
        scheduler: Placer,
        job: dict,
        group: dict,
        allocs: list[dict],
        evaluation: dict,
        plan: Plan,
    ) -> None:
        self.scheduler = scheduler
        self.job = job
        self.group = group
        self.allocs = allocs
        self.evaluation = evaluation
        self.plan = plan
        self.deployment = plan.deployment

    async def run(self) -> None:
        count = self.group["Count"]
        name = self.group["Name"]
        live = [
            a for a in self.allocs if a["DesiredStatus"] == "run" and not structs.is_terminal(a)
        ]
        failed = [
            a for a in self.allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] == "failed"
        ]
        live, replace = self._filter_by_tainted(live)
        canaries = []
        for alloc in [a for a in live + failed if self._unpromoted_canary(a)]:
            if alloc["ClientStatus"] == "failed":
                failed.remove(alloc)
            else:
                live.remove(alloc)
            if self.deployment is not None and alloc["DeploymentID"] == self.deployment["ID"]:
                canaries.append(alloc)
                self.plan.count(name, "Ignore")
            else:  # a canary of a cancelled or failed deployment
                self.plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
                self.plan.count(name, "Stop")
        # A failed canary still counts as one of its deployment's; it holds no index.
        waiting, reschedule_now = self._filter_by_rescheduleable(
            failed + [c for c in canaries if c["ClientStatus"] == "failed"]
        )
        # Scale down: the highest indexes go first; of two at one index (a promoted canary
        # and the allocation it replaces) the one at the job's version stays, and a running
        # allocation before a failed one.
        live.sort(key=lambda a: (alloc_index(a), a["JobVersion"] != self.job["Version"]))
        keep: dict[int, dict] = {}
        if self.job["Type"] == "batch":  # a batch copy that completed is done, not replaced
            for alloc in self.allocs:
                if (
                    alloc["ClientStatus"] == "complete"
                    and alloc["DesiredStatus"] == "run"
                    and alloc["JobVersion"] == self.job["Version"]
                    and alloc_index(alloc) < count
                ):
                    keep[alloc_index(alloc)] = alloc
        canary_ids = {c["ID"] for c in canaries}
        for alloc in live + sorted(
            (a for a in waiting if a["ID"] not in canary_ids), key=alloc_index
        ):
            index = alloc_index(alloc)
            if index >= count or index in keep:
                self.plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
                self.plan.count(name, "Stop")
            else:
                keep[index] = alloc
        # Before any placement: computeUnderProvisionedBy reads the allocations as they are.
        limit = self._under_provisioned_by(keep, migrating=bool(replace))
        tried = set()
        for alloc in replace:
            index = alloc_index(alloc)
            if index < count and index not in keep and index not in tried:
                tried.add(index)
                self.plan.count(name, "Migrate")
                replacement = await self._place(index, previous=alloc)
                if replacement is not None:
                    keep[index] = replacement
                    if not should_migrate(alloc):
                        limit -= 1  # a lost allocation's replacement is a placement
        held = await self._reschedule(reschedule_now, count, set(keep))
        limit -= len(held)
        if self._place_ready():  # computeReplacements: paused, failed or canarying places none
            limit -= await self._place_missing(count, set(keep) | held | tried)
        await self._update(keep, canaries, max(0, limit))
        self._record_desired_total(count)

    async def _place_missing(self, count: int, occupied: set[int]) -> int:
        """Place every index not yet occupied; returns how many it placed. Once the group
        fails to place, the indexes left are counted, not looped over: ``count`` may be in
        the millions."""
        placed = 0
        for index in range(count):
            if index in occupied:
                continue
            if self.group["Name"] in self.plan.failed:
                later = count - index - sum(1 for o in occupied if index < o < count)
                coalesce(self.plan, self.group, later)
                self.plan.count(self.group["Name"], "Place", later)
                return placed
            self.plan.count(self.group["Name"], "Place")
            await self._place(index)
            placed += 1
        return placed

    def _filter_by_tainted(self, live: list[dict]) -> tuple[list[dict], list[dict]]:
        """Deal with allocations on nodes that left (filterByTainted): migrate those a drain
        marked, mark lost those of down nodes, unknown those of disconnected ones, and on
        reconnect keep the original over its replacement. Returns the allocations that stay
        and those that need a replacement."""
        nodes = self.scheduler.store.nodes
        by_previous = {a.get("PreviousAllocation"): a for a in live if a.get("PreviousAllocation")}
        untainted, replace = [], []
        for alloc in live:
            node = nodes.get(alloc["NodeID"])
            status = node["Status"] if node else "down"
            if status == "down":
                self.plan.allocs.append(stop(alloc, structs.ALLOC_LOST, client_status="lost"))
                if alloc["ID"] not in by_previous:
                    replace.append(alloc)
            elif status == "disconnected":
                if alloc["ClientStatus"] != "unknown":
                    self.plan.allocs.append(mark_unknown(alloc))
                if not disconnect_replace(self.group):
                    untainted.append(alloc)  # it keeps its place until it reconnects or is lost
                elif alloc["ID"] not in by_previous:
                    replace.append(alloc)
            elif reconnecting(alloc) and alloc["ID"] in by_previous:
                # The original comes back; its replacement is no longer needed.
                replacement = by_previous[alloc["ID"]]
                self.plan.allocs.append(stop(replacement, structs.ALLOC_RECONNECTED))
                self.plan.allocs.append(mark_reconnected(alloc))
                untainted.append(alloc)
            elif should_migrate(alloc):  # marked by a drain, even one over since
                self.plan.allocs.append(stop(alloc, structs.ALLOC_MIGRATING))
                replace.append(alloc)
            else:
                untainted.append(alloc)
        stopped = {a["ID"] for a in self.plan.allocs if a["DesiredStatus"] == "stop"}
        return [a for a in untainted if a["ID"] not in stopped], replace

    def _unpromoted_canary(self, alloc: dict) -> bool:
        """A canary whose deployment has not promoted its group (yet, or ever)."""
        if not (alloc.get("DeploymentStatus") or {}).get("Canary"):
            return False
        deployment = self.scheduler.store.deployments.get(alloc.get("DeploymentID") or "")
        state = (deployment or {}).get("TaskGroups", {}).get(self.group["Name"]) or {}
        return not state.get("Promoted")

    async def _update(self, keep: dict[int, dict], canaries: list[dict], limit: int) -> None:
        """Bring kept allocations to the job's version: in place, or replaced ``limit`` at
        a time (computeDestructiveUpdates), after canaries first if the update block asks
        for them. Failed allocations waiting for a reschedule are replaced too."""
        job, name = self.job, self.group["Name"]
        destructive = []
        for index, alloc in sorted(keep.items()):
            if alloc["JobVersion"] == job["Version"]:
                self.plan.count(name, "Ignore")
            elif group_changed(alloc["Job"], job, name):
                destructive.append((index, alloc))
            else:
                updated = copy.deepcopy(alloc)
                updated["Job"] = job
                updated["JobVersion"] = job["Version"]
                if self.deployment is not None:
                    updated["DeploymentID"] = self.deployment["ID"]
                    updated["DeploymentStatus"] = None
                self.plan.allocs.append(updated)
                self.plan.count(name, "InPlaceUpdate")
        if destructive and self._canary_phase():
            self.plan.count(name, "Ignore", len(destructive))
            if self.plan.updates_allowed:  # a paused deployment places no canaries either
                await self._place_canaries([i for i, _ in destructive], canaries)
            return
        if not self._place_ready():
            limit = 0
        self.plan.count(name, "Ignore", len(destructive[limit:]))
        for index, alloc in destructive[:limit]:
            stopped = stop(alloc, structs.ALLOC_UPDATING)
            self.plan.allocs.append(stopped)  # first, so the placement may use what it frees
            replacement = await self._place(index, previous=alloc)
            if replacement is None:
                # computePlacements → plan.PopUpdate: the old version keeps running and the
                # index stays covered, so it is not placed (and counted) a second time.
                self.plan.allocs.remove(stopped)
            else:
                keep[index] = replacement
                self.plan.count(name, "DestructiveUpdate")

    def _place_ready(self) -> bool:
        """deploymentPlaceReady: the deployment is not paused or failed, nor canarying."""
        if not self.plan.updates_allowed:
            return False
        state = (self.deployment or {}).get("TaskGroups", {}).get(self.group["Name"]) or {}
        return not (state.get("DesiredCanaries") and not state.get("Promoted"))

    def _canary_phase(self) -> bool:
        """The update block wants canaries and this deployment has not promoted them."""
        wanted = (self.group.get("Update") or {}).get("Canary") or 0
        if not wanted or self.deployment is None:
            return False
        state = self.deployment["TaskGroups"].setdefault(
            self.group["Name"], deployment_group_state(self.group)
        )
        if state["Promoted"]:
            return False
        state["DesiredCanaries"] = wanted
        return True

    async def _place_canaries(self, indexes: list[int], canaries: list[dict]) -> None:
        """Place the canaries still missing, beside the allocations they may replace."""
        state = self.deployment["TaskGroups"][self.group["Name"]]
        used = {alloc_index(c) for c in canaries}
        spare = [i for i in range(self.group["Count"]) if i not in indexes]
        free = [i for i in indexes + spare if i not in used]
        for index in free[: max(0, state["DesiredCanaries"] - len(canaries))]:
            alloc = await self._place(index)
            if alloc is None:
                continue
            alloc["DeploymentStatus"] = new_canary_status()
            state["PlacedCanaries"] = [*(state["PlacedCanaries"] or []), alloc["ID"]]
            self.plan.count(self.group["Name"], "Canary")

    def _under_provisioned_by(self, keep: dict[int, dict], migrating: bool) -> int:
        """computeUnderProvisionedBy: how many allocations may be placed or replaced now.
        Without an update block or anything to replace, all of them; with no deployment,
        ``max_parallel``; in a paused or failed one, none; otherwise ``max_parallel`` less
        the deployment's allocations not yet healthy, and none while one is unhealthy."""
        count = self.group["Count"]
        max_parallel = (self.group.get("Update") or {}).get("MaxParallel") or 0
        outdated = any(a["JobVersion"] != self.job["Version"] for a in keep.values())
        if max_parallel <= 0 or not (outdated or migrating) or self.job["Type"] != "service":
            # A system job's update is not a deployment (Nomad's system scheduler staggers
            # it on its own; the practice agent replaces all at once).
            return count
        if self.deployment is None:
            return max_parallel if self.plan.updates_allowed else 0
        if not self._place_ready():
            return 0
        for alloc in keep.values():
            if alloc.get("DeploymentID") != self.deployment["ID"]:
                continue
            healthy = (alloc.get("DeploymentStatus") or {}).get("Healthy")
            if healthy is False:
                return 0
            if healthy is None:
                max_parallel -= 1
        return max(0, max_parallel)

    def _filter_by_rescheduleable(self, failed: list[dict]) -> tuple[list[dict], list[dict]]:
        """filterByRescheduleable: the failed allocations to replace now, and those that
        stay (untainted) until their reschedule delay has passed, for which a follow-up
        evaluation is planned. Within an active deployment an allocation waits until the
        deployment watcher allows its replacement (DesiredTransition.Reschedule)."""
        waiting, now_, later = [], [], []
        for alloc in failed:
            transition = alloc.get("DesiredTransition") or {}
            in_deployment = (
                self.deployment is not None and alloc.get("DeploymentID") == self.deployment["ID"]
            )
            if in_deployment and not transition.get("Reschedule"):
                waiting.append(alloc)
                continue
            when, eligible = next_reschedule_time(alloc, alloc_policy(alloc))
            followup = alloc.get("FollowupEvalID") or ""
            due = followup == self.evaluation["ID"] or when - now_ns() <= RESCHEDULE_WINDOW
            if transition.get("ForceReschedule") or (eligible and due):
                now_.append(alloc)
                continue
            waiting.append(alloc)
            if eligible and not followup:
                later.append((when, alloc))
        self._plan_followups(later)
        return waiting, now_

    def _plan_followups(self, later: list[tuple[int, dict]]) -> None:
        """createRescheduleLaterEvals: one ``alloc-failure`` evaluation per 5 s batch of
        reschedule times, and each allocation marked with the one that will replace it."""
        batch_eval, batch_start = None, 0
        for when, alloc in sorted(later, key=lambda pair: pair[0]):
            if batch_eval is None or when - batch_start >= FAILED_ALLOC_BATCH_WINDOW:
                batch_start = when
                batch_eval = new_evaluation(
                    self.job,
                    "alloc-failure",
                    StatusDescription="created for delayed rescheduling",
                    PreviousEval=self.evaluation["ID"],
                    JobModifyIndex=self.job["JobModifyIndex"],
                    WaitUntil=structs.rfc3339(when),
                )
                self.plan.followups.append((batch_eval, when))
            marked = copy.deepcopy(alloc)
            marked["FollowupEvalID"] = batch_eval["ID"]
            self.plan.allocs.append(marked)

    async def _reschedule(self, failed: list[dict], count: int, kept: set[int]) -> set[int]:
        """Replace the failed allocations due now (computeReplacements); returns the
        indexes they hold. Those of a deployment that failed stay failed."""
        held = set()
        failed_deployment = self.plan.failed_deployment_id
        for alloc in sorted(failed, key=alloc_index):
            index = alloc_index(alloc)
            canary = self._unpromoted_canary(alloc)
            if not canary and (index >= count or index in kept):
                continue
            if failed_deployment and alloc.get("DeploymentID") == failed_deployment:
                continue
            if not canary:
                held.add(index)
            replacement = await self._place(index, previous=alloc, rescheduling=True)
            if replacement is not None:
                self.plan.count(self.group["Name"], "Place")
                old = stop(alloc, structs.ALLOC_RESCHEDULED)
                old["NextAllocation"] = replacement["ID"]
                self.plan.allocs.append(old)
        return held

    async def _place(
        self, index: int, previous: dict | None = None, rescheduling: bool = False
    ) -> dict | None:
        """Place one allocation at ``index``; a reschedule carries the previous one's
        reschedule history (updateRescheduleTracker) and, in its deployment, its canary."""
        name = f"{self.job['ID']}.{self.group['Name']}[{index}]"
        alloc = await self.scheduler.place(
            self.job, self.group, name, self.evaluation, self.plan, previous
        )
        if alloc is None:
            return None
        if self.deployment is not None:
            alloc["DeploymentID"] = self.deployment["ID"]
        if previous is not None:
            alloc["PreviousAllocation"] = previous["ID"]
        if rescheduling and previous is not None:
            alloc["RescheduleTracker"] = {"Events": reschedule_events(previous, now_ns())}
            if self._unpromoted_canary(previous) and self.deployment is not None:
                alloc["DeploymentStatus"] = new_canary_status()
                state = self.deployment["TaskGroups"][self.group["Name"]]
                state["PlacedCanaries"] = [*(state["PlacedCanaries"] or []), alloc["ID"]]
        return alloc

    def _record_desired_total(self, count: int) -> None:
        if self.deployment is None:
            return
        state = self.deployment["TaskGroups"].setdefault(
            self.group["Name"], deployment_group_state(self.group)
        )
        state["DesiredTotal"] = count


_INDEX = re.compile(r"\[(\d+)\]$")
MAX_PAST_RESCHEDULE_EVENTS = 5  # kept of an unlimited policy's history (scheduler/util.go)


def reschedule_events(previous: dict, now: int) -> list[dict]:
    """The replacement's RescheduleTracker events: the previous allocation's within the
    policy's interval (its last five when unlimited), and this attempt."""
    policy = alloc_policy(previous) or {}
    events = (previous.get("RescheduleTracker") or {}).get("Events") or []
    if policy.get("Attempts"):
        interval = policy.get("Interval") or 0
        kept = [e for e in events if interval > 0 and now - e["RescheduleTime"] <= interval]
    else:
        kept = events[-MAX_PAST_RESCHEDULE_EVENTS:]
    attempt = {
        "RescheduleTime": now,
        "PrevAllocID": previous["ID"],
        "PrevNodeID": previous["NodeID"],
        "Delay": next_delay(previous, policy),
    }
    return [*kept, attempt]


def new_canary_status() -> dict:
    """The DeploymentStatus of a newly placed canary."""
    return {"Healthy": None, "Timestamp": None, "Canary": True, "ModifyIndex": 0}


def should_migrate(alloc: dict) -> bool:
    """A drain marked the allocation to move (DesiredTransition.Migrate)."""
    return bool((alloc.get("DesiredTransition") or {}).get("Migrate"))


def disconnect_replace(group: dict) -> bool:
    """Whether a disconnected allocation gets a replacement (``disconnect.replace``)."""
    return (group.get("Disconnect") or {}).get("Replace", True) is not False


def reconnecting(alloc: dict) -> bool:
    """The allocation was unknown (its node disconnected) and its node is back."""
    states = alloc.get("AllocStates") or []
    return bool(states) and states[-1].get("Value") == "unknown"


def mark_unknown(alloc: dict) -> dict:
    """A copy of ``alloc`` whose client status is unknown: its node stopped answering."""
    unknown = copy.deepcopy(alloc)
    unknown["ClientStatus"] = "unknown"
    unknown["ClientDescription"] = ""
    unknown["DesiredDescription"] = structs.ALLOC_UNKNOWN
    unknown["AllocStates"] = [*(alloc.get("AllocStates") or []), alloc_state("unknown")]
    unknown["ModifyTime"] = now_ns()
    return unknown


def mark_reconnected(alloc: dict) -> dict:
    reconnected = copy.deepcopy(alloc)
    reconnected["DesiredDescription"] = ""
    reconnected["AllocStates"] = [*(alloc.get("AllocStates") or []), alloc_state("running")]
    return reconnected


def alloc_state(value: str) -> dict:
    """An AllocState: when the server changed the allocation's client status."""
    return {"Field": "ClientStatus", "Value": value, "Time": structs.rfc3339(now_ns())}


def alloc_index(alloc: dict) -> int:
    """The N of ``job.group[N]``."""
    match = _INDEX.search(alloc["Name"])
    return int(match.group(1)) if match else 0


def group_changed(old_job: dict, new_job: dict, group_name: str) -> bool:
    """True when the group's tasks changed in a way that needs new allocations."""
    old = next((g for g in old_job["TaskGroups"] if g["Name"] == group_name), None)
    new = next((g for g in new_job["TaskGroups"] if g["Name"] == group_name), None)
    if old is None or new is None:
        return True
    if any(old.get(f) != new.get(f) for f in DESTRUCTIVE_GROUP_FIELDS):
        return True
    old_tasks = {t["Name"]: t for t in old["Tasks"]}
    new_tasks = {t["Name"]: t for t in new["Tasks"]}
    if old_tasks.keys() != new_tasks.keys():
        return True
    return any(
        old_tasks[name].get(f) != new_tasks[name].get(f)
        for name in new_tasks
        for f in DESTRUCTIVE_TASK_FIELDS
    )
