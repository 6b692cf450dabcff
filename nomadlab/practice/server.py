"""The server's write operations (nomad/job_endpoint.go and friends): what changes state.

The HTTP layer parses requests and calls these; each write stores the change and,
where Nomad would, creates the evaluation that makes the scheduler act on it.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from nomadlab.practice import jobspec, namespaces, plan, services, structs
from nomadlab.practice.drainer import add_node_event
from nomadlab.practice.scheduler import Scheduler, is_template, stop, update_job_status
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs import SERVER_FIELDS, new_evaluation, now_ns, rfc3339, spec_changed
from nomadlab.practice.structs.errors import APIError
from nomadlab.practice.structs.submission import job_submission, oversized

# Node events (nomad/node_endpoint.go).
DRAIN_SET_EVENT = "Node drain strategy set"
DRAIN_DISABLED_EVENT = "Node drain disabled"
DRAIN_UPDATED_EVENT = "Node drain strategy updated"
ELIGIBLE_EVENT = "Node marked as eligible for scheduling"
INELIGIBLE_EVENT = "Node marked as ineligible for scheduling"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


class Server:
    """Job, allocation and node writes, each answered with Nomad's response shape."""

    def __init__(self, store: StateStore, scheduler: Scheduler) -> None:
        self.store = store
        self.scheduler = scheduler

    def admit(self, job: object, namespace: str) -> dict:
        """The job canonicalized and validated, as Register, Plan and Validate take it."""
        if not isinstance(job, dict):
            raise APIError(400, "Job must be specified")
        try:
            job = jobspec.canonicalize(copy.deepcopy(job))
            if not job.get("Namespace") or job["Namespace"] == structs.NAMESPACE:
                job["Namespace"] = namespace
            errors = namespaces.check_job(self.store, job) + jobspec.validate(job, canonical=True)
        except jobspec.JobspecError as exc:
            raise APIError(400, str(exc)) from exc
        if errors:
            raise APIError(500, jobspec.format_errors(errors))
        services.add_implied_constraints(job)
        assign_scaling_policy_ids(job, self.store.job(job["Namespace"], job["ID"]))
        return job

    def register(
        self,
        job: dict,
        namespace: str,
        enforce_index: bool = False,
        job_modify_index: int = 0,
        submission: dict | None = None,
    ) -> dict:
        """Register (or update) a job: a new version if its spec changed, and an evaluation.

        With ``enforce_index`` (``nomad job run -check-index``) only if the job's modify
        index is still ``job_modify_index`` (0: the job must not exist yet). ``submission``
        (the source it was written in) is kept with the version unless it is too large."""
        job = self.admit(job, namespace)
        extra_warnings = []
        if submission is not None and (too_large := oversized(submission)):
            extra_warnings.append(too_large)
            submission = None
        previous = self.store.job(job["Namespace"], job["ID"])
        if enforce_index:
            check_index(previous, job_modify_index)
        if previous is not None and not spec_changed(previous, job):
            job = previous
        else:
            job.update(
                Status="pending", Stop=bool(job.get("Stop")), Stable=False, SubmitTime=now_ns()
            )
            job.setdefault("StatusDescription", "")
            self.store.upsert_job(job)
        if submission is not None:
            self.store.add_job_submission(job_submission(submission, job))
        warnings = jobspec.warnings(job, extra_warnings)
        if is_template(job):  # periodic and parameterized parents get no evaluation
            update_job_status(self.store, job)
            response = register_response({"ID": ""}, 0, job, warnings)
            return {**response, "Index": self.store.index}
        evaluation = new_evaluation(job, "job-register", JobModifyIndex=job["JobModifyIndex"])
        index = self.scheduler.enqueue(evaluation)
        update_job_status(self.store, job)
        return register_response(evaluation, index, job, warnings)

    def revert(
        self, namespace: str, job_id: str, version: int, enforce_prior_version: int | None
    ) -> dict:
        """``nomad job revert``: register an older version of the job as its newest."""
        current = self.store.job(namespace, job_id)
        if current is None:
            raise APIError(500, f'job "{job_id}" in namespace "{namespace}" not found')
        if enforce_prior_version is not None and current["Version"] != enforce_prior_version:
            raise APIError(
                500,
                f"current job has version {current['Version']}; "
                f"enforcing version {enforce_prior_version}",
            )
        if version == current["Version"]:
            raise APIError(500, "can't revert to current version")
        target = self.version(namespace, job_id, version)
        if target is None:
            raise APIError(
                500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found'
            )
        return self.register(
            copy.deepcopy(target),
            namespace,
            enforce_index=enforce_prior_version is not None,
            job_modify_index=current["JobModifyIndex"],
        )

    def set_stability(self, namespace: str, job_id: str, version: int, stable: bool) -> dict:
        """``POST /v1/job/:id/stable``: mark a version stable (a revert target) or not."""
        target = self.version(namespace, job_id, version)
        if target is None:
            raise APIError(
                500,
                f'job "{job_id}" (Version {version}) in namespace "{namespace}" doesn\'t exist',
            )
        target["Stable"] = stable
        current = self.store.job(namespace, job_id)
        if current is not None and current["Version"] == version:
            current["Stable"] = stable
        return {"Index": self.store.commit(["jobs", "job_versions"])}

    def version(self, namespace: str, job_id: str, version: int) -> dict | None:
        """One stored version of a job."""
        versions = self.store.job_versions.get((namespace, job_id), [])
        return next((v for v in versions if v["Version"] == version), None)

    def validate(self, job: object, namespace: str) -> dict:
        """``nomad job validate``: the job's errors as a list and as Nomad's multierror text."""
        if not isinstance(job, dict):
            raise APIError(400, "Job must be specified")
        try:
            canonical = jobspec.canonicalize(copy.deepcopy(job))
            errors = jobspec.validate(canonical, canonical=True)
        except jobspec.JobspecError as exc:
            errors = [str(exc)]
        return {
            "DriverConfigValidated": True,
            "ValidationErrors": errors or None,
            "Error": jobspec.format_errors(errors) if errors else "",
            "Warnings": "",
        }

    async def plan(self, job: object, namespace: str, diff: bool) -> dict:
        """``nomad job plan``: the scheduler's decisions on a copy of the state, the diff
        against the registered job and its annotations; nothing here changes."""
        job = self.admit(job, namespace)
        previous = self.store.job(job["Namespace"], job["ID"])
        shadow = self.store.snapshot()
        if previous is None or spec_changed(previous, job):
            job.update(Status="pending", Stop=bool(job.get("Stop")), Stable=False)
            shadow.upsert_job(job)
        planned = shadow.job(job["Namespace"], job["ID"])
        evaluation = new_evaluation(
            planned, "job-register", JobModifyIndex=planned["JobModifyIndex"], AnnotatePlan=True
        )
        result = await Scheduler(shadow).reconcile(evaluation, planned)
        created = None
        if result.failed:
            created = [
                new_evaluation(
                    planned,
                    "queued-allocs",
                    Status="blocked",
                    StatusDescription="created to place remaining allocations",
                    PreviousEval=evaluation["ID"],
                )
            ]
        job_diff = None
        if diff:
            job_diff = plan.job_diff(previous, planned)
            plan.annotate(job_diff, result.desired)
        return {
            "Annotations": {"DesiredTGUpdates": result.desired, "PreemptedAllocs": None},
            "FailedTGAllocs": result.failed or None,
            "JobModifyIndex": previous["JobModifyIndex"] if previous else 0,
            "CreatedEvals": created,
            "Diff": job_diff,
            "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
            "Warnings": jobspec.warnings(job),
            "Index": self.store.index,
        }

    def launch_child(self, parent: dict, child_id: str, **fields: Any) -> tuple[dict, dict, int]:
        """Register a child of a periodic or parameterized job (periodic.go deriveJob,
        Job.Dispatch): a copy under ``child_id`` with ParentID set, and its evaluation."""
        child = copy.deepcopy(parent)
        for key in SERVER_FIELDS:
            child.pop(key, None)
        child.update(ID=child_id, Name=child_id, ParentID=parent["ID"], **fields)
        child.update(Status="pending", Stop=False, Stable=False, SubmitTime=now_ns())
        child.setdefault("StatusDescription", "")
        self.store.upsert_job(child)
        evaluation = new_evaluation(child, "job-register", JobModifyIndex=child["JobModifyIndex"])
        index = self.scheduler.enqueue(evaluation)
        update_job_status(self.store, child)
        self.store.commit(["job_summary"])  # the parent's Children changed
        return child, evaluation, index

    def dispatch(self, namespace: str, job_id: str, body: dict) -> dict:
        """``nomad job dispatch``: launch a parameterized job's child with its meta and
        payload, checked as Nomad's validateDispatchRequest checks them."""
        parent = self.store.job(namespace, job_id)
        if parent is None:
            raise APIError(404, f'parameterized job "{job_id}" not found')
        config = parent.get("ParameterizedJob")
        if config is None or parent.get("Dispatched"):
            raise APIError(500, f'Specified job "{job_id}" is not a parameterized job')
        if parent["Stop"]:
            raise APIError(500, f'Specified job "{job_id}" is stopped')
        payload, meta = dispatch_arguments(body)
        mode = config.get("Payload") or "optional"
        if mode == "required" and not payload:
            raise APIError(500, "Payload is not provided but required by parameterized job")
        if mode == "forbidden" and payload:
            raise APIError(500, "Payload provided but forbidden by parameterized job")
        if len(payload) > DISPATCH_PAYLOAD_LIMIT:
            raise APIError(
                500, f"Payload exceeds maximum size; {len(payload)} > {DISPATCH_PAYLOAD_LIMIT}"
            )
        required = config.get("MetaRequired") or []
        allowed = set(required) | set(config.get("MetaOptional") or [])
        unpermitted = sorted(set(meta) - allowed)
        if unpermitted:
            keys = " ".join(unpermitted)
            raise APIError(500, f"Dispatch request included unpermitted metadata keys: [{keys}]")
        missing = [key for key in required if key not in meta]
        if missing:
            keys = " ".join(missing)
            raise APIError(500, f"Dispatch did not provide required meta keys: [{keys}]")
        template = body.get("IdPrefixTemplate") or ""
        if not isinstance(template, str) or "/" in template:
            raise APIError(400, "IdPrefixTemplate must be a string without '/'")
        stamp, suffix = int(now_ns() // 1_000_000_000), structs.new_id()[:8]
        prefix = f"{template}-" if template else ""
        child, evaluation, index = self.launch_child(
            parent,
            f"{parent['ID']}/dispatch-{prefix}{stamp}-{suffix}",
            Dispatched=True,
            Meta={**(parent.get("Meta") or {}), **meta} or None,
            Payload=base64.b64encode(payload).decode() if payload else None,
        )
        return {
            "DispatchedJobID": child["ID"],
            "EvalID": evaluation["ID"],
            "EvalCreateIndex": index,
            "JobCreateIndex": child["CreateIndex"],
            "Index": index,
        }

    def evaluate(self, namespace: str, job_id: str, force_reschedule: bool = False) -> dict:
        """``nomad job eval``: a new evaluation of the job as it is (Job.Evaluate);
        ``force_reschedule`` replaces failed allocations now, whatever their policy."""
        job = self.store.job(namespace, job_id)
        if job is None:
            raise APIError(404, "job not found")
        if job.get("Periodic") is not None:
            raise APIError(500, "can't evaluate periodic job")
        if job.get("ParameterizedJob") is not None and not job.get("Dispatched"):
            raise APIError(500, "can't evaluate parameterized job")
        if force_reschedule:
            failed = [
                a
                for a in self.store.job_allocs(namespace, job_id)
                if a["ClientStatus"] == "failed" and a["DesiredStatus"] == "run"
            ]
            for alloc in failed:
                alloc["DesiredTransition"] = {
                    **(alloc.get("DesiredTransition") or {}),
                    "ForceReschedule": True,
                }
            if failed:
                self.store.upsert_allocs(failed)
        evaluation = new_evaluation(job, "job-register", JobModifyIndex=job["JobModifyIndex"])
        return register_response(evaluation, self.scheduler.enqueue(evaluation), job)

    def evaluate_node(self, node_id: str) -> dict:
        """``nomad node eval``: evaluate every job with allocations on the node
        (Node.Evaluate, ``node-update``)."""
        node = self.node(node_id)
        jobs = {}
        for alloc in self.store.node_allocs(node["ID"]):
            job = self.store.job(alloc["Namespace"], alloc["JobID"])
            if job is not None:
                jobs[(job["Namespace"], job["ID"])] = job
        eval_ids, index = [], 0
        for job in jobs.values():
            evaluation = new_evaluation(
                job, "node-update", NodeID=node["ID"], JobModifyIndex=job["JobModifyIndex"]
            )
            index = self.scheduler.enqueue(evaluation)
            eval_ids.append(evaluation["ID"])
        return {
            "EvalIDs": eval_ids,
            "EvalCreateIndex": index,
            "NodeModifyIndex": node["ModifyIndex"],
            "Index": self.store.index,
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
        """``nomad job scale`` (Job.Scale): a new job version with the group's count within its
        scaling policy's bounds, then an evaluation. Without a count the request is only an
        informational event."""
        target = body.get("Target") or {}
        if not isinstance(target, dict):
            raise APIError(400, "scaling action Target must be an object of strings")
        group_name = scale_request_group(namespace, target, body)
        count = body.get("Count")
        job = self.store.job(namespace, job_id)
        if job is None:
            raise APIError(404, f'job "{job_id}" not found')
        if job["Type"] == "system" and count is not None and count > 1:
            raise APIError(400, 'jobs of type "system" can only be scaled between 0 and 1')
        group = next((g for g in job["TaskGroups"] if g["Name"] == group_name), None)
        if group is None:
            raise APIError(
                400, f'task group "{group_name}" specified for scaling does not exist in job'
            )
        previous_count = group["Count"]
        if count is None:
            event_index = self.record_scaling_event(job, group_name, previous_count, body, None)
            response = register_response({"ID": ""}, 0, job)
            return {**response, "JobModifyIndex": job["ModifyIndex"], "Index": event_index}
        check_scaling_bounds(group.get("Scaling"), count)
        latest = self.store.job_deployments(namespace, job_id)[:1]
        if any(
            d["Status"] in ("running", "paused", "pending", "blocked", "unblocking")
            and d["JobCreateIndex"] == job["CreateIndex"]
            for d in latest
        ):
            raise APIError(400, "job scaling blocked due to active deployment")
        modify_index = body.get("JobModifyIndex") or 0
        if modify_index and modify_index != job["JobModifyIndex"]:
            raise APIError(
                500,
                f"{ENFORCE_INDEX} {modify_index}: job exists with conflicting job modify "
                f"index: {job['JobModifyIndex']}",
            )
        scaled = copy.deepcopy(job)
        next(g for g in scaled["TaskGroups"] if g["Name"] == group_name)["Count"] = count
        scaled.update(Stop=False, Stable=False, SubmitTime=now_ns())
        self.store.upsert_job(scaled)
        evaluation, index = {"ID": ""}, 0
        if not is_template(scaled):
            evaluation = new_evaluation(
                scaled, "job-scaling", JobModifyIndex=scaled["JobModifyIndex"]
            )
            index = self.scheduler.enqueue(evaluation)
        event_index = self.record_scaling_event(
            scaled, group_name, previous_count, body, evaluation["ID"] or None
        )
        return {**register_response(evaluation, index, scaled), "Index": event_index}

    def record_scaling_event(
        self, job: dict, group: str, previous_count: int, body: dict, eval_id: str | None
    ) -> int:
        """Keep the request as a ScalingEvent, shown by ``GET /v1/job/:id/scale``."""
        index = self.store.commit(["jobs"])
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
                "CreateIndex": index,
            },
        )
        return index

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
        """Mark a node eligible or ineligible for new placements (Node.UpdateEligibility)."""
        if eligibility not in ("eligible", "ineligible"):
            raise APIError(500, f'invalid scheduling eligibility "{eligibility}"')
        node = self.node(node_id)
        if node["DrainStrategy"] is not None and eligibility == "eligible":
            raise APIError(
                500, "can not set node's scheduling eligibility to eligible while it is draining"
            )
        if node["SchedulingEligibility"] != eligibility:
            add_node_event(
                node,
                ELIGIBLE_EVENT if eligibility == "eligible" else INELIGIBLE_EVENT,
                "Cluster",
            )
            self._set_eligibility(node, eligibility)
        return self._node_update_response(node)

    def _node_update_response(self, node: dict) -> dict:
        index = self.store.upsert("nodes", node)
        return {"EvalIDs": [], "EvalCreateIndex": 0, "NodeModifyIndex": index, "Index": index}

    def _set_eligibility(self, node: dict, eligibility: str) -> None:
        """Change eligibility; blocked evaluations retry on a node turning eligible."""
        node["SchedulingEligibility"] = eligibility
        if eligibility == "eligible":
            self.scheduler.unblock("nodes")

    def drain(
        self, node_id: str, spec: dict | None, mark_eligible: bool = False, meta: dict | None = None
    ) -> dict:
        """Start, change or cancel a node's drain (Node.UpdateDrain). The drain itself runs in
        the background (``drainer``); this only records the strategy and makes the node
        ineligible, or, when ``spec`` is None, cancels it."""
        node = self.node(node_id)
        now = now_ns()
        last = node.get("LastDrain") or {}
        if spec is None:
            was_draining = node["DrainStrategy"] is not None
            node.update(Drain=False, DrainStrategy=None)
            if was_draining:
                node["LastDrain"] = {**last, "Status": "canceled", "UpdatedAt": rfc3339(now)}
                add_node_event(node, DRAIN_DISABLED_EVENT, "Drain")
            if mark_eligible:
                self._set_eligibility(node, "eligible")
        else:
            if not isinstance(spec, dict):
                raise APIError(400, "DrainSpec must be an object")
            deadline = spec.get("Deadline") or 0
            if not isinstance(deadline, int) or isinstance(deadline, bool):
                raise APIError(400, "DrainSpec.Deadline must be a duration in nanoseconds")
            updating = node["DrainStrategy"] is not None
            node.update(
                Drain=True,
                DrainStrategy={
                    "Deadline": deadline,
                    "IgnoreSystemJobs": bool(spec.get("IgnoreSystemJobs")),
                    # A negative deadline forces the drain at once (DeadlineTime).
                    "ForceDeadline": rfc3339(now + deadline) if deadline > 0 else GO_ZERO_TIME,
                    "StartedAt": node["DrainStrategy"]["StartedAt"] if updating else rfc3339(now),
                },
                LastDrain={
                    "StartedAt": last.get("StartedAt") if updating else rfc3339(now),
                    "UpdatedAt": rfc3339(now),
                    "Status": "draining",
                    "AccessorID": "",
                    "Meta": meta,
                },
            )
            add_node_event(node, DRAIN_UPDATED_EVENT if updating else DRAIN_SET_EVENT, "Drain")
            self._set_eligibility(node, "ineligible")
        return self._node_update_response(node)

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


