"""The agent's configuration files, as ``nomad agent -config`` reads them
(command/agent/config_parse.go): HCL or JSON, a file or a directory of ``*.hcl`` and
``*.json`` files in name order, later files overriding earlier ones.

The practice agent reads the server's heartbeat timers, which a classroom may shorten so
that a failed node is noticed in seconds rather than in 20 to 30, and ``acl { enabled }``,
which a classroom on one server turns on. The same file works with ``nomad agent -dev
-config``. Any other setting is refused by name, never silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nomadlab.contract import SECOND
from nomadlab.practice.jobspec.common import JobspecError, duration_ns

#: What the practice agent reads, as Nomad spells it in the server block.
SERVER_KEYS = ("heartbeat_grace", "min_heartbeat_ttl", "max_heartbeats_per_second")
#: ... and in the acl block.
ACL_KEYS = ("enabled",)
#: The classroom's heartbeat timers, which the kit's several-node practice agents run with.


class ConfigError(Exception):
    """A configuration file the agent cannot use; the text says which and why."""


@dataclass
class AgentConfig:
    """What the agent read from its config files: the server block's heartbeat timers, in
    seconds (None keeps Nomad's default), whether ACLs are on, and the files, in the order
    loaded."""

    heartbeat_grace: float | None = None
    min_heartbeat_ttl: float | None = None
    max_heartbeats_per_second: float | None = None
    acl_enabled: bool = False
    files: list[str] = field(default_factory=list)


def load(paths: list[Path]) -> AgentConfig:
    """Every ``-config`` path in order, merged; raise ConfigError with Nomad's prefix."""
    config = AgentConfig()
    for path in paths:
        try:
            files = _files(path)
            for file in files:
                try:
                    _merge(config, _read(file))
                except ConfigError as err:
                    if files == [path]:  # a file given itself: the prefix names it
                        raise
                    raise ConfigError(f"Error loading {file}: {err}") from None
                config.files.append(str(file))
        except ConfigError as err:
            raise ConfigError(f"Error loading configuration from {path}: {err}") from None
    return config


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p
            for p in path.iterdir()
            if p.suffix in (".hcl", ".json") and p.is_file() and not p.name.startswith(".")
        )
    if not path.exists():
        raise ConfigError(f"stat {path}: no such file or directory")
    return [path]


def _read(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(str(err)) from None
    if file.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    else:
        import hcl2  # only an agent given a config file pays for the HCL parser

        options = hcl2.SerializationOptions(
            strip_string_quotes=True, explicit_blocks=False, with_comments=False
        )
        try:
            data = hcl2.loads(text, serialization_options=options)
        except Exception as err:  # lark's errors and python-hcl2's ValueError/RuntimeError
            raise ConfigError(str(err).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be an object")
    return data


def _merge(config: AgentConfig, data: dict[str, Any]) -> None:
    unsupported = [key for key in data if key not in ("server", "acl")]
    for block in _blocks(data, "server"):
        unsupported += [f"server.{key}" for key in block if key not in SERVER_KEYS]
        for key in SERVER_KEYS:
            value = _value(key, block[key]) if key in block else 0
            if value:  # as in Nomad, zero keeps what was set before, or the default
                setattr(config, key, value)
    for block in _blocks(data, "acl"):
        unsupported += [f"acl.{key}" for key in block if key not in ACL_KEYS]
        if "enabled" in block:
            if not isinstance(block["enabled"], bool):
                raise ConfigError(f"acl.enabled must be true or false, not {block['enabled']!r}")
            # ACLConfig.Merge: a later file's true turns ACLs on; false leaves them as they are
            config.acl_enabled = config.acl_enabled or block["enabled"]
    if unsupported:
        raise ConfigError(
            f"the practice agent does not read {', '.join(unsupported)}: it reads only "
            + ", ".join([*(f"server.{key}" for key in SERVER_KEYS), "acl.enabled"])
        )


def _blocks(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    blocks = data.get(name, [])
    blocks = blocks if isinstance(blocks, list) else [blocks]
    if not all(isinstance(block, dict) for block in blocks):
        raise ConfigError(f"{name} must be a block")
    return blocks


def _value(key: str, value: Any) -> float:
    if key == "max_heartbeats_per_second":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{key} must be a positive number, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f'{key} must be a duration such as "10s", not {value!r}')
    try:
        ns = duration_ns(value)
    except JobspecError as err:
        raise ConfigError(str(err)) from None
    if ns is None or ns < 0:
        raise ConfigError(f'{key} must be a positive duration, not "{value}"')
    return ns / SECOND
