"""The versions-over-time chart: a rolling update and a revert, checked on the bars drawn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from nomadlab.plots import versions_over_time

NS = 1_000_000_000


def alloc(i: int, version: int, start: int, end: int | None, status: str = "running") -> dict:
    return {
        "ID": f"{i:08d}-0000",
        "Name": f"web.app[{i % 2}]",
        "JobID": "web",
        "JobVersion": version,
        "CreateIndex": i,
        "CreateTime": start * NS,
        "ModifyTime": (end or start) * NS,
        "DesiredStatus": "run" if end is None else "stop",
        "ClientStatus": status if end is None else "complete",
        "TaskStates": {},
    }


def bars(fig) -> list[Rectangle]:
    return [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]


def test_a_rolling_update_then_a_revert_in_version_colours() -> None:
    allocations = [
        alloc(1, 0, 0, 10),
        alloc(2, 0, 0, 20),
        alloc(3, 1, 10, 30),
        alloc(4, 1, 20, 30),
        alloc(5, 2, 30, None),
        alloc(6, 2, 31, None),
    ]
    fig = versions_over_time(allocations, now_ns=40 * NS)
    drawn = bars(fig)
    assert [(b.get_x(), b.get_width()) for b in drawn] == [
        (0, 10), (0, 20), (10, 20), (20, 10), (30, 10), (31, 9)
    ]  # fmt: skip
    colours = [to_hex(b.get_facecolor()) for b in drawn]
    assert colours[0] == colours[1] != colours[2] == colours[3] != colours[4] == colours[5]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["version 0", "version 1", "version 2"]
    assert fig.axes[0].get_title() == "Job versions of web over time"
    assert fig.alt == (
        "Job versions of web over time: 6 allocations; version 0: 2 complete; "
        "version 1: 2 complete; version 2: 2 running."
    )


def test_no_allocations_says_so() -> None:
    fig = versions_over_time([])
    assert "no allocations yet" in [t.get_text() for t in fig.axes[0].texts]