DISPATCH_PAYLOAD_LIMIT = 16 * 1024  # nomad/job_endpoint.go DispatchPayloadSizeLimit


def dispatch_arguments(body: dict) -> tuple[bytes, dict[str, str]]:
    """A dispatch request's payload (base64 in JSON, as Go's []byte) and meta, or 400."""
    raw = body.get("Payload") or ""
    try:
        payload = base64.b64decode(raw, validate=True) if raw else b""
    except (ValueError, TypeError) as exc:
        raise APIError(400, "Payload must be base64-encoded bytes") from exc
    meta = body.get("Meta") or {}
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise APIError(400, "Meta must be an object of strings")
    return payload, meta


def assign_scaling_policy_ids(job: dict, previous: dict | None) -> None:
    """Give each group's ``scaling`` policy its target and an ID, kept from the previous
    version of the job for the same group (as the state store does)."""
    kept = {
        g["Name"]: g["Scaling"]["ID"]
        for g in (previous or {}).get("TaskGroups") or []
        if (g.get("Scaling") or {}).get("ID")
    }
    for group in job["TaskGroups"]:
        policy = group.get("Scaling")
        if policy:
            policy["Target"] = {
                "Namespace": job["Namespace"],
                "Job": job["ID"],
                "Group": group["Name"],
            }
            policy["ID"] = policy.get("ID") or kept.get(group["Name"]) or structs.new_id()


