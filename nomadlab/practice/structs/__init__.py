"""Nomad's structs as the HTTP API shows them: plain dicts with Go field names.

The practice agent keeps its state in the wire shape so that what it stores is what
it serves. This module builds those shapes and the list stubs derived from them.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from nomadlab.practice.structs import fields

NAMESPACE = "default"
REGION = "global"
DATACENTER = "dc1"
VERSION = "1.9.7"

TERMINAL_CLIENT_STATUSES = ("complete", "failed", "lost")

# Descriptions the scheduler puts on allocations it stops (scheduler/generic_sched.go).
ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"
ALLOC_STOPPED_BY_USER = "alloc was stopped by user"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_UNKNOWN = "alloc is unknown since its node is disconnected"
ALLOC_RECONNECTED = "alloc not needed due to disconnected client reconnect"

# Deployment descriptions (nomad/structs/structs.go DeploymentStatusDescription*).
DEPLOYMENT_RUNNING = "Deployment is running"
DEPLOYMENT_NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
DEPLOYMENT_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
DEPLOYMENT_PAUSED = "Deployment is paused"
DEPLOYMENT_SUCCESSFUL = "Deployment completed successfully"
DEPLOYMENT_STOPPED_JOB = "Cancelled because job is stopped"
DEPLOYMENT_NEWER_JOB = "Cancelled due to newer version of job"
DEPLOYMENT_FAILED_ALLOCATIONS = "Failed due to unhealthy allocations"
DEPLOYMENT_PROGRESS_DEADLINE = "Failed due to progress deadline"
DEPLOYMENT_FAILED_BY_USER = "Deployment marked as failed"


def deployment_rollback(description: str, version: int) -> str:
    return f"{description} - rolling back to job version {version}"


def deployment_rollback_noop(description: str, version: int) -> str:
    return (
        f"{description} - not rolling back to stable job version {version} as current job "
        "has same specification"
    )


def deployment_no_rollback_target(description: str) -> str:
    return f"{description} - no stable job version to auto revert to"


def requires_promotion(deployment: dict) -> bool:
    """A group wants canaries and has not been promoted (Deployment.RequiresPromotion)."""
    return any(
        s["DesiredCanaries"] > 0 and not s["Promoted"] for s in deployment["TaskGroups"].values()
    )


def running_description(deployment: dict) -> str:
    """What a running deployment says: waiting for promotion, automatic or manual, or not."""
    if not requires_promotion(deployment):
        return DEPLOYMENT_RUNNING
    auto = all(
        s["AutoPromote"] for s in deployment["TaskGroups"].values() if s["DesiredCanaries"] > 0
    )
    return DEPLOYMENT_AUTO_PROMOTION if auto else DEPLOYMENT_NEEDS_PROMOTION


def new_id() -> str:
    """A random UUID, the form of every Nomad ID."""
    return str(uuid.uuid4())


def now_ns() -> int:
    """Unix time in nanoseconds, the unit of CreateTime, ModifyTime and event times."""
    return time.time_ns()


def rfc3339(ns: int | None) -> str | None:
    """Go's time.Time JSON form; zero time becomes null, as the API shows it."""
    if not ns:
        return None
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def parse_rfc3339(stamp: str | None) -> int:
    """Unix nanoseconds of a time.Time in JSON; 0 for null or Go's zero time."""
    if not stamp or stamp.startswith("0001-01-01"):
        return 0
    whole, _, rest = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
    return int(seconds) * 1_000_000_000 + int((rest + "000000000")[:9] if rest else 0)


def is_terminal(alloc: dict) -> bool:
    """An allocation whose client has finished with it, or that the server stopped."""
    return alloc["ClientStatus"] in TERMINAL_CLIENT_STATUSES


def alloc_resources(alloc: dict) -> tuple[int, int]:
    """CPU (MHz) and memory (MB) an allocation holds on its node."""
    tasks = alloc["AllocatedResources"]["Tasks"].values()
    cpu = sum(t["Cpu"]["CpuShares"] for t in tasks)
    memory = sum(t["Memory"]["MemoryMB"] for t in tasks)
    return cpu, memory


def alloc_ports(alloc: dict) -> list[int]:
    """Every host port an allocation holds."""
    return [port["Value"] for port in alloc["AllocatedResources"]["Shared"]["Ports"] or []]


