"""Cron expressions of periodic jobs (Nomad uses hashicorp/cronexpr; here croniter):
validity, and the next launch after a time in the job's time zone."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# croniter (and dateutil under it) is imported on first use: every agent process imports
# this module, few jobs are periodic.


def zone(name: str) -> tzinfo | None:
    """The time zone ``name`` names (UTC for ""), or None when there is none of that name."""
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def invalid(expression: str) -> str:
    """Why ``expression`` is not a cron spec, or "" when it is one."""
    from croniter import croniter
    from croniter.croniter import CroniterError

    try:
        croniter(expression)
    except (CroniterError, ValueError, KeyError) as exc:
        return str(exc) or "syntax error"
    return ""


def next_launch(expressions: list[str], after: float, zone_name: str = "") -> float:
    """The earliest launch of any of ``expressions`` strictly after ``after`` (Unix seconds)."""
    from croniter import croniter

    start = datetime.fromtimestamp(after, tz=zone(zone_name) or timezone.utc)
    return min(croniter(e, start).get_next(float) for e in expressions)
