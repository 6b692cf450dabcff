"""The client file system endpoints (Nomad's command/agent/fs_endpoint.go): ls, stat, cat
and logs, confined to the allocation directory."""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
from pathlib import Path

from nomadlab.practice import structs
from nomadlab.practice.http.handler import Handler, Request, by_id
from nomadlab.practice.server import APIError


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


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (r"/v1/client/fs/ls/([^/]+)", {"GET": fs_ls}),
    (r"/v1/client/fs/stat/([^/]+)", {"GET": fs_stat}),
    (r"/v1/client/fs/cat/([^/]+)", {"GET": fs_cat}),
    (r"/v1/client/fs/logs/([^/]+)", {"GET": fs_logs}),
]
