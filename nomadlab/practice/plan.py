"""Job diffs and plan annotations: what ``nomad job plan`` and ``job history -p`` show.

The diff follows ``nomad/structs/diff.go`` on the wire-shaped job: a JobDiff of primitive
fields, objects and task groups, each typed Added, Deleted, Edited or None; the annotations
follow ``scheduler/annotate.go`` (the group's update counts, "forces create" on a count
change, "forces create/destroy update" or "forces in-place update" on a task).
"""

from __future__ import annotations

from typing import Any

ADDED, DELETED, EDITED, NONE = "Added", "Deleted", "Edited", "None"

JOB_FILTER = frozenset(
    (
        "ID",
        "Status",
        "StatusDescription",
        "Version",
        "Stable",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "Update",
        "SubmitTime",
        "NomadTokenID",
        "VaultToken",
    )
)
# Go maps of strings: flattened into fields as ``Meta[key]`` (structs are objects instead).
MAP_FIELDS = ("Meta", "Env")
# Objects of each level in the order diff.go appends them: (key, diff name, kind).
JOB_OBJECTS = (
    ("Constraints", "Constraint", "set"),
    ("Affinities", "Affinity", "set"),
    ("Periodic", "Periodic", "object"),
    ("ParameterizedJob", "ParameterizedJob", "object"),
    ("Multiregion", "Multiregion", "object"),
)
GROUP_OBJECTS = (
    ("Constraints", "Constraint", "set"),
    ("Affinities", "Affinity", "set"),
    ("RestartPolicy", "RestartPolicy", "object"),
    ("ReschedulePolicy", "ReschedulePolicy", "object"),
    ("EphemeralDisk", "EphemeralDisk", "object"),
    ("Consul", "Consul", "object"),
    ("Update", "Update", "object"),
    ("Networks", "Network", "networks"),
    ("Scaling", "Scaling", "object"),
    ("Services", "Service", "set"),
)
TASK_OBJECTS = (
    ("Constraints", "Constraint", "set"),
    ("Affinities", "Affinity", "set"),
    ("Config", "Config", "config"),
    ("Resources", "Resources", "resources"),
    ("LogConfig", "LogConfig", "object"),
    ("DispatchPayload", "DispatchPayload", "object"),
    ("Artifacts", "Artifact", "set"),
    ("Services", "Service", "set"),
    ("Vault", "Vault", "object"),
    ("Templates", "Template", "set"),
    ("Identity", "Identity", "object"),
)

# Update counts of a group, in the plan's DesiredTGUpdates, and their names in the diff.
UPDATE_TYPES = (
    ("Ignore", "ignore"),
    ("Place", "create"),
    ("Migrate", "migrate"),
    ("Stop", "destroy"),
    ("Canary", "canary"),
    ("InPlaceUpdate", "in-place update"),
    ("DestructiveUpdate", "create/destroy update"),
)


def desired_updates() -> dict:
    """DesiredUpdates of one task group, all zero."""
    return {key: 0 for key, _ in UPDATE_TYPES} | {"Preemptions": 0}


# Flattening ------------------------------------------------------------------------


def go_string(value: Any) -> str:
    """A primitive as Go's %v prints it (flatmap.Flatten)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten_primitive(obj: dict | None, skip: frozenset[str] | tuple = ()) -> dict[str, str]:
    """Primitive fields of an object, and maps of primitives as ``Name[key]``."""
    flat: dict[str, str] = {}
    for key, value in (obj or {}).items():
        if key in skip or value is None:
            continue
        if isinstance(value, (str, int, float, bool)):
            flat[key] = go_string(value)
        elif key in MAP_FIELDS and isinstance(value, dict):
            for sub, item in value.items():
                flat[f"{key}[{sub}]"] = go_string(item)
    return flat


def flatten_all(value: Any, prefix: str = "") -> dict[str, str]:
    """Every leaf of a driver config: ``args[0]``, ``port_map[http]``."""
    flat: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            flat.update(flatten_all(item, f"{prefix}[{key}]" if prefix else str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            flat.update(flatten_all(item, f"{prefix}[{i}]"))
    elif value is not None:
        flat[prefix] = go_string(value)
    return flat


# Diffs -----------------------------------------------------------------------------


def field_diff(old: str, new: str, name: str, contextual: bool) -> dict | None:
    """One FieldDiff, or None when nothing changed and no context is wanted."""
    if old == new:
        if not contextual:
            return None
        kind = NONE
    elif old == "":
        kind = ADDED
    elif new == "":
        kind = DELETED
    else:
        kind = EDITED
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": None}


def field_diffs(old: dict[str, str], new: dict[str, str], contextual: bool) -> list[dict]:
    """FieldDiffs of two flattened objects, sorted by name as diff.go sorts them."""
    diffs = [
        d
        for key in old.keys() | new.keys()
        if (d := field_diff(old.get(key, ""), new.get(key, ""), key, contextual)) is not None
    ]
    return sorted(diffs, key=lambda d: (d["Name"], d["Old"], d["New"]))


def change_type(old: Any, new: Any) -> str:
    if old is None:
        return ADDED
    if new is None:
        return DELETED
    return EDITED


def object_diff(
    old: dict | None, new: dict | None, name: str, contextual: bool, skip: tuple = ()
) -> dict | None:
    """primitiveObjectDiff: an object's primitive fields, or None when it is unchanged."""
    if old == new or (not old and not new):
        return None
    return {
        "Type": change_type(old or None, new or None),
        "Name": name,
        "Fields": field_diffs(
            flatten_primitive(old, skip), flatten_primitive(new, skip), contextual
        ),
        "Objects": None,
    }


