"""The scheduler: evaluations in, allocations out.

An evaluation asks "does this job's desired state match what runs?". The scheduler
reconciles each task group (place missing allocations, stop extra ones, replace changed
ones under the ``update`` block's ``max_parallel``, reschedule failed ones), checks node
feasibility (drivers, datacenter, eligibility), bin-packs CPU and memory, picks ports,
and writes the result as one plan. What cannot be placed is recorded on the evaluation
(``FailedTGAllocs``) and waits in a blocked evaluation, as in Nomad.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import re
import socket
from collections import Counter
from dataclasses import dataclass, field

from nomadlab.practice import structs
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, new_id, now_ns

log = logging.getLogger("nomad.scheduler")

MIN_DYNAMIC_PORT = 20000
MAX_DYNAMIC_PORT = 32000

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


@dataclass
class Plan:
    """What one evaluation decided: allocations to write, and placement failures."""

    allocs: list[dict] = field(default_factory=list)
    failed: dict[str, dict] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    followups: list[tuple[dict, int]] = field(default_factory=list)
    deployment: dict | None = None
    updates_allowed: bool = True


class Scheduler:
    """Nomad's eval broker and a single scheduler worker, on the agent's event loop."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.blocked: dict[str, str] = {}  # blocked eval ID → "resources" | "constraints"
        self._timers: set[asyncio.TimerHandle] = set()

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
                self.process(evaluation)
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

    def process(self, evaluation: dict) -> None:
        """Reconcile the evaluation's job and apply the plan."""
        store = self.store
        job = store.job(evaluation["Namespace"], evaluation["JobID"])
        self._cancel_older_blocked(evaluation)
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
        stopping = job is None or job["Stop"]
        if not stopping:
            plan.deployment, plan.updates_allowed = self._deployment_for(job, evaluation)
        groups = {} if stopping else {g["Name"]: g for g in job["TaskGroups"]}
        for name in sorted({a["TaskGroup"] for a in allocs} | set(groups)):
            group_allocs = [a for a in allocs if a["TaskGroup"] == name]
            if name not in groups:
                for alloc in group_allocs:
                    if alloc["DesiredStatus"] == "run":
                        plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
                continue
            Reconciler(self, job, groups[name], group_allocs, evaluation, plan).run()
        self._apply(evaluation, job, plan)

    def _apply(self, evaluation: dict, job: dict | None, plan: Plan) -> None:
        store = self.store
        deployment = plan.deployment
        if deployment is not None:
            placed = [a for a in plan.allocs if a.get("DeploymentID") == deployment["ID"]]
            if "CreateIndex" not in deployment and not placed:
                deployment = None
            else:
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
                deployment["StatusDescription"] = "Cancelled due to newer version of job"
                self.store.upsert("deployments", deployment)
        if evaluation["TriggeredBy"] not in ("job-register", "job-scaling"):
            return None, True
        return new_deployment(job, evaluation), True

    # Placement ---------------------------------------------------------------

    def place(self, job: dict, group: dict, name: str, evaluation: dict, plan: Plan) -> dict | None:
        """Choose a node for one new allocation; record why not on failure."""
        ask_cpu = sum(t["Resources"]["CPU"] for t in group["Tasks"])
        ask_mem = sum(t["Resources"]["MemoryMB"] for t in group["Tasks"])
        metric = new_metric()
        pending = [a for a in plan.allocs if a["DesiredStatus"] == "run"]
        ports_used = self._ports_in_use(pending)
        collision = static_port_collision(group, ports_used)
        candidates = []
        for node in sorted(self.store.nodes.values(), key=lambda n: n["Name"]):
            metric["NodesEvaluated"] += 1
            reason = infeasible(node, job, group)
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
            used_cpu, used_mem, same_job = self._node_usage(node, job, pending)
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
            fit = (used_cpu + ask_cpu) / capacity["Cpu"]["CpuShares"] + (
                used_mem + ask_mem
            ) / capacity["Memory"]["MemoryMB"]
            # Binpack prefers full nodes; job anti-affinity spreads a job's copies.
            score = fit / 2 - same_job / max(group["Count"], 1)
            candidates.append((score, node))
        if not candidates:
            failure = plan.failed.setdefault(group["Name"], metric)
            if failure is not metric:
                failure["CoalescedFailures"] += 1
            plan.queued[group["Name"]] = plan.queued.get(group["Name"], 0) + 1
            return None
        node = max(candidates, key=lambda c: c[0])[1]
        metric["NodesInPool"] = len(self.store.nodes)
        metric["ScoreMetaData"] = [{"NodeID": node["ID"], "NormScore": 1.0, "Scores": {}}]
        alloc = new_allocation(job, group, name, node, evaluation, metric)
        assign_resources(alloc, group, node, ports_used)
        plan.allocs.append(alloc)
        return alloc

    def _node_usage(self, node: dict, job: dict, pending: list[dict]) -> tuple[int, int, int]:
        cpu = mem = same_job = 0
        seen = set()
        for alloc in [*pending, *self.store.node_allocs(node["ID"])]:
            if alloc["ID"] in seen or alloc["NodeID"] != node["ID"]:
                continue
            seen.add(alloc["ID"])
            if alloc["DesiredStatus"] != "run" or structs.is_terminal(alloc):
                continue
            alloc_cpu, alloc_mem = structs.alloc_resources(alloc)
            cpu += alloc_cpu
            mem += alloc_mem
            same_job += alloc["JobID"] == job["ID"]
        return cpu, mem, same_job

    def _ports_in_use(self, pending: list[dict]) -> set[int]:
        """Ports held by live allocations on any node: every practice node shares this host."""
        used = set()
        for alloc in [*self.store.allocs.values(), *pending]:
            if alloc["DesiredStatus"] == "run" and not structs.is_terminal(alloc):
                used.update(structs.alloc_ports(alloc))
        return used


