"""What ``command/monitor.go`` prints of an evaluation that could not place everything."""

from __future__ import annotations

from typing import Any


def format_alloc_metrics(metrics: dict[str, Any], prefix: str = "  ") -> list[str]:
    """Why allocations could not be placed, one ``* ...`` line per reason (formatAllocMetrics)."""
    out = []
    if not metrics.get("NodesEvaluated"):
        out.append(f"{prefix}* No nodes were eligible for evaluation")
    for dc, available in sorted((metrics.get("NodesAvailable") or {}).items()):
        if available == 0:
            out.append(f'{prefix}* No nodes are available in datacenter "{dc}"')
    for cls, num in sorted((metrics.get("ClassFiltered") or {}).items()):
        out.append(f'{prefix}* Class "{cls}": {num} nodes excluded by filter')
    for constraint, num in sorted((metrics.get("ConstraintFiltered") or {}).items()):
        out.append(f'{prefix}* Constraint "{constraint}": {num} nodes excluded by filter')
    if metrics.get("NodesExhausted"):
        out.append(f"{prefix}* Resources exhausted on {metrics['NodesExhausted']} nodes")
    for cls, num in sorted((metrics.get("ClassExhausted") or {}).items()):
        out.append(f'{prefix}* Class "{cls}" exhausted on {num} nodes')
    for dim, num in sorted((metrics.get("DimensionExhausted") or {}).items()):
        out.append(f'{prefix}* Dimension "{dim}" exhausted on {num} nodes')
    for dim in metrics.get("QuotaExhausted") or []:
        out.append(f'{prefix}* Quota limit hit "{dim}"')
    return out
