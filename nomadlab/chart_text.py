"""What each chart of :mod:`nomadlab.plots` shows, in words: the alt text of its image.

A learner who uses a screen reader, or reads a notebook in a text-only front end, gets the
same facts the picture gives: how many allocations, in which states, on which nodes, and
how the counts changed. Pure functions: the numbers a chart draws in, a sentence out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

#: Items named one by one before the rest are counted ("and 7 more").
MAX_LISTED = 12
#: Changes of a count named one by one before the rest are elided.
MAX_CHANGES = 8
#: States in the order an allocation goes through them: counts are read out in it.
STATES = ("pending", "running", "complete", "failed", "lost", "healthy", "unhealthy")


def listing(items: Sequence[str], limit: int = MAX_LISTED, separator: str = ", ") -> str:
    """``a, b and c`` (``a; b; c`` with ``separator="; "``); past ``limit`` items,
    ``a, b, … and 7 more``."""
    items = list(items)
    if len(items) > limit:
        return separator.join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) <= 1:
        return "".join(items)
    last = " and " if separator == ", " else separator
    return separator.join(items[:-1]) + last + items[-1]


def counted(counts: Mapping[str, int]) -> str:
    """``2 running, 1 complete``: the non-zero counts, in :data:`STATES` order, then by name."""
    known = [k for k in STATES if counts.get(k)]
    rest = sorted(k for k in counts if counts[k] and k not in known)
    return ", ".join(f"{counts[k]} {k}" for k in [*known, *rest]) or "none"


def plural(n: int, word: str) -> str:
    """``1 allocation``, ``3 allocations``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def changes(values: Sequence[int]) -> str:
    """A count's history without repeats: ``1 → 3 → 5 → 2`` (``…`` past a few changes)."""
    steps = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    if len(steps) > MAX_CHANGES:
        shown = [str(v) for v in steps[: MAX_CHANGES - 1]] + ["…", str(steps[-1])]
    else:
        shown = [str(v) for v in steps]
    return " → ".join(shown)


def timeline_text(
    title: str, rows: Sequence[tuple[str, str, int, str | None]], seconds: float
) -> str:
    """Alt text of an allocation timeline; a row is (name, status, restarts, health)."""
    statuses = Counter(status for _, status, _, _ in rows)
    restarts = sum(n for _, _, n, _ in rows)
    health = Counter(h for *_, h in rows if h)
    text = f"{title}: {plural(len(rows), 'allocation')} over {seconds:.0f} s; "
    text += f"now {counted(statuses)}"
    if health:
        text += f"; the deployment marked {counted(health)}"
    if restarts:
        text += f"; {plural(restarts, 'restart')}"
    described = []
    for name, status, count, verdict in rows:
        notes = [status, *([verdict] if verdict else [])]
        if count:
            notes.append(plural(count, "restart"))
        described.append(f"{name}: {', '.join(notes)}")
    return text + ". " + listing(described, separator="; ") + "."


def steps_text(title: str, samples: Sequence[Mapping], keys: Sequence[str], unit: str) -> str:
    """Alt text of counts over time: each count's changes, the events, the last values."""
    seconds = samples[-1]["time"] - samples[0]["time"]
    lines = [f"{key} {changes([s[key] for s in samples])}" for key in keys]
    text = f"{title}, {unit} over {seconds:.0f} s: " + "; ".join(lines) + "."
    events = [
        f"{s['event']} at {s['time'] - samples[0]['time']:.0f} s" for s in samples if s.get("event")
    ]
    if events:
        text += " Events: " + listing(events) + "."
    last = samples[-1]
    return text + " At the end: " + ", ".join(f"{last[k]} {k}" for k in keys) + "."


def by_node_text(
    title: str, per_node: Mapping[str, Mapping[str, int]], ports: Sequence[int]
) -> str:
    """Alt text of allocations per node and the host port of each."""
    nodes = [
        f"{node} {sum(counts.values())} ({counted(counts)})" if counts else f"{node} none"
        for node, counts in per_node.items()
    ]
    text = f"{title}: per node, {listing(nodes)}."
    if ports:
        return text + f" Host ports: {listing([str(p) for p in ports])}."
    return text + " No ports: they come with full allocations."


def versions_text(title: str, per_version: Mapping[int, Mapping[str, int]]) -> str:
    """Alt text of allocations coloured by job version."""
    total = sum(sum(c.values()) for c in per_version.values())
    versions = [f"version {v}: {counted(c)}" for v, c in sorted(per_version.items())]
    return f"{title}: {plural(total, 'allocation')}; " + "; ".join(versions) + "."


def placements_text(
    title: str,
    per_node: Mapping[str, Sequence[str]],
    periods: Mapping[str, Sequence[str]],
    moves: Sequence[tuple[str, str, str]],
) -> str:
    """Alt text of where copies ran: each node's copies and periods, and each move."""
    nodes = []
    for node, copies in per_node.items():
        shaded = f" (was {listing(periods[node])})" if periods.get(node) else ""
        nodes.append(f"{node}{shaded}: {listing(copies) or 'no copies'}")
    text = f"{title}: " + "; ".join(nodes) + "."
    if moves:
        text += " Moved: " + listing([f"{c} from {a} to {b}" for c, a, b in moves]) + "."
    return text
