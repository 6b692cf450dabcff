"""The template language of Nomad's ``template`` block: Go's text/template with the
consul-template functions jobs use for service discovery.

A real parser (actions, pipelines, ``if``/``else``/``with``/``range``/``end``, variables,
trim markers, comments), evaluated over a :class:`Sources` that answers ``nomadService``,
``nomadServices`` and ``env``. Functions outside the supported set are a parse error
naming them, as Go reports an undefined function: never a silent empty result.

Split as its upstreams are: :mod:`.parse` (Go's ``text/template/parse``), :mod:`.exec`
(its ``exec.go``) and :mod:`.funcs` (consul-template's ``funcs.go``); :class:`Template`
joins them, as consul-template's ``template.go`` does.
"""

from __future__ import annotations

from typing import Any

from nomadlab.practice.templates.exec import execute
from nomadlab.practice.templates.funcs import FUNCTIONS, Sources, function_map
from nomadlab.practice.templates.parse import Parser, TemplateError


class Template:
    """A parsed template; :meth:`render` executes it."""

    def __init__(self, text: str, name: str = "", left: str = "{{", right: str = "}}") -> None:
        self.name = name or "template"
        self.left = left or "{{"
        self.right = right or "}}"
        self.nodes = Parser(self.name, self.left, self.right, FUNCTIONS).parse(text)

    def render(self, sources: Sources, data: Any = None) -> str:
        """Execute the template with ``data`` as dot; TemplateError on failure, or when it
        would spend more than the budget of steps and output :func:`.exec.execute` allows."""
        return execute(self.name, self.nodes, data, function_map(sources))


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


__all__ = ["Sources", "Template", "TemplateError", "parse_env", "render"]
