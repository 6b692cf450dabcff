"""The ``?filter=`` expressions of Nomad's list endpoints (the go-bexpr language).

Supported: selectors (``Tags``, ``Address``, ``Meta.version``, ``Meta["a b"]``) compared
with ``==``, ``!=``, ``in``, ``not in``, ``contains``, ``not contains``, ``matches``,
``not matches``, ``is empty``, ``is not empty``, combined with ``and``, ``or``, ``not`` and
parentheses. Anything else is a ``FilterError`` that the HTTP layer answers with a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: few filters use "matches"
    import regex

Predicate = Callable[[dict], bool]
REGEX_SECONDS = 0.05  # Go's RE2 is linear; a backtracking match gets a deadline instead

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
      | (?P<op>==|!=|\(|\)|\[|\]|\.)
      | (?P<word>[^\s()\[\]."`=!]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "is", "empty"}


class FilterError(ValueError):
    """A filter that does not parse, or names a field the objects do not have."""


def compile_filter(expression: str) -> Predicate:
    """Parse ``expression`` into a predicate over wire objects (dicts with Go field names)."""
    tokens = _tokenize(expression)
    parser = _Parser(tokens)
    predicate = parser.parse_or()
    if parser.pos != len(tokens):
        raise FilterError(f"unexpected {tokens[parser.pos][1]!r} at position {parser.pos + 1}")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"invalid character {text[pos:].strip()[0]!r} at offset {pos}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = value[1:-1] if value[0] == "`" else _unquote(value)
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), quoted[1:-1])


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            found = "end of expression" if token[0] == "end" else repr(token[1])
            raise FilterError(f"expected {value or 'more'!r}, found {found}")
        self.pos += 1
        return token

    def parse_or(self) -> Predicate:
        return self._chain("or", self.parse_and, any)

    def parse_and(self) -> Predicate:
        return self._chain("and", self.parse_not, all)

    def _chain(
        self, word: str, operand: Callable[[], Predicate], combine: Callable[..., bool]
    ) -> Predicate:
        """Operands joined by ``and``/``or``, evaluated left to right, short-circuiting."""
        parts = [operand()]
        while self.peek() == ("word", word):
            self.take()
            parts.append(operand())
        if len(parts) == 1:
            return parts[0]
        return lambda obj: combine(part(obj) for part in parts)

    def parse_not(self) -> Predicate:
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.parse_not()
            return lambda obj: not inner(obj)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.parse_or()
            self.take(")")
            return inner
        return self.parse_match()

    def parse_match(self) -> Predicate:
        if self.peek()[0] == "string" or (
            self.peek()[0] == "word"
            and (self.peek(1)[1] == "in" or (self.peek(1)[1], self.peek(2)[1]) == ("not", "in"))
        ):
            value = self.take()[1]
            negate = self.peek() == ("word", "not")
            if negate:
                self.take()
            self.take("in")
            selector = self.parse_selector()
            return _negated(negate, lambda obj: _contains(select(obj, selector), value))
        selector = self.parse_selector()
        op = self.take()[1]
        if op == "is":
            negate = self.peek() == ("word", "not")
            if negate:
                self.take()
            self.take("empty")
            return _negated(negate, lambda obj: not select(obj, selector))
        negate = op == "not"
        if negate:
            op = self.take()[1]
        if op in ("==", "!=") and not negate:
            value = self.value()
            equal = op == "=="
            return lambda obj: _equal(select(obj, selector), value) == equal
        if op == "contains":
            value = self.value()
            return _negated(negate, lambda obj: _contains(select(obj, selector), value))
        if op == "matches":
            pattern = self.value()
            compiled = compile_regex(pattern)
            return _negated(negate, lambda obj: search(compiled, _scalar(select(obj, selector))))
        raise FilterError(f"unsupported operator {op!r}")

    def parse_selector(self) -> list[str]:
        kind, name = self.take()
        if kind != "word" or name in _KEYWORDS:
            raise FilterError(f"expected a selector, found {name!r}")
        parts = [name]
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                parts.append(self.take()[1])
            else:
                parts.append(self.take()[1])
                self.take("]")
        return parts

    def value(self) -> str:
        kind, value = self.take()
        if kind == "op":
            raise FilterError(f"expected a value, found {value!r}")
        return value


def compile_regex(pattern: str) -> regex.Pattern:
    """A user's regular expression; FilterError when it does not compile."""
    import regex

    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise FilterError(f"invalid regular expression {pattern!r}: {exc}") from exc


def search(compiled: regex.Pattern, text: str) -> bool:
    """Whether ``compiled`` matches in ``text``, within a deadline so that no pattern can
    hold the agent's event loop; FilterError when it runs out."""
    try:
        return compiled.search(text, timeout=REGEX_SECONDS) is not None
    except TimeoutError as exc:
        raise FilterError(f"regular expression {compiled.pattern!r} took too long") from exc


def select(obj: Any, selector: list[str]) -> Any:
    """The value a selector names; a missing field is an error, as go-bexpr reports it."""
    value = obj
    for index, part in enumerate(selector):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, dict) and index > 0:
            return None  # a map without that key, like Meta.missing: go-bexpr yields no value
        else:
            raise FilterError(
                f"error finding value in datum: /{'/'.join(selector)} at part {index}: "
                f'couldn\'t find key: struct field with name "{part}"'
            )
    return value


def _negated(negate: bool, predicate: Predicate) -> Predicate:
    return (lambda obj: not predicate(obj)) if negate else predicate


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _equal(field: Any, value: str) -> bool:
    if isinstance(field, (list, dict)):
        raise FilterError("cannot compare a list or map with ==; use 'in' or 'contains'")
    return _scalar(field) == value


def _contains(field: Any, value: str) -> bool:
    if isinstance(field, str):
        return value in field
    if isinstance(field, (list, dict)):
        return value in [_scalar(item) for item in field]
    return False