class Reconciler:
    """One task group's reconciliation (scheduler/reconcile.go, the parts a learner meets)."""

    def __init__(
        self,
        scheduler: Scheduler,
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

    def run(self) -> None:
        count = self.group["Count"]
        live = [
            a for a in self.allocs if a["DesiredStatus"] == "run" and not structs.is_terminal(a)
        ]
        failed = [
            a for a in self.allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] == "failed"
        ]
        # Scale down: the highest indexes go first.
        live.sort(key=alloc_index)
        keep: dict[int, dict] = {}
        for alloc in live:
            index = alloc_index(alloc)
            if index >= count or index in keep:
                self.plan.allocs.append(stop(alloc, structs.ALLOC_NOT_NEEDED))
            else:
                keep[index] = alloc
        self._update(keep)
        held = self._reschedule(failed, count, set(keep))
        for index in range(count):
            if index not in keep and index not in held:
                self._place(index)
        self._record_desired_total(count)

    def _update(self, keep: dict[int, dict]) -> None:
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
            self.plan.allocs.append(stop(alloc, structs.ALLOC_UPDATING))
            replacement = self._place(index, previous=alloc)
            if replacement is None:
                del keep[index]
            else:
                keep[index] = replacement  # the index is covered: no second placement

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
            for a in self.scheduler.store.allocs.values()
            if a.get("DeploymentID") == self.deployment["ID"]
            and a["TaskGroup"] == self.group["Name"]
            and a["DesiredStatus"] == "run"
            and not structs.is_terminal(a)
            and not (a.get("DeploymentStatus") or {}).get("Healthy")
        )
        return max(0, max_parallel - in_flight)

    def _reschedule(self, failed: list[dict], count: int, kept: set[int]) -> set[int]:
        """Replace failed allocations per the reschedule policy; returns indexes they hold."""
        held = set()
        policy = self.group.get("ReschedulePolicy") or {}
        for alloc in sorted(failed, key=alloc_index):
            index = alloc_index(alloc)
            if index >= count or index in kept or alloc.get("NextAllocation"):
                continue
            held.add(index)
            if not reschedule_allowed(alloc, policy):
                continue
            wait_until = failed_at(alloc) + reschedule_delay(alloc, policy)
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
            replacement = self._place(index, previous=alloc)
            if replacement is not None:
                old = stop(alloc, structs.ALLOC_RESCHEDULED)
                old["NextAllocation"] = replacement["ID"]
                self.plan.allocs.append(old)
        return held

    def _place(self, index: int, previous: dict | None = None) -> dict | None:
        name = f"{self.job['ID']}.{self.group['Name']}[{index}]"
        alloc = self.scheduler.place(self.job, self.group, name, self.evaluation, self.plan)
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


