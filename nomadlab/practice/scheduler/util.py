"""What the scheduler builds and records: the plan, new allocations and deployments, stopped
copies, placement metrics, and the job status and summary derived from the state.

In Nomad the constructors live in ``nomad/structs`` and the job status and summary in the state
store; here they sit with the scheduler, their main user.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

from nomadlab.practice import structs
from nomadlab.practice.plan import desired_updates
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_id, now_ns


@dataclass
class Plan:
    """What one evaluation decided: allocations to write, and placement failures."""

    allocs: list[dict] = field(default_factory=list)
    failed: dict[str, dict] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    followups: list[tuple[dict, int]] = field(default_factory=list)
    deployment: dict | None = None
    updates_allowed: bool = True  # the job version's deployment is neither paused nor failed
    failed_deployment_id: str = ""  # that deployment, when it failed
    desired: dict[str, dict] = field(default_factory=dict)  # DesiredTGUpdates per group

    def count(self, group: str, kind: str, n: int = 1) -> None:
        """Tally one decision of the reconciler (Place, Stop, Ignore, ...) for the plan."""
        counts = self.desired.setdefault(group, desired_updates())
        counts[kind] += n


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


def exhaust_resources(metric: dict, group: dict, times: int) -> None:
    """Add the group's ask ``times`` over to ResourcesExhausted, per task, in the dimensions
    that ran out (AllocMetric.ExhaustResources)."""
    dimensions = metric["DimensionExhausted"]
    if not dimensions:
        return
    exhausted = metric["ResourcesExhausted"] = metric["ResourcesExhausted"] or {}
    for task in group["Tasks"]:
        resources = exhausted.setdefault(
            task["Name"],
            {
                "CPU": 0,
                "Cores": 0,
                "MemoryMB": 0,
                "MemoryMaxMB": 0,
                "DiskMB": 0,
                "IOPS": 0,
                "Networks": None,
                "Devices": None,
                "NUMA": None,
            },
        )
        if dimensions.get("memory"):
            resources["MemoryMB"] += task["Resources"]["MemoryMB"] * times
        if dimensions.get("cpu"):
            resources["CPU"] += task["Resources"]["CPU"] * times


def coalesce(plan: Plan, group: dict, times: int) -> None:
    """Count ``times`` more failed placements of a group that has already failed: Nomad
    reports them as one failure with CoalescedFailures, and queues them all."""
    metric = plan.failed[group["Name"]]
    metric["CoalescedFailures"] += times
    exhaust_resources(metric, group, times)
    plan.queued[group["Name"]] = plan.queued.get(group["Name"], 0) + times


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


def stop(alloc: dict, description: str, migrate: bool = False, client_status: str = "") -> dict:
    """A copy of ``alloc`` desired stopped; ``migrate`` marks it to be replaced elsewhere
    (a user's ``alloc stop``); ``client_status`` is the server's verdict (``lost``)."""
    stopped = copy.deepcopy(alloc)
    stopped["DesiredStatus"] = "stop"
    stopped["DesiredDescription"] = description
    stopped["ModifyTime"] = now_ns()
    if client_status:
        stopped["ClientStatus"] = client_status
    if migrate:
        stopped["DesiredTransition"] = {
            "Migrate": True,
            "Reschedule": None,
            "ForceReschedule": None,
        }
    return stopped


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
        "StatusDescription": structs.DEPLOYMENT_RUNNING,
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


def is_template(job: dict) -> bool:
    """A periodic or parameterized parent: it launches child jobs and runs nothing itself."""
    return job.get("Periodic") is not None or (
        job.get("ParameterizedJob") is not None and not job.get("Dispatched")
    )


def update_job_status(store: StateStore, job: dict) -> None:
    """Set the job's Status as Nomad's state store derives it."""
    allocs = list(store.iter_job_allocs(job["Namespace"], job["ID"]))
    if is_template(job):
        status = "dead" if job["Stop"] else "running"
    elif any(a["DesiredStatus"] == "run" and not structs.is_terminal(a) for a in allocs):
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
        "Children": children_summary(store, job),
        "CreateIndex": job["CreateIndex"],
        "ModifyIndex": store.table_index["job_summary"],
    }


def children_summary(store: StateStore, job: dict) -> dict:
    """JobChildrenSummary: a parent's child jobs by status."""
    counts = Counter(
        child["Status"]
        for (namespace, _), child in store.jobs.items()
        if namespace == job["Namespace"] and child.get("ParentID") == job["ID"]
    )
    return {"Pending": counts["pending"], "Running": counts["running"], "Dead": counts["dead"]}
