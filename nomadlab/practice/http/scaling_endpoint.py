"""The scaling policy endpoints (command/agent/scaling_endpoint.go): the ``scaling`` blocks of
the jobs' groups, listed and read by ID."""

from __future__ import annotations

from nomadlab.practice.http.handler import Handler, Read, Request
from nomadlab.practice.server import APIError


def scaling_policies(req: Request) -> Read:
    """Every group's scaling policy, optionally of one job (``?job=``) or type (``?type=``);
    ``[]`` when no job has a ``scaling`` block."""
    job_id, kind = req.arg("job") or "", req.arg("type") or ""

    def read() -> list[dict]:
        return [
            {key: policy[key] for key in ("ID", "Enabled", "Type", "Target")}
            | {"CreateIndex": job["CreateIndex"], "ModifyIndex": job["ModifyIndex"]}
            for job, policy in policies(req)
            if (not job_id or job["ID"] == job_id) and (not kind or policy["Type"] == kind)
        ]

    return Read(("jobs",), read)


def scaling_policy(req: Request, policy_id: str) -> Read:
    def read() -> dict:
        for job, policy in policies(req):
            if policy["ID"] == policy_id:
                fields = ("ID", "Type", "Target", "Policy", "Min", "Max", "Enabled")
                return {key: policy.get(key) for key in fields} | {
                    "CreateIndex": job["CreateIndex"],
                    "ModifyIndex": job["ModifyIndex"],
                }
        raise APIError(404, "policy not found")

    return Read(("jobs",), read)


def policies(req: Request) -> list[tuple[dict, dict]]:
    """(job, policy) for every group with a scaling block, in the request's namespace."""
    namespace = req.namespace
    return [
        (job, group["Scaling"])
        for (ns, _), job in sorted(req.store.jobs.items())
        if namespace in ("*", ns)
        for group in job["TaskGroups"]
        if group.get("Scaling") and group["Scaling"].get("ID")
    ]


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/scaling/policies", {"GET": scaling_policies}),
    (r"/v1/scaling/policy/([^/]+)", {"GET": scaling_policy}),
]
