"""What a learner sees in the allocation charts, checked on the artists drawn."""

from __future__ import annotations

import base64
import html
import itertools
import re
from datetime import datetime, timezone
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from IPython.core.formatters import DisplayFormatter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from nomadlab.allocations import alloc_ports
from nomadlab.plots import (
    RESTART_MARKER,
    STATUS_COLORS,
    allocation_timeline,
    allocations_by_node,
    counts_over_time,
    parse_rfc3339_ns,
    timeline_spans,
)

NS = 1_000_000_000
T0 = 1_795_550_000 * NS  # 2026-11-24, when the job was first run
JOB = "http-microservice"
NODE_ID = "5e6f7a8b-0000-4000-8000-00000000d001"


def at(seconds: float) -> int:
    """Unix nanoseconds, ``seconds`` after T0."""
    return T0 + round(seconds * NS)


def rfc3339(ns: int) -> str:
    """``ns`` written as Nomad writes ``time.Time``, with nanoseconds."""
    whole = datetime.fromtimestamp(ns // NS, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ns % NS:09d}Z"


def allocation(
    index: int,
    created: float,
    events: list[tuple[str, float]] = (),
    *,
    status: str = "running",
    restarts: int = 0,
    healthy_at: float | None = None,
    healthy: bool = True,
    ports: list[int] = (),
    node: tuple[str, str] = (NODE_ID, "dev-node"),
    serial: int | None = None,
) -> dict[str, Any]:
    """An allocation of the tutorial's ``http-microservice`` job (group ``echo``, task
    ``server``), shaped as ``GET /v1/allocation/:id`` returns it; ``events`` are
    ``(Type, seconds after T0)``."""
    serial = index if serial is None else serial
    states = {
        "server": {
            "State": {"running": "running", "pending": "pending"}.get(status, "dead"),
            "Failed": status == "failed",
            "Restarts": restarts,
            "LastRestart": None,
            "StartedAt": None,
            "FinishedAt": None,
            "Events": [
                {"Type": kind, "Time": at(seconds), "Message": "", "DisplayMessage": ""}
                for kind, seconds in events
            ],
        }
    }
    return {
        "ID": f"{serial:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "EvalID": "9f8e7d6c-0000-4000-8000-000000000001",
        "Name": f"{JOB}.echo[{index}]",
        "Namespace": "default",
        "NodeID": node[0],
        "NodeName": node[1],
        "JobID": JOB,
        "TaskGroup": "echo",
        "DesiredStatus": "run" if status in ("pending", "running") else "stop",
        "ClientStatus": status,
        "TaskStates": states if events else None,
        "DeploymentStatus": None
        if healthy_at is None
        else {"Healthy": healthy, "Timestamp": rfc3339(at(healthy_at)), "Canary": False},
        "CreateIndex": 10 + serial,
        "ModifyIndex": 20 + serial,
        "CreateTime": at(created),
        "ModifyTime": at(created),
        "AllocatedResources": {
            "Tasks": {"server": {"Cpu": {"CpuShares": 100}, "Memory": {"MemoryMB": 300}}},
            "Shared": {
                "DiskMB": 300,
                "Networks": None,
                "Ports": [
                    {"Label": "http", "Value": p, "To": 0, "HostIP": "127.0.0.1"} for p in ports
                ],
            },
        },
    }


STARTING = [("Received", 0.0), ("Task Setup", 0.1), ("Started", 1.0)]


def scaled_job() -> list[dict[str, Any]]:
    """Deployed with 1, scaled to 3 at 30 s, to 5 at 70 s, back to 2 at 110 s; echo[0] was
    killed at 40 s and restarted; one allocation failed on its own."""
    shifted = lambda events, by: [(kind, t + by) for kind, t in events]  # noqa: E731
    stopped = [("Killing", 110.0), ("Killed", 110.5)]
    return [
        allocation(
            0,
            0,
            [*STARTING, ("Terminated", 40.0), ("Restarting", 40.01), ("Started", 55.0)],
            restarts=1,
            healthy_at=11.0,
            ports=[23456],
        ),
        allocation(1, 30, shifted(STARTING, 30), healthy_at=41.0, ports=[24001]),
        allocation(2, 30, shifted(STARTING, 30) + stopped, status="complete", ports=[24002]),
        allocation(3, 70, shifted(STARTING, 70) + stopped, status="complete", ports=[25003]),
        allocation(
            4,
            70,
            [*shifted(STARTING, 70), ("Terminated", 75.0), ("Not Restarting", 75.0)],
            status="failed",
            healthy_at=75.0,
            healthy=False,
            ports=[25004],
        ),
    ]


NOW = at(130)


def rows(fig: Figure) -> dict[int, list[tuple[str, float, float]]]:
    """The timeline's bars, per row: ``(colour, left, width)`` in drawing order."""
    bars: dict[int, list[tuple[str, float, float]]] = {}
    for patch in fig.axes[0].patches:
        row = round(patch.get_y() + patch.get_height() / 2)
        bars.setdefault(row, []).append(
            (to_hex(patch.get_facecolor()), patch.get_x(), patch.get_width())
        )
    return dict(sorted(bars.items()))


def tick_texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


def legend_texts(fig: Figure) -> list[str]:
    return [text.get_text() for text in fig.legends[0].get_texts()]


def visible_boxes(fig: Figure, labels) -> list:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return [label.get_window_extent(renderer) for label in labels if label.get_text()]


def assert_no_overlap(boxes) -> None:
    assert boxes
    for first, second in itertools.pairwise(boxes):
        assert not first.overlaps(second), (first, second)


color = STATUS_COLORS.__getitem__


# ---- colours and helpers ------------------------------------------------------------


def test_status_colors_cover_every_status_with_distinct_colours():
    assert set(STATUS_COLORS) == {
        "pending", "running", "complete", "failed", "lost",
        "healthy", "unhealthy", "desired", "placed",
    }  # fmt: skip
    assert len(set(STATUS_COLORS.values())) == len(STATUS_COLORS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T20:15:01.123456789Z", 1795551301 * NS + 123456789),
        ("2026-11-24T20:15:01Z", 1795551301 * NS),
        ("2026-11-24T21:15:01.5+01:00", 1795551301 * NS + 500_000_000),
        ("0001-01-01T00:00:00Z", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_rfc3339_ns(text, expected):
    assert parse_rfc3339_ns(text) == expected


def test_parse_rfc3339_ns_rejects_other_text():
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339_ns("yesterday")


def test_spans_of_a_running_allocation_end_now():
    alloc = allocation(0, 0, STARTING)
    assert timeline_spans(alloc, NOW) == [("pending", at(0), at(1)), ("running", at(1), NOW)]


def test_spans_of_a_restarted_allocation_have_a_pending_gap():
    alloc = scaled_job()[0]
    assert timeline_spans(alloc, NOW) == [
        ("pending", at(0), at(1)),
        ("running", at(1), at(40)),
        ("pending", at(40.01), at(55)),
        ("running", at(55), NOW),
    ]


def test_spans_of_a_stopped_allocation_end_with_a_zero_length_terminal_state():
    assert timeline_spans(scaled_job()[2], NOW) == [
        ("pending", at(30), at(31)),
        ("running", at(31), at(110.5)),
        ("complete", at(110.5), at(110.5)),
    ]
    failed = scaled_job()[4]
    assert timeline_spans(failed, NOW)[-2:] == [
        ("running", at(71), at(75)),
        ("failed", at(75), at(75)),
    ]


def test_spans_of_an_allocation_that_never_started():
    placed = allocation(0, 5)  # no TaskStates yet
    assert timeline_spans(placed, NOW) == [("pending", at(5), NOW)]
    broken = allocation(
        0, 5, [("Received", 5), ("Driver Failure", 6), ("Not Restarting", 6)], status="failed"
    )
    assert timeline_spans(broken, NOW) == [("pending", at(5), at(6)), ("failed", at(6), at(6))]
    just_placed = allocation_timeline([placed], now_ns=at(5))
    assert tick_texts(just_placed.axes[0].get_yticklabels()) == [f"{JOB}.echo[0]  00000000"]


def test_spans_of_an_allocation_lost_while_running_end_at_its_last_update():
    lost = allocation(0, 0, STARTING, status="lost")
    lost["ModifyTime"] = at(90)
    assert timeline_spans(lost, NOW) == [
        ("pending", at(0), at(1)),
        ("running", at(1), at(90)),
        ("lost", at(90), at(90)),
    ]


def test_spans_of_several_tasks_run_while_any_task_runs():
    alloc = allocation(0, 0, STARTING)
    alloc["TaskStates"]["sidecar"] = {
        "State": "dead",
        "Restarts": 0,
        "Events": [{"Type": "Started", "Time": at(3)}, {"Type": "Terminated", "Time": at(8)}],
    }
    alloc["TaskStates"]["server"]["Events"].append({"Type": "Terminated", "Time": at(5)})
    assert timeline_spans(alloc, NOW) == [("pending", at(0), at(1)), ("running", at(1), at(8))]


def test_alloc_ports_from_every_place_nomad_puts_them_without_duplicates():
    def ports(alloc: dict) -> list[tuple[str, int]]:
        return [(label, port) for label, (_, port) in alloc_ports(alloc).items()]

    alloc = allocation(0, 0, STARTING, ports=[23456])
    alloc["AllocatedResources"]["Tasks"]["server"]["Networks"] = [
        {"DynamicPorts": [{"Label": "http", "Value": 23456}], "ReservedPorts": None},
    ]
    alloc["AllocatedResources"]["Shared"]["Networks"] = [
        {"ReservedPorts": [{"Label": "admin", "Value": 8080}], "DynamicPorts": None}
    ]
    assert ports(alloc) == [("http", 23456), ("admin", 8080)]

    old = {"Resources": {"Networks": [{"DynamicPorts": [{"Label": "http", "Value": 21000}]}]}}
    assert ports(old) == [("http", 21000)]
    stub = {key: value for key, value in alloc.items() if key != "AllocatedResources"}
    assert ports(stub) == []


# ---- allocation_timeline -------------------------------------------------------------


def test_timeline_has_a_labelled_row_per_allocation_in_creation_order():
    allocs = scaled_job()
    fig = allocation_timeline(list(reversed(allocs)), now_ns=NOW)
    ax = fig.axes[0]
    labels = tick_texts(ax.get_yticklabels())
    assert len(labels) == len(allocs)
    assert labels[1] == f"{JOB}.echo[1]  00000001"
    assert [label.split()[0] for label in labels] == [a["Name"] for a in allocs]
    assert ax.get_ylim()[0] > ax.get_ylim()[1], "oldest allocation on top"
    assert ax.get_xlabel() == "seconds since first allocation"
    assert ax.get_ylabel() == "allocation"
    assert ax.get_title() == f"Allocations of {JOB} over time"


def test_timeline_bars_follow_the_task_events_in_the_status_colours():
    bars = rows(allocation_timeline(scaled_job(), now_ns=NOW))
    pending, running = color("pending"), color("running")
    assert [(c, round(x, 2), round(w, 2)) for c, x, w in bars[1]] == [
        (pending, 30, 1),
        (running, 31, 99),
    ]
    assert [c for c, _, _ in bars[2]] == [pending, running, color("complete")]
    assert bars[2][1][1] + bars[2][1][2] == pytest.approx(110.5)
    assert bars[2][2][1] == pytest.approx(110.5) and bars[2][2][2] > 0, "a visible end cap"
    assert [c for c, _, _ in bars[4]] == [pending, running, color("failed")]


def test_timeline_shows_a_restart_as_a_pending_gap_a_marker_and_a_count():
    allocs = scaled_job()
    fig = allocation_timeline(allocs, now_ns=NOW)
    ax = fig.axes[0]
    colours = [c for c, _, _ in rows(fig)[0]]
    assert colours == [color("pending"), color("running"), color("pending"), color("running")]
    (restart,) = [line for line in ax.get_lines() if line.get_marker() == RESTART_MARKER]
    assert list(restart.get_xdata()) == [pytest.approx(40.01)]
    assert list(restart.get_ydata()) == [0]
    assert tick_texts(ax.get_yticklabels())[0].endswith("↻ 1 restart")
    assert "restart" not in tick_texts(ax.get_yticklabels())[1]
    allocs[0]["TaskStates"]["server"]["Restarts"] = 3
    assert "↻ 3 restarts" in tick_texts(allocation_timeline(allocs).axes[0].get_yticklabels())[0]


def test_timeline_marks_deployment_health_where_nomad_timestamped_it():
    ax = allocation_timeline(scaled_job(), now_ns=NOW).axes[0]
    healthy = {
        line.get_ydata()[0]: line.get_xdata()[0]
        for line in ax.get_lines()
        if line.get_marker() == "D" and to_hex(line.get_color()) == color("healthy")
    }
    assert healthy == {0: pytest.approx(11.0), 1: pytest.approx(41.0)}
    (unhealthy,) = [line for line in ax.get_lines() if line.get_marker() == "X"]
    assert to_hex(unhealthy.get_color()) == color("unhealthy")
    assert (unhealthy.get_xdata()[0], unhealthy.get_ydata()[0]) == (pytest.approx(75.0), 4)


def test_timeline_legend_names_every_status_and_marker_shown():
    fig = allocation_timeline(scaled_job(), now_ns=NOW)
    assert legend_texts(fig) == [
        "pending",
        "running",
        "complete",
        "failed",
        "healthy (deployment)",
        "unhealthy (deployment)",
        "restart",
    ]
    handles = fig.legends[0].legend_handles
    assert to_hex(handles[0].get_facecolor()) == color("pending")
    only_running = allocation_timeline([allocation(0, 0, STARTING)], now_ns=NOW)
    assert legend_texts(only_running) == ["pending", "running"]


def test_timeline_keeps_fifty_row_labels_apart():
    allocs = [allocation(i, i, [(k, t + i) for k, t in STARTING]) for i in range(50)]
    fig = allocation_timeline(allocs, now_ns=at(80))
    labels = fig.axes[0].get_yticklabels()
    assert len(tick_texts(labels)) == 50 and all(tick_texts(labels))
    assert_no_overlap(visible_boxes(fig, labels))


def test_timeline_thins_row_labels_when_there_is_no_room_for_all():
    allocs = [
        allocation(i % 50, i, [(k, t + i) for k, t in STARTING], serial=i) for i in range(150)
    ]
    fig = allocation_timeline(allocs, now_ns=at(200))
    labels = fig.axes[0].get_yticklabels()
    assert len(labels) == 150
    assert 0 < sum(bool(text) for text in tick_texts(labels)) < 150
    assert_no_overlap(visible_boxes(fig, labels))


# ---- counts_over_time ----------------------------------------------------------------


def scaling_samples() -> list[dict[str, Any]]:
    counts = [  # time, desired, placed, running, healthy, event
        (100.0, 1, 1, 1, 1, None),
        (130.0, 3, 3, 1, 1, "scale → 3"),
        (132.0, 3, 3, 3, 1, None),
        (143.0, 3, 3, 3, 3, None),
        (170.0, 5, 5, 3, 3, "scale → 5"),
        (185.0, 5, 5, 5, 5, None),
        (210.0, 2, 2, 2, 2, "scale → 2"),
        (240.0, 2, 2, 2, 2, None),
    ]
    keys = ("time", "desired", "placed", "running", "healthy", "event")
    return [{k: v for k, v in zip(keys, row, strict=True) if v is not None} for row in counts]


def test_counts_draw_four_step_lines_at_the_sampled_values():
    samples = scaling_samples()
    fig = counts_over_time(samples)
    ax = fig.axes[0]
    lines = {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }
    assert list(lines) == ["desired", "placed", "running", "healthy"]
    for key, line in lines.items():
        assert to_hex(line.get_color()) == color(key)
        assert line.get_drawstyle() == "steps-post"
        assert list(line.get_xdata()) == [0, 30, 32, 43, 70, 85, 110, 140]
        assert list(line.get_ydata()) == [s[key] for s in samples]
    assert list(lines["running"].get_ydata()) == [1, 1, 3, 3, 3, 5, 2, 2]
    assert ax.get_xlabel() == "seconds since first sample"
    assert ax.get_ylabel() == "allocations"
    assert legend_texts(fig) == ["desired", "placed", "running", "healthy"]
    assert all(tick == int(tick) for tick in ax.get_yticks())


def test_counts_annotate_each_event_with_a_dashed_line_and_its_label():
    ax = counts_over_time(scaling_samples()).axes[0]
    events = {text.get_text(): text.xy[0] for text in ax.texts}
    assert events == {"scale → 3": 30, "scale → 5": 70, "scale → 2": 110}
    unlabelled = [line for line in ax.get_lines() if line.get_label().startswith("_")]
    assert [line.get_xdata()[0] for line in unlabelled] == [30, 70, 110]
    assert all(line.get_linestyle() == "--" for line in unlabelled)


# ---- allocations_by_node -------------------------------------------------------------


def test_by_node_stacks_allocations_per_node_by_status():
    allocs = scaled_job()
    allocs[1]["NodeID"], allocs[1]["NodeName"] = "node-2-id", "worker-2"
    nodes = [
        {"ID": NODE_ID, "Name": "laptop", "Status": "ready"},
        {"ID": "node-2-id", "Name": "worker-2", "Status": "ready"},
        {"ID": "node-3-id", "Name": "idle-3", "Status": "ready"},
    ]
    fig = allocations_by_node(allocs, nodes)
    per_node, _ = fig.axes
    assert tick_texts(per_node.get_xticklabels()) == ["laptop", "worker-2", "idle-3"]
    heights: dict[tuple[int, str], float] = {}
    for bar in per_node.patches:
        if bar.get_height():
            key = (round(bar.get_x() + bar.get_width() / 2), to_hex(bar.get_facecolor()))
            heights[key] = bar.get_height()
    assert heights == {
        (0, color("running")): 1,
        (1, color("running")): 1,
        (0, color("complete")): 2,
        (0, color("failed")): 1,
    }
    assert [t.get_text() for t in per_node.texts] == ["4", "1", "0"], "totals on top"
    assert per_node.get_ylabel() == "allocations"
    assert legend_texts(fig) == ["running", "complete", "failed"]
    assert fig.get_suptitle() == f"Where the allocations of {JOB} run"


def test_by_node_names_nodes_from_the_allocation_without_a_node_list():
    allocs = scaled_job()
    allocs[0]["NodeName"] = ""
    per_node = allocations_by_node(allocs).axes[0]
    assert tick_texts(per_node.get_xticklabels()) == ["5e6f7a8b", "dev-node"]


def test_by_node_plots_and_labels_each_allocations_host_port():
    allocs = scaled_job()
    _, by_port = allocations_by_node(allocs).axes
    (points,) = by_port.collections
    assert [tuple(p) for p in points.get_offsets()] == [
        (0, 23456),
        (1, 24001),
        (2, 24002),
        (3, 25003),
        (4, 25004),
    ]
    statuses = [a["ClientStatus"] for a in allocs]
    assert [to_hex(c) for c in points.get_facecolors()] == [color(s) for s in statuses]
    assert [t.get_text() for t in by_port.texts] == ["23456", "24001", "24002", "25003", "25004"]
    assert tick_texts(by_port.get_xticklabels())[0] == "echo[0]\n00000000"
    assert by_port.yaxis.get_major_formatter().get_useOffset() is False, "ports read in full"
    assert by_port.get_ylabel() == "host port"


def test_by_node_keeps_fifty_allocations_readable():
    allocs = [allocation(i, i, STARTING, ports=[20000 + 97 * i]) for i in range(50)]
    fig = allocations_by_node(allocs)
    per_node, by_port = fig.axes
    assert len(by_port.collections[0].get_offsets()) == 50
    assert len(by_port.texts) == 0, "no port labels when there are many"
    assert_no_overlap(visible_boxes(fig, by_port.get_xticklabels()))
    assert [bar.get_height() for bar in per_node.patches] == [50]


def test_by_node_says_no_ports_for_allocation_stubs():
    stubs = scaled_job()
    for stub in stubs:
        del stub["AllocatedResources"]
    fig = allocations_by_node(stubs)
    _, by_port = fig.axes
    assert len(by_port.collections) == 0
    assert "no ports" in by_port.texts[0].get_text()
    assert "GET /v1/allocation/:id" in by_port.texts[0].get_text()
    visible_boxes(fig, [])  # draws without error


# ---- all charts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        (allocation_timeline, "no allocations yet"),
        (allocations_by_node, "no allocations yet"),
        (counts_over_time, "no samples yet"),
    ],
)
def test_empty_input_gives_a_figure_that_says_so(chart, message):
    fig = chart([])
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == [message]
    visible_boxes(fig, [])


def test_each_chart_says_in_words_what_it_shows():
    timeline = allocation_timeline(scaled_job(), now_ns=NOW)
    assert timeline.alt == (
        "Allocations of http-microservice over time: 5 allocations over 130 s; now 2 running, "
        "2 complete, 1 failed; the deployment marked 2 healthy, 1 unhealthy; 1 restart. "
        "echo[0]: running, healthy, 1 restart; echo[1]: running, healthy; echo[2]: complete; "
        "echo[3]: complete; echo[4]: failed, unhealthy."
    )
    counts = counts_over_time(scaling_samples())
    assert counts.alt.startswith("Allocations while scaling, allocations over 140 s: ")
    assert "desired 1 → 3 → 5 → 2; placed 1 → 3 → 5 → 2" in counts.alt
    assert "Events: scale → 3 at 30 s, scale → 5 at 70 s and scale → 2 at 110 s." in counts.alt
    assert counts.alt.endswith("At the end: 2 desired, 2 placed, 2 running, 2 healthy.")
    by_node = allocations_by_node(scaled_job())
    assert by_node.alt == (
        "Where the allocations of http-microservice run: per node, dev-node 5 (2 running, "
        "2 complete, 1 failed). Host ports: 23456, 24001, 24002, 25003 and 25004."
    )
    assert allocation_timeline([]).alt == "Allocations over time: no allocations yet."


def test_a_long_history_is_summed_up_not_read_out_in_full():
    many = [allocation(i, i, STARTING) for i in range(40)]
    alt = allocation_timeline(many, now_ns=NOW).alt
    assert "40 allocations" in alt and "now 40 running" in alt
    assert alt.endswith("echo[11]: running and 28 more.")
    samples = [{"time": float(t), "desired": t % 2, "placed": 0, "running": 0, "healthy": 0}
               for t in range(30)]  # fmt: skip
    assert "desired 0 → 1 → 0 → 1 → 0 → 1 → 0 → … → 1;" in counts_over_time(samples).alt


def test_jupyter_shows_a_chart_as_an_image_with_its_alt_text():
    fig = allocations_by_node(scaled_job())
    data, metadata = DisplayFormatter().format(fig)
    assert data["image/png"].startswith(b"\x89PNG")  # IPython keeps bytes for the notebook
    assert metadata["image/png"] == {"alt": fig.alt}
    assert data["text/plain"] == fig.alt
    # JupyterLab renders text/html before image/png, and its image renderer drops alt.
    image = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"/>',
                         data["text/html"])  # fmt: skip
    assert image and base64.b64decode(image[1]) == data["image/png"]
    assert html.unescape(image[2]) == fig.alt


def test_charts_show_themselves_in_jupyter_without_pyplot():
    plt.close("all")
    figures = [
        allocation_timeline(scaled_job(), now_ns=NOW),
        counts_over_time(scaling_samples()),
        allocations_by_node(scaled_job()),
        allocation_timeline([]),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert fig._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")
    assert plt.get_fignums() == [], "pyplot's global state stays untouched"
