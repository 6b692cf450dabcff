"""The order test files are dealt out in: unrecorded first, then longest and busiest by turns."""

from __future__ import annotations

from file_order import dealing_order

RECORDED = {
    "waits_long.py": {"wall": 90.0, "cpu": 9.0},
    "waits.py": {"wall": 60.0, "cpu": 6.0},
    "busy.py": {"wall": 30.0, "cpu": 27.0},
    "busy_but_brief.py": {"wall": 2.0, "cpu": 2.0},
    "middling.py": {"wall": 20.0, "cpu": 10.0},
}


def test_unrecorded_files_go_first_then_the_longest_and_the_busiest_by_turns() -> None:
    order = dealing_order(RECORDED, ["busy_but_brief.py", "new.py", *RECORDED])
    assert order == [
        "new.py",
        "waits_long.py",  # the longest
        "busy.py",  # the busiest that lasts: a brief file cannot keep a core busy
        "waits.py",
        "middling.py",
        "busy_but_brief.py",
    ]


def test_every_path_is_dealt_out_once() -> None:
    paths = [*RECORDED, "new.py"]
    assert sorted(dealing_order(RECORDED, paths)) == sorted(paths)