def scale_request_group(namespace: str, target: dict, body: dict) -> str:
    """JobScaleRequest.Validate: the target group's name, or Nomad's 400."""
    if target.get("Namespace") and target["Namespace"] != namespace:
        raise APIError(400, "namespace in payload did not match header")
    group_name = target.get("Group")
    if not group_name:
        raise APIError(400, "missing task group name for scaling action")
    count = body.get("Count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise APIError(400, "scaling action count must be a whole number")
    if count is not None and count < 0:
        raise APIError(400, "scaling action count can't be negative")
    if count is not None and body.get("Error"):
        raise APIError(400, "scaling action should not contain count if error is true")
    return group_name


def check_scaling_bounds(policy: dict | None, count: int) -> None:
    """Job.Scale: a count outside the group's scaling policy is refused."""
    if policy is None:
        return
    minimum, maximum = policy.get("Min") or 0, policy.get("Max")
    if count < minimum:
        raise APIError(
            400, f"group count was less than scaling policy minimum: {count} < {minimum}"
        )
    if maximum is not None and maximum < count:
        raise APIError(
            400, f"group count was greater than scaling policy maximum: {count} > {maximum}"
        )


def register_response(evaluation: dict, index: int, job: dict, warnings: str = "") -> dict:
    """JobRegisterResponse, which ``job eval`` answers with too."""
    return {
        "EvalID": evaluation["ID"],
        "EvalCreateIndex": index,
        "JobModifyIndex": job["JobModifyIndex"],
        "Warnings": warnings,
        "Index": index,
        "LastContact": 0,
        "KnownLeader": False,
    }


ENFORCE_INDEX = "Enforcing job modify index"


def check_index(existing: dict | None, job_modify_index: int) -> None:
    """Register's -check-index test, with Nomad's error texts (nomad/job_endpoint.go)."""
    if existing is not None:
        if job_modify_index == 0:
            raise APIError(500, f"{ENFORCE_INDEX} 0: job already exists")
        if job_modify_index != existing["JobModifyIndex"]:
            raise APIError(
                500,
                f"{ENFORCE_INDEX} {job_modify_index}: job exists with conflicting job modify "
                f"index: {existing['JobModifyIndex']}",
            )
    elif job_modify_index != 0:
        raise APIError(500, f"{ENFORCE_INDEX} {job_modify_index}: job does not exist")