# Helpers: feasibility, ports, resources ------------------------------------------


def infeasible(node: dict, job: dict, group: dict) -> str:
    """Why a node cannot run the group (a ConstraintFiltered key), or "" if it can."""
    if node["Status"] != "ready":
        return "node is not ready"
    if node["SchedulingEligibility"] != "eligible":
        return "node is ineligible"
    datacenters = job.get("Datacenters") or ["*"]
    if not any(dc == "*" or dc == node["Datacenter"] for dc in datacenters):
        return "datacenter"
    for task in group["Tasks"]:
        driver = node["Drivers"].get(task["Driver"])
        if not driver or not driver["Detected"] or not driver["Healthy"]:
            return "missing drivers"
    return ""


def static_port_collision(group: dict, used: set[int]) -> str:
    """The first static port of the group that is taken (``label=port``), or ""."""
    for network in group_networks(group):
        for port in network.get("ReservedPorts") or []:
            value = port.get("Value") or 0
            if value in used or not port_is_free(value):
                return f"{port.get('Label', '')}={value}"
    return ""


def new_metric() -> dict:
    """AllocMetric: what the scheduler saw while placing (FailedTGAllocs entries)."""
    return {
        "NodesEvaluated": 0,
        "NodesFiltered": 0,
        "NodesInPool": 0,
        "NodesAvailable": {},
        "ClassFiltered": {},
        "ConstraintFiltered": {},
        "NodesExhausted": 0,
        "ClassExhausted": {},
        "DimensionExhausted": {},
        "QuotaExhausted": None,
        "ResourcesExhausted": None,
        "Scores": None,
        "ScoreMetaData": None,
        "AllocationTime": 0,
        "CoalescedFailures": 0,
    }


def exhausted(metric: dict, dimension: str) -> None:
    metric["NodesExhausted"] += 1
    metric["DimensionExhausted"][dimension] = metric["DimensionExhausted"].get(dimension, 0) + 1


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing on this host listens on ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_dynamic_port(used: set[int]) -> int:
    """A random port from 20000–32000 that no allocation holds and the host has free."""
    for _ in range(200):
        port = random.randint(MIN_DYNAMIC_PORT, MAX_DYNAMIC_PORT)
        if port not in used and port_is_free(port):
            return port
    raise RuntimeError("dynamic port selection failed: no free port in 20000-32000")


def group_networks(group: dict) -> list[dict]:
    """Group-level networks and every task-level one."""
    networks = list(group.get("Networks") or [])
    for task in group["Tasks"]:
        networks.extend((task.get("Resources") or {}).get("Networks") or [])
    return networks


def assign_network(network: dict, node: dict, used: set[int]) -> dict:
    """A copy of a network ask with host ports filled in."""
    host = node["NodeResources"]["Networks"][0]
    assigned = copy.deepcopy(network)
    assigned.update(
        Mode=network.get("Mode") or "host", Device=host["Device"], CIDR=host["CIDR"], IP=host["IP"]
    )
    for kind in ("ReservedPorts", "DynamicPorts"):
        for port in assigned.get(kind) or []:
            # Go's zero values for whatever a JSON job left out.
            for key, zero in (("Label", ""), ("Value", 0), ("To", 0), ("HostNetwork", "default")):
                if port.get(key) is None:
                    port[key] = zero
            if kind == "DynamicPorts":
                port["Value"] = pick_dynamic_port(used)
            used.add(port["Value"])
    return assigned


