"""``lab.run`` follows an auto-revert to the rollback's deployment even when another change
answers its blocking query first, as ``nomad job run`` follows it (deployment_status.go
waits, then reads the job's latest deployment)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import nomad
import pytest

from nomadlab.monitor import Monitor
from nomadlab.terminal import TerminalUi

FAILED = {
    "ID": "failed-deployment",
    "JobID": "web",
    "Status": "failed",
    "StatusDescription": "Failed due to unhealthy allocations - rolling back to job version 1",
    "ModifyIndex": 10,
}
ROLLBACK = {"ID": "rollback-deployment", "JobID": "web", "Status": "running", "ModifyIndex": 12}


class Answers(BaseHTTPRequestHandler):
    """GET /v1/job/web/deployment: what the job's latest deployment is at each index
    (index 11 is a change to something else: the failed deployment is still the latest)."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Answers.asked.append(self.path)
        index = 11 if len(Answers.asked) == 1 else 12
        body = json.dumps(FAILED if index == 11 else ROLLBACK).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Nomad-Index", str(index))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    Answers.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield Monitor(nomad.Nomad(address=address, timeout=5), address, TerminalUi(io.StringIO()))
    finally:
        server.shutdown()
        server.server_close()


def test_the_rollback_is_found_after_an_unrelated_change_answers_first(monitor) -> None:
    assert monitor._rollback(FAILED) == "rollback-deployment"
    assert [path.split("?")[1].split("&")[0] for path in Answers.asked] == ["index=10", "index=11"]


def test_no_rollback_is_awaited_when_the_watcher_is_not_rolling_back(monitor) -> None:
    noop = {
        **FAILED,
        "StatusDescription": "Failed due to unhealthy allocations - not rolling back to stable "
        "job version 1 as current job has same specification",
    }
    assert monitor._rollback(noop) is None
    assert Answers.asked == []
