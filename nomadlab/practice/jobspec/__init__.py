"""Jobspecs: HCL2 → the Job JSON of Nomad's HTTP API, its defaults, and its validation.

Mirrors Nomad 1.9: ``jobspec2`` (parsing, as ``POST /v1/jobs/parse`` does), ``api.Job.Canonicalize``
plus the server's register-time defaults, and ``structs.Job.Validate`` with its error texts.
Parsing is imported on first use: the agent parses in a worker process (:mod:`.worker`), so
its own process never loads python-hcl2 and lark.
"""

import importlib
from typing import Any

from nomadlab.practice.jobspec.canonicalize import canonicalize
from nomadlab.practice.jobspec.common import JobspecError, duration_ns, format_errors
from nomadlab.practice.jobspec.validate import TASK_NETWORK_WARNING, validate, warnings


def __getattr__(name: str) -> Any:
    if name in ("parse", "parse_with_warnings"):
        parsing = importlib.import_module("nomadlab.practice.jobspec.parse")
        # Importing the submodule bound its name here: the function takes it back.
        globals().update(parse=parsing.parse, parse_with_warnings=parsing.parse_with_warnings)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TASK_NETWORK_WARNING",
    "JobspecError",
    "canonicalize",
    "duration_ns",
    "format_errors",
    "parse",
    "parse_with_warnings",
    "validate",
    "warnings",
]
