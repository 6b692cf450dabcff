"""Output the way Nomad's CLI prints it: ``==>`` info lines, indented output, aligned columns.

:class:`Ui` mirrors the CLI's ``PrefixedUi`` (``==> `` for info, four spaces for output) and
adds a *live* block, redrawn in place in a terminal or a notebook (Nomad's deployment
spinner) and printed once, when final, anywhere else. What the lines say is formatted in
:mod:`nomadlab.command`.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


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
