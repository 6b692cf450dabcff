"""Allocation list stubs served from a cache, as Nomad's list endpoints serve stubs from
its state store's indexes: each allocation's AllocListStub is encoded once per change (its
ModifyIndex), so a list of 200 allocations where one changed encodes one, not 200."""

from __future__ import annotations

import json
from collections.abc import Iterable

from nomadlab.practice import structs
from nomadlab.practice.state import StateStore


def by_alloc_id(allocs: Iterable[dict]) -> list[dict]:
    """Allocations in the order Nomad's secondary indexes (job, eval, deployment, node)
    iterate them: by ID, the key go-memdb appends to a non-unique index."""
    return sorted(allocs, key=lambda a: a["ID"])


class EncodedList(str):
    """A JSON array already encoded: sent as it is (``?pretty`` decodes and indents it)."""


class AllocStubs:
    """Each allocation's encoded AllocListStub, by ID and the list's flags, kept until the
    allocation changes (a new ModifyIndex) or is gone from ``store``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._encoded: dict[tuple[str, bool, bool], tuple[int, str]] = {}

    def encode(
        self, allocs: Iterable[dict], resources: bool = False, task_states: bool = True
    ) -> EncodedList:
        """The stubs of ``allocs``, in that order, as one JSON array."""
        parts = []
        for alloc in allocs:
            key = (alloc["ID"], resources, task_states)
            cached = self._encoded.get(key)
            if cached is None or cached[0] != alloc["ModifyIndex"]:
                stub = structs.alloc_stub(alloc, resources, task_states)
                cached = (alloc["ModifyIndex"], json.dumps(stub))
                self._encoded[key] = cached
            parts.append(cached[1])
        if len(self._encoded) > 3 * len(self.store.allocs) + 64:
            self._forget_collected()
        return EncodedList(f"[{','.join(parts)}]")

    def _forget_collected(self) -> None:
        """Drop the stubs of allocations the store no longer holds."""
        for key in [k for k in self._encoded if k[0] not in self.store.allocs]:
            del self._encoded[key]
