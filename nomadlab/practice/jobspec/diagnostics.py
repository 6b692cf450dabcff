"""HCL's diagnostics as Nomad prints them: ``input.hcl:<line>,<col>-<col>: <Summary>; <Detail>``.

python-hcl2 reports lark's parser errors ("Unexpected token ... at line 50"); for the mistakes
learners make, this module finds what HCL itself would say and where: an unclosed block, a
string left open, a missing ``=``, and (for the schema's errors) the line of an unknown or
misspelled argument or block, or of a value of the wrong type. Ranges print as HCL's
``Range.String`` does, end column exclusive.
"""

from __future__ import annotations

import re

FILENAME = "input.hcl"  # the name /v1/jobs/parse gives the HCL it parses

UNCLOSED = (
    "Unclosed configuration block; There is no closing brace for this block before the end of "
    "the file. This may be caused by incorrect brace nesting elsewhere in this file."
)
MULTILINE_STRING = (
    "Invalid multi-line string; Quoted strings may not be split over multiple lines. To produce "
    "a multi-line string, either use the \\n escape to represent a newline character or use the "
    '"heredoc" multi-line template syntax.'
)
UNTERMINATED = "Unterminated template string; No closing marker was found for the string."
BLOCK_DEFINITION = (
    'Invalid block definition; A block definition must have block content delimited by "{" and '
    '"}", starting on the same line as the block header.'
)
ARGUMENT_REQUIRED = (
    "Argument or block definition required; An argument or block definition is required here. "
    'To set an argument, use the equals sign "=" to introduce the argument value.'
)
MISSING_SEPARATOR = (
    'Missing key/value separator; Expected an equals sign ("=") to mark the beginning of the '
    "attribute value."
)
INVALID_EXPRESSION = (
    "Invalid expression; Expected the start of an expression, but found an invalid expression "
    "token."
)


def span(line: int, start: int, end: int, end_line: int | None = None) -> str:
    """HCL's Range.String: ``file:line,col-col`` or, across lines, ``file:l,c-l,c``."""
    if end_line is None or end_line == line:
        return f"{FILENAME}:{line},{start}-{end}"
    return f"{FILENAME}:{line},{start}-{end_line},{end}"


def syntax_error(text: str, line: int | None, column: int | None, token: str) -> str:
    """What HCL says about ``text`` where lark stopped at ``line``:``column`` on ``token``."""
    lines = text.splitlines()
    opened = _scan(text)
    at_end = token in ("", "$END") or line is None
    # HCL's first diagnostic is the earliest in the file: an open string before where lark
    # stopped, an unclosed block when lark ran out of file, else what lark tripped on.
    if opened.string is not None and (at_end or opened.string[0] <= line):
        at_line, at_col = opened.string
        if at_line < len(lines):
            end = len(lines[at_line - 1]) + 1
            return f"{span(at_line, end, 1, at_line + 1)}: {MULTILINE_STRING}"
        return f"{span(at_line, at_col, at_col + 1)}: {UNTERMINATED}"
    if opened.braces and at_end:
        at_line, at_col = opened.braces[-1]
        return f"{span(at_line, at_col, at_col + 1)}: {UNCLOSED}"
    if line is None or column is None or not 0 < line <= len(lines):
        return ""
    before = lines[line - 1][: column - 1]
    header = line if _header_without_brace(before) else 0
    previous = 0
    if not before.strip():  # lark stopped on the next line: was the last one a block header?
        previous = next((n for n in range(line - 1, 0, -1) if lines[n - 1].strip()), 0)
        header = previous if previous and _header_without_brace(lines[previous - 1]) else 0
    if header:
        end = len(lines[header - 1]) + 1
        return f"{span(header, end, 1, header + 1)}: {BLOCK_DEFINITION}"
    if not before.strip() and previous and lines[previous - 1].rstrip().endswith("="):
        end = len(lines[previous - 1]) + 1  # `key =` and nothing after it on the line
        return f"{span(previous, end, 1, previous + 1)}: {INVALID_EXPRESSION}"
    if re.search(r"[{,]\s*[A-Za-z_][\w-]*\s+$", before):  # `{ key "value" }` in a map
        return f"{_token_span(line, column, token)}: {MISSING_SEPARATOR}"
    if re.fullmatch(r"\s*[A-Za-z_][\w-]*\s+", before):
        return f"{_token_span(line, column, token)}: {ARGUMENT_REQUIRED}"
    return f"{_token_span(line, column, token)}: {INVALID_EXPRESSION}"


