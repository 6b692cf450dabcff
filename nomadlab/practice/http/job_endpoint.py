"""The job endpoints (Nomad's command/agent/job_endpoint.go): /v1/jobs and /v1/job/:id/..."""

from __future__ import annotations

import itertools

from nomadlab.practice import api, jobspec, plan, structs
from nomadlab.practice.http.handler import Handler, Read, Request, go_fields
from nomadlab.practice.http.stubs import EncodedList, by_alloc_id
from nomadlab.practice.jobspec.schema import json_type
from nomadlab.practice.scheduler import job_summary
from nomadlab.practice.server import APIError
from nomadlab.practice.structs.fields import complete


def jobs_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    namespace = req.namespace
    meta = req.flag("meta")

    def read() -> list[dict]:
        return [
            structs.job_stub(job, job_summary(req.store, job), meta)
            for (ns, job_id), job in sorted(req.store.jobs.items())
            if (namespace == "*" or ns == namespace) and job_id.startswith(prefix)
        ]

    return Read(("jobs", "job_summary"), read)


def jobs_register(req: Request, job_id: str | None = None) -> dict:
    body = req.body(check_ints=False)  # the job's own types are checked on register
    if not isinstance(body, dict) or not isinstance(body.get("Job"), dict):
        raise APIError(400, "Job must be specified")
    job = body["Job"]
    if job_id is not None and job.get("ID") != job_id:
        raise APIError(400, "Job ID does not match name")
    submission = body.get("Submission")
    if submission is not None:
        go_fields(submission, "JobRegisterRequest.Submission", _SUBMISSION_FIELDS)
        for value in (submission.get("VariableFlags") or {}).values():
            if not isinstance(value, str):
                raise APIError(
                    400,
                    f"json: cannot unmarshal {json_type(value)} into Go struct field "
                    "JobRegisterRequest.Submission.VariableFlags of type string",
                )
        submission = {key: submission.get(key) or "" for key in ("Source", "Format", "Variables")}
        submission["VariableFlags"] = body["Submission"].get("VariableFlags")
    return req.server.register(
        job,
        req.namespace,
        enforce_index=bool(body.get("EnforceIndex")),
        job_modify_index=whole_number(body, "JobModifyIndex"),
        submission=submission,
    )


