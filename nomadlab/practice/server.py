"""The server's write operations (nomad/job_endpoint.go and friends): what changes state.

The HTTP layer parses requests and calls these; each write stores the change and,
where Nomad would, creates the evaluation that makes the scheduler act on it.
"""

from __future__ import annotations

import copy

from nomadlab.practice import jobspec, services, structs
from nomadlab.practice.scheduler import Scheduler, stop, update_job_status
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import new_evaluation, now_ns


class APIError(Exception):
    """An error with the HTTP status and plain-text message Nomad would send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


class Server:
    """Job, allocation and node writes, each answered with Nomad's response shape."""

    def __init__(self, store: StateStore, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler

    def register(self, job: dict, namespace: str, warnings: list[str] | None = None) -> dict:
        """Register (or update) a job: a new version if its spec changed, and an evaluation."""
        if not isinstance(job, dict):
            raise APIError(400, "Job must be specified")
        try:
            job = jobspec.canonicalize(copy.deepcopy(job))
            if not job.get("Namespace") or job["Namespace"] == structs.NAMESPACE:
                job["Namespace"] = namespace
            errors = jobspec.validate(job)
        except jobspec.JobspecError as exc:
            raise APIError(400, str(exc)) from exc
        if errors:
            raise APIError(500, jobspec.format_errors(errors))
        services.add_implied_constraints(job)
        previous = self.store.job(job["Namespace"], job["ID"])
        if previous is not None and not spec_changed(previous, job):
            job = previous
        else:
            job.update(
                Status="pending", Stop=bool(job.get("Stop")), Stable=False, SubmitTime=now_ns()
            )
            job.setdefault("StatusDescription", "")
            self.store.upsert_job(job)
        evaluation = new_evaluation(job, "job-register", JobModifyIndex=job["JobModifyIndex"])
        index = self.scheduler.enqueue(evaluation)
        update_job_status(self.store, job)
        return {
            "EvalID": evaluation["ID"],
            "EvalCreateIndex": index,
            "JobModifyIndex": job["JobModifyIndex"],
            "Warnings": "\n".join(warnings or []),
            "Index": index,
            "LastContact": 0,
            "KnownLeader": False,
        }

    def deregister(self, namespace: str, job_id: str, purge: bool) -> dict:
        """Stop a job (``Stop: true``, a new version) or purge it; its allocations stop."""
        job = self.store.job(namespace, job_id)
        if job is None:
            return {
                "EvalID": "",
                "EvalCreateIndex": 0,
                "JobModifyIndex": 0,
                "Index": self.store.index,
            }
        if purge:
            self.store.delete_job(namespace, job_id)
        elif not job["Stop"]:
            stopped = copy.deepcopy(job)
            stopped["Stop"] = True
            self.store.upsert_job(stopped)
            job = stopped
        evaluation = new_evaluation(job, "job-deregister", JobModifyIndex=job["JobModifyIndex"])
        index = self.scheduler.enqueue(evaluation)
        return {
            "EvalID": evaluation["ID"],
            "EvalCreateIndex": index,
            "JobModifyIndex": job["JobModifyIndex"],
            "VolumeEvalID": "",
            "VolumeEvalIndex": 0,
            "Index": index,
        }

    def scale(self, namespace: str, job_id: str, body: dict) -> dict:
        """``nomad job scale``: a new job version with the group's count, then an evaluation."""
        target = body.get("Target") or {}
        if not isinstance(target, dict):
            raise APIError(400, "scaling action Target must be an object of strings")
        group_name = target.get("Group")
        if not group_name:
            raise APIError(400, "missing task group name for scaling action")
        count = body.get("Count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise APIError(400, "scaling action count must be a whole number")
        if count is not None and count < 0:
            raise APIError(400, "scaling action count can't be negative")
        job = self.store.job(namespace, job_id)
        if job is None:
            raise APIError(404, f'job "{job_id}" not found')
        groups = {g["Name"]: g for g in job["TaskGroups"]}
        if group_name not in groups:
            raise APIError(
                400, f'task group "{group_name}" specified for scaling does not exist in job'
            )
        if count is not None and any(
            d["Status"] in ("running", "paused")
            for d in self.store.job_deployments(namespace, job_id)[:1]
        ):
            raise APIError(400, "job scaling blocked due to active deployment")
        if count is None:
            return {
                "EvalID": "",
                "EvalCreateIndex": 0,
                "JobModifyIndex": job["JobModifyIndex"],
                "Index": self.store.index,
            }
        scaled = copy.deepcopy(job)
        previous_count = groups[group_name]["Count"]
        next(g for g in scaled["TaskGroups"] if g["Name"] == group_name)["Count"] = count
        scaled.update(Stop=False, Stable=False, SubmitTime=now_ns())
        self.store.upsert_job(scaled)
        evaluation = new_evaluation(scaled, "job-scaling", JobModifyIndex=scaled["JobModifyIndex"])
        index = self.scheduler.enqueue(evaluation)
        self.record_scaling_event(scaled, group_name, previous_count, body, evaluation["ID"])
        return {
            "EvalID": evaluation["ID"],
            "EvalCreateIndex": index,
            "JobModifyIndex": scaled["JobModifyIndex"],
            "Warnings": "",
            "Index": index,
        }

    def record_scaling_event(
        self, job: dict, group: str, previous_count: int, body: dict, eval_id: str
    ) -> None:
        """Keep the request as a ScalingEvent, shown by ``GET /v1/job/:id/scale``."""
        events = job.setdefault("ScalingEvents", {}).setdefault(group, [])
        events.insert(
            0,
            {
                "Count": body.get("Count"),
                "PreviousCount": previous_count,
                "Error": bool(body.get("Error")),
                "Message": body.get("Message") or "",
                "Meta": body.get("Meta"),
                "EvalID": eval_id,
                "Time": now_ns(),
                "CreateIndex": self.store.index,
            },
        )

    def stop_alloc(self, alloc_id: str) -> dict:
        """``nomad alloc stop``: stop one allocation; the scheduler places a replacement."""
        alloc = self.store.allocs.get(alloc_id)
        if alloc is None:
            raise APIError(404, "alloc not found")
        self.store.upsert_allocs([stop(alloc, structs.ALLOC_STOPPED_BY_USER, migrate=True)])
        job = self.store.job(alloc["Namespace"], alloc["JobID"]) or alloc["Job"]
        evaluation = new_evaluation(job, "alloc-stop", JobModifyIndex=job["JobModifyIndex"])
        index = self.scheduler.enqueue(evaluation)
        return {"EvalID": evaluation["ID"], "Index": index}

    def set_eligibility(self, node_id: str, eligibility: str) -> dict:
        """Mark a node eligible or ineligible for new placements."""
        if eligibility not in ("eligible", "ineligible"):
            raise APIError(400, f'invalid scheduling eligibility "{eligibility}"')
        node = self.node(node_id)
        if node["Drain"] and eligibility == "eligible":
            raise APIError(
                400, "can not set node's scheduling eligibility to eligible while draining"
            )
        node["SchedulingEligibility"] = eligibility
        index = self.store.upsert("nodes", node)
        self.scheduler.unblock("nodes")
        return {"EvalIDs": [], "EvalCreateIndex": 0, "NodeModifyIndex": index, "Index": index}

    def drain(self, node_id: str, spec: dict | None) -> dict:
        """Drain a node: make it ineligible and move its allocations elsewhere (or undrain)."""
        node = self.node(node_id)
        if spec is None:
            node.update(Drain=False, DrainStrategy=None, SchedulingEligibility="eligible")
            index = self.store.upsert("nodes", node)
            self.scheduler.unblock("nodes")
            return {"EvalIDs": [], "EvalCreateIndex": 0, "NodeModifyIndex": index, "Index": index}
        node.update(
            Drain=True,
            DrainStrategy={
                "Deadline": spec.get("Deadline", 0),
                "IgnoreSystemJobs": False,
                "ForceDeadline": None,
                "StartedAt": structs.rfc3339(now_ns()),
            },
            SchedulingEligibility="ineligible",
        )
        self.store.upsert("nodes", node)
        moved, jobs = [], {}
        for alloc in self.store.node_allocs(node_id):
            if alloc["DesiredStatus"] == "run" and not structs.is_terminal(alloc):
                moved.append(stop(alloc, structs.ALLOC_NODE_DRAINING, migrate=True))
                jobs[(alloc["Namespace"], alloc["JobID"])] = alloc["Job"]
        if moved:
            self.store.upsert_allocs(moved)
        eval_ids = []
        for (namespace, job_id), alloc_job in jobs.items():
            job = self.store.job(namespace, job_id) or alloc_job
            evaluation = new_evaluation(
                job, "node-drain", NodeID=node_id, JobModifyIndex=job["JobModifyIndex"]
            )
            self.scheduler.enqueue(evaluation)
            eval_ids.append(evaluation["ID"])
        node["Drain"] = False  # the drain is complete once its allocations are told to move
        node["DrainStrategy"] = None
        node["LastDrain"] = {
            "Status": "complete",
            "StartedAt": structs.rfc3339(now_ns()),
            "UpdatedAt": structs.rfc3339(now_ns()),
            "Meta": None,
        }
        index = self.store.upsert("nodes", node)
        return {
            "EvalIDs": eval_ids,
            "EvalCreateIndex": index,
            "NodeModifyIndex": index,
            "Index": index,
        }

    def alloc_terminal(self, alloc: dict) -> None:
        """A client reported an allocation finished (Node.UpdateAlloc): free its resources
        for blocked evaluations and, if it failed, evaluate the job so it is rescheduled."""
        self.scheduler.unblock("resources")
        job = self.store.job(alloc["Namespace"], alloc["JobID"])
        if job is None:
            return
        failed = alloc["ClientStatus"] == "failed" and alloc["DesiredStatus"] == "run"
        if failed and not job["Stop"]:
            self.scheduler.enqueue(
                new_evaluation(job, "alloc-failure", JobModifyIndex=job["JobModifyIndex"])
            )
        update_job_status(self.store, job)

    def node(self, node_id: str) -> dict:
        """A node by ID or unique ID prefix, as the CLI allows."""
        node = self.store.nodes.get(node_id)
        if node is None:
            matches = [n for n in self.store.nodes.values() if n["ID"].startswith(node_id)]
            if len(matches) != 1:
                raise APIError(404, "node not found")
            node = matches[0]
        return node


def spec_changed(old: dict, new: dict) -> bool:
    """True when a submitted job differs from the stored one in more than server fields."""
    strip = set(SERVER_FIELDS) | {"ScalingEvents"}
    return {k: v for k, v in old.items() if k not in strip} != {
        k: v for k, v in new.items() if k not in strip
    }
