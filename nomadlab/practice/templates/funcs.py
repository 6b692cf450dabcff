"""The functions a template may call (consul-template's ``template/funcs.go`` with Go's
text/template builtins): Nomad's service discovery, ``env``, JSON and string helpers, and
the comparisons and printing Go gives every template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from nomadlab.practice.templates.exec import MAX_OUTPUT, GoStruct, go_print, go_type, truthy


class Sources(Protocol):
    """Where a template's data comes from (the client's view of the cluster)."""

    def service(self, name: str, namespace: str, choose: str) -> list[dict]: ...

    def services(self, namespace: str) -> list[dict]: ...

    def env(self, name: str) -> str: ...


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


def function_map(sources: Sources) -> dict[str, Callable[..., Any]]:
    """Each function a template may call, by name, bound to ``sources`` (Go's FuncMap)."""
    functions = _Functions(sources)
    return {name: getattr(functions, f"f_{name}") for name in FUNCTIONS}


class _Functions:
    """The functions a template may call, bound to its data sources."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

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
