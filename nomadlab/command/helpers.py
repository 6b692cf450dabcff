"""The CLI's shared output helpers, as ``command/helpers.go`` has them: columns with
``<none>`` for empty cells (columnize), key = value blocks, ISO 8601 times, short IDs and
go-humanize's byte sizes."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

FULL_ID = 36
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$")
SHORT_ID = 8


def limit(text: str, length: int = SHORT_ID) -> str:
    """Shorten an ID the way the CLI does without ``-verbose``."""
    return text[:length]


def format_list(rows: list[list[Any]] | list[str]) -> str:
    """Columns separated by two spaces, empty cells shown as ``<none>`` (columnize)."""
    cells = [
        [str(c).strip() or "<none>" for c in (r.split("|") if isinstance(r, str) else r)]
        for r in rows
    ]
    widths: list[int] = []
    for row in cells:
        for i, cell in enumerate(row):
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in cells:
        padded = [c.ljust(widths[i]) for i, c in enumerate(row[:-1])] + row[-1:]
        lines.append("  ".join(padded))
    return "\n".join(lines)


def format_kv(pairs: list[tuple[str, Any]]) -> str:
    """``Key   = value`` lines aligned on ``=`` (Nomad's formatKV)."""
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)} = {str(v).strip() or '<none>'}" for k, v in pairs)


def format_time(moment: datetime | None = None) -> str:
    """Local time as ``2006-01-02T15:04:05Z07:00``; "" for the zero time, as Nomad prints."""
    moment = moment or datetime.now(timezone.utc)
    if moment.timestamp() < 1:
        return ""
    text = moment.astimezone().isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A Nomad time: RFC 3339 string (nanoseconds allowed) or Unix nanoseconds; None if zero."""
    if value in (None, "", 0):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1e9, timezone.utc)
    match = _RFC3339.match(str(value))
    if not match:
        return None
    zone = match.group(2) or "Z"
    moment = datetime.fromisoformat(match.group(1) + ("+00:00" if zone == "Z" else zone))
    return None if moment.year < 1971 else moment


def pretty_time_diff(then: datetime | None, now: datetime | None = None) -> str:
    """``12s ago`` / ``3m5s ago`` / ``1h2m from now``: the two largest units, as Nomad shows."""
    if then is None:
        return ""
    now = now or datetime.now(timezone.utc)
    seconds = round(now.timestamp()) - round(then.timestamp())
    suffix = "ago" if seconds >= 0 else "from now"
    rest = abs(seconds)
    parts = []  # smallest period first, non-zero only, as command/helpers.go builds them
    for name, size in (("s", 60), ("m", 60), ("h", 24), ("d", 30), ("mo", 12), ("y", 0)):
        value = rest % size if size else rest
        rest = rest // size if size else 0
        if value:
            parts.append(f"{value}{name}")
    return f"{''.join(reversed(parts[-2:])) or '0s'} {suffix}"


def ibytes(size: int) -> str:
    """A byte count as Nomad's CLI prints it (go-humanize's IBytes): 12 B, 4.0 KiB, 12 MiB."""
    if size < 10:
        return f"{size} B"
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    exponent = 0
    while size >= 1024 ** (exponent + 1) and exponent < len(units) - 1:
        exponent += 1
    value = int(size / 1024**exponent * 10 + 0.5) / 10
    return f"{value:.1f} {units[exponent]}" if value < 10 else f"{value:.0f} {units[exponent]}"
