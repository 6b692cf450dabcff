"""When a failed allocation may be replaced, and after what delay (the practice agent's
``structs.reschedule``), as Nomad's structs tests pin it; and the default policies a group
without a ``reschedule`` block gets."""

from __future__ import annotations

import time

import pytest

from nomadlab.practice import jobspec
from nomadlab.practice.structs import rfc3339
from nomadlab.practice.structs.reschedule import (
    failed_at,
    next_delay,
    next_reschedule_time,
    reschedule_eligible,
)

S = 1_000_000_000
H = 3600 * S
NOW = time.time_ns()


def failed(finished_ago: int | None, *delays_ago: tuple[int, int], client: str = "failed") -> dict:
    """A failed allocation whose task finished ``finished_ago`` ns ago, with one reschedule
    event per (delay, how long ago) pair."""
    states = None
    if finished_ago is not None:
        states = {"foo": {"State": "dead", "FinishedAt": rfc3339(NOW - finished_ago)}}
    events = [{"RescheduleTime": NOW - ago, "Delay": delay} for delay, ago in delays_ago]
    return {
        "ClientStatus": client,
        "DesiredStatus": "run",
        "ModifyTime": NOW,
        "TaskStates": states,
        "RescheduleTracker": {"Events": events} if events else None,
    }


CONSTANT = {"DelayFunction": "constant", "Delay": 5 * S, "Unlimited": True}
LIMITED = {"DelayFunction": "constant", "Delay": 5 * S, "Interval": 600 * S, "Attempts": 2}
EXPONENTIAL = {
    "DelayFunction": "exponential",
    "Delay": 5 * S,
    "MaxDelay": 90 * S,
    "Unlimited": True,
}
FIBONACCI = {"DelayFunction": "fibonacci", "Delay": 5 * S, "MaxDelay": 90 * S, "Unlimited": True}


@pytest.mark.parametrize(
    ("policy", "alloc", "delay", "eligible"),
    [
        # "Allocation hasn't failed yet", "Allocation has no reschedule policy"
        (dict(CONSTANT, Unlimited=False), failed(2 * S, client="running"), None, False),
        (None, failed(2 * S), None, False),
        # "Allocation lacks task state": the modify time is the failure time
        (CONSTANT, failed(None), 5 * S, True),
        # "linear delay, unlimited restarts, no reschedule tracker"
        (CONSTANT, failed(2 * S), 5 * S, True),
        # "linear delay with reschedule tracker", "... attempts exhausted"
        (LIMITED, failed(2 * S, (5 * S, 120 * S)), 5 * S, True),
        (LIMITED, failed(2 * S, (5 * S, 180 * S), (5 * S, 120 * S)), 5 * S, False),
        # "exponential delay - no reschedule tracker", "... with reschedule tracker"
        (EXPONENTIAL, failed(2 * S), 5 * S, True),
        (EXPONENTIAL, failed(2 * S, (5 * S, 2 * H), (10 * S, H), (20 * S, H)), 40 * S, True),
        # "exponential delay with delay ceiling reached"
        (
            EXPONENTIAL,
            failed(15 * S, (5 * S, 2 * H), (10 * S, H), (20 * S, H), (40 * S, H), (80 * S, 40 * S)),
            90 * S,
            True,
        ),
        # "exponential delay, delay ceiling reset condition met": it ran longer than the cap
        (
            EXPONENTIAL,
            failed(900 * S, (5 * S, 2 * H), (10 * S, H), (80 * S, H), (90 * S, H), (90 * S, H)),
            5 * S,
            True,
        ),
        # "fibonacci delay - no reschedule tracker", "... with reschedule tracker", "more events"
        (FIBONACCI, failed(2 * S), 5 * S, True),
        (FIBONACCI, failed(2 * S, (5 * S, 2 * H), (5 * S, 5 * S)), 10 * S, True),
        (
            FIBONACCI,
            failed(2 * S, (5 * S, 2 * H), (5 * S, H), (10 * S, H), (15 * S, H), (25 * S, H)),
            40 * S,
            True,
        ),
        # "fibonacci delay with delay ceiling reached"
        (
            dict(FIBONACCI, MaxDelay=50 * S),
            failed(15 * S, (5 * S, 2 * H), (5 * S, H), (15 * S, H), (25 * S, H), (40 * S, 40 * S)),
            50 * S,
            True,
        ),
    ],
)
def test_next_reschedule_time_follows_the_delay_function(
    policy: dict | None, alloc: dict, delay: int | None, eligible: bool
) -> None:
    """Follows TestAllocation_NextDelay (nomad/structs/structs_test.go), case by case."""
    when, allowed = next_reschedule_time(alloc, policy)
    assert allowed is eligible
    if delay is None:
        assert when == 0
    else:
        assert when == failed_at(alloc) + delay
        assert next_delay(alloc, policy) == delay


def test_failure_time_is_when_the_task_finished_not_a_later_client_report() -> None:
    """Follows TestAllocation_LastEventTime: the latest FinishedAt of the tasks; a later
    ModifyTime (the client reporting again) does not push a reschedule back."""
    alloc = failed(10 * S)
    alloc["ModifyTime"] = NOW + 5 * S
    alloc["TaskStates"]["bar"] = {"State": "dead", "FinishedAt": rfc3339(NOW - 20 * S)}
    assert failed_at(alloc) == NOW - 10 * S
    assert failed_at(failed(None)) == NOW  # no task state: the modify time


def test_attempts_count_within_the_interval_unless_unlimited() -> None:
    """Follows TestAllocation_ShouldReschedule's policy cases (RescheduleEligible)."""
    policy = {"Attempts": 1, "Interval": H, "Unlimited": False}
    assert reschedule_eligible(failed(S), policy)
    assert not reschedule_eligible(failed(S, (5 * S, 60 * S)), policy)
    assert reschedule_eligible(failed(S, (5 * S, 60 * S)), dict(policy, Unlimited=True))
    assert reschedule_eligible(failed(S, (5 * S, 2 * H)), policy)  # outside the interval
    assert not reschedule_eligible(failed(S), {"Attempts": 0, "Unlimited": False})
    assert not reschedule_eligible(failed(S), None)


def job_of_type(job_type: str) -> dict:
    task = {"Name": "t", "Driver": "raw_exec", "Config": {"command": "true"}}
    return {
        "ID": f"{job_type}-defaults",
        "Type": job_type,
        "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Tasks": [task]}],
    }


@pytest.mark.parametrize(
    ("job_type", "expected"),
    [
        (  # DefaultServiceJobReschedulePolicy
            "service",
            {
                "Attempts": 0,
                "Interval": 0,
                "Delay": 30 * S,
                "DelayFunction": "exponential",
                "MaxDelay": H,
                "Unlimited": True,
            },
        ),
        (  # DefaultBatchJobReschedulePolicy
            "batch",
            {
                "Attempts": 1,
                "Interval": 24 * H,
                "Delay": 5 * S,
                "DelayFunction": "constant",
                "MaxDelay": 0,
                "Unlimited": False,
            },
        ),
    ],
)
def test_a_group_without_a_reschedule_block_gets_nomads_default(
    job_type: str, expected: dict
) -> None:
    """nomad/structs DefaultServiceJobReschedulePolicy and DefaultBatchJobReschedulePolicy,
    as the job's canonicalization fills them in."""
    job = jobspec.canonicalize(job_of_type(job_type))
    assert job["TaskGroups"][0]["ReschedulePolicy"] == expected
