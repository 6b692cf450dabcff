"""The template language of Nomad's ``template`` block: Go's text/template with the
consul-template functions jobs use for service discovery.

A real parser (actions, pipelines, ``if``/``else``/``with``/``range``/``end``, variables,
trim markers, comments), evaluated over a :class:`Sources` that answers ``nomadService``,
``nomadServices`` and ``env``. Functions outside the supported set are a parse error
naming them, as Go reports an undefined function: never a silent empty result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from nomadlab.practice.templates.parse import (
    Branch,
    Command,
    Operand,
    Parser,
    Pipeline,
    TemplateError,
)


class Sources(Protocol):
    """Where a template's data comes from (the client's view of the cluster)."""

    def service(self, name: str, namespace: str, choose: str) -> list[dict]: ...

    def services(self, namespace: str) -> list[dict]: ...

    def env(self, name: str) -> str: ...


class GoStruct(dict):
    """A Go struct value: fields in declaration order, an error for a missing field."""

    type_name = "struct"


class NomadService(GoStruct):
    type_name = "*dependency.NomadService"


class NomadServicesSnippet(GoStruct):
    type_name = "*dependency.NomadServicesSnippet"


# consul-template's query grammar: "<tag>.<name>?ns=<namespace>@<region>"
_SERVICE_QUERY = re.compile(
    r"\A(?:(?P<tag>[\w=:./-]+)\.)?(?P<name>[\w-]+)(?:\?ns=(?P<namespace>[\w-]+))?"
    r"(?:@(?P<region>[\w.-]+))?\Z"
)

_BUILTINS = {
    "and", "or", "not", "len", "index", "print", "printf", "println",
    "eq", "ne", "lt", "le", "gt", "ge",
}  # fmt: skip
_CONSUL_TEMPLATE = {
    "nomadService", "nomadServices", "env", "toJSON", "toJSONPretty", "join", "split",
    "contains", "toLower", "toUpper", "trimSpace", "parseInt",
}  # fmt: skip
FUNCTIONS = frozenset(_BUILTINS | _CONSUL_TEMPLATE)


class Template:
    """A parsed template; :meth:`render` executes it."""

    def __init__(self, text: str, name: str = "", left: str = "{{", right: str = "}}") -> None:
        self.name = name or "template"
        self.left = left or "{{"
        self.right = right or "}}"
        self.nodes = Parser(self.name, self.left, self.right, FUNCTIONS).parse(text)

    def _error(self, line: int, message: str) -> TemplateError:
        return TemplateError.at(self.name, line, message)

    def render(self, sources: Sources, data: Any = None) -> str:
        """Execute the template with ``data`` as dot; TemplateError on failure, or when it
        would run longer or write more than :data:`MAX_STEPS` and :data:`MAX_OUTPUT` allow
        (the client renders on the agent's event loop)."""
        out = _Output(self)
        scopes: list[dict[str, Any]] = [{"$": data}]
        self._run(self.nodes, data, scopes, out, _Functions(sources))
        return "".join(out.parts)

    def _run(self, nodes: list, dot: Any, scopes: list, out: _Output, funcs: _Functions) -> None:
        for node in nodes:
            out.step()
            if isinstance(node, str):
                out.write(node)
            elif isinstance(node, Pipeline):
                value = self._pipe(node, dot, scopes, funcs)
                if not node.declare:
                    out.write(go_print(value))
            else:
                self._branch(node, dot, scopes, out, funcs)

    def _branch(
        self, node: Branch, dot: Any, scopes: list, out: _Output, funcs: _Functions
    ) -> None:
        scopes.append({})
        try:
            value = self._pipe(node.pipeline, dot, scopes, funcs, declare=node.kind != "range")
            if node.kind == "if":
                self._run(node.body if truthy(value) else node.otherwise, dot, scopes, out, funcs)
            elif node.kind == "with":
                if truthy(value):
                    self._run(node.body, value, scopes, out, funcs)
                else:
                    self._run(node.otherwise, dot, scopes, out, funcs)
            else:
                self._range(node, value, dot, scopes, out, funcs)
        finally:
            scopes.pop()

    def _range(
        self, node: Branch, value: Any, dot: Any, scopes: list, out: _Output, funcs: _Functions
    ) -> None:
        if value is None:
            pairs: list[tuple[Any, Any]] = []
        elif isinstance(value, dict) and not isinstance(value, GoStruct):
            pairs = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if value > MAX_STEPS:
                raise self._error(
                    node.pipeline.line, f"range over {value}: more than {MAX_STEPS} steps"
                )
            pairs = [(i, i) for i in range(value)]
        else:
            raise self._error(node.pipeline.line, f"range can't iterate over {go_print(value)}")
        if not pairs:
            self._run(node.otherwise, dot, scopes, out, funcs)
            return
        names = node.pipeline.declare
        for key, element in pairs:
            out.step()
            scope = scopes[-1]
            if len(names) == 1:
                scope[names[0]] = element
            elif len(names) == 2:
                scope[names[0]], scope[names[1]] = key, element
            self._run(node.body, element, scopes, out, funcs)

    def _pipe(
        self, pipe: Pipeline, dot: Any, scopes: list, funcs: _Functions, declare: bool = True
    ) -> Any:
        value: Any = _MISSING
        for command in pipe.commands:
            value = self._command(command, dot, scopes, funcs, value, pipe.line)
        if pipe.declare and declare:
            name = pipe.declare[0]
            if pipe.assign:
                for scope in reversed(scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise self._error(pipe.line, f"undefined variable: {name}")
            else:
                scopes[-1][name] = value
        return value

    def _command(
        self, command: Command, dot: Any, scopes: list, funcs: _Functions, piped: Any, line: int
    ) -> Any:
        first, *rest = command.operands
        if first.kind == "function":
            args = [self._operand_value(o, dot, scopes, funcs, line) for o in rest]
            if piped is not _MISSING:
                args.append(piped)
            return funcs.call(first.value, args, line, self)
        if rest or piped is not _MISSING:
            raise self._error(line, f"can't give argument to non-function {go_print(first.value)}")
        return self._operand_value(first, dot, scopes, funcs, line)

    def _operand_value(
        self, operand: Operand, dot: Any, scopes: list, funcs: _Functions, line: int
    ) -> Any:
        if operand.kind == "literal":
            return operand.value
        if operand.kind == "function":
            return funcs.call(operand.value, [], line, self)
        if operand.kind == "variable":
            for scope in reversed(scopes):
                if operand.value in scope:
                    base = scope[operand.value]
                    break
            else:
                raise self._error(line, f"undefined variable: {operand.value}")
        elif operand.kind == "pipeline":
            base = self._pipe(operand.value, dot, scopes, funcs)
        else:
            base = dot
        for name in operand.fields:
            base = self._field(base, name, line)
        return base

    def _field(self, value: Any, name: str, line: int) -> Any:
        if isinstance(value, GoStruct):
            if name not in value:
                raise self._error(
                    line, f"can't evaluate field {name} in type {type(value).type_name}"
                )
            return value[name]
        if isinstance(value, dict):
            return value.get(name)
        if value is None:
            raise self._error(line, f"nil pointer evaluating interface {{}}.{name}")
        raise self._error(line, f"can't evaluate field {name} in type {go_type(value)}")


_MISSING = object()
MAX_STEPS = 1_000_000
MAX_OUTPUT = 1 << 20


class _Output:
    """A render's output and its budget of steps and characters."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.parts: list[str] = []
        self.size = 0
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"template: {self.template.name}: more than {MAX_STEPS} steps")

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise TemplateError(f"template: {self.template.name}: output over {MAX_OUTPUT} bytes")
        self.parts.append(text)


class _Functions:
    """The functions a template may call, bound to its data sources."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def call(self, name: str, args: list, line: int, template: Template) -> Any:
        method: Callable[..., Any] = getattr(self, f"f_{name}")
        try:
            return method(*args)
        except TemplateError:
            raise
        except TypeError as exc:
            raise template._error(line, f"error calling {name}: wrong number of args") from exc
        except (ValueError, KeyError, IndexError) as exc:
            raise template._error(line, f"error calling {name}: {exc}") from exc

    # consul-template ---------------------------------------------------------------------

    def f_nomadService(self, *params: Any) -> list[NomadService]:
        if len(params) == 1:
            if not isinstance(params[0], str):
                raise ValueError("expected string for <service> argument")
            query, choose = params[0], ""
        elif len(params) == 3:
            count, key, query = params
            if not isinstance(count, int) or isinstance(count, bool):
                raise ValueError("expected integer for <count> argument")
            if not isinstance(key, str):
                raise ValueError("expected string for <key> argument")
            if not isinstance(query, str):
                raise ValueError("expected string for <service> argument")
            choose = f"{count}|{key}"
        else:
            raise ValueError("expected arguments <service> or <count> <key> <service>")
        match = _SERVICE_QUERY.match(query)
        if not match:
            raise ValueError(f"nomad.service: invalid format: {query!r}")
        tag = match["tag"] or ""
        found = self.sources.service(match["name"], match["namespace"] or "", choose)
        services = [
            NomadService(
                ID=s["ID"],
                Name=s["ServiceName"],
                Node=s["NodeID"],
                Address=s["Address"],
                Port=s["Port"],
                Datacenter=s["Datacenter"],
                Tags=sorted(s["Tags"] or []),
                JobID=s["JobID"],
                AllocID=s["AllocID"],
            )
            for s in found
            if not tag or tag in (s["Tags"] or [])
        ]
        return sorted(services, key=lambda s: s["Name"])

    def f_nomadServices(self, *parts: str) -> list[NomadServicesSnippet]:
        query = "".join(parts)
        match = re.fullmatch(r"(?:\?ns=(?P<namespace>[\w-]+))?(?:@(?P<region>[\w.-]+))?", query)
        if not match:
            raise ValueError(f"nomad.services: invalid format: {query!r}")
        return [
            NomadServicesSnippet(Name=s["ServiceName"], Tags=sorted(s["Tags"] or []))
            for s in self.sources.services(match["namespace"] or "")
        ]

    def f_env(self, name: str) -> str:
        return self.sources.env(name)

    def f_toJSON(self, value: Any) -> str:
        return "" if value is None else go_json(value)

    def f_toJSONPretty(self, value: Any) -> str:
        return go_json(value, indent=2)

    def f_join(self, sep: str, items: list) -> str:
        return sep.join(go_print(i) for i in items)

    def f_split(self, sep: str, text: str) -> list[str]:
        text = text.strip()
        return text.split(sep) if text else []

    def f_contains(self, value: Any, container: Any) -> bool:
        return value in (container or [])

    def f_toLower(self, text: str) -> str:
        return text.lower()

    def f_toUpper(self, text: str) -> str:
        return text.upper()

    def f_trimSpace(self, text: str) -> str:
        return text.strip()

    def f_parseInt(self, text: str) -> int:
        return int(text, 0)

    # text/template builtins ----------------------------------------------------------------

    def f_and(self, *args: Any) -> Any:
        for arg in args[:-1]:
            if not truthy(arg):
                return arg
        return args[-1]

    def f_or(self, *args: Any) -> Any:
        for arg in args[:-1]:
            if truthy(arg):
                return arg
        return args[-1]

    def f_not(self, value: Any) -> bool:
        return not truthy(value)

    def f_len(self, value: Any) -> int:
        return len(value)

    def f_index(self, value: Any, *keys: Any) -> Any:
        for key in keys:
            if isinstance(value, dict):
                value = value.get(key)
            elif isinstance(key, int) and 0 <= key < len(value):
                value = value[key]
            else:
                raise IndexError(f"index out of range: {key}")
        return value

    def f_print(self, *args: Any) -> str:
        out = ""
        for i, arg in enumerate(args):
            if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
                out += " "
            out += go_print(arg)
        return out

    def f_println(self, *args: Any) -> str:
        return " ".join(go_print(a) for a in args) + "\n"

    def f_printf(self, form: str, *args: Any) -> str:
        return go_sprintf(form, args)

    def f_eq(self, first: Any, *others: Any) -> bool:
        return any(_comparable(first) == _comparable(o) for o in others)

    def f_ne(self, a: Any, b: Any) -> bool:
        return _comparable(a) != _comparable(b)

    def f_lt(self, a: Any, b: Any) -> bool:
        return _comparable(a) < _comparable(b)

    def f_le(self, a: Any, b: Any) -> bool:
        return _comparable(a) <= _comparable(b)

    def f_gt(self, a: Any, b: Any) -> bool:
        return _comparable(a) > _comparable(b)

    def f_ge(self, a: Any, b: Any) -> bool:
        return _comparable(a) >= _comparable(b)


def _comparable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        raise ValueError("incompatible types for comparison")
    return value


def truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings, lists and maps are false."""
    if isinstance(value, GoStruct):
        return True
    return bool(value)


def go_type(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}"}.get(
        type(value), "map[string]interface {}"
    )


def go_print(value: Any) -> str:
    """A value as Go's fmt prints it with %v (how an action shows its result)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, GoStruct):
        return "&{" + " ".join(go_print(v) for v in value.values()) + "}"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_print(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    return str(value)


def go_json(value: Any, indent: int | None = None) -> str:
    """encoding/json's output: compact (or indented), HTML characters escaped."""
    text = json.dumps(
        value, indent=indent, separators=(",", ": ") if indent else (",", ":"), ensure_ascii=False
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([vsdqftxXbeEgGc%])")


def go_sprintf(form: str, args: tuple) -> str:
    """fmt.Sprintf for the verbs templates use (%v %s %d %q %f %t %x and widths)."""
    values = list(args)

    def verb(match: re.Match[str]) -> str:
        flags, width, precision, kind = match.groups()
        if kind == "%":
            return "%"
        if not values:
            return f"%!{kind}(MISSING)"
        value = values.pop(0)
        if kind in ("v", "s", "t"):
            text = go_print(value)
        elif kind == "q":
            text = json.dumps(go_print(value))
        elif kind in "dxXbc" and isinstance(value, int):
            text = format(value, {"d": "d", "x": "x", "X": "X", "b": "b", "c": "c"}[kind])
        elif kind in "feEgG" and isinstance(value, (int, float)):
            text = format(value, f".{precision or 6}{kind}")
        else:
            text = f"%!{kind}({go_type(value)}={go_print(value)})"
        if width and int(width) > MAX_OUTPUT:
            raise ValueError(f"width {width} is over {MAX_OUTPUT}")
        if width:
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width))
        return text

    out = _VERB.sub(verb, form)
    if values:
        out += "%!(EXTRA " + ", ".join(f"{go_type(v)}={go_print(v)}" for v in values) + ")"
    return out


def render(text: str, sources: Sources, name: str = "", left: str = "", right: str = "") -> str:
    """Parse and execute a template in one call."""
    return Template(text, name, left or "{{", right or "}}").render(sources)


def parse_env(text: str) -> dict[str, str]:
    """An ``env = true`` template's output as variables: ``KEY=value`` lines, ``#`` comments
    and blank lines skipped, quotes around a value removed (Nomad reads it as a dotenv)."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise TemplateError(f"error parsing env template line {number}: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env
