"""The client file system endpoints (Nomad's command/agent/fs_endpoint.go): ls, stat, cat,
readat, stream and logs, confined to the allocation directory (``allocdir``) and streamed in
chunks, so no file, link or FIFO a task makes can leak, hang or fill the agent's memory."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from nomadlab.practice import structs
from nomadlab.practice.client.allocdir import CHUNK, AllocDir, FSError
from nomadlab.practice.http.handler import Handler, Request, by_id
from nomadlab.practice.server import APIError

_INT64 = re.compile(r"[+-]?[0-9]+")
POLL = 0.25  # how often a followed file is checked for new data


#: What a path that is not there answers: ls and stat are plain client RPCs, whose errors
#: Nomad's HTTP layer sends as 500; cat, readat and stream go through the client's file
#: stream, which answers a failed stat with 400.
MISSING_LISTED = 500
MISSING_STREAMED = 400


@contextmanager
def fs_errors(missing: int) -> Iterator[None]:
    try:
        yield
    except FSError as exc:
        raise APIError(missing if exc.status == 404 else exc.status, exc.message) from exc


def alloc_fs(req: Request, alloc_id: str) -> tuple[dict, AllocDir]:
    alloc = by_id(req.store.allocs, alloc_id, "alloc")
    return alloc, AllocDir(req.agent.alloc_dir(alloc))


def required_path(req: Request) -> str:
    path = req.arg("path")
    if not path:
        raise APIError(400, "must provide a file name")
    return path


def go_int(req: Request, name: str, default: int = 0) -> int:
    """A query parameter parsed as Go's strconv.ParseInt(value, 10, 64)."""
    value = req.arg(name)
    if value is None or value == "":
        return default
    if not _INT64.fullmatch(value) or not -(2**63) <= int(value) < 2**63:
        raise APIError(
            400, f'error parsing {name}: strconv.ParseInt: parsing "{value}": invalid syntax'
        )
    return int(value)


def fs_ls(req: Request, alloc_id: str) -> list[dict]:
    _, fs = alloc_fs(req, alloc_id)
    with fs_errors(MISSING_LISTED):
        return fs.list(req.arg("path") or "/")


def fs_stat(req: Request, alloc_id: str) -> dict:
    _, fs = alloc_fs(req, alloc_id)
    with fs_errors(MISSING_LISTED):
        return fs.stat(required_path(req))


async def fs_cat(req: Request, alloc_id: str) -> None:
    """The whole file, sent a chunk at a time."""
    _, fs = alloc_fs(req, alloc_id)
    path = required_path(req)
    with fs_errors(MISSING_STREAMED):
        fd = fs.open(path)
    await send(req, fd, position=0, limit=None)


async def fs_readat(req: Request, alloc_id: str) -> None:
    """``limit`` bytes (all when 0) from ``offset``, sent a chunk at a time."""
    _, fs = alloc_fs(req, alloc_id)
    path = required_path(req)
    if req.arg("offset") in (None, ""):
        raise APIError(400, 'error parsing offset: strconv.ParseInt: parsing "": invalid syntax')
    offset, limit = go_int(req, "offset"), go_int(req, "limit")
    with fs_errors(MISSING_STREAMED):
        fd = fs.open(path)
    await send(req, fd, position=max(0, offset), limit=limit if limit > 0 else None)


async def send(req: Request, fd: int, position: int, limit: int | None) -> None:
    handler = req.handler
    handler.set_header("Content-Type", "text/plain; charset=utf-8")
    try:
        while limit is None or limit > 0:
            chunk = os.pread(fd, CHUNK if limit is None else min(CHUNK, limit), position)
            if not chunk or handler.request.connection.stream.closed():
                break
            position += len(chunk)
            limit = None if limit is None else limit - len(chunk)
            handler.write(chunk)
            await handler.flush()  # waits for the socket: one chunk in memory at a time
    finally:
        os.close(fd)
    handler.finish()


