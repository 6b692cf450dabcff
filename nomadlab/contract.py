"""What the kit and the practice agent agree on, and the only kit module the agent imports.

The kit starts the practice agent as a program; the two meet in files and names (the state
dir, the proxy secret and its header, the agent id) and in the formats Nomad's CLI and
server both speak (Go durations, cron specs). Each is defined here once. This module
imports nothing else of the kit's, so either side can import it without reaching the
other's internals.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# -- Files and names ---------------------------------------------------------------------------

HOME_ENV = "NOMADLAB_HOME"  # the kit's per-user state dir; default ~/.nomadlab
AGENT_RECORD = "agent.json"  # the agent the kit started: address, pid, mode, agent id
SECRET_FILE = "proxy-secret"
PROXY_HEADER = "X-Nomadlab-Proxy"  # what the kit's Jupyter proxy entry adds, with the secret
AGENT_ID_ENV = "NOMADLAB_KIT_AGENT_ID"  # how a launched agent learns the id the kit chose
AGENT_ID_META = "nomadlab_agent_id"  # the node meta key an agent echoes that id in
DEFAULT_PORT = 4646
TOKEN_FILE = "nomad-token"  # the management token the kit bootstrapped its agent with
PORT_FILE = "agent-port"  # the port chosen for this user's agent on a shared host
ACL_ENV = "NOMADLAB_ACL"  # 1: start the agent with ACLs; 0: without; unset: on a JupyterHub


def home() -> Path:
    """The kit's state dir (``$NOMADLAB_HOME``, default ``~/.nomadlab``), not created."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".nomadlab")


def state_dir(path: Path | None = None) -> Path:
    """``path`` (default :func:`home`), created 0700."""
    path = path or home()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _kept(name: str, make: str, valid: Callable[[str], bool], path: Path | None) -> str:
    """The secret kept 0600 as ``name`` in the state dir ``path``; ``make`` written in its
    place if it is absent or not ``valid`` (written by hand). Every process of the user
    reads the same one: the first to create it wins, the others read theirs."""
    file = state_dir(path) / name
    try:
        secret = file.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if valid(secret):
        return secret
    tmp = file.with_name(f".{name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(make + "\n")
    if secret:
        os.replace(tmp, file)
    else:
        with contextlib.suppress(FileExistsError):  # another process created it first: theirs
            os.link(tmp, file)
        os.unlink(tmp)
    return file.read_text().strip()


def proxy_secret(path: Path | None = None) -> str:
    """The secret the proxy entry sends and the agent expects, in the state dir ``path``;
    created 0600 if absent or too short to be the kit's (written by hand)."""
    return _kept(SECRET_FILE, secrets.token_hex(32), lambda s: len(s) >= 32, path)


def kit_token(path: Path | None = None) -> str:
    """The management token the kit bootstraps its agent with on a shared host: a UUID
    (Nomad's bootstrap secrets are) kept 0600 in the state dir ``path``, created once and
    used for every agent the kit starts, so a process started before the agent holds it."""
    return _kept(TOKEN_FILE, str(uuid.uuid4()), is_uuid, path)


def is_uuid(value: str) -> bool:
    """Nomad's helper.IsUUID: 36 characters, hex digits in 8-4-4-4-12 groups."""
    return bool(re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", value))


def shared_host() -> bool:
    """True where other users' processes share this machine, so the kit's agent gets ACLs:
    ``NOMADLAB_ACL=1``, or a server JupyterHub spawned (it sets ``JUPYTERHUB_USER``);
    ``NOMADLAB_ACL=0`` turns it off."""
    setting = os.environ.get(ACL_ENV, "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    return bool(os.environ.get("JUPYTERHUB_USER"))


def acl_token(path: Path | None = None) -> str:
    """The management token the kit keeps in the state dir ``path``, "" if it has none."""
    try:
        return ((path or home()) / TOKEN_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


# -- Go durations (time.ParseDuration and time.Duration.String) --------------------------------

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_PART = re.compile(r"([0-9]*\.?[0-9]*)([^0-9.]*)")  # ASCII digits only, as Go
_MAX_NS = 2**63 - 1


def parse_duration(text: str) -> int:
    """Nanoseconds of a Go duration (``0``, ``90s``, ``-1.5h``, ``2m3s``), computed as Go's
    time.ParseDuration does (a fraction's digits past int64's reach are dropped, the
    fraction scaled in float64); ValueError with Go's text for what Go refuses."""
    invalid = ValueError(f'time: invalid duration "{text}"')
    sign, rest = (-1, text[1:]) if text[:1] == "-" else (1, text.removeprefix("+"))
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total, pos = 0, 0
    while pos < len(rest):
        match = _PART.match(rest, pos)
        number, unit = match[1], match[2]
        if number in ("", "."):
            raise invalid
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        whole, _, digits = number.partition(".")
        value = int(whole or "0")
        fraction, scale = 0, 1
        for digit in digits:
            if fraction > _MAX_NS // 10:  # Go's leadingFraction stops taking digits here
                break
            fraction, scale = fraction * 10 + int(digit), scale * 10
        value *= _UNITS[unit]
        if fraction:
            value += int(float(fraction) * (float(_UNITS[unit]) / scale))
        total += value
        if total > _MAX_NS + 1:
            raise invalid
        pos = match.end()
    if total > _MAX_NS + (sign < 0):  # an int64: down to -2^63, up to 2^63 - 1
        raise invalid
    return sign * total


def format_duration(ns: int | float) -> str:
    """Go's time.Duration.String(): ``0s``, ``500ms``, ``312.5µs``, ``1m30s``, ``1h0m0s``."""
    ns = round(ns)
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < SECOND:
        unit, size = next((u, s) for u, s in (("ms", 10**6), ("µs", 10**3), ("ns", 1)) if ns >= s)
        return f"{sign}{_decimal(ns, size)}{unit}"
    hours, rest = divmod(ns, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    text = f"{_decimal(rest, SECOND)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, size: int) -> str:
    whole, fraction = divmod(value, size)
    digits = str(fraction).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


# -- Cron specs of periodic jobs (Nomad: hashicorp/cronexpr; here croniter) ---------------------
# croniter (and dateutil under it) is imported on first use: every agent process imports this
# module, few jobs are periodic.


def zone(name: str) -> tzinfo | None:
    """The time zone ``name`` names (UTC for ""), or None when there is none of that name."""
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def invalid_cron(expression: str) -> str:
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
