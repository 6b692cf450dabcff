"""Jobspec files from the learner's side: finding one by the name a notebook or the tour
gives, and writing ``-var`` values as an HCL variables file."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

from nomadlab.errors import NomadLabError, say

KIT_ROOT = Path(__file__).resolve().parent.parent


def find_jobspec(path: str | os.PathLike[str]) -> Path:
    """Find a jobspec as given, else relative to a parent of the cwd or the kit's checkout.

    Notebooks run in ``notebooks/`` and the tour from anywhere, yet both say ``jobs/...``.
    """
    given = Path(path).expanduser()
    candidates = [given]
    if not given.is_absolute():
        candidates += [parent / given for parent in Path.cwd().parents[:3]]
        candidates.append(KIT_ROOT / given)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    folder = next((c.parent for c in candidates if c.parent.is_dir()), KIT_ROOT / "jobs")
    jobs = sorted(p.name for p in folder.glob("*") if p.suffix in (".nomad", ".hcl"))
    there = f"The jobs in {folder}: {', '.join(jobs)}." if jobs else f"{folder} holds no jobspec."
    near = difflib.get_close_matches(given.name, jobs, n=1)
    example = str(given.parent / (near or jobs or ["http-echo.nomad.hcl"])[0])
    raise NomadLabError(
        f"No jobspec at {str(given)!r}. {there} "
        + say(f"Did you mean lab.run({example!r})?", f"Did you mean nomadlab job run {example}?")
    )


def hcl_value(value: Any) -> str:
    """A Python value as an HCL literal for a variables file (what ``-var`` sends)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k))} = {hcl_value(v)}" for k, v in value.items())
            + " }"
        )
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")


def declares_variable(hcl: str, name: str) -> bool:
    """True when the jobspec has a ``variable "name"`` block."""
    return re.search(rf'^\s*variable\s+"{re.escape(name)}"\s*\{{', hcl, re.MULTILINE) is not None
