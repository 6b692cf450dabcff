"""The allocation endpoints (Nomad's command/agent/alloc_endpoint.go): /v1/allocations,
/v1/allocation/:id, and the client's /v1/client/allocation/:id/... stats and actions."""

from __future__ import annotations

from nomadlab.practice import structs
from nomadlab.practice.client.allocrunner import AllocRunner
from nomadlab.practice.client.interfaces import TaskError
from nomadlab.practice.http.handler import Handler, Read, Request, by_id, go_fields
from nomadlab.practice.http.stubs import EncodedList
from nomadlab.practice.server import APIError
from nomadlab.practice.structs.fields import complete


def allocations_list(req: Request) -> Read:
    prefix = req.arg("prefix") or ""
    resources = req.flag("resources")
    task_states = req.flag("task_states", True)
    namespace = req.namespace

    def read() -> EncodedList:
        return req.agent.alloc_stubs.encode(
            (
                a
                for a in sorted(req.store.allocs.values(), key=lambda a: a["CreateIndex"])
                if a["ID"].startswith(prefix) and (namespace == "*" or a["Namespace"] == namespace)
            ),
            resources,
            task_states,
        )

    return Read(("allocs",), read)


def allocation_read(req: Request, alloc_id: str) -> Read:
    return Read(
        ("allocs",), lambda: complete("Allocation", by_id(req.store.allocs, alloc_id, "alloc"))
    )


def allocation_stop(req: Request, alloc_id: str) -> dict:
    return req.server.stop_alloc(by_id(req.store.allocs, alloc_id, "alloc")["ID"])


def allocation_stats(req: Request, alloc_id: str) -> dict:
    """Resource usage of a live allocation's tasks; a finished one has none (200, no Tasks)."""
    alloc = by_id(req.store.allocs, alloc_id, "alloc")
    runner = req.agent.alloc_runner(alloc)
    live = runner is not None and not structs.is_terminal(alloc)
    now = structs.now_ns()
    tasks = {}
    for name, task in runner.tasks.items() if live else ():
        usage = task.handle.stats() if task.handle is not None else {}
        tasks[name] = {
            "ResourceUsage": {**usage, "DeviceStats": None},
            "Timestamp": now,
            "Pids": None,
        }
    memory = sum(t["ResourceUsage"].get("MemoryStats", {}).get("RSS", 0) for t in tasks.values())
    cpu = sum(t["ResourceUsage"].get("CpuStats", {}).get("Percent", 0) for t in tasks.values())
    return complete(
        "AllocResourceUsage",
        {
            "ResourceUsage": {
                "MemoryStats": {"RSS": memory, "Measured": ["RSS"]},
                "CpuStats": {"Percent": cpu, "Measured": ["Percent"]},
                "DeviceStats": None,
            },
            "Tasks": tasks,
            "Timestamp": now,
        },
    )


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


def client_gc(req: Request) -> None:
    """``PUT /v1/client/gc``: garbage-collect every finished allocation on the client(s);
    Nomad answers 200 with an empty body."""
    node_id = req.arg("node_id") or ""
    clients = [c for c in req.agent.clients if c.node["ID"].startswith(node_id)]
    if not clients:
        raise APIError(404, "Unknown node")
    for client in clients:
        client.collect_all_allocs()


def allocation_checks(req: Request, alloc_id: str) -> dict:
    """The latest result of each Nomad service check of the allocation, by check ID."""
    alloc = by_id(req.store.allocs, alloc_id, "alloc")
    runner = req.agent.alloc_runner(alloc)
    return dict(runner.services.checks.results) if runner is not None else {}


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/allocations", {"GET": allocations_list}),
    (r"/v1/allocation/([^/]+)", {"GET": allocation_read}),
    (r"/v1/allocation/([^/]+)/stop", {"POST": allocation_stop, "PUT": allocation_stop}),
    (r"/v1/client/allocation/([^/]+)/stats", {"GET": allocation_stats}),
    (r"/v1/client/allocation/([^/]+)/checks", {"GET": allocation_checks}),
    (
        r"/v1/client/allocation/([^/]+)/signal",
        {"POST": allocation_signal, "PUT": allocation_signal},
    ),
    (
        r"/v1/client/allocation/([^/]+)/restart",
        {"POST": allocation_restart, "PUT": allocation_restart},
    ),
    (r"/v1/client/gc", {"GET": client_gc, "PUT": client_gc, "POST": client_gc}),
]