def set_diff(old: list | None, new: list | None, name: str, contextual: bool) -> list[dict]:
    """primitiveObjectSetDiff: members only in the old list are Deleted, only in the new Added."""
    old, new = old or [], new or []
    diffs = [object_diff(o, None, name, contextual) for o in old if o not in new]
    diffs += [object_diff(None, n, name, contextual) for n in new if n not in old]
    return [d for d in diffs if d is not None]


def string_set_diff(old: list | None, new: list | None, name: str, contextual: bool) -> dict:
    """stringSetDiff: a set of strings (Datacenters) as one object of fields."""
    old_set, new_set = set(old or []), set(new or [])
    fields = [field_diff(v, "", name, contextual) for v in old_set - new_set]
    fields += [field_diff("", v, name, contextual) for v in new_set - old_set]
    if contextual:
        fields += [field_diff(v, v, name, contextual) for v in old_set & new_set]
    added, removed = bool(new_set - old_set), bool(old_set - new_set)
    kind = EDITED if added and removed else ADDED if added else DELETED if removed else NONE
    fields = sorted((f for f in fields if f), key=lambda d: (d["Name"], d["Old"], d["New"]))
    return {"Type": kind, "Name": name, "Fields": fields, "Objects": None}


def network_diffs(old: list | None, new: list | None, contextual: bool) -> list[dict]:
    """networkResourceDiffs: each changed network, with its static and dynamic ports."""
    old, new = old or [], new or []
    diffs = []
    for before, after in [(o, None) for o in old if o not in new] + [
        (None, n) for n in new if n not in old
    ]:
        diff = object_diff(before, after, "Network", contextual)
        ports = []
        for key, port_name in (("ReservedPorts", "Static Port"), ("DynamicPorts", "Dynamic Port")):
            ports += set_diff(
                (before or {}).get(key), (after or {}).get(key), port_name, contextual
            )
        if diff is not None:
            diff["Objects"] = ports or None
            diffs.append(diff)
    return diffs


def objects_diff(old: dict, new: dict, specs: tuple, contextual: bool) -> list[dict]:
    """The object diffs of one level, in diff.go's order."""
    diffs: list[dict] = []
    for key, name, kind in specs:
        before, after = old.get(key), new.get(key)
        if kind == "set":
            diffs += set_diff(before, after, name, contextual)
        elif kind == "networks":
            diffs += network_diffs(before, after, contextual)
        elif kind == "config":
            if before != after:
                diffs.append(
                    {
                        "Type": change_type(before, after),
                        "Name": name,
                        "Fields": field_diffs(flatten_all(before), flatten_all(after), contextual),
                        "Objects": None,
                    }
                )
        elif kind == "resources":
            diff = object_diff(before, after, name, contextual)
            if diff is not None:
                networks = network_diffs(
                    (before or {}).get("Networks"), (after or {}).get("Networks"), contextual
                )
                diff["Objects"] = networks or None
                diffs.append(diff)
        else:
            diff = object_diff(before, after, name, contextual, skip=("Stagger",))
            if diff is not None:
                diffs.append(diff)
    return diffs


