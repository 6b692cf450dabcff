"""An allocation's directory (Nomad's client/allocdir): built by the runners, walked by
the file system API.

Tasks write into this directory and may put anything there: links out of it, FIFOs, names
swapped between a check and a read. So every path is walked one component at a time from
the directory's own file descriptor, each opened with ``O_NOFOLLOW``; a link is reported as
a link and never followed; only regular files are read, opened non-blocking and checked
again on the open descriptor. Errors name the path the client asked for, never a host path.
"""

from __future__ import annotations

import contextlib
import errno
import mimetypes
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from nomadlab.practice import structs

CHUNK = 64 * 1024  # Nomad's streamFrameSize
NAME_MAX = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class FSError(Exception):
    """A file system request the API refuses: the HTTP status and a plain-text message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def file_mode(mode: int) -> str:
    """``st_mode`` as Go's ``fs.FileMode.String()`` prints it (``-rw-r--r--``, ``Lrwxrwxrwx``)."""
    kinds = (
        (stat.S_ISDIR, "d"),
        (stat.S_ISLNK, "L"),
        (stat.S_ISBLK, "D"),
        (stat.S_ISCHR, "Dc"),
        (stat.S_ISFIFO, "p"),
        (stat.S_ISSOCK, "S"),
    )
    kind = next((letters for test, letters in kinds if test(mode)), "")
    kind += "u" * bool(mode & stat.S_ISUID) + "g" * bool(mode & stat.S_ISGID)
    kind += "t" * bool(mode & stat.S_ISVTX)
    perms = "".join(c if mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))
    return (kind or "-") + perms


def file_info(name: str, info: os.stat_result) -> dict:
    """Nomad's AllocFileInfo of an entry, from its ``lstat``: a link is a link."""
    regular = stat.S_ISREG(info.st_mode)
    return {
        "Name": name,
        "IsDir": stat.S_ISDIR(info.st_mode),
        "Size": info.st_size,
        "FileMode": file_mode(info.st_mode),
        "ModTime": structs.rfc3339(int(info.st_mtime * 1e9)),
        "ContentType": (mimetypes.guess_type(name)[0] or "text/plain") if regular else "",
    }


def components(path: str) -> list[str]:
    """The names along ``path`` (relative to the allocation dir); 400 for ``..`` or a name
    longer than a file name may be."""
    names = [name for name in path.split("/") if name not in ("", ".")]
    if ".." in names:
        raise FSError(400, "Path escapes the allocation directory")
    for name in names:
        if len(os.fsencode(name)) > NAME_MAX or "\0" in name:
            raise FSError(400, f"stat {path}: file name too long")
    return names


class AllocDir:
    """Read-only access to one allocation directory, never leaving it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def _parent(self, path: str) -> Iterator[tuple[int, str | None]]:
        """The open directory holding ``path``'s last name, and that name (None for the root)."""
        names = components(path)
        try:
            fd = os.open(self.root, _DIR_FLAGS)
        except FileNotFoundError as exc:
            raise FSError(404, "alloc directory not found") from exc
        try:
            for name in names[:-1]:
                try:
                    next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise self._error(exc, path) from exc
                os.close(fd)
                fd = next_fd
            yield fd, names[-1] if names else None
        finally:
            os.close(fd)

    @staticmethod
    def _error(exc: OSError, path: str) -> FSError:
        if exc.errno == errno.ENOENT:
            return FSError(404, f"stat {path}: no such file or directory")
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return FSError(400, f"{path}: a component is a link or not a directory; not followed")
        if exc.errno == errno.ENAMETOOLONG:
            return FSError(400, f"stat {path}: file name too long")
        return FSError(400, f"{path}: {os.strerror(exc.errno or 0)}")

    def stat(self, path: str) -> dict:
        """``fs stat``: the entry itself (``lstat``), a link reported as a link."""
        with self._parent(path) as (fd, name):
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False) if name else os.fstat(fd)
            except OSError as exc:
                raise self._error(exc, path) from exc
            return file_info(name or "/", info)

    def list(self, path: str) -> list[dict]:
        """``fs ls``: the directory's entries, sorted, each from its ``lstat``."""
        with self._parent(path) as (fd, name):
            try:
                dir_fd = os.open(name, _DIR_FLAGS, dir_fd=fd) if name else os.dup(fd)
            except OSError as exc:
                raise self._error(exc, path) from exc
            try:
                entries = []
                for entry in os.scandir(dir_fd):
                    try:
                        entries.append(file_info(entry.name, entry.stat(follow_symlinks=False)))
                    except FileNotFoundError:
                        continue  # removed while listed
                return sorted(entries, key=lambda e: e["Name"])
            finally:
                os.close(dir_fd)

    def open(self, path: str) -> int:
        """An open descriptor of the regular file at ``path``: 400 for a directory, a link,
        a FIFO, a device or a socket, none of which is ever opened in a blocking way."""
        with self._parent(path) as (fd, name):
            if name is None:
                raise FSError(400, f'file "{path}" is a directory')
            try:
                refuse_unless_regular(path, os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
                file_fd = os.open(name, _FILE_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.EISDIR:
                    raise FSError(400, f'file "{path}" is a directory') from exc
                raise self._error(exc, path) from exc
        try:  # swapped between the lstat and the open: O_NOFOLLOW and this catch it
            refuse_unless_regular(path, os.fstat(file_fd).st_mode)
        except FSError:
            os.close(file_fd)
            raise
        os.set_blocking(file_fd, True)
        return file_fd


def refuse_unless_regular(path: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise FSError(400, f'file "{path}" is a directory')
    if not stat.S_ISREG(mode):
        kind = "a link" if stat.S_ISLNK(mode) else f"not a regular file ({file_mode(mode)[0]})"
        raise FSError(400, f'file "{path}" is {kind}; only regular files are read')


def task_logs(root: Path, task: str) -> tuple[Path, Path]:
    """A task's stdout and stderr log files in its allocation's directory."""
    logs = root / "alloc" / "logs"
    return logs / f"{task}.stdout.0", logs / f"{task}.stderr.0"


def task_dirs(root: Path, task: str) -> list[str]:
    """The directories a task needs before it runs: its allocation's shared ones, then its
    own (the watchdog builds them with the task's start, when nothing is written there
    before: its log files it creates as it opens them)."""
    shared = [str(root / sub) for sub in ("alloc/logs", "alloc/data", "alloc/tmp")]
    return shared + [str(root / task / sub) for sub in ("local", "secrets", "tmp")]


def make_alloc_dirs(root: Path, tasks: list[str]) -> None:
    """An allocation's shared directories, and each task's own and its empty log files, in
    one go (run off the event loop: a slow disk must not stall the API)."""
    for task in tasks:
        for path in task_dirs(root, task):
            os.makedirs(path, exist_ok=True)
        for log in task_logs(root, task):
            log.touch()
