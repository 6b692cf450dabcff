"""The scheduler's pure rules: constraints, distinct_hosts and the even-spread boost; and
dynamic port picks that no other practice agent on the host makes at the same moment."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from nomadlab.practice.scheduler import rank
from nomadlab.practice.scheduler.feasible import distinct_hosts_collision, first_unmet, meets
from nomadlab.practice.scheduler.rank import (
    CLAIM_SECONDS,
    HostClaims,
    even_spread_boost,
    pick_dynamic_port,
    port_is_free,
)

NODE = {
    "ID": "n1",
    "Name": "vm-1",
    "Datacenter": "dc1",
    "NodeClass": "",
    "NodePool": "default",
    "Attributes": {"kernel.name": "linux", "nomad.version": "1.9.7", "cpu.numcores": "8"},
    "Meta": {"rack": "r1", "zones": "a,b,c"},
}


def constraint(left: str, operand: str, right: str = "") -> dict:
    return {"LTarget": left, "Operand": operand, "RTarget": right}


def test_constraints_resolve_node_targets_and_compare_as_nomad_does() -> None:
    met = [
        constraint("${attr.kernel.name}", "=", "linux"),
        constraint("${node.unique.name}", "!=", "vm-2"),
        constraint("${node.datacenter}", "==", "dc1"),
        constraint("${attr.cpu.numcores}", ">=", "4"),  # numbers compare as numbers
        constraint("${attr.nomad.version}", "version", ">= 1.8, < 2.0"),
        constraint("${attr.nomad.version}", "version", "~> 1.9.0"),
        constraint("${meta.rack}", "regexp", "^r[0-9]$"),
        constraint("${meta.zones}", "set_contains", "a,c"),
        constraint("${meta.missing}", "is_not_set"),
        constraint("${meta.missing}", "!=", "x"),
    ]
    unmet = [
        constraint("${attr.kernel.name}", "=", "windows"),
        constraint("${attr.cpu.numcores}", "<", "10a"),  # a number never orders against a word
        constraint("${attr.nomad.version}", "version", ">= 2.0"),
        constraint("${meta.zones}", "set_contains_any", "x,y"),
        constraint("${meta.missing}", "=", ""),  # unset is not equal to anything
        constraint("${meta.rack}", "regexp", "(unclosed"),
    ]
    assert [c for c in met if not meets(c, NODE)] == []
    assert [c for c in unmet if meets(c, NODE)] == []
    assert first_unmet(unmet, NODE) == "${attr.kernel.name} = windows"


def test_distinct_hosts_at_job_or_group_level() -> None:
    """Arguments: the job's copies on the node, then the group's."""
    job = {"ID": "web", "Namespace": "default", "Constraints": None}
    group = {"Name": "api", "Constraints": [constraint("", "distinct_hosts", "true")]}
    assert distinct_hosts_collision(job, group, 1, 1)  # a copy of this group is there
    assert not distinct_hosts_collision(job, group, 1, 0)  # only another group's copy
    job_level = dict(job, Constraints=group["Constraints"])
    assert distinct_hosts_collision(job_level, {"Name": "api"}, 1, 0)
    off = {"Name": "api", "Constraints": [constraint("", "distinct_hosts", "false")]}
    assert not distinct_hosts_collision(job, off, 1, 1)


def test_even_spread_prefers_the_least_used_value() -> None:
    assert even_spread_boost({}, "vm-1") == 0.0  # nothing placed yet
    assert even_spread_boost({"vm-1": 1}, "vm-2") == 1.0
    assert even_spread_boost({"vm-1": 1}, "vm-1") == -1.0
    assert even_spread_boost({"vm-1": 2, "vm-2": 1}, "vm-1") == -1.0
    assert even_spread_boost({"vm-1": 2, "vm-2": 1}, "vm-2") == 1.0


def free_dynamic_ports(n: int) -> list[int]:
    ports = [p for p in range(31000, 32000) if port_is_free(p)]
    assert len(ports) >= n, "the test needs free ports at the top of the dynamic range"
    return random.sample(ports, n)


def draws(monkeypatch: pytest.MonkeyPatch, *ports: int) -> Iterator[int]:
    """Make the scheduler's random draws come out as ``ports``, in order."""
    sequence = iter(ports)
    monkeypatch.setattr(rank.random, "randint", lambda _lo, _hi: next(sequence))
    return sequence


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux-only")
def test_a_port_another_agent_on_the_host_just_picked_is_skipped_until_that_agent_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken, other = free_dynamic_ports(2)
    claim = (
        "import sys; from nomadlab.practice.scheduler.rank import CLAIMS; "
        f"assert CLAIMS.claim({taken}); print('claimed', flush=True); sys.stdin.read()"
    )
    agent = subprocess.Popen(
        [sys.executable, "-c", claim], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert agent.stdout.readline() == "claimed\n"
        assert port_is_free(taken), "nothing listens there yet: only the claim says it is taken"
        draws(monkeypatch, taken, other)
        assert pick_dynamic_port(set()) == other
    finally:
        agent.communicate("")
    draws(monkeypatch, taken)
    assert pick_dynamic_port(set()) == taken, "the kernel drops an exited agent's claims"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="claims are Linux-only")
def test_claims_lapse_once_a_task_has_had_ample_time_to_bind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = free_dynamic_ports(2)
    mine, theirs = HostClaims(), HostClaims()
    try:
        assert mine.claim(first)
        assert not theirs.claim(first)
        later = time.monotonic() + CLAIM_SECONDS + 1
        monkeypatch.setattr(rank.time, "monotonic", lambda: later)
        assert mine.claim(second), "a new claim lets the lapsed ones go"
        assert theirs.claim(first)
        assert not theirs.claim(second)
    finally:
        mine.close()
        theirs.close()