def _token_span(line: int, column: int, token: str) -> str:
    """A token's range; a newline token ends at the start of the next line, as in HCL."""
    if token.startswith(("\n", "\r")):
        return span(line, column, 1, line + 1)
    return span(line, column, column + max(1, len(token)))


def _header_without_brace(line: str) -> bool:
    """``name "label"`` with no ``{``: an argument missing its ``=`` reads as a block header."""
    return bool(re.fullmatch(r'\s*[A-Za-z_][\w-]*(\s+("[^"]*"|[A-Za-z_][\w-]*))+\s*', line))


class _Open:
    """What is still open at the end of a scan: braces (line, col) and a string's start."""

    def __init__(self) -> None:
        self.braces: list[tuple[int, int]] = []
        self.string: tuple[int, int] | None = None


def _scan(text: str) -> _Open:
    """Follow braces, strings, comments and heredocs through ``text`` as HCL's scanner does."""
    opened = _Open()
    line, col, i, n = 1, 1, 0, len(text)
    heredoc: str | None = None
    while i < n:
        char = text[i]
        if heredoc is not None:  # inside a heredoc: only its closing marker line ends it
            end = text.find("\n", i)
            end = n if end == -1 else end
            if text[i:end].strip() == heredoc:
                heredoc = None
            i, line, col = end + 1, line + 1, 1
            continue
        if opened.string is not None:
            if char == "\\":
                i, col = i + 2, col + 2
                continue
            if char == '"':
                opened.string = None
            elif char == "\n":
                return opened  # HCL stops at a newline inside a quoted string
            i, col = i + 1, col + 1
            continue
        if char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i, col = (n, col) if end == -1 else (end, col + end - i)
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            chunk = text[i : n if end == -1 else end + 2]
            line += chunk.count("\n")
            col = len(chunk) - chunk.rfind("\n") if "\n" in chunk else col + len(chunk)
            i += len(chunk)
            continue
        marker = re.match(r"<<-?([A-Za-z_][\w-]*)\n", text[i:])
        if marker:
            heredoc = marker.group(1)
            i, line, col = i + marker.end(), line + 1, 1
            continue
        if char == '"':
            opened.string = (line, col)
        elif char == "{":
            opened.braces.append((line, col))
        elif char == "}" and opened.braces:
            opened.braces.pop()
        if char == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return opened


def locate(text: str, where: str, key: str, value: bool = False) -> str | None:
    """The range of argument or block ``key`` (or of its value) inside the blocks ``where``
    names (``job "x" > group "y" > task "z"``), found in ``text``; None when not found."""
    lines = text.splitlines()
    start = 0
    for part in where.split(" > "):
        match = re.fullmatch(r'([A-Za-z_][\w-]*)(?: "([^"]*)")?', part)
        if not match:
            return None
        kind, label = match.groups()
        label_re = rf'\s+"{re.escape(label)}"' if label else ""
        pattern = re.compile(rf"\s*{re.escape(kind)}{label_re}\s*\{{")
        start = next((i for i in range(start, len(lines)) if pattern.match(lines[i])), -1)
        if start < 0:
            return None
        start += 1
    pattern = re.compile(rf'(\s*)({re.escape(key)})\s*(=\s*(.*?)\s*(?:#.*|//.*)?$|\{{|")')
    for number in range(start, len(lines)):
        found = pattern.match(lines[number])
        if not found:
            continue
        if value and found.group(4):
            begin = found.start(4) + 1
            return span(number + 1, begin, begin + len(found.group(4)))
        begin = found.start(2) + 1
        return span(number + 1, begin, begin + len(key))
    return None


def suggestion(name: str, candidates: list[str]) -> str:
    """HCL's nameSuggestion: the first candidate within edit distance 3, as ``Did you mean``."""
    for candidate in candidates:
        if _distance(name, candidate) < 3:
            return f' Did you mean "{candidate}"?'
    return ""


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (the metric HCL's suggestions use)."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]
