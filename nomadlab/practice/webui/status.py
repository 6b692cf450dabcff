"""Nomad's web UI status logic as pure functions: job badges, allocation blocks, health.

The rules follow Nomad's UI (``ui/app/models/job.js``: ``allocBlocks`` and
``aggregateAllocStatus``) so that a learner reads the same words here and on a real
cluster. Data in (wire-shaped dicts), labels out; the handlers only fetch.
"""

from __future__ import annotations

from dataclasses import dataclass

# nomad/structs: Deployment.Active().
ACTIVE_DEPLOYMENT_STATUSES = ("running", "paused", "pending", "blocked", "unblocking")

# ui/app/utils/allocation-client-statuses.js: the blocks a job type shows, in order.
JOB_ALLOC_STATUSES: dict[str, tuple[str, ...]] = {
    "service": ("running", "pending", "failed", "lost", "unplaced"),
    "system": ("running", "pending", "failed", "lost", "unplaced"),
    "batch": ("running", "pending", "complete", "failed", "lost", "unplaced"),
    "sysbatch": ("running", "pending", "complete", "failed", "lost", "unplaced"),
}


@dataclass(frozen=True)
class Status:
    """A job's badge: Nomad's label and its state (highlight, success, warning, critical,
    neutral)."""

    label: str
    state: str

    @property
    def slug(self) -> str:
        """The label as a CSS class name (``Scaled Down`` → ``scaled-down``)."""
        return self.label.lower().replace(" ", "-")


def deployment_active(deployment: dict | None) -> bool:
    """Whether a deployment is still in progress (Nomad's ``Deployment.Active``)."""
    return bool(deployment) and deployment["Status"] in ACTIVE_DEPLOYMENT_STATUSES


def alloc_statuses(job_type: str) -> tuple[str, ...]:
    """The client statuses a job of ``job_type`` shows as blocks."""
    return JOB_ALLOC_STATUSES.get(job_type, JOB_ALLOC_STATUSES["service"])


def expected_allocs(job: dict, allocs: list[dict]) -> int:
    """How many allocations the job wants running: the sum of its groups' counts, or one
    per node that has one for system jobs."""
    if job["Type"] in ("system", "sysbatch"):
        return len({a["NodeID"] for a in allocs if a.get("NodeID")})
    return sum(group.get("Count", 0) for group in job.get("TaskGroups") or [])


def alloc_blocks(job: dict, allocs: list[dict]) -> dict[str, list[dict | None]]:
    """Fill the job's expected slots: running and pending allocations first, then the most
    recent other allocations by version, then ``unplaced`` slots (``None``)."""
    statuses = alloc_statuses(job["Type"])
    slots = expected_allocs(job, allocs)
    blocks: dict[str, list[dict | None]] = {status: [] for status in statuses}
    newest_first = sorted(allocs, key=lambda a: a.get("CreateIndex", 0), reverse=True)
    for alloc in newest_first:
        if slots == 0:
            break
        if alloc["ClientStatus"] in ("running", "pending"):
            blocks[alloc["ClientStatus"]].append(alloc)
            slots -= 1
    order = {status: i for i, status in enumerate(statuses)}
    others = sorted(
        (a for a in newest_first if a["ClientStatus"] not in ("running", "pending")),
        key=lambda a: (-a.get("JobVersion", 0), order.get(a["ClientStatus"], len(order))),
    )
    for alloc in others:
        if slots == 0:
            break
        status = alloc["ClientStatus"]
        if status in blocks and len(blocks[status]) < expected_allocs(job, allocs):
            blocks[status].append(alloc)
            slots -= 1
    if slots > 0:
        blocks["unplaced"] = [None] * slots
    return blocks


def job_status(job: dict, allocs: list[dict], deployment: dict | None) -> Status:
    """The job's badge, by Nomad's UI rules (``aggregateAllocStatus``)."""
    total = expected_allocs(job, allocs)
    if deployment_active(deployment):
        return Status("Deploying", "highlight")
    if job.get("Status") == "dead" and job.get("Stop"):
        return Status("Stopped", "neutral")
    if total == 0:
        return Status("Scaled Down", "neutral")
    blocks = alloc_blocks(job, allocs)
    if job["Type"] in ("batch", "sysbatch"):
        complete = len(blocks.get("complete", []))
        if complete == total:
            return Status("Complete", "success")
        if len(blocks.get("running", [])) + complete == total:
            return Status("Running", "success")
    if len(blocks.get("running", [])) == total:
        return Status("Healthy", "success")
    if blocks.get("pending"):
        return Status("Recovering", "highlight")
    failed = sum(len(blocks.get(s, [])) for s in ("failed", "lost", "unplaced"))
    return Status("Failed", "critical") if failed >= total else Status("Degraded", "warning")


def alloc_health(alloc: dict) -> str:
    """``healthy``, ``unhealthy`` or ``unknown``, from the deployment's view of the
    allocation."""
    healthy = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    return "unknown" if healthy is None else ("healthy" if healthy else "unhealthy")


def group_counts(allocs: list[dict], group: str) -> dict[str, int]:
    """How many of a group's allocations are in each client status."""
    counts: dict[str, int] = {}
    for alloc in allocs:
        if alloc["TaskGroup"] == group:
            counts[alloc["ClientStatus"]] = counts.get(alloc["ClientStatus"], 0) + 1
    return counts


def group_reserved(group: dict) -> tuple[int, int, int]:
    """A task group's reserved CPU (MHz), memory (MiB) and ephemeral disk (MiB)."""
    cpu = sum((t.get("Resources") or {}).get("CPU", 0) for t in group.get("Tasks") or [])
    memory = sum((t.get("Resources") or {}).get("MemoryMB", 0) for t in group.get("Tasks") or [])
    disk = (group.get("EphemeralDisk") or {}).get("SizeMB", 0)
    return cpu, memory, disk


def node_state(node: dict) -> str:
    """A client's state as Nomad's UI names it: ``draining``, ``ineligible`` or its status."""
    if node.get("Drain"):
        return "draining"
    if node.get("SchedulingEligibility") == "ineligible":
        return "ineligible"
    return node["Status"]
