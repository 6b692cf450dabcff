"""The web UI's pages: tornado handlers that read the state store and render templates.

Every page renders its live part as a fragment. The page asks for the fragment again
with ``?live=<index>``; that request is a blocking query on the tables the page reads,
so the browser hears of a change as soon as the store commits it and sends nothing
while nothing changes. Links are relative (``root`` climbs back to ``/ui/``), so the
same pages work at ``/ui/`` and behind any proxy prefix.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import tornado.web

from nomadlab.practice import structs
from nomadlab.practice.acl import AUTHENTICATE, parse_token
from nomadlab.practice.client.allocdir import AllocDir
from nomadlab.practice.http.fs_endpoint import read_from
from nomadlab.practice.http.handler import Agent, PlainTextErrors
from nomadlab.practice.webui import status

HERE = Path(__file__).resolve().parent
LIVE_WAIT = 30.0
LOG_POLL = 0.25
JOB_TABS = ("definition", "versions", "deployments", "allocations", "evaluations")
UI_TOKEN_HINT = (
    "this agent has ACLs on, and its pages need its token in X-Nomad-Token. Open them "
    'through Jupyter\'s "Nomad UI" tile, which sends the token the kit keeps for you.'
)


def relative_root(path: str) -> str:
    """The relative URL from ``path`` (under ``/ui/``) back to ``/ui/``."""
    depth = path.split("/ui/", 1)[1].count("/") if "/ui/" in path else 0
    return "../" * depth or "./"


def split_job_id(raw: str) -> tuple[str, str]:
    """``id@namespace`` (Nomad's UI form) → (id, namespace); plain ids are in ``default``."""
    job_id, sep, namespace = raw.rpartition("@")
    return (job_id, namespace) if sep and job_id else (raw, structs.NAMESPACE)


def clock(ns: int | None) -> str:
    """A Unix-nanosecond time as ``YYYY-MM-DD HH:MM:SS`` UTC (empty for none)."""
    if not ns:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def duration(ns: int | None) -> str:
    """A Go duration in nanoseconds as Nomad prints it (``10s``, ``5m0s``)."""
    seconds = (ns or 0) // 1_000_000_000
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def template_helpers(path: str) -> dict[str, Any]:
    """What every template may use, for a page at ``path``: relative links and formatters."""
    root = relative_root(path)
    return {
        "root": root,
        "v1": root + "../v1/",
        "q": lambda value: quote(str(value), safe=""),
        "short": lambda value: (value or "")[:8],
        "clock": clock,
        "duration": duration,
        "status": status,
        "to_json": lambda value: json.dumps(value, separators=(",", ":")),
        "pretty": lambda value: json.dumps(value, indent=2, sort_keys=False),
    }


class UIHandler(tornado.web.RequestHandler):
    """What every handler of the UI shares: the agent, the templates, plain-text errors."""

    def initialize(self, agent: Agent) -> None:
        self.agent = agent
        self.store = agent.store

    def prepare(self) -> None:
        """With ACLs on, a page shows what the API would, so it asks for the same token."""
        headers = self.request.headers
        secret = parse_token(headers.get("X-Nomad-Token"), headers.get("Authorization"))
        refusal = self.agent.acl.refusal(AUTHENTICATE, secret)
        if refusal is not None:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{refusal}: {UI_TOKEN_HINT}")

    def get_template_path(self) -> str:
        return str(HERE / "templates")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(self._reason)


class Page(UIHandler):
    """A page of the UI: ``data`` reads the store, ``template`` renders its live part."""

    template = ""
    after = ""  # a part of the page below the live one that keeps itself up to date
    tables: tuple[str, ...] = ()

    def initialize(self, agent: Agent) -> None:
        super().initialize(agent)
        self._closed = asyncio.get_running_loop().create_future()

    def on_connection_close(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)

    def data(self, *args: str) -> dict[str, Any]:
        """What the template shows: ``title``, ``api`` (the /v1 call behind it) and more."""
        raise NotImplementedError

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(template_helpers(self.request.path))
        return namespace

    def not_found(self, message: str) -> tornado.web.HTTPError:
        return tornado.web.HTTPError(404, reason=message)

    async def wait_for_change(self, index: int) -> None:
        """Hold the request until a table this page reads passes ``index`` (or 30 s, or
        the browser goes away)."""
        waiting = asyncio.ensure_future(self.store.wait(self.tables, index, LIVE_WAIT))
        await asyncio.wait({waiting, self._closed}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()

    async def get(self, *args: str) -> None:
        live = self.get_query_argument("live", None)
        if live is not None:
            try:
                await self.wait_for_change(int(live))
            except ValueError as exc:
                raise tornado.web.HTTPError(400, reason="Invalid index") from exc
            if self._closed.done():
                return
        index = self.store.max_index(self.tables)
        context = self.data(*args)
        params = {k: v[-1].decode() for k, v in self.request.query_arguments.items()}
        params["live"] = str(index)
        body = self.render_string(self.template, **context)
        fragment = self.render_string("live.html", body=body, poll="?" + urlencode(params))
        if live is not None:
            self.finish(fragment)
        else:
            below = self.render_string(self.after, **context) if self.after else b""
            self.render("page.html", live=fragment, below=below, **context)


class JobsPage(Page):
    template = "jobs.html"
    tables = ("jobs", "allocs", "deployments")

    def data(self) -> dict[str, Any]:
        rows = []
        for (_namespace, _job_id), job in sorted(self.store.jobs.items()):
            allocs = self.store.job_allocs(job["Namespace"], job["ID"])
            deployments = self.store.job_deployments(job["Namespace"], job["ID"])
            rows.append(
                {
                    "job": job,
                    "status": status.job_status(
                        job, allocs, deployments[0] if deployments else None
                    ),
                    "blocks": status.alloc_blocks(job, allocs),
                    "expected": status.expected_allocs(job, allocs),
                }
            )
        return {"title": "Jobs", "api": "jobs?namespace=*", "rows": rows}


class JobPage(Page):
    template = "job.html"
    tables = ("jobs", "job_versions", "allocs", "deployments", "evals")

    def job(self, raw_id: str) -> tuple[dict, str]:
        job_id, namespace = split_job_id(raw_id)
        job = self.store.job(namespace, job_id)
        if job is None:
            raise self.not_found("job not found")
        suffix = "" if namespace == structs.NAMESPACE else f"?namespace={quote(namespace)}"
        return job, suffix

    def data(self, raw_id: str, tab: str = "") -> dict[str, Any]:
        job, ns_query = self.job(raw_id)
        allocs = self.store.job_allocs(job["Namespace"], job["ID"])
        deployments = self.store.job_deployments(job["Namespace"], job["ID"])
        latest = deployments[0] if deployments else None
        api = {
            "": f"job/{quote(job['ID'], safe='')}",
            "definition": f"job/{quote(job['ID'], safe='')}",
            "versions": f"job/{quote(job['ID'], safe='')}/versions",
            "deployments": f"job/{quote(job['ID'], safe='')}/deployments",
            "allocations": f"job/{quote(job['ID'], safe='')}/allocations",
            "evaluations": f"job/{quote(job['ID'], safe='')}/evaluations",
        }[tab]
        return {
            "title": job["Name"],
            "api": api + ns_query,
            "ns_query": ns_query,
            "job": job,
            "tab": tab,
            "tabs": JOB_TABS,
            "status_": status.job_status(job, allocs, latest),
            "blocks": status.alloc_blocks(job, allocs),
            "expected": status.expected_allocs(job, allocs),
            "allocs": sorted(allocs, key=lambda a: a["CreateIndex"], reverse=True),
            "deployment": latest,
            "deployments": deployments,
            "versions": self.store.job_versions.get((job["Namespace"], job["ID"]), []),
            "evals": self.store.job_evals(job["Namespace"], job["ID"]),
        }


class TaskGroupPage(JobPage):
    template = "group.html"
    tables = ("jobs", "allocs", "deployments")

    def data(self, raw_id: str, group_name: str) -> dict[str, Any]:  # type: ignore[override]
        job, ns_query = self.job(raw_id)
        group = next((g for g in job["TaskGroups"] if g["Name"] == group_name), None)
        if group is None:
            raise self.not_found(f'task group "{group_name}" not found')
        allocs = [
            a
            for a in self.store.job_allocs(job["Namespace"], job["ID"])
            if a["TaskGroup"] == group_name
        ]
        deployments = self.store.job_deployments(job["Namespace"], job["ID"])
        scale_body = {"Target": {"Group": group_name}}
        return {
            "title": f"{job['Name']} / {group_name}",
            "api": f"job/{quote(job['ID'], safe='')}/scale{ns_query}",
            "ns_query": ns_query,
            "job": job,
            "group": group,
            "allocs": sorted(allocs, key=lambda a: a["CreateIndex"], reverse=True),
            "deploying": status.deployment_active(deployments[0] if deployments else None),
            "scale_body": lambda count: {
                **scale_body,
                "Count": count,
                "Message": f"Manually scaled to {count} from the practice UI",
            },
            "events": (job.get("ScalingEvents") or {}).get(group_name) or [],
            "counts": status.group_counts(allocs, group_name),
        }


class AllocationPage(Page):
    template = "allocation.html"
    tables = ("allocs", "nodes")

    def alloc(self, alloc_id: str) -> dict:
        alloc = self.store.allocs.get(alloc_id)
        if alloc is None:
            matches = [a for key, a in self.store.allocs.items() if key.startswith(alloc_id)]
            if len(alloc_id) < 4 or len(matches) != 1:
                raise self.not_found("alloc not found")
            alloc = matches[0]
        return alloc

    def data(self, alloc_id: str) -> dict[str, Any]:
        alloc = self.alloc(alloc_id)
        runner = self.agent.alloc_runner(alloc)
        usage = {}
        if runner is not None and not structs.is_terminal(alloc):
            for name, task in runner.tasks.items():
                if task.handle is not None:
                    usage[name] = task.handle.stats()
        ports = alloc["AllocatedResources"]["Shared"].get("Ports") or []
        node = self.store.nodes.get(alloc["NodeID"])
        return {
            "title": f"Allocation {alloc['ID'][:8]}",
            "api": f"allocation/{alloc['ID']}",
            "alloc": alloc,
            "node": node,
            "ports": ports,
            "usage": usage,
            "reserved": structs.alloc_resources(alloc),
            "health": status.alloc_health(alloc),
            "live_alloc": not structs.is_terminal(alloc) and alloc["DesiredStatus"] == "run",
        }


class LogsPage(AllocationPage):
    template = "logs_head.html"
    after = "logs.html"
    tables = ("allocs",)

    def data(self, alloc_id: str, task: str) -> dict[str, Any]:  # type: ignore[override]
        alloc = self.alloc(alloc_id)
        if task not in (alloc.get("TaskStates") or {}):
            raise self.not_found(f'unknown task name "{task}"')
        kind = self.get_query_argument("type", "stdout")
        if kind not in ("stdout", "stderr"):
            raise tornado.web.HTTPError(400, reason='type must be "stdout" or "stderr"')
        return {
            "title": f"{task} logs · Allocation {alloc['ID'][:8]}",
            "api": f"client/fs/logs/{alloc['ID']}?task={quote(task)}&type={kind}&plain=true",
            "alloc": alloc,
            "task": task,
            "kind": kind,
        }


class LogTail(UIHandler):
    """The log page's follower: the text past ``offset``, waiting (30 s at most) for some."""

    async def get(self, alloc_id: str, task: str) -> None:
        alloc = self.store.allocs.get(alloc_id)
        kind = self.get_query_argument("type", "stdout")
        if (
            alloc is None
            or task not in (alloc.get("TaskStates") or {})
            or kind
            not in (
                "stdout",
                "stderr",
            )
        ):
            raise tornado.web.HTTPError(404, reason="alloc or task not found")
        try:
            offset = max(0, int(self.get_query_argument("offset", "0")))
        except ValueError as exc:
            raise tornado.web.HTTPError(400, reason="Invalid offset") from exc
        fs, relative = AllocDir(self.agent.alloc_dir(alloc)), f"alloc/logs/{task}.{kind}.0"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (LIVE_WAIT if self.get_query_argument("wait", "1") != "0" else 0)
        chunk = read_from(fs, relative, offset)
        while not chunk and loop.time() < deadline:
            current = self.store.allocs.get(alloc_id)
            if current is None or structs.is_terminal(current):
                break
            if self.request.connection.stream is None or self.request.connection.stream.closed():
                return
            await asyncio.sleep(LOG_POLL)
            chunk = read_from(fs, relative, offset)
        current = self.store.allocs.get(alloc_id)
        follow = current is not None and not (structs.is_terminal(current) and not chunk)
        self.render(
            "log_tail.html",
            text=chunk.decode("utf-8", errors="replace"),
            follow=follow,
            next_url="logs/tail?" + urlencode({"type": kind, "offset": offset + len(chunk)}),
        )


class EvaluationsPage(Page):
    template = "evaluations.html"
    tables = ("evals",)

    def data(self) -> dict[str, Any]:
        evals = sorted(self.store.evals.values(), key=lambda e: e["CreateIndex"], reverse=True)
        return {"title": "Evaluations", "api": "evaluations", "evals": evals}


class ClientsPage(Page):
    template = "clients.html"
    tables = ("nodes", "allocs")

    def data(self) -> dict[str, Any]:
        nodes = sorted(self.store.nodes.values(), key=lambda n: n["Name"])
        running = {
            n["ID"]: sum(
                1 for a in self.store.node_allocs(n["ID"]) if a["ClientStatus"] == "running"
            )
            for n in nodes
        }
        return {"title": "Clients", "api": "nodes", "nodes": nodes, "running": running}


class ClientPage(Page):
    template = "client.html"
    tables = ("nodes", "allocs")

    def data(self, node_id: str) -> dict[str, Any]:
        node = self.store.nodes.get(node_id) or next(
            (
                n
                for key, n in self.store.nodes.items()
                if len(node_id) >= 4 and key.startswith(node_id)
            ),
            None,
        )
        if node is None:
            raise self.not_found("node not found")
        allocs = sorted(
            self.store.node_allocs(node["ID"]), key=lambda a: a["CreateIndex"], reverse=True
        )
        return {
            "title": f"Client {node['Name']}",
            "api": f"node/{node['ID']}",
            "node": node,
            "allocs": allocs,
        }


class TopologyPage(Page):
    template = "topology.html"
    tables = ("nodes", "allocs")

    def data(self) -> dict[str, Any]:
        nodes = []
        for node in sorted(self.store.nodes.values(), key=lambda n: n["Name"]):
            capacity = node["NodeResources"]
            allocs = [a for a in self.store.node_allocs(node["ID"]) if not structs.is_terminal(a)]
            sized = [(a, *structs.alloc_resources(a)) for a in allocs]
            nodes.append(
                {
                    "node": node,
                    "cpu": capacity["Cpu"]["CpuShares"],
                    "memory": capacity["Memory"]["MemoryMB"],
                    "allocs": sorted(sized, key=lambda s: (s[0]["JobID"], s[0]["Name"])),
                }
            )
        return {"title": "Topology", "api": "nodes?resources=true", "nodes": nodes}


class Redirect(PlainTextErrors):
    """``/`` → ``/ui/`` and ``/ui/`` → ``/ui/jobs``: 307, as Nomad redirects, relative so a
    proxy prefix survives."""

    def initialize(self, to: str) -> None:
        self.to = to

    def get(self) -> None:
        self.set_status(307)
        self.set_header("Location", self.to)
        self.finish()

    head = get


def routes(agent: Agent) -> list[tuple]:
    """The UI's tornado routes, mounted by the agent's HTTP app."""
    page = {"agent": agent}
    return [
        (r"/", Redirect, {"to": "ui/"}),
        (r"/ui", Redirect, {"to": "ui/"}),
        (r"/ui/", Redirect, {"to": "jobs"}),
        (r"/ui/jobs/?", JobsPage, page),
        (r"/ui/jobs/([^/]+)", JobPage, page),
        (rf"/ui/jobs/([^/]+)/({'|'.join(JOB_TABS)})", JobPage, page),
        (r"/ui/jobs/([^/]+)/([^/]+)", TaskGroupPage, page),
        (r"/ui/allocations/([^/]+)", AllocationPage, page),
        (r"/ui/allocations/([^/]+)/([^/]+)/logs", LogsPage, page),
        (r"/ui/allocations/([^/]+)/([^/]+)/logs/tail", LogTail, page),
        (r"/ui/evaluations", EvaluationsPage, page),
        (r"/ui/clients", ClientsPage, page),
        (r"/ui/clients/([^/]+)", ClientPage, page),
        (r"/ui/topology", TopologyPage, page),
        (r"/ui/static/(.*)", tornado.web.StaticFileHandler, {"path": str(HERE / "static")}),
    ]
