"""Go's text/template parser (``text/template/parse``): the lexer, the parse tree's nodes
and the parser that builds them, with trim markers, comments and custom delimiters.

An action naming a function outside the ones it is given is a parse error naming it, as Go
reports an undefined function.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class TemplateError(Exception):
    """A template that does not parse or cannot be executed; the message says where."""

    @classmethod
    def at(cls, name: str, line: int, message: str) -> TemplateError:
        """The error as Go words it: ``template: NAME:LINE: MESSAGE``."""
        return cls(f"template: {name}:{line}: {message}")


# Lexing ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<field>(?:\.[A-Za-z_]\w*)+)
  | (?P<dot>\.)
  | (?P<variable>\$\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<ident>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<punct>[()|,])
    """,
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str
    value: str
    line: int


def _lex_action(text: str, line: int, name: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise TemplateError.at(name, line, f"unexpected {text[pos]!r} in command")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), line))
        pos = match.end()
    return tokens


# Parse tree --------------------------------------------------------------------------------


@dataclass
class Operand:
    """One argument: a literal, ``.``/``.Field``, ``$var.Field``, a function name, or a
    parenthesised pipeline with optional fields after it."""

    kind: str  # literal, field, variable, function, pipeline
    value: Any
    fields: list[str] = field(default_factory=list)


@dataclass
class Command:
    operands: list[Operand]


@dataclass
class Pipeline:
    commands: list[Command]
    declare: list[str] = field(default_factory=list)
    assign: bool = False  # "$x = ..." rather than "$x := ..."
    line: int = 0


@dataclass
class Branch:
    """``if``, ``with`` or ``range`` with its body and ``else`` body."""

    kind: str
    pipeline: Pipeline
    body: list
    otherwise: list