def assign_resources(alloc: dict, group: dict, node: dict, used: set[int]) -> None:
    """Fill AllocatedResources (and the legacy Resources fields) with ports and sizes."""
    ip = node["NodeResources"]["Networks"][0]["IP"]
    shared_networks = [assign_network(n, node, used) for n in group.get("Networks") or []]
    ports = []

    def add_ports(network: dict) -> None:
        for kind in ("ReservedPorts", "DynamicPorts"):
            for port in network.get(kind) or []:
                ports.append(
                    {
                        "Label": port["Label"],
                        "Value": port["Value"],
                        "To": port.get("To", 0),
                        "HostIP": ip,
                    }
                )

    for network in shared_networks:
        add_ports(network)
    tasks = {}
    task_resources = {}
    for task in group["Tasks"]:
        resources = task["Resources"]
        networks = [assign_network(n, node, used) for n in resources.get("Networks") or []]
        for network in networks:
            add_ports(network)
        tasks[task["Name"]] = {
            "Cpu": {"CpuShares": resources["CPU"], "ReservedCores": None},
            "Memory": {
                "MemoryMB": resources["MemoryMB"],
                "MemoryMaxMB": resources.get("MemoryMaxMB") or 0,
            },
            "Networks": networks or None,
            "Devices": None,
        }
        task_resources[task["Name"]] = {
            "CPU": resources["CPU"],
            "MemoryMB": resources["MemoryMB"],
            "DiskMB": 0,
            "Networks": networks or None,
        }
    disk = (group.get("EphemeralDisk") or {}).get("SizeMB", 300)
    alloc["AllocatedResources"] = {
        "Tasks": tasks,
        "TaskLifecycles": {t["Name"]: t.get("Lifecycle") for t in group["Tasks"]},
        "Shared": {"Networks": shared_networks or None, "DiskMB": disk, "Ports": ports or None},
    }
    alloc["TaskResources"] = task_resources
    alloc["Resources"] = {
        "CPU": sum(t["CPU"] for t in task_resources.values()),
        "MemoryMB": sum(t["MemoryMB"] for t in task_resources.values()),
        "DiskMB": disk,
        "Networks": shared_networks or None,
    }


def new_allocation(
    job: dict, group: dict, name: str, node: dict, evaluation: dict, metric: dict
) -> dict:
    """A new allocation of ``group`` on ``node``, desired to run."""
    now = now_ns()
    return {
        "ID": new_id(),
        "Namespace": job["Namespace"],
        "EvalID": evaluation["ID"],
        "Name": name,
        "NodeID": node["ID"],
        "NodeName": node["Name"],
        "JobID": job["ID"],
        "Job": job,
        "JobVersion": job["Version"],
        "TaskGroup": group["Name"],
        "Resources": None,
        "TaskResources": None,
        "AllocatedResources": None,
        "Metrics": metric,
        "DesiredStatus": "run",
        "DesiredDescription": "",
        "DesiredTransition": {"Migrate": None, "Reschedule": None, "ForceReschedule": None},
        "ClientStatus": "pending",
        "ClientDescription": "",
        "TaskStates": None,
        "DeploymentID": "",
        "DeploymentStatus": None,
        "RescheduleTracker": None,
        "NetworkStatus": None,
        "FollowupEvalID": "",
        "PreviousAllocation": "",
        "NextAllocation": "",
        "PreemptedAllocations": None,
        "PreemptedByAllocation": "",
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "AllocModifyIndex": 0,
        "CreateTime": now,
        "ModifyTime": now,
    }


def stop(alloc: dict, description: str, migrate: bool = False) -> dict:
    """A copy of ``alloc`` desired stopped; ``migrate`` marks it to be replaced elsewhere
    (a user's ``alloc stop`` or a node drain)."""
    stopped = copy.deepcopy(alloc)
    stopped["DesiredStatus"] = "stop"
    stopped["DesiredDescription"] = description
    stopped["ModifyTime"] = now_ns()
    if migrate:
        stopped["DesiredTransition"] = {
            "Migrate": True,
            "Reschedule": None,
            "ForceReschedule": None,
        }
    return stopped


