"""Errors as Nomad's RPC layer codes them (nomad/structs/errors.go NewErrRPCCoded) and Go's
``%q`` quoting, which Nomad's error texts use for names."""

from __future__ import annotations

_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
               "\v": r"\v", "\\": "\\\\", '"': '\\"'}  # fmt: skip


class APIError(Exception):
    """An error with the HTTP status and plain-text message Nomad would send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters kept, the rest escaped as Go escapes them."""
    out = []
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
