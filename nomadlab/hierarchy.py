"""A job's hierarchy: the job, its task groups (with their counts), their tasks.

Both functions take a Job as Nomad's HTTP API writes it (``POST /v1/jobs/parse``,
``GET /v1/job/:id``: Go field names such as ``TaskGroups``, ``Count``, ``Driver``), parsed
with or without canonicalisation, for any number of groups and tasks:

- :func:`hierarchy_text` lists it as a tree, in the order the jobspec declares things;
- :func:`draw_hierarchy` draws it as boxes and lines, a :class:`~nomadlab.plots.Chart` that
  Jupyter shows as a picture.

A group's ``network`` block gives its ports to every task of the group: the group shows
them as ``network: http (dynamic)`` and each task as ``http (group network)``. A port
declared inside a task's ``resources`` (the tutorial's older style) belongs to that task
alone: ``http (dynamic, task network)``. Nothing here calls Nomad.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch

from nomadlab.plots import Chart

Job = dict[str, Any]

# Box colours (Okabe–Ito blue, orange, bluish green, as in nomadlab.plots) and pale fills.
JOB_STYLE = {"edgecolor": "#0072b2", "facecolor": "#dcebf7"}
GROUP_STYLE = {"edgecolor": "#e69f00", "facecolor": "#fcebcf"}
TASK_STYLE = {"edgecolor": "#009e73", "facecolor": "#d6f0e6"}
#: Copies drawn behind a group box to suggest its count (count 2 → 1, count 3+ → 2).
MAX_SHADOWS = 2

# Layout in inches (one data unit = one inch); text widths are measured as Agg draws them.
_FONT = 9.0
_LINE = 1.5 * _FONT / 72
_PAD = 0.14
_SHADOW = 0.07
_GAP_X = 0.3  # between tasks of a group
_GAP_GROUPS = 0.55  # between groups
_GAP_Y = 0.5  # between rows
_MARGIN = 0.25


def _unwrap(job: Job) -> Job:
    """Accept ``{"Job": {...}}`` (a register request's body) as well as the bare Job."""
    if "TaskGroups" not in job and isinstance(job.get("Job"), dict):
        return job["Job"]
    return job


def _port_kind(port: dict[str, Any], static: bool) -> str:
    kind = f"static {port.get('Value')}" if static else "dynamic"
    if port.get("To"):
        kind += f", to {port['To']}"
    return kind


def _ports(networks: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """(label, "dynamic" | "static 8080" [", to 80"]) of every port of these networks."""
    found = []
    for network in networks or []:
        for port in network.get("ReservedPorts") or []:
            found.append((port.get("Label") or "?", _port_kind(port, static=True)))
        for port in network.get("DynamicPorts") or []:
            found.append((port.get("Label") or "?", _port_kind(port, static=False)))
    return found


def _count(group: dict[str, Any]) -> int:
    """The group's count; a jobspec without one means 1 (Nomad's default)."""
    count = group.get("Count")
    return 1 if count is None else int(count)


def _resources(task: dict[str, Any]) -> str:
    resources = task.get("Resources") or {}
    parts = []
    if resources.get("Cores"):
        parts.append(f"{resources['Cores']} cores")
    elif resources.get("CPU"):
        parts.append(f"cpu {resources['CPU']} MHz")
    if resources.get("MemoryMB"):
        parts.append(f"memory {resources['MemoryMB']} MB")
    return ", ".join(parts)


@dataclass
class _Node:
    """One box of the hierarchy: a title line and detail lines."""

    kind: str
    name: str
    title: str
    details: list[str]
    gid: str
    count: int = 1
    children: list[_Node] = field(default_factory=list)


def _copies(group: _Node) -> int:
    """How many copies to draw behind a group's box for its count."""
    return max(0, min(group.count, MAX_SHADOWS + 1) - 1)


def _tree(job: Job) -> _Node:
    """The job as nested nodes with the lines both renderings show."""
    job = _unwrap(job)
    job_id = job.get("ID") or job.get("Name") or "?"
    details = [f"type {job.get('Type') or 'service'}"]
    if job.get("Datacenters"):
        details[0] += f", datacenters {', '.join(job['Datacenters'])}"
    root = _Node("job", job_id, f'job "{job_id}"', details, "job")
    for group in job.get("TaskGroups") or []:
        name = group.get("Name") or "?"
        shared = _ports(group.get("Networks"))
        lines = [f"count {_count(group)}"]
        if shared:
            lines.append("network: " + ", ".join(f"{label} ({kind})" for label, kind in shared))
        node = _Node("group", name, f'group "{name}"', lines, f"group:{name}", _count(group))
        for task in group.get("Tasks") or []:
            task_name = task.get("Name") or "?"
            own = _ports((task.get("Resources") or {}).get("Networks"))
            ports = [f"{label} (group network)" for label, _ in shared]
            ports += [f"{label} ({kind}, task network)" for label, kind in own]
            lines = [f"driver: {task.get('Driver') or '?'}"]
            if ports:
                lines.append("ports: " + ", ".join(ports))
            if _resources(task):
                lines.append(_resources(task))
            node.children.append(
                _Node("task", task_name, f'task "{task_name}"', lines, f"task:{name}/{task_name}")
            )
        root.children.append(node)
    return root


def hierarchy_text(job: Job) -> str:
    """The job as a tree: groups with their count and network, tasks with driver and ports.

    Deterministic (declaration order, no IDs or times), so a notebook can check it::

        job "http-microservice"
          type service, datacenters dc1
        └── group "echo"
            │ count 1
            └── task "server"
                  driver: docker
                  ports: http (dynamic, task network)
                  cpu 100 MHz, memory 300 MB
    """
    root = _tree(job)
    lines = [root.title] + [f"  {d}" for d in root.details]
    if not root.children:
        lines.append("  (no task groups)")
    for gi, group in enumerate(root.children):
        last_group = gi == len(root.children) - 1
        branch, stem = ("└── ", "    ") if last_group else ("├── ", "│   ")
        lines.append(branch + group.title)
        inner = "│ " if group.children else "  "
        lines += [f"{stem}{inner}{d}" for d in group.details]
        for ti, task in enumerate(group.children):
            last_task = ti == len(group.children) - 1
            lines.append(stem + ("└── " if last_task else "├── ") + task.title)
            pad = stem + ("      " if last_task else "│     ")
            lines += [pad + d for d in task.details]
    return "\n".join(lines)


# -- the picture ---------------------------------------------------------------------------------


class _Measure:
    """Text widths in inches, measured by the Agg renderer at the figure's resolution."""

    def __init__(self, dpi: float) -> None:
        self.dpi = dpi
        self.renderer = RendererAgg(1, 1, dpi)
        self.regular = FontProperties(family="monospace", size=_FONT)
        self.bold = FontProperties(family="monospace", size=_FONT, weight="bold")

    def width(self, text: str, bold: bool = False) -> float:
        font = self.bold if bold else self.regular
        pixels, _, _ = self.renderer.get_text_width_height_descent(text, font, ismath=False)
        return pixels / self.dpi

    def size(self, node: _Node) -> tuple[float, float]:
        """Width and height of a node's box: its longest line plus padding."""
        longest = max([self.width(node.title, bold=True)] + [self.width(d) for d in node.details])
        return longest + 2 * _PAD, (1 + len(node.details)) * _LINE + 2 * _PAD


def _box(ax: Any, node: _Node, size: tuple[float, float], x: float, top: float,
         style: dict[str, str]) -> None:  # fmt: skip
    """Draw ``node``'s box with its top-left corner at (x, top); copies behind it for count."""
    width, height = size
    for copy in range(_copies(node) if node.kind == "group" else 0, 0, -1):
        offset = copy * _SHADOW
        shadow = FancyBboxPatch(
            (x + offset, top - height - offset), width, height,
            boxstyle="round,pad=0,rounding_size=0.06", linewidth=1.0, **style,
        )  # fmt: skip
        shadow.set_gid(f"{node.gid}:copy{copy}")
        ax.add_patch(shadow)
    patch = FancyBboxPatch(
        (x, top - height), width, height,
        boxstyle="round,pad=0,rounding_size=0.06", linewidth=1.4, **style,
    )  # fmt: skip
    patch.set_gid(node.gid)
    ax.add_patch(patch)
    for number, line in enumerate([node.title, *node.details]):
        text = ax.text(
            x + _PAD, top - _PAD - (number + 0.5) * _LINE, line, va="center_baseline",
            ha="left", family="monospace", fontsize=_FONT,
            fontweight="bold" if number == 0 else "normal",
        )  # fmt: skip
        text.set_gid(f"{node.gid}:title" if number == 0 else f"{node.gid}:line{number}")


def _connect(ax: Any, parent: tuple[float, float], child: tuple[float, float], gid: str) -> None:
    """An elbow line from a parent's bottom centre to a child's top centre."""
    (px, py), (cx, cy) = parent, child
    middle = (py + cy) / 2
    (line,) = ax.plot([px, px, cx, cx], [py, middle, middle, cy], color="0.35", linewidth=1.1)
    line.set_gid(gid)


def draw_hierarchy(job: Job, title: str | None = None) -> Chart:
    """The job as a picture: a job box, a box per group (count, network; stacked copies when
    the count is above 1) and a box per task (driver, ports, resources), joined by lines.

    Patches, texts and lines carry gids naming what they show (``job``, ``group:<name>``,
    ``task:<group>/<task>``, ``...:title``, ``...:line<n>``, ``line:<group>/<task>``) so that
    tests and tools can find them. Returns a :class:`~nomadlab.plots.Chart`.
    """
    root = _tree(job)
    groups = root.children
    fig = Chart()
    measure = _Measure(fig.dpi)
    sizes = {
        id(n): measure.size(n) for n in [root, *groups, *(t for g in groups for t in g.children)]
    }

    def tasks_width(group: _Node) -> float:
        widths = [sizes[id(t)][0] for t in group.children]
        return sum(widths) + _GAP_X * max(len(widths) - 1, 0)

    def shadow(group: _Node) -> float:
        return _SHADOW * _copies(group)

    # Each group owns a column: its tasks side by side, or its centred box (and copies).
    columns = [max(tasks_width(g), sizes[id(g)][0] + 2 * shadow(g)) for g in groups]
    content = sum(columns) + _GAP_GROUPS * max(len(columns) - 1, 0)
    job_w, job_h = sizes[id(root)]
    width = max(content, job_w) + 2 * _MARGIN
    group_h = max((sizes[id(g)][1] + shadow(g) for g in groups), default=0.0)
    task_h = max((sizes[id(t)][1] for g in groups for t in g.children), default=0.0)
    rows = [job_h] + ([group_h] if groups else []) + ([task_h] if task_h else [])
    heading = 0.4 if title else 0.0
    height = sum(rows) + _GAP_Y * (len(rows) - 1) + 2 * _MARGIN + heading
    fig.set_size_inches(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()

    top = height - _MARGIN
    if title:
        ax.text(width / 2, top, title, ha="center", va="top", fontsize=11).set_gid("title")
        top -= heading
    _box(ax, root, sizes[id(root)], (width - job_w) / 2, top, JOB_STYLE)
    job_bottom = (width / 2, top - job_h)
    group_top = top - job_h - _GAP_Y
    task_top = group_top - group_h - _GAP_Y
    x = (width - content) / 2
    for group, column in zip(groups, columns, strict=True):
        group_w, group_h_own = sizes[id(group)]
        gx = x + (column - group_w) / 2  # centred; its copies stick out to the right
        _box(ax, group, sizes[id(group)], gx, group_top, GROUP_STYLE)
        _connect(ax, job_bottom, (gx + group_w / 2, group_top), f"line:{group.name}")
        group_bottom = (gx + group_w / 2, group_top - group_h_own)
        tx = x + (column - tasks_width(group)) / 2
        for task in group.children:
            task_w = sizes[id(task)][0]
            _box(ax, task, sizes[id(task)], tx, task_top, TASK_STYLE)
            _connect(
                ax, group_bottom, (tx + task_w / 2, task_top), f"line:{group.name}/{task.name}"
            )
            tx += task_w + _GAP_X
        x += column + _GAP_GROUPS
    if not groups:
        ax.text(width / 2, _MARGIN, "(no task groups)", ha="center", va="bottom", color="0.4")
    fig.alt = _in_words(root, title)
    return fig


def _in_words(root: _Node, title: str | None) -> str:
    """The picture's alt text: each box's title and lines, parents before children."""

    def box(node: _Node) -> str:
        return f"{node.title} ({'; '.join(node.details)})" if node.details else node.title

    parts = [f"{title}: {box(root)}" if title else box(root)]
    for group in root.children:
        tasks = ", ".join(box(t) for t in group.children) or "no tasks"
        parts.append(f"{box(group)} holds {tasks}")
    if not root.children:
        parts.append("no task groups")
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."
