"""Charts of allocations: Nomad's JSON in, a matplotlib figure out.

Every chart takes what python-nomad returns (lists of dicts with Go field names) and
returns a :class:`Chart`, a plain matplotlib ``Figure`` that also renders itself as a
PNG when it is the last expression of a Jupyter cell. (A bare ``Figure`` only does that
once pyplot's inline backend has been activated, e.g. by ``import matplotlib.pyplot``.)
Nothing here touches pyplot's global state, so the charts work headless, in tests and
in notebooks alike; ``fig.savefig(path)`` saves one.

- :func:`allocation_timeline` works with allocation stubs from
  ``GET /v1/job/:id/allocations`` (``job.get_allocations(job_id)``).
- :func:`allocations_by_node` wants full allocations from ``GET /v1/allocation/:id``
  (``allocation.get_allocation(alloc_id)``) to show ports: stubs carry no
  ``AllocatedResources``, and the chart then says "no ports".
- :func:`versions_over_time` colours each allocation by the job version it runs, from
  the same stubs: rolling updates, canaries and reverts.
- :func:`counts_over_time` draws samples recorded while a job is scaled
  (:func:`nomadlab.watch` records them).
- :func:`placements_over_time` shows which node each copy ran on and when it moved,
  with the periods nodes were down or draining (:func:`fetch_placements` fetches it).
- :func:`services_over_time` draws a service's registry recorded over time
  (``lab.record_services(name)`` records it).

:func:`fetch_allocations` and :func:`fetch_nodes` are the thin helpers that fetch this
data from an agent: full allocations and the node list, ready for the charts.

Colours come from :data:`STATUS_COLORS`, so a status looks the same in every chart.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import math
import re
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from nomadlab import chart_text
from nomadlab.allocations import alloc_ports
from nomadlab.errors import api_errors

if TYPE_CHECKING:
    from nomadlab.lab import Lab

#: Status → colour, from the Okabe–Ito palette, which stays distinguishable with every
#: common form of colour blindness. Allocation states (pending, running, complete,
#: failed, lost), deployment health (healthy, unhealthy) and the counts of a job being
#: scaled (desired, placed, running, healthy) share it.
#:
#: =========  ===========  ==============
#: status     colour       Okabe–Ito name
#: =========  ===========  ==============
#: pending    ``#e69f00``  orange
#: running    ``#0072b2``  blue
#: complete   ``#999999``  grey
#: failed     ``#d55e00``  vermillion
#: lost       ``#f0e442``  yellow
#: healthy    ``#009e73``  bluish green
#: unhealthy  ``#cc79a7``  reddish purple
#: desired    ``#000000``  black
#: placed     ``#56b4e9``  sky blue
#: =========  ===========  ==============
STATUS_COLORS: dict[str, str] = {
    "pending": "#e69f00",
    "running": "#0072b2",
    "complete": "#999999",
    "failed": "#d55e00",
    "lost": "#f0e442",
    "healthy": "#009e73",
    "unhealthy": "#cc79a7",
    "desired": "#000000",
    "placed": "#56b4e9",
}
#: Colour of a ``ClientStatus`` this module does not know (Nomad 1.3+ has ``unknown``).
OTHER_COLOR = "#dddddd"
#: Marker drawn at every ``Restarting`` task event (a mathtext glyph, ↻).
RESTART_MARKER = "$\u21bb$"
#: ``ClientStatus`` values after which an allocation never runs again.
TERMINAL_STATUSES = ("complete", "failed", "lost")

Allocation = dict[str, Any]
Span = tuple[str, int, int]

_NS = 1_000_000_000
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_MAX_ANNOTATED = 12


class Chart(Figure):
    """A matplotlib ``Figure`` that shows itself in Jupyter as a PNG with alt text."""

    #: What the chart shows, in words (:mod:`nomadlab.chart_text` writes it).
    alt: str = ""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The PNG three ways: an ``<img>`` with ``alt`` (JupyterLab's image renderer drops
        alt metadata, its HTML renderer keeps it), the PNG with ``alt`` metadata (nbconvert,
        classic front ends) and the words alone for text front ends."""
        png = self._repr_png_()
        alt = self.alt or "Chart: " + "; ".join(
            t for t in [self.get_suptitle(), *(ax.get_title() for ax in self.axes)] if t
        )
        source = "data:image/png;base64," + base64.b64encode(png).decode()
        data = {
            "image/png": png,
            "text/html": f'<img src="{source}" alt="{html.escape(alt)}"/>',
            "text/plain": alt,
        }
        return data, {"image/png": {"alt": alt}}


