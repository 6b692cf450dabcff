"""The environment a task sees, and ``${...}`` interpolation (Nomad's client/taskenv)."""

from __future__ import annotations

import os
import re
from pathlib import Path

_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def task_environment(alloc: dict, task: dict, node: dict, alloc_dir: Path) -> dict[str, str]:
    """NOMAD_* variables for one task of an allocation, then the job's ``env`` on top."""
    job = alloc["Job"]
    group = next(g for g in job["TaskGroups"] if g["Name"] == alloc["TaskGroup"])
    resources = alloc["AllocatedResources"]
    task_dir = alloc_dir / task["Name"]
    env = {
        "NOMAD_ALLOC_ID": alloc["ID"],
        "NOMAD_SHORT_ALLOC_ID": alloc["ID"][:8],
        "NOMAD_ALLOC_NAME": alloc["Name"],
        "NOMAD_ALLOC_INDEX": alloc["Name"].rsplit("[", 1)[-1].rstrip("]"),
        "NOMAD_TASK_NAME": task["Name"],
        "NOMAD_GROUP_NAME": group["Name"],
        "NOMAD_JOB_ID": job["ID"],
        "NOMAD_JOB_NAME": job["Name"],
        "NOMAD_JOB_PARENT_ID": job.get("ParentID") or "",
        "NOMAD_NAMESPACE": job["Namespace"],
        "NOMAD_REGION": job["Region"],
        "NOMAD_DC": node["Datacenter"],
        "NOMAD_CPU_LIMIT": str(task["Resources"]["CPU"]),
        "NOMAD_MEMORY_LIMIT": str(task["Resources"]["MemoryMB"]),
        "NOMAD_ALLOC_DIR": str(alloc_dir / "alloc"),
        "NOMAD_TASK_DIR": str(task_dir / "local"),
        "NOMAD_SECRETS_DIR": str(task_dir / "secrets"),
    }
    for source in (job.get("Meta"), group.get("Meta"), task.get("Meta")):
        for key, value in (source or {}).items():
            env[f"NOMAD_META_{key}"] = str(value)
            env[f"NOMAD_META_{key.upper()}"] = str(value)
    for port in resources["Shared"]["Ports"] or []:
        label, ip, value = port["Label"], port["HostIP"], str(port["Value"])
        to = str(port["To"] or port["Value"])
        env[f"NOMAD_IP_{label}"] = ip
        env[f"NOMAD_PORT_{label}"] = to
        env[f"NOMAD_ADDR_{label}"] = f"{ip}:{to}"
        env[f"NOMAD_HOST_IP_{label}"] = ip
        env[f"NOMAD_HOST_PORT_{label}"] = value
        env[f"NOMAD_HOST_ADDR_{label}"] = f"{ip}:{value}"
        env[f"NOMAD_ALLOC_PORT_{label}"] = to
    nomad_env = dict(env)
    host = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    merged = {**host, **nomad_env}
    for key, value in (task.get("Env") or {}).items():
        merged[key] = interpolate(str(value), nomad_env, node)
    return merged


def interpolate(text: str, env: dict[str, str], node: dict) -> str:
    """Replace ``${NOMAD_*}``, ``${env["X"]}``, ``${node.*}`` and ``${attr.*}`` references.

    Unknown references stay as written, as Nomad leaves them.
    """
    node_values = {
        "node.unique.id": node["ID"],
        "node.unique.name": node["Name"],
        "node.datacenter": node["Datacenter"],
        "node.region": "global",
        "node.class": node["NodeClass"],
        "node.pool": node["NodePool"],
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name in env:
            return env[name]
        if name.startswith('env["') and name.endswith('"]') and name[5:-2] in env:
            return env[name[5:-2]]
        if name in node_values:
            return node_values[name]
        if name.startswith("attr.") and name[5:] in node["Attributes"]:
            return node["Attributes"][name[5:]]
        if name.startswith("meta.") and name[5:] in (node.get("Meta") or {}):
            return node["Meta"][name[5:]]
        return match.group(0)

    return _REFERENCE.sub(replace, text)


def interpolate_config(value: object, env: dict[str, str], node: dict) -> object:
    """Interpolate every string inside a driver ``config`` block."""
    if isinstance(value, str):
        return interpolate(value, env, node)
    if isinstance(value, list):
        return [interpolate_config(v, env, node) for v in value]
    if isinstance(value, dict):
        return {k: interpolate_config(v, env, node) for k, v in value.items()}
    return value