class Parser:
    """One template's text parsed into nodes (Go's ``parse.Tree``): its name for errors, its
    delimiters, and the names of the functions its actions may call."""

    def __init__(self, name: str, left: str, right: str, functions: frozenset[str]) -> None:
        self.name = name
        self.left = left
        self.right = right
        self.functions = functions

    def _error(self, line: int, message: str) -> TemplateError:
        return TemplateError.at(self.name, line, message)

    def _items(self, text: str) -> list[tuple[str, str, int]]:
        """Split into ("text", s, line) and ("action", s, line), applying trim markers."""
        items: list[tuple[str, str, int]] = []
        pos, line = 0, 1
        while True:
            start = text.find(self.left, pos)
            if start < 0:
                items.append(("text", text[pos:], line))
                return items
            chunk = text[pos:start]
            inner_start = start + len(self.left)
            trim_left = text.startswith("- ", inner_start) or text.startswith("-\n", inner_start)
            if trim_left:
                chunk = chunk.rstrip()
                inner_start += 1
            items.append(("text", chunk, line))
            line += text.count("\n", pos, start)
            end = self._action_end(text, inner_start)
            if end < 0:
                raise self._error(line, "unclosed action")
            inner = text[inner_start:end]
            trim_right = inner.endswith(" -") or inner.endswith("\n-")
            if trim_right:
                inner = inner[:-1]
            stripped = inner.strip()
            if stripped.startswith("/*"):
                if not stripped.endswith("*/"):
                    raise self._error(line, "unclosed comment")
            else:
                items.append(("action", inner, line))
            line += text.count("\n", start, end)
            pos = end + len(self.right)
            if trim_right:
                while pos < len(text) and text[pos] in " \t\r\n":
                    line += text[pos] == "\n"
                    pos += 1

    def _action_end(self, text: str, start: int) -> int:
        """Where the action starting at ``start`` closes: the right delimiter outside any
        quoted or raw string and comment, as Go's lexer finds it; -1 if it never does."""
        if text[start:].lstrip(" -").startswith("/*"):
            close = text.find("*/", start)
            return -1 if close < 0 else text.find(self.right, close)
        quote = ""
        index = start
        while index < len(text):
            char = text[index]
            if quote:
                if char == "\\" and quote == '"':
                    index += 1
                elif char == quote:
                    quote = ""
            elif char in '"`':
                quote = char
            elif text.startswith(self.right, index):
                return index
            index += 1
        return -1

    def parse(self, text: str) -> list:
        """The template's nodes: text strings, :class:`Pipeline` actions and :class:`Branch`."""
        return self._parse_list(self._items(text), 0, top=True)[0]

    def _parse_list(self, items: list, index: int, top: bool = False) -> tuple[list, int, str]:
        """Nodes until an ``end``/``else`` at this level; returns (nodes, next index, stop)."""
        nodes: list = []
        while index < len(items):
            kind, value, line = items[index]
            index += 1
            if kind == "text":
                if value:
                    nodes.append(value)
                continue
            tokens = _lex_action(value, line, self.name)
            if not tokens:
                raise self._error(line, "missing value for command")
            keyword = tokens[0].value if tokens[0].kind == "ident" else ""
            if keyword in ("end", "else"):
                if top:
                    raise self._error(line, f"unexpected {{{{{keyword}}}}}")
                return nodes, index - 1, keyword
            if keyword in ("if", "with", "range"):
                pipeline = self._pipeline(tokens[1:], line, keyword)
                body, index, stop = self._parse_list(items, index)
                otherwise: list = []
                if stop == "else":
                    otherwise, index = self._parse_else(items, index, keyword)
                elif stop != "end":
                    raise self._error(line, f"unexpected EOF in {keyword}")
                else:
                    index += 1
                nodes.append(Branch(keyword, pipeline, body, otherwise))
                continue
            if keyword in ("define", "template", "block", "break", "continue"):
                raise self._error(line, f"{{{{{keyword}}}}} is not supported by the practice agent")
            nodes.append(self._pipeline(tokens, line, ""))
        if not top:
            raise self._error(items[-1][2] if items else 1, "unexpected EOF")
        return nodes, index, ""

    def _parse_else(self, items: list, index: int, keyword: str) -> tuple[list, int]:
        """After ``{{else}}`` (or ``{{else if ...}}``): the else body and the index past end."""
        _, value, line = items[index]
        tokens = _lex_action(value, line, self.name)[1:]
        if tokens and tokens[0].kind == "ident" and tokens[0].value in ("if", "with"):
            chained = tokens[0].value
            pipeline = self._pipeline(tokens[1:], line, chained)
            body, index, stop = self._parse_list(items, index + 1)
            otherwise: list = []
            if stop == "else":
                otherwise, index = self._parse_else(items, index, chained)
            elif stop == "end":
                index += 1
            else:
                raise self._error(line, f"unexpected EOF in {chained}")
            return [Branch(chained, pipeline, body, otherwise)], index
        if tokens:
            raise self._error(line, f"unexpected {tokens[0].value!r} after else")
        body, index, stop = self._parse_list(items, index + 1)
        if stop != "end":
            raise self._error(line, f"expected end; found {stop or 'EOF'} in {keyword}")
        return body, index + 1

    def _pipeline(self, tokens: list[Token], line: int, context: str) -> Pipeline:
        if not tokens:
            raise self._error(line, f"missing value for {context or 'command'}")
        declare: list[str] = []
        assign = False
        kinds = [t.kind for t in tokens]
        for count in (2, 1):
            width = 2 * count
            if len(tokens) > width and kinds[width - 1] in ("declare", "assign"):
                names = tokens[: width - 1]
                if all(t.kind == "variable" for t in names[::2]) and all(
                    t.value == "," for t in names[1::2]
                ):
                    declare = [t.value for t in names[::2]]
                    assign = kinds[width - 1] == "assign"
                    tokens = tokens[width:]
                    break
        if len(declare) == 2 and context != "range":
            raise self._error(line, "too many declarations in command")
        commands, rest = self._commands(tokens, line)
        if rest:
            raise self._error(line, f"unexpected {rest[0].value!r} in command")
        return Pipeline(commands, declare, assign, line)

    def _commands(self, tokens: list[Token], line: int) -> tuple[list[Command], list[Token]]:
        commands: list[Command] = []
        operands: list[Operand] = []
        while tokens:
            token = tokens[0]
            if token.value == ")":
                break
            tokens = tokens[1:]
            if token.value == "|":
                if not operands:
                    raise self._error(line, "missing command before |")
                commands.append(Command(operands))
                operands = []
                continue
            if token.value == "(":
                inner, tokens = self._commands(tokens, line)
                if not tokens or tokens[0].value != ")":
                    raise self._error(line, "unclosed left paren")
                tokens = tokens[1:]
                fields: list[str] = []
                if tokens and tokens[0].kind == "field":
                    fields = tokens[0].value.split(".")[1:]
                    tokens = tokens[1:]
                operands.append(Operand("pipeline", Pipeline(inner, line=line), fields))
                continue
            operands.append(self._operand(token, line, first=not operands))
        if operands:
            commands.append(Command(operands))
        if not commands:
            raise self._error(line, "missing value for command")
        return commands, tokens

    def _operand(self, token: Token, line: int, first: bool) -> Operand:
        kind, value = token.kind, token.value
        if kind == "string":
            return Operand("literal", json.loads(value))
        if kind == "raw":
            return Operand("literal", value[1:-1])
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") and "x" not in value else None
            return Operand("literal", number if number is not None else int(value, 0))
        if kind == "dot":
            return Operand("field", None, [])
        if kind == "field":
            return Operand("field", None, value.split(".")[1:])
        if kind == "variable":
            name, *fields = value.split(".")
            return Operand("variable", name, fields)
        if kind == "ident":
            if value in ("true", "false"):
                return Operand("literal", value == "true")
            if value == "nil":
                return Operand("literal", None)
            if "." in value or value not in self.functions:
                raise self._error(line, f'function "{value}" not defined')
            return Operand("function", value)
        raise self._error(line, f"unexpected {value!r} in operand")
