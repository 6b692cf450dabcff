"""Go's text/template executor (``text/template/exec.go``): runs a parsed template's nodes
over its data, with Go's truth, field access and printing of values, within a budget of
steps and output so that no template can hold the agent's event loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nomadlab.practice.templates.parse import Branch, Command, Operand, Pipeline, TemplateError

_MISSING = object()
MAX_STEPS = 1_000_000
MAX_OUTPUT = 1 << 20


class GoStruct(dict):
    """A Go struct value: fields in declaration order, an error for a missing field."""

    type_name = "struct"


def execute(name: str, nodes: list, data: Any, funcs: Mapping[str, Callable[..., Any]]) -> str:
    """Run ``nodes`` with ``data`` as dot, calling ``funcs`` by name; TemplateError on
    failure, or when they would run longer or write more than :data:`MAX_STEPS` and
    :data:`MAX_OUTPUT` allow (the client renders on the agent's event loop)."""
    state = _State(name, funcs)
    state.run(nodes, data, [{"$": data}])
    return "".join(state.out.parts)


class _Output:
    """A render's output and its budget of steps and characters."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.parts: list[str] = []
        self.size = 0
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"template: {self.name}: more than {MAX_STEPS} steps")

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise TemplateError(f"template: {self.name}: output over {MAX_OUTPUT} bytes")
        self.parts.append(text)


class _State:
    """One execution of a template (Go's exec ``state``): its functions and its output;
    variables live in ``scopes``, one per ``if``/``with``/``range`` entered."""

    def __init__(self, name: str, funcs: Mapping[str, Callable[..., Any]]) -> None:
        self.name = name
        self.funcs = funcs
        self.out = _Output(name)

    def _error(self, line: int, message: str) -> TemplateError:
        return TemplateError.at(self.name, line, message)

    def run(self, nodes: list, dot: Any, scopes: list) -> None:
        for node in nodes:
            self.out.step()
            if isinstance(node, str):
                self.out.write(node)
            elif isinstance(node, Pipeline):
                value = self._pipe(node, dot, scopes)
                if not node.declare:
                    self.out.write(go_print(value))
            else:
                self._branch(node, dot, scopes)

    def _branch(self, node: Branch, dot: Any, scopes: list) -> None:
        scopes.append({})
        try:
            value = self._pipe(node.pipeline, dot, scopes, declare=node.kind != "range")
            if node.kind == "if":
                self.run(node.body if truthy(value) else node.otherwise, dot, scopes)
            elif node.kind == "with":
                if truthy(value):
                    self.run(node.body, value, scopes)
                else:
                    self.run(node.otherwise, dot, scopes)
            else:
                self._range(node, value, dot, scopes)
        finally:
            scopes.pop()

    def _range(self, node: Branch, value: Any, dot: Any, scopes: list) -> None:
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
            self.run(node.otherwise, dot, scopes)
            return
        names = node.pipeline.declare
        for key, element in pairs:
            self.out.step()
            scope = scopes[-1]
            if len(names) == 1:
                scope[names[0]] = element
            elif len(names) == 2:
                scope[names[0]], scope[names[1]] = key, element
            self.run(node.body, element, scopes)

    def _pipe(self, pipe: Pipeline, dot: Any, scopes: list, declare: bool = True) -> Any:
        value: Any = _MISSING
        for command in pipe.commands:
            value = self._command(command, dot, scopes, value, pipe.line)
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

    def _command(self, command: Command, dot: Any, scopes: list, piped: Any, line: int) -> Any:
        first, *rest = command.operands
        if first.kind == "function":
            args = [self._operand_value(o, dot, scopes, line) for o in rest]
            if piped is not _MISSING:
                args.append(piped)
            return self._call(first.value, args, line)
        if rest or piped is not _MISSING:
            raise self._error(line, f"can't give argument to non-function {go_print(first.value)}")
        return self._operand_value(first, dot, scopes, line)

    def _call(self, name: str, args: list, line: int) -> Any:
        """Call a function, its failure worded as Go's evalCall words it."""
        function = self.funcs[name]
        try:
            return function(*args)
        except TemplateError:
            raise
        except TypeError as exc:
            raise self._error(line, f"error calling {name}: wrong number of args") from exc
        except (ValueError, KeyError, IndexError) as exc:
            raise self._error(line, f"error calling {name}: {exc}") from exc

    def _operand_value(self, operand: Operand, dot: Any, scopes: list, line: int) -> Any:
        if operand.kind == "literal":
            return operand.value
        if operand.kind == "function":
            return self._call(operand.value, [], line)
        if operand.kind == "variable":
            for scope in reversed(scopes):
                if operand.value in scope:
                    base = scope[operand.value]
                    break
            else:
                raise self._error(line, f"undefined variable: {operand.value}")
        elif operand.kind == "pipeline":
            base = self._pipe(operand.value, dot, scopes)
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


def truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings, lists and maps are false."""
    if isinstance(value, GoStruct):
        return True
    return bool(value)


def go_type(value: Any) -> str:
    """The Go type a value has when decoded from JSON, as Go's errors name it."""
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
