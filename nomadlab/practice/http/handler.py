"""How every API route is served (Nomad's command/agent/http.go): dispatch to endpoint
functions, blocking queries (``?index=N&wait=D``), and errors as Nomad sends them, a status
code and a plain-text message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import tornado.web

from nomadlab.contract import SECOND, parse_duration
from nomadlab.practice import structs
from nomadlab.practice.acl import ACLs, parse_token
from nomadlab.practice.client.allocrunner import AllocRunner
from nomadlab.practice.client.client import Client
from nomadlab.practice.deployments import DeploymentWatcher
from nomadlab.practice.gc import CoreScheduler
from nomadlab.practice.http.stubs import AllocStubs, EncodedList
from nomadlab.practice.jobspec.schema import json_type
from nomadlab.practice.jobspec.worker import ParsePool
from nomadlab.practice.periodic import PeriodicDispatch
from nomadlab.practice.server import APIError, Server
from nomadlab.practice.state import StateStore
from nomadlab.practice.structs.fields import complete

MAX_WAIT = 600.0
DEFAULT_WAIT = 300.0
_UINT = re.compile(r"[0-9]+")
INT64 = (-(2**63), 2**63 - 1)
# A request body larger than this gets a 413 (Nomad has no limit; Go's MaxBytesReader's text).
MAX_BODY = 8 << 20
# Deeper JSON gets Go's "exceeded max depth" (Go allows 10000; Python's recursion does not).
MAX_DEPTH = 128


class Agent(Protocol):
    """What the HTTP API needs of the agent it serves (the practice agent's PracticeAgent)."""

    store: StateStore
    server: Server
    deployments: DeploymentWatcher
    periodic: PeriodicDispatch
    core: CoreScheduler
    log: logging.Logger
    node_name: str
    blocking_queries: int
    clients: list[Client]
    data_dir: Path
    bind: str
    proxy_secret: str
    parser: ParsePool
    acl: ACLs
    alloc_stubs: AllocStubs

    @property
    def rpc_addr(self) -> str: ...

    def alloc_dir(self, alloc: dict) -> Path: ...

    def alloc_runner(self, alloc: dict) -> AllocRunner | None: ...

    def member(self) -> dict: ...

    def self_info(self) -> dict: ...

    async def fail_node(self, node_id: str) -> dict: ...

    def recover_node(self, node_id: str) -> dict: ...


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
        headers = handler.request.headers
        self.token = parse_token(headers.get("X-Nomad-Token"), headers.get("Authorization"))

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

    def body(self, check_ints: bool = True) -> Any:
        """The JSON body: 400 when it is empty or malformed, nested too deep, or (unless the
        caller checks them against its own types) holds an integer beyond Go's int64."""
        raw = self.handler.request.body
        if not raw or not raw.strip():
            raise APIError(400, "Request body is empty")
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except RecursionError as exc:
            raise APIError(400, "invalid character '[' exceeded max depth") from exc
        except ValueError as exc:
            raise APIError(400, f"Failed to decode request body: {exc}") from exc
        problem = json_problem(body, check_ints)
        if problem:
            raise APIError(400, problem)
        return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def json_problem(body: Any, check_ints: bool = True) -> str | None:
    """Go's error for a decoded body nested deeper than MAX_DEPTH or holding an integer
    beyond int64 (as the number fields of Nomad's request structs are), else None."""
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"invalid character {'{' if isinstance(value, dict) else '['!r} " + (
                    "exceeded max depth"
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = f"{path}.{key}" if isinstance(value, dict) and path else str(key)
                stack.append((item, name if isinstance(value, dict) else path, depth + 1))
        elif check_ints and isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            where = f"Go struct field {path}" if path else "Go value"
            return f"json: cannot unmarshal number {value} into {where} of type int64"
    return None


def go_fields(body: Any, struct: str, fields: dict[str, tuple[type, str]]) -> dict:
    """``body`` checked as Go's encoding/json decodes it into the api struct ``struct``:
    400 with Go's text for a non-object body or a field of the wrong JSON type (null is
    the zero value); ``fields`` maps a field to its Python type and its Go type's name."""
    if not isinstance(body, dict):
        raise APIError(
            400, f"json: cannot unmarshal {json_type(body)} into Go value of type api.{struct}"
        )
    for field, (kind, go_type) in fields.items():
        value = body.get(field)
        if value is None:
            continue
        wrong = type(value) is not kind and not (kind is float and type(value) is int)
        if kind is int and type(value) is int and not INT64[0] <= value <= INT64[1]:
            raise APIError(
                400,
                f"json: cannot unmarshal number {value} into Go struct field "
                f"{struct}.{field} of type {go_type}",
            )
        if wrong:
            raise APIError(
                400,
                f"json: cannot unmarshal {json_type(value)} into Go struct field "
                f"{struct}.{field} of type {go_type}",
            )
    return body


Handler = Callable[..., Any]


class PlainTextErrors(tornado.web.RequestHandler):
    """Errors tornado raises itself (an unknown method, a malformed query) as plain text,
    as Nomad sends every error: never tornado's HTML page."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = str(exc) if exc is not None and status_code >= 500 else self._reason
        if status_code == 405:
            message = "Invalid method"
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.clear_header("Content-Type")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message)


class Endpoint(PlainTextErrors):
    """Dispatches one route's methods to endpoint functions, once the request's token may
    use the route (``kind``: how Nomad's route treats tokens, see ``practice.acl``)."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

    def initialize(self, agent: Agent, methods: dict[str, Handler], kind: str) -> None:
        self.agent = agent
        self.methods = methods
        self.kind = kind

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")

    async def dispatch(self, *args: str) -> None:
        method = self.request.method
        function = self.methods.get("GET" if method == "HEAD" else method)
        try:
            if function is None:
                raise APIError(405, "Invalid method")
            request = Request(self)
            refusal = self.agent.acl.refusal(self.kind, request.token)
            if refusal is not None:
                raise APIError(403, refusal)
            result = function(request, *args)
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
        wait = parse_wait(self.get_query_argument("wait", None))
        index_arg = self.get_query_argument("index", None)
        if index_arg:
            min_index = parse_index(index_arg)
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
        if isinstance(data, EncodedList):
            self.finish(json.dumps(json.loads(data), indent=4) if pretty else str(data))
            return
        self.finish(json.dumps(data, indent=4 if pretty else None))

    def send_error_text(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message)

    def on_connection_close(self) -> None:
        self.agent.log.debug("http: client closed the connection: %s", self.request.path)


class NotFound(PlainTextErrors):
    """Unknown routes answer as Go's mux does."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("404 page not found\n")


@tornado.web.stream_request_body
class Refused(PlainTextErrors):
    """A request refused before routing: its status and plain text, sent once the body has
    arrived (answering earlier makes tornado reset the connection under the client), the
    body discarded as it comes rather than held in memory."""

    SUPPORTED_METHODS = Endpoint.SUPPORTED_METHODS

    def initialize(self, status: int, text: str, max_body: int | None = None) -> None:
        self.status, self.text = status, text
        if max_body is not None:
            self.request.connection.set_max_body_size(max_body)

    def data_received(self, chunk: bytes) -> None:
        """Discarded: a refused request's body is never looked at."""

    def refuse(self, *args: str) -> None:
        self.set_status(self.status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(self.text)

    get = head = post = put = delete = patch = options = refuse


def parse_index(value: str) -> int:
    """``?index=``, as Go's strconv.ParseUint(value, 10, 64): ASCII digits only, < 2^64."""
    if not _UINT.fullmatch(value) or int(value) >= 2**64:
        raise APIError(400, "Invalid index")
    return int(value)


def parse_wait(value: str | None) -> float:
    """A blocking query's ``wait`` (``30s``, ``5m``, ``1h30m``) in seconds, capped at 10m."""
    if not value:
        return DEFAULT_WAIT
    try:
        seconds = parse_duration(value) / SECOND
    except ValueError as exc:
        raise APIError(400, "Invalid wait time") from exc
    return min(max(seconds, 0.0), MAX_WAIT)


def listing(req: Request, table: str, struct: str) -> Read:
    """A list endpoint over one table (evaluations, deployments): oldest first by create
    index, newest first with ``?reverse=true``; ``?prefix=`` keeps IDs that start with it."""
    prefix = req.arg("prefix") or ""
    reverse = req.flag("reverse")

    def read() -> list[dict]:
        rows: dict[str, dict] = getattr(req.store, table)
        return [
            complete(struct, row)
            for row in sorted(rows.values(), key=lambda r: r["CreateIndex"], reverse=reverse)
            if row["ID"].startswith(prefix)
        ]

    return Read((table,), read)


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
