"""``nomad alloc fs ALLOC DIR`` output, as command/alloc_fs.go prints a directory."""

from __future__ import annotations

from typing import Any

from nomadlab.command.helpers import format_list, format_time, ibytes, parse_time


def format_alloc_dir(files: list[dict[str, Any]]) -> str:
    """``nomad alloc fs ALLOC DIR``'s listing: Mode, Size, Modified Time, Name (dirs end in /)."""
    rows = ["Mode|Size|Modified Time|Name"]
    for entry in files:
        name = entry.get("Name", "") + ("/" if entry.get("IsDir") else "")
        when = parse_time(entry.get("ModTime"))
        rows.append(
            f"{entry.get('FileMode', '')}|{ibytes(int(entry.get('Size') or 0))}|"
            f"{format_time(when) if when else ''}|{name}"
        )
    return format_list(rows)
