"""When a failed allocation may be rescheduled, and after what delay: the Allocation and
RescheduleTracker methods of nomad/structs (NextDelay, NextRescheduleTime,
RescheduleEligible, LastEventTime), used by the reconciler and the deployment watcher.

A policy is a group's ``ReschedulePolicy`` as the API shows it (Attempts, Interval, Delay,
DelayFunction, MaxDelay, Unlimited); times are Unix nanoseconds.
"""

from __future__ import annotations

from nomadlab.practice.structs import now_ns, parse_rfc3339


def alloc_policy(alloc: dict) -> dict | None:
    """Allocation.ReschedulePolicy: its group's policy in the job version it runs."""
    groups = alloc["Job"]["TaskGroups"]
    group = next((g for g in groups if g["Name"] == alloc["TaskGroup"]), None)
    return (group or {}).get("ReschedulePolicy")


def failed_at(alloc: dict) -> int:
    """LastEventTime: when the allocation's last task finished, else its ModifyTime (a later
    client report must not push a reschedule back)."""
    finished = [
        parse_rfc3339(state.get("FinishedAt")) for state in (alloc.get("TaskStates") or {}).values()
    ]
    if not any(finished):  # a task state without FinishedAt: its last event then
        finished = [
            event["Time"]
            for state in (alloc.get("TaskStates") or {}).values()
            for event in state.get("Events") or []
        ]
    return max(finished, default=0) or alloc.get("ModifyTime") or now_ns()


def _events(alloc: dict) -> list[dict]:
    return (alloc.get("RescheduleTracker") or {}).get("Events") or []


def attempted(alloc: dict, policy: dict, fail_time: int) -> int:
    """RescheduleTracker.rescheduleInfo: reschedules within the policy's interval."""
    if not policy.get("Attempts"):
        return 0
    interval = policy.get("Interval") or 0
    return sum(1 for e in _events(alloc) if fail_time - e["RescheduleTime"] < interval)


def reschedule_eligible(alloc: dict, policy: dict | None, fail_time: int | None = None) -> bool:
    """RescheduleTracker.RescheduleEligible: the policy allows another attempt now."""
    if not policy:
        return False
    attempts = policy.get("Attempts") or 0
    if policy.get("Unlimited"):
        return True
    if attempts <= 0:
        return False
    if not _events(alloc):
        return True
    return attempted(alloc, policy, now_ns() if fail_time is None else fail_time) < attempts


def next_delay(alloc: dict, policy: dict | None) -> int:
    """Allocation.NextDelay: the delay function applied to the last attempt's delay, capped
    at MaxDelay; once the allocation ran longer than the cap since its last reschedule, the
    series starts again from Delay."""
    if not policy:
        return 0
    base = policy.get("Delay") or 0
    events = _events(alloc)
    if not events:
        return base
    function = policy.get("DelayFunction") or "constant"
    if function == "exponential":
        delay = events[-1]["Delay"] * 2
    elif function == "fibonacci":
        delay = base
        if len(events) >= 2:
            last, before = events[-1]["Delay"], events[-2]["Delay"]
            # A series that hit the cap and was reset starts again.
            reset = before == policy.get("MaxDelay") and last == base
            delay = last if reset else last + before
    else:
        return base
    max_delay = policy.get("MaxDelay") or 0
    if max_delay > 0 and delay > max_delay:
        delay = max_delay
        if failed_at(alloc) - events[-1]["RescheduleTime"] > delay:
            delay = base
    return delay


def next_reschedule_time(alloc: dict, policy: dict | None) -> tuple[int, bool]:
    """Allocation.NextRescheduleTime: when the failed allocation may be replaced, and
    whether the policy allows it at all (0, False when it does not)."""
    if not policy or (not policy.get("Attempts") and not policy.get("Unlimited")):
        return 0, False
    if alloc["ClientStatus"] not in ("failed", "lost") or alloc["DesiredStatus"] == "stop":
        return 0, False
    fail_time = failed_at(alloc)
    delay = next_delay(alloc, policy)
    eligible = bool(policy.get("Unlimited")) or (
        (policy.get("Attempts") or 0) > 0 and not alloc.get("RescheduleTracker")
    )
    if (policy.get("Attempts") or 0) > 0 and _events(alloc):
        eligible = attempted(alloc, policy, fail_time) < policy["Attempts"] and delay < (
            policy.get("Interval") or 0
        )
    return fail_time + delay, eligible
