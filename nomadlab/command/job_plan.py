"""``nomad job plan`` and ``nomad job history`` as the CLI prints them (pure functions).

Ported from ``command/job_plan.go`` (formatJobDiff, formatDryRun, formatJobModifyIndex)
and ``command/job_history.go``, without the colours: data in, text out.
"""

from __future__ import annotations

import json
from typing import Any

from nomadlab.command.monitor import format_alloc_metrics

JOB_MODIFY_INDEX_HELP = """To submit the job with version verification run:

nomad job run -check-index {index} {args}{path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""

# The order Go's sort.Strings gives the update types.
_MARKERS = {"Added": "+ ", "Deleted": "- ", "Edited": "+/- "}


def marker(diff_type: str) -> str:
    """The diff marker of a type (getDiffString): ``+``, ``-``, ``+/-`` or nothing."""
    return _MARKERS.get(diff_type, "")


def _longest(fields: list[dict] | None, objects: list[dict] | None) -> tuple[int, int]:
    fields, objects = fields or [], objects or []
    longest_field = max((len(f["Name"]) for f in fields), default=0)
    longest_marker = max((len(marker(d["Type"])) for d in fields + objects), default=0)
    return longest_field, longest_marker


def _quote(text: str) -> str:
    """Go's %q for the strings a diff holds."""
    return json.dumps(text, ensure_ascii=False)


def format_field_diff(diff: dict, start: int, key_prefix: int, value_prefix: int) -> str:
    out = f"{' ' * start}{marker(diff['Type'])}{' ' * key_prefix}{diff['Name']}: "
    out += " " * value_prefix
    if diff["Type"] == "Deleted":
        out += _quote(diff["Old"])
    elif diff["Type"] == "Edited":
        out += f"{_quote(diff['Old'])} => {_quote(diff['New'])}"
    else:
        out += _quote(diff["New"])
    if diff.get("Annotations"):
        out += f" ({', '.join(diff['Annotations'])})"
    return out


def format_object_diff(diff: dict, start: int, key_prefix: int) -> str:
    mark = marker(diff["Type"])
    out = f"{' ' * start}{mark}{' ' * key_prefix}{diff['Name']} {{\n"
    longest_field, longest_marker = _longest(diff.get("Fields"), diff.get("Objects"))
    out += aligned(
        diff.get("Fields"),
        diff.get("Objects"),
        start + key_prefix + 2,
        longest_field,
        longest_marker,
    )
    return f"{out}\n{' ' * (start + len(mark) + key_prefix)}}}"


def aligned(
    fields: list[dict] | None,
    objects: list[dict] | None,
    start: int,
    longest_field: int,
    longest_marker: int,
) -> str:
    """Fields and objects with names and values lined up (alignedFieldAndObjects)."""
    fields, objects = fields or [], objects or []
    out = ""
    for i, field in enumerate(fields):
        out += format_field_diff(
            field,
            start,
            longest_marker - len(marker(field["Type"])),
            longest_field - len(field["Name"]),
        )
        if i + 1 != len(fields) or objects:
            out += "\n"
    for i, obj in enumerate(objects):
        out += format_object_diff(obj, start, longest_marker - len(marker(obj["Type"])))
        if i + 1 != len(objects):
            out += "\n"
    return out


def format_task_diff(task: dict, start: int, task_prefix: int, verbose: bool) -> str:
    out = f"{' ' * start}{marker(task['Type'])}{' ' * task_prefix}Task: {_quote(task['Name'])}"
    if task.get("Annotations"):
        out += f" ({', '.join(task['Annotations'])})"
    if task["Type"] == "None" or (task["Type"] in ("Added", "Deleted") and not verbose):
        return out
    out += "\n"
    longest_field, longest_marker = _longest(task.get("Fields"), task.get("Objects"))
    return out + aligned(
        task.get("Fields"), task.get("Objects"), start + 2, longest_field, longest_marker
    )


