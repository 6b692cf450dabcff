"""Output the way Nomad's CLI prints it: ``==>`` info lines, indented output, aligned columns.

:class:`Ui` mirrors the CLI's ``PrefixedUi`` (``==> `` for info, four spaces for output) and
adds a *live* block, redrawn in place in a terminal or a notebook (Nomad's deployment
spinner) and printed once, when final, anywhere else. The ``format_*`` helpers mirror
``command/helpers.go`` (columnize with ``<none>`` for empty cells, ISO 8601 times).
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

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


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$")


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


class Ui:
    """Where command output goes; this base class drops everything (quiet mode)."""

    def line(self, text: str) -> None:
        """Print one finished line."""

    def info(self, text: str) -> None:
        """An ``==> `` line, as the CLI prints a step."""
        self.line(f"==> {text}")

    def output(self, text: str) -> None:
        """Indented output lines under a step."""
        for part in text.split("\n"):
            self.line(f"    {part}" if part else "")

    def live(self, block: str) -> None:
        """Show ``block`` as the current state of something in progress (redrawn in place)."""

    def done(self, block: str) -> None:
        """Replace the live block by its final form."""
        for part in block.split("\n"):
            self.line(part)


class TerminalUi(Ui):
    """Plain text to a stream; a live block is redrawn with ANSI codes only on a TTY."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._live_lines = 0

    @property
    def tty(self) -> bool:
        """True when the stream is an interactive terminal."""
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self, text: str) -> None:
        """Print one finished line."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def _erase(self) -> None:
        if self._live_lines:
            self.stream.write(f"\x1b[{self._live_lines}F\x1b[J")
            self._live_lines = 0

    def live(self, block: str) -> None:
        """Redraw the block in place on a TTY; elsewhere wait for the final form."""
        if not self.tty:
            return
        self._erase()
        self.stream.write(block + "\n")
        self.stream.flush()
        self._live_lines = block.count("\n") + 1

    def done(self, block: str) -> None:
        """Print the final block (over the live one on a TTY)."""
        if self.tty:
            self._erase()
        super().done(block)


class NotebookUi(Ui):
    """Lines printed to the cell's output; the live block is one display updated in place."""

    def __init__(self) -> None:
        self._handle: Any = None

    def line(self, text: str) -> None:
        """Print one finished line."""
        print(text, flush=True)

    def _show(self, block: str) -> None:
        from IPython.display import display

        data = {"text/plain": block}
        if self._handle is None:
            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)

    def live(self, block: str) -> None:
        """Show or update the block in place."""
        self._show(block)

    def done(self, block: str) -> None:
        """Leave the final block in place of the live one."""
        if self._handle is None:
            super().done(block)
        else:
            self._show(block)
            self._handle = None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel attached)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def default_ui(quiet: bool = False) -> Ui:
    """The right Ui here: silent, a notebook's output area, or the terminal."""
    if quiet:
        return Ui()
    return NotebookUi() if in_notebook() else TerminalUi()


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
