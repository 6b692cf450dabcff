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
        live = [
            a for a in self.allocs if a["DesiredStatus"] == "run" and not structs.is_terminal(a)
        ]
        failed = [
            a for a in self.allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] == "failed"
        ]
        live, replace = self._filter_by_tainted(live)
        # Scale down: the highest indexes go first.
        live.sort(key=alloc_index)
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
        for alloc in live:
            index = alloc_index(alloc)
            if index >= count or index in keep:
                self.plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
            else:
                keep[index] = alloc
        tried = set()
        for alloc in replace:
            index = alloc_index(alloc)
            if index < count and index not in keep and index not in tried:
                tried.add(index)
                replacement = await self._place(index, previous=alloc)
                if replacement is not None:
                    keep[index] = replacement
        await self._update(keep)
        held = await self._reschedule(failed, count, set(keep)) | tried
        await self._place_missing(count, set(keep) | held)
        self._record_desired_total(count)

    async def _place_missing(self, count: int, occupied: set[int]) -> None:
        """Place every index not yet occupied. Once the group fails to place, the indexes
        left are counted, not looped over: ``count`` may be in the millions."""
        for index in range(count):
            if index in occupied:
                continue
            if self.group["Name"] in self.plan.failed:
                later = count - index - sum(1 for o in occupied if index < o < count)
                coalesce(self.plan, self.group, later)
                return
            await self._place(index)

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
            elif should_migrate(alloc) and node and node.get("DrainStrategy") is not None:
                self.plan.allocs.append(stop(alloc, structs.ALLOC_MIGRATING))
                replace.append(alloc)
            else:
                untainted.append(alloc)
        stopped = {a["ID"] for a in self.plan.allocs if a["DesiredStatus"] == "stop"}
        return [a for a in untainted if a["ID"] not in stopped], replace

    async def _update(self, keep: dict[int, dict]) -> None:
        """Bring kept allocations to the job's version: in place, or replaced under max_parallel."""
        job, group = self.job, self.group
        destructive = []
        for index, alloc in sorted(keep.items()):
            if alloc["JobVersion"] == job["Version"]:
                continue
            if group_changed(alloc["Job"], job, group["Name"]):
                destructive.append((index, alloc))
            else:
                updated = copy.deepcopy(alloc)
                updated["Job"] = job
                updated["JobVersion"] = job["Version"]
                if self.deployment is not None:
                    updated["DeploymentID"] = self.deployment["ID"]
                    updated["DeploymentStatus"] = None
                self.plan.allocs.append(updated)
        limit = self._update_limit()
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

    def _update_limit(self) -> int:
        """How many destructive updates may start now: max_parallel less those in flight."""
        if not self.plan.updates_allowed:
            return 0
        update = self.group.get("Update") or {}
        max_parallel = update.get("MaxParallel") or 0
        if max_parallel <= 0 or self.deployment is None:
            return 1_000_000
        in_flight = sum(
            1
            for a in self.scheduler.store.deployment_allocs(self.deployment["ID"])
            if a["TaskGroup"] == self.group["Name"]
            and a["DesiredStatus"] == "run"
            and not structs.is_terminal(a)
            and not (a.get("DeploymentStatus") or {}).get("Healthy")
        )
        return max(0, max_parallel - in_flight)

    async def _reschedule(self, failed: list[dict], count: int, kept: set[int]) -> set[int]:
        """Replace failed allocations per the reschedule policy; returns indexes they hold."""
        held = set()
        policy = self.group.get("ReschedulePolicy") or {}
        for alloc in sorted(failed, key=alloc_index):
            index = alloc_index(alloc)
            if index >= count or index in kept or alloc.get("NextAllocation"):
                continue
            held.add(index)
            # ``nomad job eval -force-reschedule`` skips the policy and its delay.
            forced = (alloc.get("DesiredTransition") or {}).get("ForceReschedule")
            if not forced and not reschedule_allowed(alloc, policy):
                continue
            wait_until = 0 if forced else failed_at(alloc) + reschedule_delay(alloc, policy)
            if wait_until > now_ns():
                # A follow-up that comes due early (clocks) plans the next one, never stalls.
                if alloc.get("FollowupEvalID") in ("", None, self.evaluation["ID"]):
                    followup = new_evaluation(
                        self.job,
                        "alloc-failure",
                        StatusDescription="created for delayed rescheduling",
                        PreviousEval=self.evaluation["ID"],
                        JobModifyIndex=self.job["JobModifyIndex"],
                        WaitUntil=structs.rfc3339(wait_until),
                    )
                    self.plan.followups.append((followup, wait_until))
                    marked = copy.deepcopy(alloc)
                    marked["FollowupEvalID"] = followup["ID"]
                    self.plan.allocs.append(marked)
                continue
            replacement = await self._place(index, previous=alloc)
            if replacement is not None:
                old = stop(alloc, structs.ALLOC_RESCHEDULED)
                old["NextAllocation"] = replacement["ID"]
                self.plan.allocs.append(old)
        return held

    async def _place(self, index: int, previous: dict | None = None) -> dict | None:
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
            if previous["ClientStatus"] == "failed":
                events = list((previous.get("RescheduleTracker") or {}).get("Events") or [])
                events.append(
                    {
                        "RescheduleTime": now_ns(),
                        "PrevAllocID": previous["ID"],
                        "PrevNodeID": previous["NodeID"],
                        "Delay": reschedule_delay(
                            previous, self.group.get("ReschedulePolicy") or {}
                        ),
                    }
                )
                alloc["RescheduleTracker"] = {"Events": events}
        return alloc

    def _record_desired_total(self, count: int) -> None:
        if self.deployment is None:
            return
        state = self.deployment["TaskGroups"].setdefault(
            self.group["Name"], deployment_group_state(self.group)
        )
        state["DesiredTotal"] = count


_INDEX = re.compile(r"\[(\d+)\]$")


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


def failed_at(alloc: dict) -> int:
    """When an allocation failed, in Unix nanoseconds: its last task event, as Nomad's
    LastEventTime (not ModifyTime, which later client reports move)."""
    times = [
        event["Time"]
        for state in (alloc.get("TaskStates") or {}).values()
        for event in state.get("Events") or []
    ]
    return max(times, default=alloc.get("ModifyTime") or now_ns())


def reschedule_allowed(alloc: dict, policy: dict) -> bool:
    """The reschedule policy still allows another attempt (attempts within interval)."""
    if policy.get("Unlimited"):
        return True
    attempts = policy.get("Attempts") or 0
    interval = policy.get("Interval") or 0
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    recent = [e for e in events if now_ns() - e["RescheduleTime"] < interval]
    return len(recent) < attempts


def reschedule_delay(alloc: dict, policy: dict) -> int:
    """The delay before the next attempt: constant, exponential or fibonacci, capped."""
    base = policy.get("Delay") or 0
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    function = policy.get("DelayFunction") or "constant"
    if function == "exponential":
        delay = base * (2 ** len(events))
    elif function == "fibonacci":
        previous, delay = 0, base
        for _ in events:
            previous, delay = delay, previous + delay
    else:
        delay = base
    max_delay = policy.get("MaxDelay") or 0
    return min(delay, max_delay) if max_delay else delay