def format_group_diff(group: dict, prefix: int, verbose: bool) -> str:
    out = f"{marker(group['Type'])}{' ' * prefix}Task Group: {_quote(group['Name'])}"
    updates = group.get("Updates") or {}
    if updates:
        out += " (" + ", ".join(f"{updates[k]} {k}" for k in sorted(updates)) + ")\n"
    else:
        out += "\n"
    longest_field, longest_marker = _longest(group.get("Fields"), group.get("Objects"))
    tasks = group.get("Tasks") or []
    longest_marker = max([longest_marker, *(len(marker(t["Type"])) for t in tasks)])
    start = prefix + 2
    if group["Type"] == "Edited" or verbose:
        fo = aligned(
            group.get("Fields"), group.get("Objects"), start, longest_field, longest_marker
        )
        out += fo + ("\n" if fo else "")
    for task in tasks:
        out += format_task_diff(task, start, longest_marker - len(marker(task["Type"])), verbose)
        out += "\n"
    return out


def format_job_diff(diff: dict, verbose: bool = False) -> str:
    """The ``+/- Job: "..."`` block of ``nomad job plan`` (formatJobDiff)."""
    out = f"{marker(diff['Type'])}Job: {_quote(diff['ID'])}\n"
    longest_field, longest_marker = _longest(diff.get("Fields"), diff.get("Objects"))
    groups = diff.get("TaskGroups") or []
    longest_marker = max([longest_marker, *(len(marker(g["Type"])) for g in groups)])
    if diff["Type"] == "Edited" or verbose:
        fo = aligned(diff.get("Fields"), diff.get("Objects"), 0, longest_field, longest_marker)
        out += fo + ("\n" if fo else "")
    for group in groups:
        out += format_group_diff(group, longest_marker - len(marker(group["Type"])), verbose) + "\n"
    return out


def format_dry_run(plan: dict, job_type: str = "service") -> str:
    """The lines under ``Scheduler dry-run:`` (formatDryRun)."""
    failed = plan.get("FailedTGAllocs") or {}
    if not failed:
        return "- All tasks successfully allocated."
    if job_type == "system":
        out = "- WARNING: Failed to place allocations on all nodes.\n"
    else:
        out = "- WARNING: Failed to place all allocations.\n"
    for name in sorted(failed):
        metrics = failed[name]
        noun = "allocations" if metrics.get("CoalescedFailures") else "allocation"
        placed = metrics.get("CoalescedFailures", 0) + 1
        out += f'  Task Group "{name}" (failed to place {placed} {noun}):\n'
        out += "\n".join(format_alloc_metrics(metrics, "    ")) + "\n\n"
    return out.rstrip("\n")


def format_job_modify_index(index: int, path: str, run_args: str = "") -> str:
    """``Job Modify Index: N`` and the ``nomad job run -check-index N`` hint."""
    help_text = JOB_MODIFY_INDEX_HELP.format(index=index, args=run_args, path=path)
    return f"Job Modify Index: {index}\n{help_text}"


def format_plan(plan: dict, path: str, run_args: str = "", verbose: bool = False,
                job_type: str = "service") -> str:  # fmt: skip
    """Everything ``nomad job plan PATH`` prints for a plan response."""
    out = format_job_diff(plan["Diff"], verbose).strip() + "\n\n"
    out += "Scheduler dry-run:\n" + format_dry_run(plan, job_type) + "\n\n"
    if plan.get("Warnings"):
        out += f"Job Warnings:\n{plan['Warnings']}\n\n"
    return out + format_job_modify_index(plan.get("JobModifyIndex", 0), path, run_args)


def plan_exit_code(plan: dict) -> int:
    """``nomad job plan``'s exit code: 1 when allocations would be created or destroyed."""
    if (plan.get("Diff") or {}).get("Type") == "None":
        return 0
    updates = ((plan.get("Annotations") or {}).get("DesiredTGUpdates") or {}).values()
    keys = ("Stop", "Place", "Migrate", "DestructiveUpdate", "Canary")
    return int(any(sum(u.get(k, 0) for k in keys) > 0 for u in updates))


def run_args(variables: dict[str, Any]) -> str:
    """The ``-var="k=v" `` words ``nomad job plan`` repeats in its hint."""
    return "".join(f"-var={_quote(f'{k}={v}')} " for k, v in variables.items())
