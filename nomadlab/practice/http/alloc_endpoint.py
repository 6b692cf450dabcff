"""The allocation endpoints (Nomad's command/agent/alloc_endpoint.go): /v1/allocations,
/v1/allocation/:id, and the client's /v1/client/allocation/:id/... stats and actions."""

from __future__ import annotations

from nomadlab.practice import structs
from nomadlab.practice.client import AllocRunner, TaskError
from nomadlab.practice.http.handler import Handler, Read, Request, by_id, go_fields
from nomadlab.practice.server import APIError


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
    body = go_fields(
        req.body(), "AllocSignalRequest", {"Signal": (str, "string"), "Task": (str, "string")}
    )
    signal_name = body.get("Signal") or "SIGKILL"
    task = body.get("Task") or ""
    try:
        running_alloc(req, alloc_id).signal(task, signal_name.upper())
    except TaskError as exc:
        raise APIError(500, str(exc)) from exc
    return {"Index": req.store.index}


def allocation_restart(req: Request, alloc_id: str) -> dict:
    """``nomad alloc restart [-all-tasks] ALLOC [TASK]``; the body may be empty."""
    body = req.body() if req.handler.request.body.strip() else {}
    go_fields(
        body, "AllocRestartRequest", {"TaskName": (str, "string"), "AllTasks": (bool, "bool")}
    )
    try:
        running_alloc(req, alloc_id).restart(body.get("TaskName") or "", bool(body.get("AllTasks")))
    except TaskError as exc:
        raise APIError(500, str(exc)) from exc
    return {"Index": req.store.index}


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/allocations", {"GET": allocations_list}),
    (r"/v1/allocation/([^/]+)", {"GET": allocation_read}),
    (r"/v1/allocation/([^/]+)/stop", {"POST": allocation_stop, "PUT": allocation_stop}),
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
