"""The locks pin what pyproject.toml asks for: a dependency added without `make lock` fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: Path) -> dict[str, list[Version]]:
    """Every ``name==version`` of a lock (a universal lock may pin one per Python version)."""
    found: dict[str, list[Version]] = {}
    for line in lock.read_text().splitlines():
        if match := re.match(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line):
            found.setdefault(canonicalize_name(match[1]), []).append(Version(match[2]))
    return found


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements/lab.txt", PROJECT["dependencies"]),
        (
            "requirements/test.txt",
            PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"],
        ),
    ],
)
def test_the_lock_pins_every_dependency_within_its_bounds(
    lock: str, requirements: list[str]
) -> None:
    pinned = pins(ROOT / lock)
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} does not pin {name}: run `make lock` and commit it"
        for version in pinned[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {name}=={version}, outside {requirement}: run `make lock`"
            )


def test_pyproject_has_an_spdx_licence_and_the_hcl2_the_kit_needs() -> None:
    assert PROJECT["license"] == "MIT"
    hcl2 = next(Requirement(r) for r in PROJECT["dependencies"] if r.startswith("python-hcl2"))
    assert not hcl2.specifier.contains("8.0.9"), "hcl2.SerializationOptions appeared in 8.1"
    assert hcl2.specifier.contains("8.1.0")
