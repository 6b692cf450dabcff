"""What parse, canonicalize and validate share: Go durations, the error type, multierror text."""

from __future__ import annotations

import copy
import re
from fractions import Fraction

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


class JobspecError(ValueError):
    """A jobspec or job Nomad refuses; the message is the plain-text body the HTTP API sends."""


# ---------------------------------------------------------------------------------------------
# Durations and Go's text forms of values


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_DURATION_PART = re.compile(r"(\d*\.?\d*)([^\d.]*)")


def duration_ns(value: str | int | float | None) -> int | None:
    """Nanoseconds of a Go duration ("10s", "1m30s", "500ms"); numbers are nanoseconds already."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise JobspecError(f"time: invalid duration {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise JobspecError(f"time: invalid duration {value!r}")
        return int(value)
    return _parse_go_duration(value)


def _parse_go_duration(text: str) -> int:
    """time.ParseDuration: a signed sequence of decimal numbers, each with a unit."""
    invalid = JobspecError(f'time: invalid duration "{text}"')
    sign, rest = (-1, text[1:]) if text[:1] == "-" else (1, text.removeprefix("+"))
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total, pos = Fraction(0), 0
    while pos < len(rest):
        match = _DURATION_PART.match(rest, pos)
        number, unit = match[1], match[2]
        if number in ("", "."):
            raise invalid
        if not unit:
            raise JobspecError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise JobspecError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += Fraction(number) * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * int(total)


def _go_duration(ns: int) -> str:
    """time.Duration.String(): "0s", "500ms", "1m30s", "1h0m0s"."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < SECOND:
        unit, size = next((u, s) for u, s in (("ms", 10**6), ("µs", 10**3), ("ns", 1)) if ns >= s)
        return f"{sign}{_decimal(ns, size)}{unit}"
    hours, rest = divmod(ns, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    text = f"{_decimal(rest, SECOND)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, size: int) -> str:
    whole, fraction = divmod(value, size)
    digits = str(fraction).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_errors(errors: list[str]) -> str:
    """Nomad's multierror text: "1 error occurred:\\n\\t* ...\\n\\n"."""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {error}" for error in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def _fill(obj: dict, defaults: dict) -> dict:
    """Set each default whose key is missing or null; keep what is there."""
    for key, value in defaults.items():
        if obj.get(key) is None:
            obj[key] = copy.deepcopy(value)
    return obj