def parse_rfc3339_ns(text: str | None) -> int | None:
    """Unix nanoseconds of an RFC 3339 time as Nomad writes it, e.g. in
    ``DeploymentStatus.Timestamp``: ``"2026-11-24T20:15:01.123456789Z"``.

    ``None``, ``""`` and Go's zero time (year 1) give ``None``; anything else that is not
    RFC 3339 raises ``ValueError``.
    """
    if not text:
        return None
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    whole, fraction, zone = match.groups()
    if whole.startswith("0001-"):
        return None
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return int(moment.timestamp()) * _NS + int((fraction or "").ljust(9, "0"))


def timeline_spans(allocation: Allocation, now_ns: int) -> list[Span]:
    """The states an allocation went through, as ``(status, start_ns, end_ns)`` in time order.

    ``pending`` from ``CreateTime`` until a task is ``Started``; ``running`` until it is
    ``Terminated`` or ``Killed``; ``pending`` again from a ``Restarting`` event until the
    next ``Started``. With several tasks the allocation is running while any task runs.
    An allocation that has not finished lasts until ``now_ns``; one that has (``ClientStatus``
    complete, failed or lost) ends with a zero-length span of that status at the moment it
    stopped, which charts draw as a short cap.
    """
    created = allocation["CreateTime"]
    per_task = [
        _task_spans(state.get("Events") or [], created)
        for state in (allocation.get("TaskStates") or {}).values()
    ] or [([], ("pending", created))]
    finished = allocation["ClientStatus"] in TERMINAL_STATUSES
    last_event = max([created, *(e.get("Time") or 0 for e in _events(allocation))])
    still_open = any(open_state for _, open_state in per_task)
    if not finished:
        stop = max(now_ns, last_event)
    elif still_open:  # no event says when it stopped: the server's last update does
        stop = max(last_event, allocation.get("ModifyTime") or 0)
    else:
        stop = last_event
    closed = [[*spans, (state[0], state[1], stop)] if state else spans for spans, state in per_task]
    merged = _merge(closed)
    if finished:
        merged.append((allocation["ClientStatus"], stop, stop))
    return merged


