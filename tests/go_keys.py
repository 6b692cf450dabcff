"""Write tests/go_keys.json: the JSON keys Nomad 1.9.7's Go types encode, read from its source.

    python tests/go_keys.py GIT_DIR [--ref v1.9.7]      (or NOMAD_GIT_DIR=... python ...)

GIT_DIR is a git directory holding Nomad's history (the source is not part of this project).
For every struct of the packages below, each exported field's JSON key (its ``json:"..."``
tag name, else the field name; ``json:"-"`` fields are left out; embedded structs without a
name tag lend their own keys, as encoding/json promotes them) and, where the field holds
structs, the type they are (``T``, ``slice:T``, ``map:T``), so a test can walk a response.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
from pathlib import Path

OUT = Path(__file__).with_name("go_keys.json")
# Our name for each package -> its directory in Nomad's tree.
PACKAGES = {
    "structs": "nomad/structs",
    "api": "api",
    "agent": "command/agent",
    "client": "client/structs",
    "config": "nomad/structs/config",
}
# The import names Nomad's files use for those packages.
ALIASES = {"structs": "structs", "api": "api", "cstructs": "client", "config": "config"}

_STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.S | re.M)


def go_files(git_dir: str, ref: str, directory: str) -> list[str]:
    """The package's non-test Go sources at ``ref``."""
    names = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "--name-only", f"{ref}:{directory}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    sources = []
    for name in names:
        if not name.endswith(".go") or name.endswith("_test.go") or "generated" in name:
            continue
        if name.endswith("_ent.go"):
            continue
        shown = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{ref}:{directory}/{name}"],
            capture_output=True,
            text=True,
        )
        if shown.returncode == 0:
            sources.append(shown.stdout)
    return sources


def json_name(tag: str | None, field: str) -> str | None:
    """The key encoding/json writes for a field with this struct tag (None: never written)."""
    match = re.search(r'json:"([^"]*)"', tag or "")
    if not match:
        return field
    name = match.group(1).split(",")[0]
    if name == "-":
        return None
    return name or field


def type_ref(go_type: str, package: str, known: set[str]) -> str | None:
    """``T``, ``slice:T`` or ``map:T`` for a field holding structs we know; else None."""
    kind = ""
    rest = go_type
    while True:
        if rest.startswith("*"):
            rest = rest[1:]
        elif rest.startswith("[]"):
            kind, rest = kind or "slice:", rest[2:]
        elif rest.startswith("map["):
            kind, rest = kind or "map:", rest[rest.index("]") + 1 :]
        else:
            break
    if "." in rest:
        alias, name = rest.split(".", 1)
        if alias not in ALIASES:
            return None
        full = f"{ALIASES[alias]}.{name}"
    else:
        full = f"{package}.{rest}"
    return kind + full if full in known else None


def parse_structs(sources: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Raw fields per ``pkg.Type``: (key, go type) or ("embed", type, tag) in Go order."""
    raw: dict[str, list[tuple]] = {}
    for package, texts in sources.items():
        for text in texts:
            for match in _STRUCT.finditer(text):
                raw[f"{package}.{match.group(1)}"] = [(package, line) for line in _lines(match[2])]
    return raw


def _lines(body: str) -> list[str]:
    """The struct's field lines, nested anonymous structs folded to ``struct{}``."""
    lines, depth = [], 0
    for line in body.splitlines():
        code = line.split("//")[0] if "`" not in line else line
        if depth:
            depth += code.count("{") - code.count("}")
            continue
        if "struct {" in code and "}" not in code.split("struct {", 1)[1]:
            depth = 1
            lines.append(code.replace("struct {", "struct{}"))
            continue
        if code.strip():
            lines.append(line)
    return lines


def resolve(raw: dict[str, list[tuple]]) -> dict[str, dict]:
    """Each struct's keys (embedded structs flattened) and those tagged ``omitempty``."""
    known = set(raw)
    done: dict[str, dict[str, str | None]] = {}
    omitted: dict[str, set[str]] = {}

    def keys_of(name: str, seen: tuple[str, ...] = ()) -> dict[str, str | None]:
        if name in done:
            return done[name]
        result: dict[str, str | None] = {}
        omit = omitted.setdefault(name, set())
        for package, line in raw[name]:
            tag_match = re.search(r"`([^`]*)`", line)
            tag = tag_match.group(1) if tag_match else None
            code = re.sub(r"`[^`]*`", "", line).split("//")[0].strip()
            parts = code.split()
            if len(parts) == 1:  # an embedded struct
                ref = type_ref(parts[0], package, known)
                key = json_name(tag, parts[0].lstrip("*").split(".")[-1])
                if tag and 'json:"' in tag and re.search(r'json:"[^",-]', tag):
                    result[key] = ref
                elif ref and key is not None and ref not in seen:
                    result.update(keys_of(ref, (*seen, name)))
                    omit |= omitted[ref]
                continue
            field = re.match(r"^([\w, ]+?)\s+(\S.*)$", code)
            if not field:
                continue
            names, go_type = field.groups()
            for field_name in (n.strip() for n in names.split(",")):
                if not field_name or not field_name[0].isupper():
                    continue
                key = json_name(tag, field_name)
                if key is not None:
                    result[key] = type_ref(go_type.replace(" ", ""), package, known)
                    if re.search(r'json:"[^"]*,omitempty', tag or ""):
                        omit.add(key)
        done[name] = result
        return result

    for name in sorted(raw):
        keys_of(name)
    return {name: {"keys": keys, "omitempty": sorted(omitted[name])} for name, keys in done.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("git_dir", nargs="?", default=os.environ.get("NOMAD_GIT_DIR"))
    parser.add_argument("--ref", default="v1.9.7")
    args = parser.parse_args()
    if not args.git_dir:
        parser.error("give Nomad's git directory (or set NOMAD_GIT_DIR)")
    sources = {pkg: go_files(args.git_dir, args.ref, d) for pkg, d in PACKAGES.items()}
    keys = resolve(parse_structs(sources))
    OUT.write_text(json.dumps({"ref": args.ref, "types": keys}, indent=1, sort_keys=True) + "\n")
    print(f"{len(keys)} types written to {OUT.name}")


if __name__ == "__main__":
    main()
