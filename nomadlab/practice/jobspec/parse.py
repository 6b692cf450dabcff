"""HCL2 → the Job JSON of Nomad's HTTP API, as ``jobspec2`` and ``POST /v1/jobs/parse`` do:
variables, interpolation, decoding against the schema, and warnings for deprecated settings.
"""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Callable
from typing import Any

import hcl2

from nomadlab.practice.jobspec import diagnostics
from nomadlab.practice.jobspec.canonicalize import _canonicalize_job
from nomadlab.practice.jobspec.common import JobspecError
from nomadlab.practice.jobspec.schema import (
    _bool,
    _decode,
    _duplicate_block,
    _go_text,
    _is_block,
    _labeled,
    _number,
    _parse_error,
    _string,
)
from nomadlab.practice.jobspec.validate import task_warnings

_HCL_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True,
    explicit_blocks=False,
    with_comments=False,
    preserve_scientific_notation=False,
)
# The same with quotes kept: the only way to tell `driver = raw_exec` from `driver = "raw_exec"`.
_QUOTED_OPTIONS = hcl2.SerializationOptions(
    explicit_blocks=False, with_comments=False, preserve_scientific_notation=False
)


# ---------------------------------------------------------------------------------------------
# HCL2 variables and interpolation


_UNSET = object()
_VARIABLE_KEYS = {"type", "default", "description", "validation"}
_TEMPLATE = re.compile(r"\$\$\{|%%\{|\$\{\s*var\.([A-Za-z_][\w-]*)\s*\}")
_EXPRESSION = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][\w-]*)\n(?:(.*)\n)?[ \t]*\2", re.DOTALL)


def _load_hcl(text: str, options: hcl2.SerializationOptions = _HCL_OPTIONS, what: str = "") -> dict:
    try:
        return hcl2.loads(text, serialization_options=options)
    except Exception as err:  # python-hcl2 raises lark's errors, RuntimeError, ValueError
        diagnostic = "" if what else _diagnostic(text, err)
        message = diagnostic or what + _hcl_message(err)
        raise JobspecError(f"Failed to parse job: {message}") from err


def _diagnostic(text: str, err: Exception) -> str:
    """HCL's diagnostic for the place lark's error points at."""
    token = getattr(err, "token", None)
    found = str(token) if token is not None else getattr(err, "char", "") or ""
    return diagnostics.syntax_error(
        text, getattr(err, "line", None), getattr(err, "column", None), found
    )


def _is_bare_name(quoted: Any) -> bool:
    """In the quotes-kept tree, an unquoted name is the one string that starts with neither."""
    return isinstance(quoted, str) and not quoted.startswith(('"', "${"))


def _bare_names_as_references(node: Any, quoted: Any) -> Any:
    """`driver = raw_exec` names an undefined variable, which Nomad keeps as "${raw_exec}"."""
    if isinstance(node, dict):
        return {
            key: _bare_names_as_references(value, quoted_value)
            for (key, value), quoted_value in zip(node.items(), quoted.values(), strict=True)
        }
    if isinstance(node, list):
        return [_bare_names_as_references(v, q) for v, q in zip(node, quoted, strict=True)]
    return f"${{{node}}}" if _is_bare_name(quoted) else node