_INDEX = re.compile(r"\[(\d+)\]$")


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


def new_deployment(job: dict, evaluation: dict) -> dict:
    """A running deployment of the job's current version."""
    now = now_ns()
    return {
        "ID": new_id(),
        "Namespace": job["Namespace"],
        "JobID": job["ID"],
        "JobVersion": job["Version"],
        "JobModifyIndex": job["JobModifyIndex"],
        "JobSpecModifyIndex": job["JobModifyIndex"],
        "JobCreateIndex": job["CreateIndex"],
        "IsMultiregion": False,
        "TaskGroups": {g["Name"]: deployment_group_state(g) for g in job["TaskGroups"]},
        "Status": "running",
        "StatusDescription": "Deployment is running",
        "EvalPriority": evaluation["Priority"],
        "CreateTime": now,
        "ModifyTime": now,
    }


def deployment_group_state(group: dict) -> dict:
    """DeploymentState of one group when the deployment starts."""
    update = group.get("Update") or {}
    return {
        "AutoRevert": bool(update.get("AutoRevert")),
        "AutoPromote": bool(update.get("AutoPromote")),
        "ProgressDeadline": update.get("ProgressDeadline") or 0,
        "RequireProgressBy": None,
        "Promoted": False,
        "PlacedCanaries": None,
        "DesiredCanaries": 0,
        "DesiredTotal": group["Count"],
        "PlacedAllocs": 0,
        "HealthyAllocs": 0,
        "UnhealthyAllocs": 0,
    }


def update_job_status(store: StateStore, job: dict) -> None:
    """Set the job's Status as Nomad's state store derives it."""
    allocs = store.job_allocs(job["Namespace"], job["ID"])
    if any(a["DesiredStatus"] == "run" and not structs.is_terminal(a) for a in allocs):
        status = "running"
    else:
        evals = store.job_evals(job["Namespace"], job["ID"])
        if any(e["Status"] in ("pending", "blocked") for e in evals):
            status = "pending"
        elif job["Stop"] or allocs or evals:
            status = "dead"
        else:
            status = "pending"
    store.update_job_status(job, status)


def job_summary(store: StateStore, job: dict) -> dict:
    """JobSummary counts per group, from the job's allocations and latest evaluation."""
    counts: dict[str, Counter] = {g["Name"]: Counter() for g in job["TaskGroups"]}
    status_field = {
        "pending": "Starting",
        "running": "Running",
        "complete": "Complete",
        "failed": "Failed",
        "lost": "Lost",
        "unknown": "Unknown",
    }
    for alloc in store.job_allocs(job["Namespace"], job["ID"]):
        counter = counts.setdefault(alloc["TaskGroup"], Counter())
        status = alloc["ClientStatus"]
        if status in ("pending", "running") and alloc["DesiredStatus"] != "run":
            status = "complete"
        counter[status_field[status]] += 1
    queued: dict[str, int] = {}
    for evaluation in store.job_evals(job["Namespace"], job["ID"]):
        if evaluation["Status"] == "complete" and evaluation.get("QueuedAllocations") is not None:
            queued = evaluation["QueuedAllocations"]
            break
    summary = {
        name: {
            "Queued": queued.get(name, 0),
            **{
                f: counter.get(f, 0)
                for f in ("Complete", "Failed", "Running", "Starting", "Lost", "Unknown")
            },
        }
        for name, counter in counts.items()
    }
    return {
        "JobID": job["ID"],
        "Namespace": job["Namespace"],
        "Summary": summary,
        "Children": {"Pending": 0, "Running": 0, "Dead": 0},
        "CreateIndex": job["CreateIndex"],
        "ModifyIndex": store.table_index["job_summary"],
    }
