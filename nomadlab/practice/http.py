"""The HTTP API: Nomad's routes under /v1, on tornado, with Nomad's errors and headers.

Each route maps HTTP methods to small endpoint functions. Reads are blocking-query
aware (``?index=N&wait=D``); errors go out as Nomad sends them: a status code and a
plain-text message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import tornado.web

from nomadlab.practice import jobspec, structs
from nomadlab.practice.client import AllocRunner, TaskError
from nomadlab.practice.deployments import DeploymentWatcher
from nomadlab.practice.scheduler import job_summary
from nomadlab.practice.server import APIError, Server
from nomadlab.practice.state import StateStore

MAX_WAIT = 600.0
DEFAULT_WAIT = 300.0
_WAIT = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)?$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, None: 1e-9}


class Agent(Protocol):
    """What the HTTP API needs of the agent it serves (the practice agent's PracticeAgent)."""

    store: StateStore
    server: Server
    deployments: DeploymentWatcher
    log: logging.Logger
    node_name: str
    blocking_queries: int

    @property
    def rpc_addr(self) -> str: ...

    def alloc_dir(self, alloc: dict) -> Path: ...

    def alloc_runner(self, alloc: dict) -> AllocRunner | None: ...

    def member(self) -> dict: ...

    def self_info(self) -> dict: ...


@dataclass
class Read:
    """A read endpoint's answer: the tables it reads (for blocking) and how to read them."""

    tables: tuple[str, ...]
    read: Callable[[], Any]


class Request:
    """What an endpoint function sees of the HTTP request."""

    def __init__(self, handler: Endpoint) -> None:
        self.handler = handler
        self.agent: Agent = handler.agent
        self.store = handler.agent.store
        self.server = handler.agent.server

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.handler.get_query_argument(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter, parsed like Go's strconv.ParseBool."""
        value = self.arg(name)
        if value is None:
            return default
        if value == "":
            return True
        if value in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if value in ("0", "f", "F", "FALSE", "false", "False"):
            return False
        raise APIError(400, f'Failed to parse value of "{name}" ({value}) as a boolean')

    @property
    def namespace(self) -> str:
        return self.arg("namespace") or self.handler.request.headers.get(
            "X-Nomad-Namespace", structs.NAMESPACE
        )

    def body(self) -> Any:
        """The JSON body: 400 when it is empty or malformed."""
        raw = self.handler.request.body
        if not raw or not raw.strip():
            raise APIError(400, "Request body is empty")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise APIError(400, f"Failed to decode request body: {exc}") from exc


Handler = Callable[..., Any]


class Endpoint(tornado.web.RequestHandler):
    """Dispatches one route's methods to endpoint functions."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

    def initialize(self, agent: Agent, methods: dict[str, Handler]) -> None:
        self.agent = agent
        self.methods = methods

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")

    async def dispatch(self, *args: str) -> None:
        method = self.request.method
        function = self.methods.get("GET" if method == "HEAD" else method)
        try:
            if function is None:
                raise APIError(405, "Invalid method")
            result = function(Request(self), *args)
            if isinstance(result, Awaitable):
                result = await result
            if isinstance(result, Read):
                await self.block(result)
            elif result is not None:
                self.set_header("X-Nomad-Index", str(self.agent.store.index))
                self.send_json(result)
        except APIError as exc:
            self.send_error_text(exc.status, exc.message)

    get = head = post = put = delete = patch = options = dispatch

    async def block(self, read: Read) -> None:
        """Serve a read, first waiting as a blocking query asks."""
        store = self.agent.store
        index_arg = self.get_query_argument("index", None)
        if index_arg is not None:
            try:
                min_index = int(index_arg)
            except ValueError as exc:
                raise APIError(400, "Invalid index") from exc
            wait = parse_wait(self.get_query_argument("wait", None))
            if min_index > 0:
                self.agent.blocking_queries += 1
                try:
                    await store.wait(read.tables, min_index, wait)
                finally:
                    self.agent.blocking_queries -= 1
        data = read.read()
        if self.request.connection.stream is None or self.request.connection.stream.closed():
            return
        self.set_header("X-Nomad-Index", str(max(1, store.max_index(read.tables))))
        self.set_header("X-Nomad-KnownLeader", "true")
        self.set_header("X-Nomad-LastContact", "0")
        self.send_json(data)

    def send_json(self, data: Any) -> None:
        pretty = self.get_query_argument("pretty", None) is not None
        self.finish(json.dumps(data, indent=4 if pretty else None))

    def send_error_text(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = str(exc) if exc is not None and status_code >= 500 else self._reason
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message)

    def on_connection_close(self) -> None:
        self.agent.log.debug("http: client closed the connection: %s", self.request.path)


class NotFound(tornado.web.RequestHandler):
    """Unknown routes answer as Go's mux does."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("404 page not found\n")


def parse_wait(value: str | None) -> float:
    """A blocking query's ``wait`` (``30s``, ``5m``, ``100ms``) in seconds, capped at 10m."""
    if value is None:
        return DEFAULT_WAIT
    match = _WAIT.match(value.strip())
    if not match:
        raise APIError(400, "Invalid wait time")
    return min(float(match.group(1)) * _UNITS[match.group(2)], MAX_WAIT)


# Jobs ------------------------------------------------------------------------------


def jobs_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    namespace = req.namespace

    def read() -> list[dict]:
        return [
            structs.job_stub(job, job_summary(req.store, job))
            for (ns, job_id), job in sorted(req.store.jobs.items())
            if (namespace == "*" or ns == namespace) and job_id.startswith(prefix)
        ]

    return Read(("jobs", "job_summary"), read)


def jobs_register(req: Request, job_id: str | None = None) -> dict:
    body = req.body()
    if not isinstance(body, dict) or not isinstance(body.get("Job"), dict):
        raise APIError(400, "Job must be specified")
    job = body["Job"]
    if job_id is not None and job.get("ID") != job_id:
        raise APIError(400, "Job ID does not match name")
    return req.server.register(job, req.namespace)


def jobs_parse(req: Request) -> dict:
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    hcl = body.get("JobHCL")
    if not hcl or not str(hcl).strip():
        raise APIError(400, "Job spec is empty")
    try:
        job, _warnings = jobspec.parse_with_warnings(
            hcl, body.get("Variables") or None, canonicalize=bool(body.get("Canonicalize"))
        )
    except jobspec.JobspecError as exc:
        raise APIError(400, str(exc)) from exc
    return job


def lookup_job(req: Request, job_id: str) -> dict:
    job = req.store.job(req.namespace, job_id)
    if job is None:
        raise APIError(404, "job not found")
    return job


def job_read(req: Request, job_id: str) -> Read:
    return Read(("jobs",), lambda: lookup_job(req, job_id))


def job_deregister(req: Request, job_id: str) -> dict:
    return req.server.deregister(req.namespace, job_id, req.flag("purge"))


def job_allocations(req: Request, job_id: str) -> Read:
    include_all = req.flag("all")

    def read() -> list[dict]:
        allocs = req.store.job_allocs(req.namespace, job_id, any_create_index=include_all)
        return [structs.alloc_stub(a) for a in allocs]

    return Read(("allocs",), read)


def job_evaluations(req: Request, job_id: str) -> Read:
    return Read(("evals",), lambda: req.store.job_evals(req.namespace, job_id))


def job_deployments(req: Request, job_id: str) -> Read:
    return Read(("deployments",), lambda: req.store.job_deployments(req.namespace, job_id))


def job_latest_deployment(req: Request, job_id: str) -> Read:
    def read() -> dict | None:
        deployments = req.store.job_deployments(req.namespace, job_id)
        return deployments[0] if deployments else None

    return Read(("deployments",), read)


def job_summary_read(req: Request, job_id: str) -> Read:
    return Read(("job_summary",), lambda: job_summary(req.store, lookup_job(req, job_id)))


def job_versions(req: Request, job_id: str) -> Read:
    def read() -> dict:
        versions = req.store.job_versions.get((req.namespace, job_id))
        if not versions:
            raise APIError(404, "job versions not found")
        return {"Versions": versions, "Diffs": None}

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


def job_scale(req: Request, job_id: str) -> dict:
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    return req.server.scale(req.namespace, job_id, body)


# Allocations, evaluations, deployments ------------------------------------------------


def by_id(table: dict[str, dict], object_id: str, what: str) -> dict:
    """An object by full ID or unique prefix, else Nomad's 404 text."""
    if object_id in table:
        return table[object_id]
    matches = (
        [o for key, o in table.items() if key.startswith(object_id)] if len(object_id) >= 4 else []
    )
    if len(matches) == 1:
        return matches[0]
    raise APIError(404, f"{what} not found")


def allocations_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    resources = req.flag("resources")
    task_states = req.flag("task_states", True)
    namespace = req.namespace

    def read() -> list[dict]:
        return [
            structs.alloc_stub(a, resources, task_states)
            for a in sorted(req.store.allocs.values(), key=lambda a: a["CreateIndex"])
            if a["ID"].startswith(prefix) and (namespace == "*" or a["Namespace"] == namespace)
        ]

    return Read(("allocs",), read)


def allocation_read(req: Request, alloc_id: str) -> Read:
    return Read(("allocs",), lambda: by_id(req.store.allocs, alloc_id, "alloc"))


def allocation_stop(req: Request, alloc_id: str) -> dict:
    return req.server.stop_alloc(by_id(req.store.allocs, alloc_id, "alloc")["ID"])


def evaluations_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    return Read(
        ("evals",),
        lambda: sorted(
            (e for e in req.store.evals.values() if e["ID"].startswith(prefix)),
            key=lambda e: e["CreateIndex"],
            reverse=True,
        ),
    )


def evaluation_read(req: Request, eval_id: str) -> Read:
    return Read(("evals",), lambda: by_id(req.store.evals, eval_id, "eval"))


def evaluation_allocations(req: Request, eval_id: str) -> Read:
    return Read(
        ("allocs",),
        lambda: [
            structs.alloc_stub(a) for a in req.store.allocs.values() if a["EvalID"] == eval_id
        ],
    )


def deployments_list(req: Request) -> Read:
    return Read(
        ("deployments",),
        lambda: sorted(
            req.store.deployments.values(), key=lambda d: d["CreateIndex"], reverse=True
        ),
    )


def deployment_read(req: Request, deployment_id: str) -> Read:
    return Read(("deployments",), lambda: by_id(req.store.deployments, deployment_id, "deployment"))


def deployment_allocations(req: Request, deployment_id: str) -> Read:
    def read() -> list[dict]:
        deployment = by_id(req.store.deployments, deployment_id, "deployment")
        return [
            structs.alloc_stub(a)
            for a in req.store.allocs.values()
            if a.get("DeploymentID") == deployment["ID"]
        ]

    return Read(("allocs",), read)


def deployment_fail(req: Request, deployment_id: str) -> dict:
    deployment = by_id(req.store.deployments, deployment_id, "deployment")
    if deployment["Status"] not in ("running", "paused"):
        raise APIError(500, "can't fail terminal deployment")
    req.agent.deployments.finish(deployment, "failed", "Deployment marked as failed")
    return {"DeploymentModifyIndex": deployment["ModifyIndex"], "Index": req.store.index}


# Nodes, agent, status ---------------------------------------------------------------


def nodes_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    return Read(
        ("nodes",),
        lambda: [
            structs.node_stub(n)
            for n in sorted(req.store.nodes.values(), key=lambda n: n["Name"])
            if n["ID"].startswith(prefix)
        ],
    )


def node_read(req: Request, node_id: str) -> Read:
    return Read(("nodes",), lambda: req.server.node(node_id))


def node_allocations(req: Request, node_id: str) -> Read:
    """Full allocations, not stubs, as Node.GetAllocs answers."""
    return Read(("allocs",), lambda: req.store.node_allocs(req.server.node(node_id)["ID"]))


def node_eligibility(req: Request, node_id: str) -> dict:
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    return req.server.set_eligibility(req.server.node(node_id)["ID"], body.get("Eligibility", ""))


def node_drain(req: Request, node_id: str) -> dict:
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    return req.server.drain(req.server.node(node_id)["ID"], body.get("DrainSpec"))


def agent_self(req: Request) -> dict:
    return req.agent.self_info()


def agent_members(req: Request) -> dict:
    return {
        "ServerName": req.agent.node_name,
        "ServerRegion": structs.REGION,
        "ServerDC": structs.DATACENTER,
        "Members": [req.agent.member()],
    }


def agent_health(req: Request) -> dict:
    return {"client": {"ok": True, "message": "ok"}, "server": {"ok": True, "message": "ok"}}


def status_leader(req: Request) -> str:
    return req.agent.rpc_addr


def status_peers(req: Request) -> list[str]:
    return [req.agent.rpc_addr]


def regions(req: Request) -> list[str]:
    return [structs.REGION]


def namespaces(req: Request) -> list[dict]:
    return [
        {
            "Name": "default",
            "Description": "Default shared namespace",
            "Quota": "",
            "Meta": None,
            "Capabilities": None,
            "NodePoolConfiguration": None,
            "CreateIndex": 1,
            "ModifyIndex": 1,
        }
    ]


# Client file system, logs and stats ---------------------------------------------------


def alloc_dir_path(req: Request, alloc_id: str, path: str | None) -> tuple[dict, Path]:
    """Resolve ``path`` inside the allocation's directory; never outside it."""
    alloc = by_id(req.store.allocs, alloc_id, "alloc")
    root = req.agent.alloc_dir(alloc).resolve()
    target = (root / (path or "/").lstrip("/")).resolve()
    if target != root and root not in target.parents:
        raise APIError(400, "Path escapes the allocation directory")
    if not target.exists():
        raise APIError(404, f"stat {path}: no such file or directory")
    return alloc, target


def file_info(path: Path) -> dict:
    info = path.stat()
    return {
        "Name": path.name,
        "IsDir": path.is_dir(),
        "Size": info.st_size,
        "FileMode": oct(info.st_mode & 0o777),
        "ModTime": structs.rfc3339(int(info.st_mtime * 1e9)),
        "ContentType": ""
        if path.is_dir()
        else (mimetypes.guess_type(path.name)[0] or "text/plain"),
    }


def fs_ls(req: Request, alloc_id: str) -> list[dict]:
    _, target = alloc_dir_path(req, alloc_id, req.arg("path"))
    if not target.is_dir():
        raise APIError(400, f"{req.arg('path')} is not a directory")
    return [file_info(p) for p in sorted(target.iterdir())]


def fs_stat(req: Request, alloc_id: str) -> dict:
    return file_info(alloc_dir_path(req, alloc_id, req.arg("path"))[1])


def fs_cat(req: Request, alloc_id: str) -> None:
    _, target = alloc_dir_path(req, alloc_id, req.arg("path"))
    if target.is_dir():
        raise APIError(400, f"file {req.arg('path')} is a directory")
    req.handler.set_header("Content-Type", "text/plain; charset=utf-8")
    req.handler.finish(target.read_bytes())


async def fs_logs(req: Request, alloc_id: str) -> None:
    """Task logs: ``plain`` text or JSON frames; ``follow`` streams what the task writes next."""
    task, kind = req.arg("task"), req.arg("type")
    if not task:
        raise APIError(400, "must include task name")
    if kind not in ("stdout", "stderr"):
        raise APIError(400, 'must include type of log; either "stdout" or "stderr"')
    alloc = by_id(req.store.allocs, alloc_id, "alloc")
    if task not in (alloc["TaskStates"] or {}):
        raise APIError(400, f'unknown task name "{task}"')
    relative = f"alloc/logs/{task}.{kind}.0"
    path = req.agent.alloc_dir(alloc) / relative
    offset = int(req.arg("offset") or 0)
    size = path.stat().st_size if path.exists() else 0
    position = max(0, size - offset) if req.arg("origin") == "end" else min(offset, size)
    plain, follow = req.flag("plain"), req.flag("follow")
    handler = req.handler
    handler.set_header("Content-Type", "text/plain; charset=utf-8" if plain else "application/json")
    while True:
        chunk = read_from(path, position)
        if chunk:
            data = (
                chunk
                if plain
                else json.dumps(
                    {
                        "Offset": position + len(chunk),
                        "Data": base64.b64encode(chunk).decode(),
                        "File": relative,
                    }
                ).encode()
            )
            position += len(chunk)
            handler.write(data)
            await handler.flush()
        if not follow or handler.request.connection.stream.closed():
            break
        alloc = req.store.allocs.get(alloc["ID"])
        if alloc is None or (structs.is_terminal(alloc) and not chunk):
            break
        await asyncio.sleep(0.25)
    handler.finish()


def read_from(path: Path, position: int) -> bytes:
    if not path.exists():
        return b""
    with path.open("rb") as fh:
        fh.seek(position)
        return fh.read(1 << 20)


def allocation_stats(req: Request, alloc_id: str) -> dict:
    runner = running_alloc(req, alloc_id)
    now = structs.now_ns()
    tasks = {}
    for name, task in runner.tasks.items():
        usage = task.handle.stats() if task.handle is not None else {}
        tasks[name] = {
            "ResourceUsage": {**usage, "DeviceStats": None},
            "Timestamp": now,
            "Pids": None,
        }
    memory = sum(t["ResourceUsage"].get("MemoryStats", {}).get("RSS", 0) for t in tasks.values())
    cpu = sum(t["ResourceUsage"].get("CpuStats", {}).get("Percent", 0) for t in tasks.values())
    return {
        "ResourceUsage": {
            "MemoryStats": {"RSS": memory, "Measured": ["RSS"]},
            "CpuStats": {"Percent": cpu, "Measured": ["Percent"]},
            "DeviceStats": None,
        },
        "Tasks": tasks,
        "Timestamp": now,
    }


def running_alloc(req: Request, alloc_id: str) -> AllocRunner:
    """The runner of a live allocation, for requests that act on its tasks."""
    alloc = by_id(req.store.allocs, alloc_id, "alloc")
    runner = req.agent.alloc_runner(alloc)
    if runner is None or structs.is_terminal(alloc):
        raise APIError(500, "Task not running")
    return runner


def allocation_signal(req: Request, alloc_id: str) -> dict:
    """``nomad alloc signal [-s SIGNAL] ALLOC [TASK]``."""
    body = req.body()
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    signal_name = body.get("Signal") or "SIGKILL"
    task = body.get("Task") or ""
    if not isinstance(signal_name, str) or not isinstance(task, str):
        raise APIError(400, "Signal and Task must be strings")
    try:
        running_alloc(req, alloc_id).signal(task, signal_name.upper())
    except TaskError as exc:
        raise APIError(500, str(exc)) from exc
    return {"Index": req.store.index}


def allocation_restart(req: Request, alloc_id: str) -> dict:
    """``nomad alloc restart [-all-tasks] ALLOC [TASK]``; the body may be empty."""
    body = req.body() if req.handler.request.body.strip() else {}
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object")
    try:
        running_alloc(req, alloc_id).restart(body.get("TaskName") or "", bool(body.get("AllTasks")))
    except TaskError as exc:
        raise APIError(500, str(exc)) from exc
    return {"Index": req.store.index}


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/jobs", {"GET": jobs_list, "PUT": jobs_register, "POST": jobs_register}),
    (r"/v1/jobs/parse", {"POST": jobs_parse, "PUT": jobs_parse}),
    (
        r"/v1/job/([^/]+)",
        {"GET": job_read, "PUT": jobs_register, "POST": jobs_register, "DELETE": job_deregister},
    ),
    (r"/v1/job/([^/]+)/allocations", {"GET": job_allocations}),
    (r"/v1/job/([^/]+)/evaluations", {"GET": job_evaluations}),
    (r"/v1/job/([^/]+)/deployments", {"GET": job_deployments}),
    (r"/v1/job/([^/]+)/deployment", {"GET": job_latest_deployment}),
    (r"/v1/job/([^/]+)/summary", {"GET": job_summary_read}),
    (r"/v1/job/([^/]+)/versions", {"GET": job_versions}),
    (r"/v1/job/([^/]+)/scale", {"GET": job_scale_status, "POST": job_scale, "PUT": job_scale}),
    (r"/v1/allocations", {"GET": allocations_list}),
    (r"/v1/allocation/([^/]+)", {"GET": allocation_read}),
    (r"/v1/allocation/([^/]+)/stop", {"POST": allocation_stop, "PUT": allocation_stop}),
    (r"/v1/evaluations", {"GET": evaluations_list}),
    (r"/v1/evaluation/([^/]+)", {"GET": evaluation_read}),
    (r"/v1/evaluation/([^/]+)/allocations", {"GET": evaluation_allocations}),
    (r"/v1/deployments", {"GET": deployments_list}),
    (r"/v1/deployment/([^/]+)", {"GET": deployment_read}),
    (r"/v1/deployment/allocations/([^/]+)", {"GET": deployment_allocations}),
    (r"/v1/deployment/fail/([^/]+)", {"POST": deployment_fail, "PUT": deployment_fail}),
    (r"/v1/nodes", {"GET": nodes_list}),
    (r"/v1/node/([^/]+)", {"GET": node_read}),
    (r"/v1/node/([^/]+)/allocations", {"GET": node_allocations}),
    (r"/v1/node/([^/]+)/eligibility", {"POST": node_eligibility, "PUT": node_eligibility}),
    (r"/v1/node/([^/]+)/drain", {"POST": node_drain, "PUT": node_drain}),
    (r"/v1/agent/self", {"GET": agent_self}),
    (r"/v1/agent/members", {"GET": agent_members}),
    (r"/v1/agent/health", {"GET": agent_health}),
    (r"/v1/status/leader", {"GET": status_leader}),
    (r"/v1/status/peers", {"GET": status_peers}),
    (r"/v1/regions", {"GET": regions}),
    (r"/v1/namespaces", {"GET": namespaces}),
    (r"/v1/client/fs/ls/([^/]+)", {"GET": fs_ls}),
    (r"/v1/client/fs/stat/([^/]+)", {"GET": fs_stat}),
    (r"/v1/client/fs/cat/([^/]+)", {"GET": fs_cat}),
    (r"/v1/client/fs/logs/([^/]+)", {"GET": fs_logs}),
    (r"/v1/client/allocation/([^/]+)/stats", {"GET": allocation_stats}),
    (
        r"/v1/client/allocation/([^/]+)/signal",
        {"POST": allocation_signal, "PUT": allocation_signal},
    ),
    (
        r"/v1/client/allocation/([^/]+)/restart",
        {"POST": allocation_restart, "PUT": allocation_restart},
    ),
]


def make_app(agent: Agent) -> tornado.web.Application:
    """The tornado application serving the API and, under /ui/, the practice web UI."""
    from nomadlab.practice import webui  # imported here: the UI's pages use this module

    handlers = [
        (pattern, Endpoint, {"agent": agent, "methods": methods}) for pattern, methods in ROUTES
    ]
    return tornado.web.Application(handlers + webui.routes(agent), default_handler_class=NotFound)