def _hcl_message(err: Exception) -> str:
    """python-hcl2's message: its first line, and what it expected when that list is short."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    expected = [line.removeprefix("* ") for line in lines if line.startswith("* ")]
    if "Expected one of:" in lines and 0 < len(expected) <= 6:
        return f"{lines[0]} Expected one of: {', '.join(expected)}."
    return lines[0]


def _declared_variables(tree: dict) -> dict[str, tuple[str | None, Any]]:
    """`variable "x" {...}` and `variables {...}` blocks → name → (type, default or _UNSET)."""
    declared: dict[str, tuple[str | None, Any]] = {}

    def declare(name: str, type_: str | None, default: Any) -> None:
        if name in declared:
            raise JobspecError(
                "Failed to parse job: Duplicate variable; "
                f"Duplicate {name} variable definition found."
            )
        declared[name] = (type_, default)

    for entry in _blocks(tree, "variable"):
        name, body = _labeled(entry, "variable", "variable")
        for key in body:
            if key not in _VARIABLE_KEYS:
                raise _parse_error(
                    f'variable "{name}"',
                    f'Unsupported argument; An argument named "{key}" is not expected here.',
                )
        default = body.get("default")
        declare(name, body.get("type"), _UNSET if default is None else _unheredoc_all(default))
    for entry in _blocks(tree, "variables"):
        for name, default in entry.items():
            declare(name, None, _unheredoc_all(default))
    return declared


def _blocks(tree: dict, key: str) -> list:
    value = tree.get(key)
    if value is None:
        return []
    if not _is_block(value):
        raise _parse_error(
            "input.hcl", f'Unsupported argument; An argument named "{key}" is not expected here.'
        )
    return value


def _variable_values(tree: dict, given: str | dict[str, str] | None) -> dict[str, Any]:
    """Each declared variable's value: from `given`, else its default, typed as declared."""
    declared = _declared_variables(tree)
    if isinstance(given, str):
        assigned = _var_file_values(given, declared)
    else:
        assigned = _var_arg_values(given or {}, declared)
    values: dict[str, Any] = {}
    for name, (type_, default) in declared.items():
        if name in assigned:
            values[name] = assigned[name]
        elif default is _UNSET:
            raise JobspecError(
                f'Failed to parse job: Unset variable "{name}"; A used variable must be set or '
                "have a default value; see https://developer.hashicorp.com/nomad/docs/"
                "job-specification/hcl2/variables for details."
            )
        else:
            try:
                values[name] = _typed(default, type_)
            except ValueError as err:
                raise JobspecError(
                    f'Failed to parse job: variable "{name}": Invalid default value for variable; '
                    "This default value is not compatible with the variable's type constraint: "
                    f"{err}."
                ) from err
    return values


def _var_file_values(text: str, declared: dict) -> dict[str, Any]:
    """The parse request's `Variables`: HCL `name = value` lines, as in a -var-file."""
    if not text.strip():
        return {}
    attrs = _load_hcl(text, what="unable to parse var content: ")
    quoted = _load_hcl(text, _QUOTED_OPTIONS, what="unable to parse var content: ")
    values = {}
    for (name, value), quoted_value in zip(attrs.items(), quoted.values(), strict=True):
        if name not in declared:
            raise JobspecError(
                f'Failed to parse job: Undefined variable; A "{name}" variable was set but was not '
                f'found in known variables. To declare variable "{name}", place this block in your '
                "job files"
            )
        if _is_bare_name(quoted_value) or (isinstance(value, str) and _EXPRESSION.search(value)):
            raise JobspecError(
                f"Failed to parse job: {name}: Variables not allowed; "
                "Variables may not be used here."
            )
        try:
            values[name] = _typed(_unheredoc_all(value), declared[name][0])
        except ValueError as err:
            raise JobspecError(
                f"Failed to parse job: Invalid value for variable; The value for {name} is not "
                f"compatible with the variable's type constraint: {err}."
            ) from err
    return values


def _var_arg_values(given: dict[str, str], declared: dict) -> dict[str, Any]:
    """`-var name=value` pairs: text, parsed as HCL only for lists, maps and other non-scalars."""
    values = {}
    for name, text in given.items():
        if name not in declared:
            raise JobspecError(
                f'Failed to parse job: Undefined -var variable; A "{name}" variable was passed '
                "in the command line but was not found in known variables. "
                f'To declare variable "{name}", place this block in your job file'
            )
        type_ = declared[name][0]
        value = text
        if isinstance(text, str) and type_ not in (None, "string", "number", "bool", "any"):
            value = _var_file_values(f"{name} = {text}", declared)[name]
        try:
            values[name] = _typed(value, type_)
        except ValueError as err:
            raise JobspecError(
                f"Failed to parse job: Invalid argument value for -var variable; The received arg "
                f"value for {name} is not compatible with the variable's type constraint: {err}."
            ) from err
    return values


def _typed(value: Any, type_: str | None) -> Any:
    """A variable's value in its declared type, as cty converts it; ValueError if it cannot be."""
    spec = (type_ or "any").removeprefix("${").removesuffix("}").replace(" ", "")
    scalar = {"string": _string, "number": _number, "bool": _bool}
    if spec in scalar:
        return scalar[spec](value)
    collection = re.fullmatch(r"(list|set|map)\((.+)\)", spec)
    if collection is None:
        return value
    outer, inner = collection.groups()
    if outer == "map":
        if not isinstance(value, dict):
            raise ValueError(f"map of {inner} required")
        return {k: _typed(v, inner) for k, v in value.items()}
    if not isinstance(value, list):
        raise ValueError(f"{outer} of {inner} required")
    return [_typed(v, inner) for v in value]