def allocation_timeline(
    allocations: list[Allocation], *, now_ns: int | None = None, title: str | None = None
) -> Figure:
    """A row per allocation, oldest on top, coloured by state over time (see
    :func:`timeline_spans`), with a diamond where the deployment marked it healthy (a cross:
    unhealthy) and ↻ at each restart. ``now_ns`` (default: the wall clock) is where the
    allocations that still run end. Works with allocation stubs.
    """
    title = title or _job_title(allocations, "Allocations of {} over time", "Allocations over time")
    if not allocations:
        return _message_chart("no allocations yet", title)
    now_ns = time.time_ns() if now_ns is None else now_ns
    allocs = _in_creation_order(allocations)
    start = min(a["CreateTime"] for a in allocs)
    spans = [timeline_spans(a, now_ns) for a in allocs]
    seconds = max(((end - start) / _NS for row in spans for _, _, end in row), default=0) or 1.0
    cap = seconds / 60

    fig = Chart(figsize=(10, min(1.8 + 0.3 * len(allocs), 12)), layout="constrained")
    ax = fig.add_subplot()
    statuses: set[str] = set()
    marks: set[str] = set()  # healthy, unhealthy, restart
    for row, (alloc, alloc_spans) in enumerate(zip(allocs, spans, strict=True)):
        ax.barh(
            [row] * len(alloc_spans),
            [(end - begin) / _NS or cap for _, begin, end in alloc_spans],
            left=[(begin - start) / _NS for _, begin, _ in alloc_spans],
            height=0.6,
            color=[STATUS_COLORS[status] for status, _, _ in alloc_spans],
        )
        statuses.update(status for status, _, _ in alloc_spans)
        restarts = [e["Time"] for e in _events(alloc) if e.get("Type") == "Restarting"]
        if restarts:
            ax.plot(
                [(t - start) / _NS for t in restarts],
                [row] * len(restarts),
                linestyle="none",
                **_restart_style(),
            )
            marks.add("restart")
        healthy_at = parse_rfc3339_ns((alloc.get("DeploymentStatus") or {}).get("Timestamp"))
        verdict = _verdict(alloc)
        if verdict and healthy_at is not None:
            ax.plot([(healthy_at - start) / _NS], [row], linestyle="none", **_health_style(verdict))
            marks.add(verdict)

    _time_rows(ax, [_row_label(a) for a in allocs], "seconds since first allocation", "allocation")
    ax.set_title(title)
    handles = [Patch(color=STATUS_COLORS[s], label=s) for s in STATUS_COLORS if s in statuses]
    handles += [
        Line2D([], [], linestyle="none", label=f"{v} (deployment)", **_health_style(v))
        for v in ("healthy", "unhealthy")
        if v in marks
    ]
    if "restart" in marks:
        handles.append(Line2D([], [], linestyle="none", label="restart", **_restart_style()))
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    fig.alt = chart_text.timeline_text(
        title,
        [(_short_name(a), a["ClientStatus"], _restarts(a), _verdict(a)) for a in allocs],
        seconds,
    )
    return fig


def counts_over_time(samples: list[dict[str, Any]], *, title: str | None = None) -> Figure:
    """Step lines of desired, placed, running and healthy allocations over time.

    Each sample is ``{"time": seconds, "desired": n, "placed": n, "running": n, "healthy": n}``
    and may carry ``"event": "scale → 5"``, drawn as a dashed line with that label. Only
    differences of ``time`` matter; x is seconds since the first sample.
    """
    # Narrower lines on top of wider ones, so equal counts stay visible together; desired,
    # the target, is a dashed line over them all.
    series = [
        ("desired", "desired", 1.5, (0, (6, 3))),
        ("placed", "placed", 7, "-"),
        ("running", "running", 4, "-"),
        ("healthy", "healthy", 1.8, "-"),
    ]
    return _steps(samples, series, "allocations", title or "Allocations while scaling")


def services_over_time(samples: list[dict[str, Any]], *, title: str | None = None) -> Figure:
    """Step lines of a service's registered instances and of those passing every check.

    Each sample is ``{"time": seconds, "registered": n, "passing": n, "failing": n}``
    (:class:`nomadlab.discovery.ServiceRecorder` records them), with an optional
    ``"event"`` label. An instance failing its checks stays registered, as in Nomad: the
    gap between the lines is what a client of the registry would still be sent to.
    """
    series = [
        ("registered", "running", 7, "-"),
        ("passing", "healthy", 3, "-"),
        ("failing", "unhealthy", 1.8, (0, (4, 2))),
    ]
    return _steps(samples, series, "instances", title or "Service registry over time")