def task_event(kind: str, message: str = "", display: str | None = None, **extra: Any) -> dict:
    """A TaskEvent as the client records it; Details mirror the typed fields as strings."""
    event = {
        "Type": kind,
        "Time": now_ns(),
        "Message": message,
        "DisplayMessage": display if display is not None else message,
        "Details": {},
        "ExitCode": 0,
        "Signal": 0,
        "DriverError": "",
        "FailsTask": False,
        "RestartReason": "",
        "KillTimeout": 0,
        "KillReason": "",
        "StartDelay": 0,
        "TaskSignal": "",
        "TaskSignalReason": "",
    }
    event.update(extra)
    for key, details_key in (
        ("ExitCode", "exit_code"),
        ("Signal", "signal"),
        ("DriverError", "driver_error"),
        ("RestartReason", "restart_reason"),
        ("KillReason", "kill_reason"),
        ("StartDelay", "start_delay"),
        ("KillTimeout", "kill_timeout"),
        ("TaskSignal", "signal"),
        ("FailedSibling", "failed_sibling"),
    ):
        if key in extra:
            event["Details"][details_key] = str(extra[key])
    if extra.get("FailsTask"):
        event["Details"]["fails_task"] = "true"
    return event


def task_state() -> dict:
    """A task's state before the client has done anything with it."""
    return {
        "State": "pending",
        "Failed": False,
        "Restarts": 0,
        "LastRestart": None,
        "StartedAt": None,
        "FinishedAt": None,
        "Events": [],
    }


def new_evaluation(job: dict, triggered_by: str, **fields: Any) -> dict:
    """A pending evaluation of ``job``, as the server creates one on a job change."""
    now = now_ns()
    evaluation = {
        "ID": new_id(),
        "Namespace": job["Namespace"],
        "Priority": job["Priority"],
        "Type": job["Type"],
        "TriggeredBy": triggered_by,
        "JobID": job["ID"],
        "JobModifyIndex": job.get("JobModifyIndex", 0),
        "NodeID": "",
        "NodeModifyIndex": 0,
        "DeploymentID": "",
        "Status": "pending",
        "StatusDescription": "",
        "Wait": 0,
        "WaitUntil": None,
        "NextEval": "",
        "PreviousEval": "",
        "BlockedEval": "",
        "RelatedEvals": None,
        "FailedTGAllocs": None,
        "ClassEligibility": None,
        "EscapedComputedClass": False,
        "QuotaLimitReached": "",
        "AnnotatePlan": False,
        "QueuedAllocations": None,
        "SnapshotIndex": 0,
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "CreateTime": now,
        "ModifyTime": now,
    }
    evaluation.update(fields)
    return evaluation


def alloc_stub(alloc: dict, resources: bool = False, task_states: bool = True) -> dict:
    """AllocListStub: the list endpoints' view of an allocation."""
    stub = fields.complete("AllocListStub", alloc)
    stub["JobType"] = alloc["Job"]["Type"]
    if not resources:
        stub["AllocatedResources"] = None
    if not task_states:
        stub["TaskStates"] = None
    return stub


def job_stub(job: dict, summary: dict, meta: bool = False) -> dict:
    """JobListStub: the list endpoint's view of a job."""
    stub = fields.complete(
        "JobListStub",
        {
            "ID": job["ID"],
            "ParentID": job.get("ParentID", ""),
            "Name": job["Name"],
            "Namespace": job["Namespace"],
            "Datacenters": job["Datacenters"],
            "NodePool": job.get("NodePool", "default"),
            "Multiregion": None,
            "Type": job["Type"],
            "Priority": job["Priority"],
            "Periodic": job.get("Periodic") is not None,
            "ParameterizedJob": job.get("ParameterizedJob") is not None,
            "Stop": job["Stop"],
            "Status": job["Status"],
            "StatusDescription": job.get("StatusDescription", ""),
            "JobSummary": summary,
            "CreateIndex": job["CreateIndex"],
            "ModifyIndex": job["ModifyIndex"],
            "JobModifyIndex": job["JobModifyIndex"],
            "SubmitTime": job["SubmitTime"],
        },
    )
    if meta:  # omitempty in Nomad's JobListStub: only ``?meta=true`` asks for it
        stub["Meta"] = job.get("Meta")
    return stub


def node_stub(node: dict, resources: bool = False, os: bool = False) -> dict:
    """NodeListStub: the list endpoint's view of a node; ``?resources=true`` adds its
    resources and ``?os=true`` its attributes, as Node.List does."""
    stub = fields.complete("NodeListStub", node)
    stub["Attributes"] = node["Attributes"] if os else None
    if not resources:
        stub["NodeResources"] = stub["ReservedResources"] = None
    stub["Address"] = node["HTTPAddr"].rsplit(":", 1)[0].strip("[]")
    return stub


# Fields the server sets; a re-registration that differs only in these is no new version.
SERVER_FIELDS = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
)


def spec_changed(old: dict, new: dict) -> bool:
    """True when a submitted job differs from the stored one in more than server fields."""
    strip = set(SERVER_FIELDS) | {"ScalingEvents"}
    return {k: v for k, v in old.items() if k not in strip} != {
        k: v for k, v in new.items() if k not in strip
    }
