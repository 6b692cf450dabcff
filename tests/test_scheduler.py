"""The scheduler's pure rules: when an allocation failed, reschedule delays and limits."""

from __future__ import annotations

import time

from nomadlab.practice.scheduler import failed_at, reschedule_allowed, reschedule_delay

SECOND = 1_000_000_000


def failed_alloc(last_event: int, modified: int, reschedules: int = 0) -> dict:
    events = [{"RescheduleTime": 0, "PrevAllocID": "", "PrevNodeID": "", "Delay": 0}]
    return {
        "ModifyTime": modified,
        "TaskStates": {
            "main": {"Events": [{"Type": "Started", "Time": last_event - SECOND},
                                {"Type": "Not Restarting", "Time": last_event}]},
        },
        "RescheduleTracker": {"Events": events * reschedules} if reschedules else None,
    }  # fmt: skip


def test_failure_time_is_the_last_task_event_not_a_later_client_report() -> None:
    # The client reports again after the task died; that must not push the reschedule back.
    alloc = failed_alloc(last_event=100 * SECOND, modified=103 * SECOND)
    assert failed_at(alloc) == 100 * SECOND


def test_failure_time_without_events_falls_back_to_the_modify_time() -> None:
    assert failed_at({"ModifyTime": 7 * SECOND, "TaskStates": None}) == 7 * SECOND


def test_reschedule_delays_follow_the_delay_function_and_cap() -> None:
    policy = {"Delay": 5 * SECOND, "DelayFunction": "exponential", "MaxDelay": 30 * SECOND}
    delays = [reschedule_delay(failed_alloc(0, 0, n), policy) for n in range(5)]
    assert delays == [5 * SECOND, 10 * SECOND, 20 * SECOND, 30 * SECOND, 30 * SECOND]
    fibonacci = dict(policy, DelayFunction="fibonacci", MaxDelay=0)
    assert [reschedule_delay(failed_alloc(0, 0, n), fibonacci) // SECOND for n in range(5)] == [
        5, 5, 10, 15, 25,
    ]  # fmt: skip
    assert reschedule_delay(failed_alloc(0, 0, 3), {"Delay": 5 * SECOND}) == 5 * SECOND


def test_reschedule_attempts_are_limited_unless_unlimited() -> None:
    policy = {"Attempts": 1, "Interval": 3600 * SECOND, "Unlimited": False}
    assert reschedule_allowed(failed_alloc(0, 0), policy)
    recent = failed_alloc(0, 0, 1)
    recent["RescheduleTracker"]["Events"][0]["RescheduleTime"] = time.time_ns() - 60 * SECOND
    assert not reschedule_allowed(recent, policy)
    assert reschedule_allowed(recent, dict(policy, Unlimited=True))
    long_ago = failed_alloc(0, 0, 1)
    long_ago["RescheduleTracker"]["Events"][0]["RescheduleTime"] = time.time_ns() - 7200 * SECOND
    assert reschedule_allowed(long_ago, policy)  # outside the interval: it no longer counts