def _steps(
    samples: list[dict[str, Any]],
    series: list[tuple[str, str, float, Any]],
    ylabel: str,
    title: str,
) -> Figure:
    """Step lines of counts over time (key, colour key, width, style), with event marks."""
    if not samples:
        return _message_chart("no samples yet", title)
    samples = sorted(samples, key=lambda s: s["time"])
    xs = [s["time"] - samples[0]["time"] for s in samples]
    fig = Chart(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for key, color, width, style in series:
        ax.step(
            xs,
            [s[key] for s in samples],
            where="post",
            label=key,
            color=STATUS_COLORS[color],
            linewidth=width,
            linestyle=style,
            zorder=3 if style != "-" else 2,
        )
    top = max(s[key] for s in samples for key, *_ in series)
    for x, sample in zip(xs, samples, strict=True):
        if sample.get("event"):
            near_the_end = x > 0.8 * xs[-1]
            ax.axvline(x, color="0.5", linestyle="--", linewidth=1)
            ax.annotate(
                sample["event"],
                (x, 1),
                xycoords=("data", "axes fraction"),
                xytext=(-3 if near_the_end else 3, -3),
                textcoords="offset points",
                ha="right" if near_the_end else "left",
                va="top",
                fontsize=9,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"},
            )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.3, top * 1.15 + 1)
    ax.set_xlim(0, xs[-1] * 1.03 or 1)
    ax.grid(color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel("seconds since first sample")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.legend(loc="outside right upper", frameon=False)
    fig.alt = chart_text.steps_text(title, samples, [key for key, *_ in series], ylabel)
    return fig


def allocations_by_node(
    allocations: list[Allocation],
    nodes: list[dict[str, Any]] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Where allocations run: left, allocations per node stacked by ``ClientStatus``; right,
    the host ports each allocation got, coloured by status.

    Nodes are named from ``nodes`` (NodeListStub dicts, which also adds idle nodes), else the
    allocation's ``NodeName``, else its short ``NodeID``. Ports need full allocations
    (``GET /v1/allocation/:id``); with stubs the right side says "no ports".
    """
    title = title or _job_title(
        allocations, "Where the allocations of {} run", "Where allocations run"
    )
    if not allocations:
        return _message_chart("no allocations yet", title)
    allocs = _in_creation_order(allocations)
    node_names = {n["ID"]: n["Name"] for n in nodes or []}

    def node_of(alloc: Allocation) -> str:
        node_id = alloc.get("NodeID") or ""
        return node_names.get(node_id) or alloc.get("NodeName") or node_id[:8] or "?"

    columns = list(dict.fromkeys([*node_names.values(), *map(node_of, allocs)]))
    counts = Counter((node_of(a), a["ClientStatus"]) for a in allocs)
    present = {a["ClientStatus"] for a in allocs}
    statuses = [s for s in STATUS_COLORS if s in present] + sorted(present - STATUS_COLORS.keys())

    fig = Chart(figsize=(12, 5), layout="constrained")
    fig.suptitle(title)
    per_node, by_port = fig.subplots(1, 2, width_ratios=(1, 2.2))
    bottoms = [0] * len(columns)
    for status in statuses:
        heights = [counts[(column, status)] for column in columns]
        per_node.bar(
            range(len(columns)),
            heights,
            bottom=bottoms,
            width=0.6,
            color=_color(status),
            label=status,
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, total in enumerate(bottoms):
        per_node.annotate(
            str(total),
            (x, total),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
        )
    _label_rows(per_node, columns, axis="x")
    per_node.set_xlim(-0.9, len(columns) - 0.1)
    per_node.set_ylim(0, max(bottoms) * 1.15 + 0.5)
    per_node.yaxis.set_major_locator(MaxNLocator(integer=True))
    per_node.set_xlabel("node")
    per_node.set_ylabel("allocations")
    per_node.set_title("allocations per node")
    _draw_ports(by_port, allocs)
    fig.legend(loc="outside right upper", frameon=False)
    ports = [port for a in allocs for _, port in alloc_ports(a).values()]
    by_status = {c: Counter({s: counts[(c, s)] for s in statuses}) for c in columns}
    fig.alt = chart_text.by_node_text(title, by_status, ports)
    return fig


def versions_over_time(
    allocations: list[Allocation], now_ns: int | None = None, *, title: str | None = None
) -> Figure:
    """One bar per allocation from its creation until it stopped (or now), coloured by the
    job version it runs: a rolling update, a canary and a revert as versions trading places.

    Works with allocation stubs (``GET /v1/job/:id/allocations``): ``CreateTime``,
    ``ModifyTime``, ``JobVersion``, ``DesiredStatus`` and ``ClientStatus``.
    """
    title = title or _job_title(allocations, "Job versions of {} over time", "Job versions")
    if not allocations:
        return _message_chart("no allocations yet", title)
    allocs = _in_creation_order(allocations)
    now = now_ns or time.time_ns()
    start = allocs[0]["CreateTime"]
    versions = sorted({a["JobVersion"] for a in allocs})
    palette = [c for k, c in STATUS_COLORS.items() if k not in ("desired", "complete")]
    colors = {v: palette[i % len(palette)] for i, v in enumerate(versions)}
    fig = Chart(figsize=(10, 1.5 + 0.3 * len(allocs)), layout="constrained")
    ax = fig.add_subplot()
    for row, alloc in enumerate(allocs):
        live = (
            alloc.get("DesiredStatus") == "run" and alloc["ClientStatus"] not in TERMINAL_STATUSES
        )
        end = now if live else alloc.get("ModifyTime") or now
        ax.barh(
            row,
            (end - alloc["CreateTime"]) / _NS,
            left=(alloc["CreateTime"] - start) / _NS,
            color=colors[alloc["JobVersion"]],
            hatch=None if alloc["ClientStatus"] != "failed" else "xx",
            edgecolor="black" if alloc["ClientStatus"] == "failed" else "none",
        )
    _label_rows(ax, [_row_label(a) for a in allocs], axis="y")
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first allocation")
    ax.set_title(title)
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    handles = [Patch(color=colors[v], label=f"version {v}") for v in versions]
    if any(a["ClientStatus"] == "failed" for a in allocs):
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="xx", label="failed"))
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    per_version = {
        v: Counter(a["ClientStatus"] for a in allocs if a["JobVersion"] == v) for v in versions
    }
    fig.alt = chart_text.versions_text(title, per_version)
    return fig


#: Node events that open and close a period shaded on a node's row in
#: :func:`placements_over_time`: (opening message, closing messages, label).
NODE_PERIODS = (
    ("Node heartbeat missed", ("Node reregistered by heartbeat",), "down"),
    ("Node drain strategy set", ("Node drain complete", "Node drain disabled"), "draining"),
)


def node_periods(node: dict[str, Any], now_ns: int) -> list[tuple[str, int, int]]:
    """When a node was down or draining, as ``(label, start_ns, end_ns)``, from its events."""
    periods = []
    events = sorted(
        (parse_rfc3339_ns(e.get("Timestamp")) or 0, e.get("Message", ""))
        for e in node.get("Events") or []
    )
    for opening, closing, label in NODE_PERIODS:
        start = None
        for at, message in events:
            if message == opening and start is None:
                start = at
            elif message in closing and start is not None:
                periods.append((label, start, at))
                start = None
        if start is not None:
            periods.append((label, start, now_ns))
    return periods


def placements_over_time(
    allocations: list[Allocation],
    nodes: list[dict[str, Any]] | None = None,
    *,
    now_ns: int | None = None,
    title: str | None = None,
) -> Figure:
    """Which node each copy ran on, and when it moved: a row per node, each allocation a bar
    in its node's row (coloured by state, labelled with its copy index ``[n]``), an arrow
    from an allocation to its replacement, and the periods a node was down or draining
    shaded. Works with allocation stubs; ``nodes`` (``GET /v1/node/:id`` dicts, for their
    events) names every node and shades their periods.
    """
    title = title or _job_title(allocations, "Where the copies of {} ran", "Where copies ran")
    if not allocations:
        return _message_chart("no allocations yet", title)
    now_ns = time.time_ns() if now_ns is None else now_ns
    allocs = _in_creation_order(allocations)
    names = {n["ID"]: n["Name"] for n in nodes or []}
    rows = list(dict.fromkeys([*names, *(a["NodeID"] for a in allocs)]))
    start = min(a["CreateTime"] for a in allocs)
    lanes = max(_copy_index(a) for a in allocs) + 1
    fig = Chart(figsize=(10, 1.6 + 0.9 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    shades = {"down": "#444444", "draining": "#bbbbbb"}
    for node in nodes or []:
        for label, begin, end in node_periods(node, now_ns):
            row = rows.index(node["ID"])
            ax.fill_between(
                [(begin - start) / _NS, (end - start) / _NS],
                row - 0.45,
                row + 0.45,
                color=shades[label],
                alpha=0.25,
                hatch="//" if label == "down" else None,
                linewidth=0,
            )
    where: dict[str, tuple[float, float, float]] = {}  # alloc ID → (y, start s, end s)
    statuses = set()
    for alloc in allocs:
        spans = timeline_spans(alloc, now_ns)
        y = rows.index(alloc["NodeID"]) + (_copy_index(alloc) + 0.5) / lanes * 0.8 - 0.4
        height = 0.8 / lanes * 0.8
        ax.barh(
            [y] * len(spans),
            [(end - begin) / _NS or 0.3 for _, begin, end in spans],
            left=[(begin - start) / _NS for _, begin, _ in spans],
            height=height,
            color=[_color(status) for status, _, _ in spans],
        )
        statuses.update(status for status, _, _ in spans)
        first, last = (spans[0][1] - start) / _NS, (spans[-1][2] - start) / _NS
        ax.annotate(
            f"[{_copy_index(alloc)}]",
            (first, y),
            xytext=(2, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="white",
        )
        where[alloc["ID"]] = (y, first, last)
    for alloc in allocs:
        previous = where.get(alloc.get("PreviousAllocation") or "")
        if previous:
            y, begin, _ = where[alloc["ID"]]
            arrow = {"arrowstyle": "->", "color": "black", "connectionstyle": "arc3,rad=0.2"}
            ax.annotate("", (begin, y), (previous[2], previous[0]), arrowprops=arrow)
    _time_rows(ax, [names.get(r) or r[:8] for r in rows], "seconds since first allocation", "node")
    ax.set_title(title)
    handles = [Patch(color=_color(s), label=s) for s in STATUS_COLORS if s in statuses]
    handles += [Patch(color=c, alpha=0.25, label=f"node {k}") for k, c in shades.items()]
    handles.append(Line2D([], [], color="black", marker=">", label="moved to"))
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    fig.alt = _placements_alt(title, allocs, nodes or [], rows, now_ns)
    return fig


def _placements_alt(
    title: str, allocs: list[Allocation], nodes: list[dict[str, Any]], rows: list[str], now_ns: int
) -> str:
    names = {n["ID"]: n["Name"] for n in nodes}

    def name(node_id: str) -> str:
        return names.get(node_id) or node_id[:8]

    per_node = {
        name(r): [f"[{_copy_index(a)}] {a['ClientStatus']}" for a in allocs if a["NodeID"] == r]
        for r in rows
    }
    periods = {
        n["Name"]: [f"{label} {(end - begin) / _NS:.0f} s" for label, begin, end in spans]
        for n in nodes
        if (spans := node_periods(n, now_ns))
    }
    by_id = {a["ID"]: a for a in allocs}
    moves = [
        (f"[{_copy_index(a)}]", name(by_id[previous]["NodeID"]), name(a["NodeID"]))
        for a in allocs
        if (previous := a.get("PreviousAllocation")) in by_id
    ]
    return chart_text.placements_text(title, per_node, periods, moves)


def _copy_index(alloc: Allocation) -> int:
    match = re.search(r"\[(\d+)\]$", alloc.get("Name", ""))
    return int(match.group(1)) if match else 0


def fetch_placements(lab: Lab, job: str) -> tuple[list[Allocation], list[dict[str, Any]]]:
    """A job's allocations and every node in full (with their events), for
    :func:`placements_over_time`: the history is in the allocations' times and task events
    and the nodes' events, so nothing needs recording while it happens. Allocations are read
    in full: only a full allocation names the one it replaced (``PreviousAllocation``)."""
    with api_errors(lab.address, bool(lab.nomad.token)):
        stubs = lab.nomad.job.get_allocations(job)
        allocs = [lab.nomad.allocation.get_allocation(stub["ID"]) for stub in stubs]
        nodes = [lab.nomad.node.get_node(n["ID"]) for n in lab.nomad.nodes.get_nodes()]
    return allocs, sorted(nodes, key=lambda n: n["Name"])


def fetch_allocations(lab: Lab, job: str) -> list[Allocation]:
    """Every allocation of ``job`` in full, for the charts (``nomad alloc status`` of each).

    Lists them with ``GET /v1/job/:id/allocations``, then reads each with
    ``GET /v1/allocation/:id``: only the full allocation carries the ports it got.
    """
    with api_errors(lab.address, bool(lab.nomad.token)):
        stubs = lab.nomad.job.get_allocations(job)
        return [lab.nomad.allocation.get_allocation(stub["ID"]) for stub in stubs]


def fetch_nodes(lab: Lab) -> list[dict[str, Any]]:
    """The agent's nodes (``GET /v1/nodes``), so :func:`allocations_by_node` names them all."""
    with api_errors(lab.address, bool(lab.nomad.token)):
        return list(lab.nomad.nodes.get_nodes())


def _draw_ports(ax: Axes, allocs: list[Allocation]) -> None:
    ax.set_title("host port of each allocation")
    ax.set_xlabel("allocation")
    ax.set_ylabel("host port")
    points = [
        (x, label, port, a["ClientStatus"])
        for x, a in enumerate(allocs)
        for label, (_, port) in alloc_ports(a).items()
    ]
    if not points:
        ax.text(
            0.5,
            0.5,
            "no ports\n(port numbers come with full allocations:\nGET /v1/allocation/:id)",
            ha="center",
            va="center",
            color="0.4",
            transform=ax.transAxes,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.scatter(
        [p[0] for p in points],
        [p[2] for p in points],
        s=60,
        zorder=3,
        c=[_color(p[3]) for p in points],
        edgecolors="black",
        linewidths=0.5,
    )
    if len(allocs) <= _MAX_ANNOTATED:
        several_labels = len({p[1] for p in points}) > 1
        for x, label, port, _ in points:
            ax.annotate(
                f"{label} {port}" if several_labels else str(port),
                (x, port),
                xytext=(7, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
    crowded = len(allocs) > 6
    separator = " " if crowded else "\n"
    names = [_short_name(a) + separator + a["ID"][:8] for a in allocs]
    _label_rows(ax, names, axis="x", rotate=crowded)
    ax.set_xlim(-0.6, len(allocs) - 0.4 + (0.6 if len(allocs) <= _MAX_ANNOTATED else 0))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)


def _task_spans(
    events: list[dict[str, Any]], created: int
) -> tuple[list[Span], tuple[str, int] | None]:
    """One task's closed spans, and the state still open after its last event, if any."""
    spans: list[Span] = []
    current: tuple[str, int] | None = ("pending", created)
    for event in sorted((e for e in events if e.get("Time")), key=lambda e: e["Time"]):
        kind, at = event.get("Type"), event["Time"]
        if kind == "Started":
            state = "running"
        elif kind == "Restarting":
            state = "pending"
        elif kind in ("Terminated", "Killed"):
            state = None
        else:
            continue
        if current and current[0] == state:
            continue
        if current:
            spans.append((current[0], current[1], at))
        current = (state, at) if state else None
    return spans, current


def _merge(per_task: list[list[Span]]) -> list[Span]:
    """Allocation-level spans: running while any task runs, else pending while any waits."""
    edges = sorted({t for spans in per_task for _, begin, end in spans for t in (begin, end)})
    merged: list[Span] = []
    for begin, end in itertools.pairwise(edges):
        states = {s for spans in per_task for s, b, e in spans if b <= begin and end <= e}
        state = "running" if "running" in states else "pending" if "pending" in states else None
        if state and merged and merged[-1][0] == state and merged[-1][2] == begin:
            merged[-1] = (state, merged[-1][1], end)
        elif state:
            merged.append((state, begin, end))
    return merged


def _events(allocation: Allocation) -> list[dict[str, Any]]:
    states = (allocation.get("TaskStates") or {}).values()
    return [e for state in states for e in state.get("Events") or [] if e.get("Time")]


def _in_creation_order(allocations: list[Allocation]) -> list[Allocation]:
    return sorted(allocations, key=lambda a: (a.get("CreateIndex", 0), a["CreateTime"]))


def _short_name(alloc: Allocation) -> str:
    """``echo[0]`` for ``http-microservice.echo[0]``: the job is in the chart's title."""
    return alloc["Name"].removeprefix(alloc.get("JobID", "") + ".")


def _restarts(alloc: Allocation) -> int:
    return sum(s.get("Restarts") or 0 for s in (alloc.get("TaskStates") or {}).values())


def _verdict(alloc: Allocation) -> str | None:
    """``healthy`` or ``unhealthy`` once the deployment judged the allocation, else None."""
    healthy = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    return None if healthy is None else "healthy" if healthy else "unhealthy"


def _row_label(alloc: Allocation) -> str:
    label = f"{alloc['Name']}  {alloc['ID'][:8]}"
    restarts = _restarts(alloc)
    if restarts:
        label += f"  \u21bb {restarts} restart{'s' if restarts > 1 else ''}"
    return label


def _label_rows(ax: Axes, labels: list[str], *, axis: str, rotate: bool = False) -> None:
    """Tick labels for one row/column each: a smaller font, then every n-th, when crowded."""
    figure_size = ax.figure.get_size_inches()
    length = figure_size[1] - 1.2 if axis == "y" else figure_size[0] * ax.get_position().width
    room = length * 72 / max(len(labels), 1)  # points per label
    fontsize = min(9.0, max(6.0, room / 1.4))
    step = math.ceil(fontsize * 1.4 / room)
    shown = [text if i % step == 0 else "" for i, text in enumerate(labels)]
    positions = range(len(labels))
    if axis == "y":
        ax.set_yticks(positions, shown, fontsize=fontsize)
    else:
        ax.set_xticks(positions, shown, fontsize=fontsize, rotation=90 if rotate else 0)


def _time_rows(ax: Axes, labels: list[str], xlabel: str, ylabel: str) -> None:
    """Rows top to bottom against seconds from 0, with a light vertical grid."""
    _label_rows(ax, labels, axis="y")
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _restart_style() -> dict[str, Any]:
    return {"marker": RESTART_MARKER, "markersize": 13, "color": "black"}


def _health_style(verdict: str) -> dict[str, Any]:
    return {
        "marker": "D" if verdict == "healthy" else "X",
        "markersize": 8,
        "color": STATUS_COLORS[verdict],
        "markeredgecolor": "black",
    }


def _color(status: str) -> str:
    return STATUS_COLORS.get(status, OTHER_COLOR)


def _job_title(allocations: list[Allocation], template: str, default: str) -> str:
    jobs = {a.get("JobID") for a in allocations} - {None}
    return template.format(*jobs) if len(jobs) == 1 else default


def _message_chart(text: str, title: str) -> Chart:
    fig = Chart(figsize=(6, 2.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.text(
        0.5, 0.5, text, ha="center", va="center", fontsize=12, color="0.4", transform=ax.transAxes
    )
    ax.set_axis_off()
    fig.alt = f"{title}: {text}."
    return fig