def _unheredoc(text: str) -> str:
    """A heredoc as python-hcl2 keeps it (<<EOF ... EOF) → its text, with the final newline."""
    match = _HEREDOC.fullmatch(text)
    if match is None:
        return text
    flush, body = match[1], match[3]
    if body is None:
        return ""
    return (textwrap.dedent(body) if flush else body) + "\n"


def _unheredoc_all(node: Any) -> Any:
    return _map_strings(node, _unheredoc)


def _map_strings(node: Any, change: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {key: _map_strings(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_strings(value, change) for value in node]
    return change(node) if isinstance(node, str) else node


def _interpolate(text: str, values: dict[str, Any]) -> Any:
    """Resolve `${var.x}`; keep runtime references (`${NOMAD_PORT_http}`, `${attr.x}`) literal.

    A string that is exactly one reference takes the variable's typed value (count = var.count).
    """
    text = _unheredoc(text)
    for expression in _EXPRESSION.findall(text):
        if re.search(r"\b(var|local)\.", expression) and not re.fullmatch(
            r"\s*var\.[A-Za-z_][\w-]*\s*", expression
        ):
            raise JobspecError(
                f'Failed to parse job: Unsupported expression "${{{expression}}}": the practice '
                "agent resolves plain var.NAME references only (no locals, functions or operators)"
            )

    def value_of(name: str) -> Any:
        if name not in values:
            raise JobspecError(
                f"Failed to parse job: Unsupported attribute; This object does not have an "
                f'attribute named "{name}".'
            )
        return values[name]

    whole = _TEMPLATE.fullmatch(text)
    if whole and whole[1]:
        return copy.deepcopy(value_of(whole[1]))

    def substitute(match: re.Match) -> str:
        if match[1] is None:  # the escapes $${ and %%{
            return match[0][1:]
        value = value_of(match[1])
        try:
            return _go_text(value)
        except ValueError as err:
            raise JobspecError(
                "Failed to parse job: Invalid template interpolation value; Cannot include the "
                f"given value in a string template: string required (var.{match[1]})."
            ) from err

    return _TEMPLATE.sub(substitute, text)


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_with_warnings(
    hcl: str, variables: str | dict[str, str] | None = None, canonicalize: bool = False
) -> tuple[dict, list[str]]:
    """Parse an HCL2 jobspec into the API's Job JSON, with warnings for deprecated settings."""
    if not hcl or not hcl.strip():
        raise JobspecError("Job spec is empty")
    tree = _load_hcl(hcl)
    for key in tree:
        if key not in ("job", "variable", "variables"):
            message = (
                "locals are not supported by the practice agent; use variables"
                if key == "locals"
                else f'Unsupported block type; Blocks of type "{key}" are not expected here.'
            )
            raise _parse_error("input.hcl", message)
    values = _variable_values(tree, variables)
    jobs = _blocks(tree, "job")
    if not jobs:
        raise JobspecError("Failed to parse job: Missing job block; A job block is required")
    if len(jobs) > 1:
        raise JobspecError(f"Failed to parse job: {_duplicate_block('job')}")
    job_id, body = _labeled(jobs[0], "job", "input.hcl")
    (quoted_body,) = _load_hcl(hcl, _QUOTED_OPTIONS)["job"][0].values()
    body = _bare_names_as_references(body, quoted_body)
    body = _map_strings(body, lambda text: _interpolate(text, values))
    try:
        decoded = _decode("Job", body, f'job "{job_id}"')
    except JobspecError as exc:
        raise _located(exc, hcl) from exc
    job = {"ID": decoded.pop("ID", job_id), "Name": decoded.pop("Name", job_id), **decoded}
    if canonicalize:
        _canonicalize_job(job, server=False)
    return job, _warnings(job)


def _located(exc: JobspecError, hcl: str) -> JobspecError:
    """A decoding error with the source range HCL gives it, when it can be found."""
    key = getattr(exc, "key", "")
    where = key and diagnostics.locate(hcl, exc.where, key, exc.value)
    return JobspecError(f"Failed to parse job: {where}: {exc.message}") if where else exc


def parse(
    hcl: str, variables: str | dict[str, str] | None = None, canonicalize: bool = False
) -> dict:
    """Parse an HCL2 jobspec into the API's Job JSON (`POST /v1/jobs/parse`)."""
    return parse_with_warnings(hcl, variables, canonicalize)[0]


def _warnings(job: dict) -> list[str]:
    """Each distinct task warning once (the register response words them per group)."""
    tasks = [t for g in job.get("TaskGroups") or [] for t in g.get("Tasks") or []]
    return list(dict.fromkeys(w for t in tasks for w in task_warnings(t)))