async def fs_stream(req: Request, alloc_id: str) -> None:
    """A file as JSON frames (or plain text), following what is written next."""
    alloc, fs = alloc_fs(req, alloc_id)
    path = required_path(req)
    offset = go_int(req, "offset")
    origin = req.arg("origin") or "start"
    if origin not in ("start", "end"):
        raise APIError(400, "origin must be start or end")
    with fs_errors(MISSING_STREAMED):
        fd = fs.open(path)
    await follow_file(
        req, alloc, fs, path, fd, offset, origin, req.flag("plain"), req.flag("follow", True)
    )


async def fs_logs(req: Request, alloc_id: str) -> None:
    """Task logs: ``plain`` text or JSON frames; ``follow`` streams what the task writes next."""
    task, kind = req.arg("task"), req.arg("type")
    if not task:
        raise APIError(400, "must include task name")
    if kind not in ("stdout", "stderr"):
        raise APIError(400, 'must include type of log; either "stdout" or "stderr"')
    alloc, fs = alloc_fs(req, alloc_id)
    if task not in (alloc["TaskStates"] or {}):
        raise APIError(400, f'unknown task name "{task}"')
    relative = f"alloc/logs/{task}.{kind}.0"
    offset = go_int(req, "offset")
    await follow_file(
        req, alloc, fs, relative, None, offset, req.arg("origin") or "start",
        req.flag("plain"), req.flag("follow"),
    )  # fmt: skip


async def follow_file(
    req: Request,
    alloc: dict,
    fs: AllocDir,
    relative: str,
    fd: int | None,
    offset: int,
    origin: str,
    plain: bool,
    follow: bool,
) -> None:
    """Send ``relative`` from ``offset`` (from its end with ``origin=end``) in chunks, then, when
    following, what is appended, until the client leaves or the allocation is done. A log
    not yet written (``fd`` None) is opened once it appears."""
    handler = req.handler
    handler.set_header("Content-Type", "text/plain; charset=utf-8" if plain else "application/json")
    position = None
    try:
        while True:
            if fd is None:
                with fs_errors(MISSING_STREAMED):
                    try:
                        fd = fs.open(relative)
                    except FSError as exc:
                        if exc.status != 404:
                            raise
            chunk = b""
            if fd is not None:
                if position is None:
                    size = os.fstat(fd).st_size
                    position = max(0, size - offset) if origin == "end" else min(offset, size)
                chunk = os.pread(fd, CHUNK, position)
            if chunk:
                position = (position or 0) + len(chunk)
                handler.write(chunk if plain else frame(chunk, position, relative))
                await handler.flush()
            if handler.request.connection.stream.closed():
                break
            if chunk:
                continue
            current = req.store.allocs.get(alloc["ID"])
            if not follow or current is None or structs.is_terminal(current):
                break
            await asyncio.sleep(POLL)
    finally:
        if fd is not None:
            os.close(fd)
    handler.finish()


def read_from(fs: AllocDir, relative: str, position: int, size: int = 1 << 20) -> bytes:
    """Up to ``size`` bytes of an allocation's file from ``position``, opened as every fs
    endpoint opens it (no link followed, regular files only); b"" while it is not there
    or not a file that may be read."""
    try:
        fd = fs.open(relative)
    except FSError:
        return b""
    try:
        return os.pread(fd, size, position)
    finally:
        os.close(fd)


def frame(chunk: bytes, end: int, relative: str) -> bytes:
    return json.dumps(
        {"Offset": end, "Data": base64.b64encode(chunk).decode(), "File": relative}
    ).encode()


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/client/fs/ls/([^/]+)", {"GET": fs_ls}),
    (r"/v1/client/fs/stat/([^/]+)", {"GET": fs_stat}),
    (r"/v1/client/fs/cat/([^/]+)", {"GET": fs_cat}),
    (r"/v1/client/fs/readat/([^/]+)", {"GET": fs_readat}),
    (r"/v1/client/fs/stream/([^/]+)", {"GET": fs_stream}),
    (r"/v1/client/fs/logs/([^/]+)", {"GET": fs_logs}),
]