def whole_number(body: dict, key: str, default: int | None = 0) -> int | None:
    """A non-negative integer field of a request body (absent: ``default``)."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise APIError(400, f"{key} must be a non-negative whole number")
    return value


def job_body(req: Request) -> dict:
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    return body


async def job_plan(req: Request, job_id: str) -> dict:
    body = job_body(req)
    job = body.get("Job")
    if not isinstance(job, dict):
        raise APIError(400, "Job must be specified")
    if job.get("ID") != job_id:
        raise APIError(400, "Job ID does not match")
    return await req.server.plan(job, req.namespace, diff=bool(body.get("Diff")))


def job_revert(req: Request, job_id: str) -> dict:
    body = job_body(req)
    if body.get("JobID", job_id) != job_id:
        raise APIError(400, "Job ID does not match")
    return req.server.revert(
        req.namespace,
        job_id,
        whole_number(body, "JobVersion"),
        whole_number(body, "EnforcePriorVersion", default=None),
    )


def job_stable(req: Request, job_id: str) -> dict:
    body = job_body(req)
    if body.get("JobID", job_id) != job_id:
        raise APIError(400, "Job ID does not match")
    return req.server.set_stability(
        req.namespace, job_id, whole_number(body, "JobVersion"), bool(body.get("Stable"))
    )


def validate_job(req: Request) -> dict:
    body = job_body(req)
    return req.server.validate(body.get("Job"), req.namespace)


# api.JobsParseRequest's fields and their Go types.
_PARSE_FIELDS = {
    "JobHCL": (str, "string"),
    "Variables": (str, "string"),
    "Canonicalize": (bool, "bool"),
}
# api.JobSubmission's fields, as JobRegisterRequest.Submission carries them.
_SUBMISSION_FIELDS = {
    "Source": (str, "string"), "Format": (str, "string"), "Variables": (str, "string"),
    "VariableFlags": (dict, "map[string]string"),
}  # fmt: skip
_SCALE_FIELDS = {
    "Count": (int, "int64"), "Target": (dict, "map[string]string"), "Message": (str, "string"),
    "Error": (bool, "bool"), "Meta": (dict, "map[string]interface {}"),
    "PolicyOverride": (bool, "bool"), "JobModifyIndex": (int, "uint64"),
}  # fmt: skip


async def jobs_parse(req: Request) -> dict | None:
    """HCL → an api.Job (every field, as Go encodes it), parsed in a worker process so the
    event loop keeps serving."""
    body = go_fields(req.body(), "JobsParseRequest", _PARSE_FIELDS)
    hcl = body.get("JobHCL")
    if not hcl or not hcl.strip():
        raise APIError(400, "Job spec is empty")
    try:
        job, _warnings = await req.agent.parser.parse(
            hcl, body.get("Variables") or None, bool(body.get("Canonicalize"))
        )
    except jobspec.JobspecError as exc:
        raise APIError(400, str(exc)) from exc
    return api.complete("Job", job)


def lookup_job(req: Request, job_id: str) -> dict:
    job = req.store.job(req.namespace, job_id)
    if job is None:
        raise APIError(404, "job not found")
    return job


def job_read(req: Request, job_id: str) -> Read:
    return Read(("jobs",), lambda: complete("Job", lookup_job(req, job_id)))


def job_deregister(req: Request, job_id: str) -> dict:
    return req.server.deregister(req.namespace, job_id, req.flag("purge"))


def job_allocations(req: Request, job_id: str) -> Read:
    include_all = req.flag("all")

    def read() -> EncodedList:
        allocs = req.store.job_allocs(req.namespace, job_id, any_create_index=include_all)
        # The state store's order: its job index iterates allocations by ID.
        return req.agent.alloc_stubs.encode(by_alloc_id(allocs))

    return Read(("allocs",), read)


def job_evaluations(req: Request, job_id: str) -> Read:
    return Read(
        ("evals",),
        lambda: [complete("Evaluation", e) for e in req.store.job_evals(req.namespace, job_id)],
    )


def job_deployments(req: Request, job_id: str) -> Read:
    return Read(
        ("deployments",),
        lambda: [
            complete("Deployment", d) for d in req.store.job_deployments(req.namespace, job_id)
        ],
    )


def job_latest_deployment(req: Request, job_id: str) -> Read:
    def read() -> dict | None:
        deployments = req.store.job_deployments(req.namespace, job_id)
        return complete("Deployment", deployments[0]) if deployments else None

    return Read(("deployments",), read)


def job_summary_read(req: Request, job_id: str) -> Read:
    return Read(("job_summary",), lambda: job_summary(req.store, lookup_job(req, job_id)))


def job_versions(req: Request, job_id: str) -> Read:
    want_diffs = req.flag("diffs")

    def read() -> dict:
        versions = req.store.job_versions.get((req.namespace, job_id))
        if not versions:
            raise APIError(404, "job versions not found")
        diffs = None
        if want_diffs:
            diffs = [plan.job_diff(old, new) for new, old in itertools.pairwise(versions)]
        return complete(
            "JobVersionsResponse",
            {
                "Versions": versions,
                "Diffs": diffs,
                "Index": req.store.max_index(("job_versions",)),
                "KnownLeader": True,
            },
        )

    return Read(("job_versions",), read)


def job_submission(req: Request, job_id: str) -> Read:
    """``GET /v1/job/:id/submission?version=N``: the source that version was registered from."""
    raw = req.arg("version") or ""
    if not raw.isascii() or not raw.isdigit() or int(raw) >= 2**64:
        raise APIError(400, "Unable to parse job submission version parameter")
    version = int(raw)

    def read() -> dict:
        kept = req.store.job_submissions.get((req.namespace, job_id)) or {}
        if version not in kept:
            raise APIError(404, "job source not found")
        return kept[version]

    return Read(("job_versions",), read)


def job_scale_status(req: Request, job_id: str) -> Read:
    def read() -> dict:
        job = lookup_job(req, job_id)
        allocs = req.store.job_allocs(req.namespace, job_id)
        groups = {}
        for group in job["TaskGroups"]:
            live = [
                a
                for a in allocs
                if a["TaskGroup"] == group["Name"]
                and a["DesiredStatus"] == "run"
                and not structs.is_terminal(a)
            ]
            health = [(a.get("DeploymentStatus") or {}).get("Healthy") for a in live]
            groups[group["Name"]] = {
                "Desired": group["Count"],
                "Placed": len(live),
                "Running": sum(a["ClientStatus"] == "running" for a in live),
                "Healthy": health.count(True),
                "Unhealthy": health.count(False),
                "Events": (job.get("ScalingEvents") or {}).get(group["Name"]),
            }
        return {
            "JobID": job["ID"],
            "Namespace": job["Namespace"],
            "JobCreateIndex": job["CreateIndex"],
            "JobModifyIndex": job["JobModifyIndex"],
            "JobStopped": job["Stop"],
            "TaskGroups": groups,
        }

    return Read(("jobs", "allocs"), read)


def job_evaluate(req: Request, job_id: str) -> dict:
    """``nomad job eval [-force-reschedule]``; the body (JobEvaluateRequest) may be empty."""
    body = req.body() if req.handler.request.body.strip() else {}
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    options = body.get("EvalOptions") or {}
    if not isinstance(options, dict):
        raise APIError(400, "EvalOptions must be an object")
    return req.server.evaluate(req.namespace, job_id, bool(options.get("ForceReschedule")))


def job_dispatch(req: Request, job_id: str) -> dict:
    """``nomad job dispatch``: body JobDispatchRequest {JobID, Payload, Meta, IdPrefixTemplate}."""
    body = req.body() if req.handler.request.body.strip() else {}
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    if body.get("JobID") and body["JobID"] != job_id:
        raise APIError(400, "Job ID does not match")
    return req.server.dispatch(req.namespace, job_id, body)


def job_periodic_force(req: Request, job_id: str) -> dict:
    """``nomad job periodic force``."""
    return req.agent.periodic.force(req.namespace, job_id)


def job_scale(req: Request, job_id: str) -> dict:
    body = go_fields(req.body(check_ints=False), "ScalingRequest", _SCALE_FIELDS)
    for value in (body.get("Target") or {}).values():
        if not isinstance(value, str):
            raise APIError(
                400,
                f"json: cannot unmarshal {json_type(value)} into Go struct field "
                f"ScalingRequest.Target of type string",
            )
    if (body.get("JobModifyIndex") or 0) < 0:
        raise APIError(
            400,
            f"json: cannot unmarshal number {body['JobModifyIndex']} into Go struct field "
            "ScalingRequest.JobModifyIndex of type uint64",
        )
    if (body.get("Target") or {}).get("Job") not in (None, "", job_id):
        raise APIError(400, "job ID in payload did not match URL")
    return req.server.scale(req.namespace, job_id, body)


# A job ID, or a periodic or dispatched child's ``<parent>/periodic-…``, ``<parent>/dispatch-…``:
# Nomad's router takes the rest of the path, so clients that send the "/" unescaped work too.
JOB_ID = r"([^/]+(?:/(?:periodic|dispatch)-[^/]+)?)"

ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/jobs", {"GET": jobs_list, "PUT": jobs_register, "POST": jobs_register}),
    (r"/v1/jobs/parse", {"POST": jobs_parse, "PUT": jobs_parse}),
    (
        "/v1/job/" + JOB_ID,
        {"GET": job_read, "PUT": jobs_register, "POST": jobs_register, "DELETE": job_deregister},
    ),
    (r"/v1/job/" + JOB_ID + r"/allocations", {"GET": job_allocations}),
    (r"/v1/job/" + JOB_ID + r"/evaluations", {"GET": job_evaluations}),
    (r"/v1/job/" + JOB_ID + r"/deployments", {"GET": job_deployments}),
    (r"/v1/job/" + JOB_ID + r"/deployment", {"GET": job_latest_deployment}),
    (r"/v1/job/" + JOB_ID + r"/summary", {"GET": job_summary_read}),
    (r"/v1/job/" + JOB_ID + r"/versions", {"GET": job_versions}),
    (r"/v1/job/" + JOB_ID + r"/submission", {"GET": job_submission}),
    (r"/v1/job/" + JOB_ID + r"/plan", {"POST": job_plan, "PUT": job_plan}),
    (r"/v1/job/" + JOB_ID + r"/revert", {"POST": job_revert, "PUT": job_revert}),
    (r"/v1/job/" + JOB_ID + r"/stable", {"POST": job_stable, "PUT": job_stable}),
    (r"/v1/validate/job", {"POST": validate_job, "PUT": validate_job}),
    (r"/v1/job/" + JOB_ID + r"/dispatch", {"POST": job_dispatch, "PUT": job_dispatch}),
    (
        r"/v1/job/" + JOB_ID + r"/periodic/force",
        {"POST": job_periodic_force, "PUT": job_periodic_force},
    ),
    (r"/v1/job/" + JOB_ID + r"/evaluate", {"POST": job_evaluate, "PUT": job_evaluate}),
    (
        r"/v1/job/" + JOB_ID + r"/scale",
        {"GET": job_scale_status, "POST": job_scale, "PUT": job_scale},
    ),
]
