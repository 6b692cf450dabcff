"""Jobspecs: HCL2 → the Job JSON of Nomad's HTTP API, its defaults, and its validation.

Mirrors Nomad 1.9: ``jobspec2`` (parsing, as ``POST /v1/jobs/parse`` does), ``api.Job.Canonicalize``
plus the server's register-time defaults, and ``structs.Job.Validate`` with its error texts.
"""

from nomadlab.practice.jobspec.canonicalize import canonicalize
from nomadlab.practice.jobspec.common import JobspecError, duration_ns, format_errors
from nomadlab.practice.jobspec.parse import parse, parse_with_warnings
from nomadlab.practice.jobspec.validate import TASK_NETWORK_WARNING, validate, warnings

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
