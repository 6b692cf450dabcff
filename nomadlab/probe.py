"""A service's clients while the cluster changes under it: requests sent in the background
and counted, beside ``recording``'s counts of allocations.

:class:`Probe` sends a steady stream of GET requests to a job's copies, each to a copy that
runs now, as clients behind a load balancer would, and counts what failed. A load balancer
that finds a copy gone tries another one; the probe does the same, once per request, so a
request fails only when no running copy answered it.
"""

from __future__ import annotations

import threading
import time

import requests

from nomadlab.errors import NomadLabError
from nomadlab.lab import Lab

REFRESH = 0.25  # seconds between fresh looks at where the copies run


class Probe:
    """``with Probe(lab, job) as probe: ...``, then ``probe.sent``, ``probe.failed`` and
    ``probe.replies`` (the distinct texts the copies answered)."""

    def __init__(self, lab: Lab, job: str, interval: float = 0.05) -> None:
        self.lab = Lab(lab.agent, quiet=True)  # its own HTTP session, for its own thread
        self.job = job
        self.interval = interval
        self.sent = self.failed = self.retried = 0
        self.errors: list[str] = []
        self.replies: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"probe-{job}", daemon=True)
        self._addresses: list[str] = []
        self._looked = 0.0

    def __enter__(self) -> Probe:
        self._refresh()
        if not self._addresses:
            raise NomadLabError(f'Job "{self.job}" has no running copy to send requests to.')
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __str__(self) -> str:
        return (
            f"{self.sent} requests, {self.failed} failed "
            f"({self.retried} answered by another copy after the first one was gone)"
        )

    def _refresh(self) -> None:
        try:
            self._addresses = self.lab.addresses(self.job)
        except NomadLabError:
            self._addresses = []
        self._looked = time.monotonic()

    def _run(self) -> None:
        session = requests.Session()
        turn = 0
        while not self._stop.wait(self.interval):
            if time.monotonic() - self._looked > REFRESH:
                self._refresh()
            turn += 1
            self.sent += 1
            if not self._send(session, turn):
                self._refresh()  # the copy moved: look again, and try another one
                if self._send(session, turn + 1):
                    self.retried += 1
                else:
                    self.failed += 1

    def _send(self, session: requests.Session, turn: int) -> bool:
        if not self._addresses:
            self.errors.append("no running copy")
            return False
        url = self._addresses[turn % len(self._addresses)]
        try:
            response = session.get(url, timeout=2)
        except requests.RequestException as exc:
            self.errors.append(f"{url}: {type(exc).__name__}")
            return False
        if not response.ok:
            self.errors.append(f"{url}: HTTP {response.status_code}")
            return False
        self.replies.add(response.text.strip())
        return True
