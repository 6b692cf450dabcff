"""Nomad's native service discovery from the kit's side: ``nomad service list`` and
``nomad service info`` output, the "Nomad Service Checks" section of ``nomad alloc status``,
and the registry recorded over time for a chart.

The ``format_*`` functions are pure (Nomad's JSON in, the CLI's text out, as
command/service_list.go, service_info.go and alloc_status.go print it); the ``fetch_*``
helpers read that JSON through python-nomad, which has no services API of its own.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from nomad.api.base import Requester

from nomadlab.errors import NomadLabError
from nomadlab.recording import Background

if TYPE_CHECKING:
    import nomad

    from nomadlab.agent import RunningAgent


class _Services(Requester):
    ENDPOINT = "services"


class _Service(Requester):
    ENDPOINT = "service"


# Pure formatting -----------------------------------------------------------------------------


def registry_sample(
    registrations: list[dict[str, Any]], checks: dict[str, dict[str, dict[str, Any]]], at: float
) -> dict[str, Any]:
    """One point of the registry chart: instances registered, and how many pass every check
    (``checks`` maps an allocation ID to its check results)."""
    passing = sum(
        1
        for r in registrations
        if all(c["Status"] == "success" for c in checks.get(r["AllocID"], {}).values())
    )
    return {
        "time": at,
        "registered": len(registrations),
        "passing": passing,
        "failing": len(registrations) - passing,
    }


# Fetching ------------------------------------------------------------------------------------


def fetch_service_list(client: nomad.Nomad, prefix: str = "") -> tuple[list[dict], int]:
    """``GET /v1/services`` and its index."""
    response = _Services(**client.requester_settings).request(
        method="get", params={"prefix": prefix} if prefix else None
    )
    return response.json(), int(response.headers.get("X-Nomad-Index") or 0)


def fetch_service(
    client: nomad.Nomad, name: str, filter_expr: str = "", **params: Any
) -> tuple[list[dict], int]:
    """``GET /v1/service/:name`` (with ``filter``, or a blocking ``index``) and its index."""
    if filter_expr:
        params["filter"] = filter_expr
    response = _Service(**client.requester_settings).request(
        name, method="get", params=params or None, timeout=params.get("timeout", 30) + 60
    )
    return response.json(), int(response.headers.get("X-Nomad-Index") or 0)


def fetch_checks(client: nomad.Nomad, alloc_id: str) -> dict[str, dict[str, Any]]:
    """``GET /v1/client/allocation/:id/checks``: the latest result of each check."""
    return client.client.allocation.request(alloc_id, "checks", method="get").json() or {}


class ServiceRecorder:
    """Samples of one service's registry (registered instances, passing checks) over time,
    taken on every registry change and at least every ``every`` seconds for check changes."""

    def __init__(self, agent: RunningAgent, service: str, every: float = 0.5) -> None:
        self.agent = agent
        self.service = service
        self.every = every
        self.samples: list[dict[str, Any]] = []
        self._background: Background | None = None

    def start(self) -> ServiceRecorder:
        if self._background is None:
            self._background = Background(self.agent, wait=f"{round(self.every * 1000)}ms")
            self._sample(0)
            self._background.start(self._follow, f"watch service {self.service}")
        return self

    def mark(self, event: str) -> None:
        """Label the next moment on the chart (``"scale → 3"``)."""
        if self.samples:
            self.samples.append({**self.samples[-1], "time": time.time(), "event": event})

    def stop(self) -> list[dict[str, Any]]:
        background = self._background
        if background is not None and background.alive:
            background.stop()
            if self.samples:
                self.samples.append({**self.samples[-1], "time": time.time(), "event": ""})
            if background.errors:
                raise NomadLabError(
                    f'Stopped recording service "{self.service}" early: {background.errors[0]}'
                ) from background.errors[0]
        return self.samples

    def _follow(self) -> None:
        index = 1
        while True:
            index = self._sample(index)

    def _sample(self, index: int) -> int:
        background = self._background
        assert background is not None
        api = _Service(**background.nomad.requester_settings)
        found, new_index = background.get(api, self.service, index=index)
        allocation = background.nomad.client.allocation
        checks = {r["AllocID"]: background.get(allocation, r["AllocID"], "checks")[0] or {}
                  for r in found}  # fmt: skip
        sample = registry_sample(found, checks, time.time())
        last = self.samples[-1] if self.samples else None
        if last is None or any(last[k] != sample[k] for k in ("registered", "passing")):
            self.samples.append(sample)
        return max(new_index, 1)