def task_diff(old: dict | None, new: dict | None, contextual: bool) -> dict:
    """A TaskDiff: its primitive fields (not Name or Config) and objects."""
    kind = NONE if old == new else change_type(old, new)
    skip = frozenset(("Name", "Config"))
    return {
        "Type": kind,
        "Name": (new or old or {})["Name"],
        "Fields": field_diffs(flatten_primitive(old, skip), flatten_primitive(new, skip), False)
        or None,
        "Objects": objects_diff(old or {}, new or {}, TASK_OBJECTS, contextual) or None,
        "Annotations": None,
    }


def group_diff(old: dict | None, new: dict | None, contextual: bool) -> dict:
    """A TaskGroupDiff: fields, objects and tasks (matched by name, sorted by name)."""
    kind = NONE if old == new else change_type(old, new)
    skip = frozenset(("Name",))
    old_tasks = {t["Name"]: t for t in (old or {}).get("Tasks") or []}
    new_tasks = {t["Name"]: t for t in (new or {}).get("Tasks") or []}
    tasks = [
        task_diff(old_tasks.get(name), new_tasks.get(name), contextual)
        for name in sorted(old_tasks.keys() | new_tasks.keys())
    ]
    return {
        "Type": kind,
        "Name": (new or old or {})["Name"],
        "Fields": field_diffs(flatten_primitive(old, skip), flatten_primitive(new, skip), False)
        or None,
        "Objects": objects_diff(old or {}, new or {}, GROUP_OBJECTS, contextual) or None,
        "Tasks": tasks or None,
        "Updates": None,
    }


def job_diff(old: dict | None, new: dict | None, contextual: bool = True) -> dict:
    """Job.Diff: what changes from ``old`` to ``new`` (either may be None)."""
    fields = field_diffs(
        flatten_primitive(old, JOB_FILTER), flatten_primitive(new, JOB_FILTER), False
    )
    objects = []
    datacenters = string_set_diff(
        (old or {}).get("Datacenters"), (new or {}).get("Datacenters"), "Datacenters", contextual
    )
    if datacenters["Type"] != NONE:
        objects.append(datacenters)
    objects += objects_diff(old or {}, new or {}, JOB_OBJECTS, contextual)
    old_groups = {g["Name"]: g for g in (old or {}).get("TaskGroups") or []}
    new_groups = {g["Name"]: g for g in (new or {}).get("TaskGroups") or []}
    groups = [
        group_diff(old_groups.get(name), new_groups.get(name), contextual)
        for name in sorted(old_groups.keys() | new_groups.keys())
    ]
    if old is None or new is None:
        kind = change_type(old, new)
    elif fields or objects or any(g["Type"] != NONE for g in groups):
        kind = EDITED
    else:
        kind = NONE
    return {
        "Type": kind,
        "ID": (new or old or {}).get("ID", ""),
        "Fields": fields or None,
        "Objects": objects or None,
        "TaskGroups": groups or None,
    }


# Annotations (scheduler/annotate.go) ------------------------------------------------

FORCES_CREATE = "forces create"
FORCES_DESTROY = "forces destroy"
FORCES_INPLACE = "forces in-place update"
FORCES_DESTRUCTIVE = "forces create/destroy update"


def annotate(diff: dict, desired: dict[str, dict]) -> None:
    """Add the scheduler's update counts and the forcing annotations to a job diff."""
    for group in diff.get("TaskGroups") or []:
        counts = desired.get(group["Name"])
        if counts is not None:
            group["Updates"] = {
                name: counts[key] for key, name in UPDATE_TYPES if counts.get(key)
            } or None
        for field in group.get("Fields") or []:
            if field["Name"] == "Count":
                old, new = int(field["Old"] or 0), int(field["New"] or 0)
                if old != new:
                    field["Annotations"] = [FORCES_CREATE if old < new else FORCES_DESTROY]
        for task in group.get("Tasks") or []:
            annotate_task(task, group)


def annotate_task(task: dict, group: dict) -> None:
    if task["Type"] == NONE:
        return
    if group["Type"] in (ADDED, DELETED) and task["Type"] in (ADDED, DELETED):
        task["Annotations"] = [FORCES_CREATE if task["Type"] == ADDED else FORCES_DESTROY]
        return
    destructive = any(f["Name"] != "KillTimeout" for f in task.get("Fields") or [])
    for obj in task.get("Objects") or []:
        if destructive:
            break
        if obj["Name"] in ("Service", "Constraint", "Affinity", "Spread"):
            continue
        if obj["Name"] == "LogConfig":
            destructive = any(f["Name"] == "Disabled" for f in obj.get("Fields") or [])
            continue
        destructive = True
    task["Annotations"] = [FORCES_DESTRUCTIVE if destructive else FORCES_INPLACE]
