"""What parse, canonicalize and validate share: the error type, duration fields, multierror text."""

from __future__ import annotations

import copy

from nomadlab.contract import parse_duration


class JobspecError(ValueError):
    """A jobspec or job Nomad refuses; the message is the plain-text body the HTTP API sends."""


# ---------------------------------------------------------------------------------------------
# Durations and Go's text forms of values


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
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise JobspecError(str(exc)) from exc


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
