"""The order test files are dealt out in: unrecorded files first, then the longest."""

from __future__ import annotations

from file_order import dealing_order

RECORDED = {"short.py": 2.0, "long.py": 90.0, "middling.py": 20.0}


def test_unrecorded_files_go_first_then_the_longest() -> None:
    order = dealing_order(RECORDED, ["short.py", "new.py", "middling.py", "long.py"])
    assert order == ["new.py", "long.py", "middling.py", "short.py"]


def test_every_path_is_dealt_out_once() -> None:
    paths = [*RECORDED, "new.py"]
    assert sorted(dealing_order(RECORDED, paths)) == sorted(paths)
