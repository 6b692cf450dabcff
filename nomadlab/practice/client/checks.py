"""Nomad service checks run by the client (client/serviceregistration/checks and the
alloc runner's checks hook): ``http`` and ``tcp`` checks on their interval, their latest
results (``/v1/client/allocation/:id/checks``), ``check_restart``, and whether they all pass,
which gates deployment health when ``health_check = "checks"``.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import time
import urllib.parse

import tornado.httpclient

from nomadlab.contract import SECOND
from nomadlab.practice import structs
from nomadlab.practice.client.interfaces import AllocRunner, TaskError

log = logging.getLogger("nomad.client.checks")

OUTPUT_LIMIT = 3 * 1024  # bytes of an http check's body kept as its output
SUCCESS, FAILURE, PENDING = "success", "failure", "pending"


def check_id(alloc_id: str, group: str, check: dict) -> str:
    """An ID unique to the check (structs.NomadCheckID): md5 over its identifying fields."""
    digest = hashlib.md5()
    for part in (
        alloc_id,
        group,
        check.get("TaskName") or "",
        check.get("Name") or "",
        check.get("Type") or "",
        check.get("PortLabel") or "",
        check.get("OnUpdate") or "",
        check.get("AddressMode") or "",
        str(check.get("Interval") or 0),
        str(check.get("Timeout") or 0),
        check.get("Protocol") or "",
        check.get("Path") or "",
        check.get("Method") or "",
        "true" if check.get("TLSSkipVerify") else "false",
    ):
        digest.update(part.encode())
    return digest.hexdigest()


def check_mode(check: dict) -> str:
    """``readiness`` when ``on_update = "ignore"`` (it never gates a deployment), else
    ``healthiness``."""
    return "readiness" if check.get("OnUpdate") == "ignore" else "healthiness"


def go_dial_error(address: str, exc: BaseException) -> str:
    """A connection failure as Go's net.Dial words it."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"dial tcp {address}: i/o timeout"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return f"dial tcp {address}: connect: connection refused"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"dial tcp {address}: {reason.lower()}"


async def run_tcp(address: str, timeout: float) -> tuple[str, str, int]:
    """Open and close a TCP connection: (status, output, status code)."""
    host, _, port = address.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        return FAILURE, go_dial_error(address, exc), 0
    writer.close()
    return SUCCESS, "nomad: tcp ok", 0


async def run_http(
    http: tornado.httpclient.AsyncHTTPClient, address: str, check: dict, timeout: float
) -> tuple[str, str, int]:
    """One HTTP request: 200 passes ("nomad: http ok"), other codes below 400 pass with the
    body as output, 400 and above fail with the body."""
    protocol = check.get("Protocol") or "http"
    url = urllib.parse.urlunsplit((protocol, address, check.get("Path") or "", "", ""))
    method = (check.get("Method") or "GET").upper()
    headers = {"User-Agent": f"Nomad/{structs.VERSION}"}
    for name, values in (check.get("Header") or {}).items():
        headers[name] = ", ".join(values) if isinstance(values, list) else str(values)
    body = check.get("Body") or None
    kept = bytearray()  # only the start of the body is kept, however much a task sends

    def keep(chunk: bytes) -> None:
        kept.extend(chunk[: OUTPUT_LIMIT - len(kept)])

    request = tornado.httpclient.HTTPRequest(
        url,
        method=method,
        headers=headers,
        body=body if body or method in ("POST", "PUT", "PATCH") else None,
        allow_nonstandard_methods=True,
        connect_timeout=timeout,
        request_timeout=timeout,
        validate_cert=not check.get("TLSSkipVerify"),
        streaming_callback=keep,
    )
    quoted = f'{method[:1]}{method[1:].lower()} "{url}"'
    try:
        response = await http.fetch(request, raise_error=False)
    except (OSError, asyncio.TimeoutError) as exc:
        return FAILURE, f"nomad: {quoted}: {go_dial_error(address, exc)}", 0
    if response.code == 599:
        error = response.error
        if isinstance(error, OSError):
            return FAILURE, f"nomad: {quoted}: {go_dial_error(address, error)}", 0
        return FAILURE, f"nomad: {quoted}: context deadline exceeded", 0
    if response.code == 200:
        return SUCCESS, "nomad: http ok", 200
    output = bytes(kept).decode("utf-8", "replace")
    return (SUCCESS if response.code < 400 else FAILURE), output, response.code


class AllocChecks:
    """The checks of one allocation's registered services and their latest results."""

    def __init__(self, runner: AllocRunner) -> None:
        self.runner = runner
        self.results: dict[str, dict] = {}
        self._loops: dict[str | None, list[asyncio.Task]] = {}
        self._owner_of: dict[str, str | None] = {}
        self._passing_since: dict[str, float] = {}
        self._specs: dict[str | None, list[dict]] = {}
        self._http: tornado.httpclient.AsyncHTTPClient | None = None

    def watch(self, service: dict, task_name: str | None, targets: list[tuple[dict, str]]) -> None:
        """Start the checks of a service just registered by the group or a task; each
        target is a check and the ``host:port`` it probes (or why it has none)."""
        for check, target in targets:
            ident = check_id(self.runner.alloc_id, self.runner.group["Name"], check)
            self.results[ident] = {
                "ID": ident,
                "Mode": check_mode(check),
                "Status": PENDING,
                "Output": "nomad: waiting to run",
                "Timestamp": int(time.time()),
                "Group": self.runner.group["Name"],
                "Task": task_name or check.get("TaskName") or "",
                "Service": service["Name"],
                "Check": check.get("Name") or "",
            }
            if not self.results[ident]["Task"]:
                del self.results[ident]["Task"]
            self._owner_of[ident] = task_name
            self._specs.setdefault(task_name, []).append(check)
            loop = asyncio.create_task(self._run(ident, check, target, task_name))
            self._loops.setdefault(task_name, []).append(loop)

    def specs(self, task_name: str | None) -> list[dict]:
        """The check blocks watched for the group's services or one task's."""
        return list(self._specs.get(task_name, []))

    def unwatch(self, task_name: str | None) -> None:
        """Stop the checks of the group's services or of one task's."""
        for loop in self._loops.pop(task_name, []):
            loop.cancel()
        self._specs.pop(task_name, None)
        for ident in [i for i, owner in self._owner_of.items() if owner == task_name]:
            del self._owner_of[ident]
            self.results.pop(ident, None)
            self._passing_since.pop(ident, None)

    def unwatch_all(self) -> None:
        for owner in list(self._loops):
            self.unwatch(owner)
        if self._http is not None:
            self._http.close()
            self._http = None

    def passing_since(self) -> float | None:
        """Since when (monotonic) every healthiness check has passed; None while one has
        not; 0.0 when there are none."""
        healthiness = [i for i, r in self.results.items() if r["Mode"] == "healthiness"]
        if any(i not in self._passing_since for i in healthiness):
            return None
        return max((self._passing_since[i] for i in healthiness), default=0.0)

    async def _run(self, ident: str, check: dict, address: str, task_name: str | None) -> None:
        interval = (check.get("Interval") or SECOND) / SECOND  # validated: at least 1s
        timeout = (check.get("Timeout") or SECOND) / SECOND
        restart = check.get("CheckRestart") or {}
        failures = 0
        started = time.monotonic()
        while True:
            if address.startswith("error:"):
                status, output, code = FAILURE, address.removeprefix("error:"), 0
            elif check["Type"].lower() == "http":
                if self._http is None:
                    self._http = tornado.httpclient.AsyncHTTPClient(
                        force_instance=True, max_clients=50
                    )
                status, output, code = await run_http(self._http, address, check, timeout)
            else:
                status, output, code = await run_tcp(address, timeout)
            self._record(ident, status, output, code)
            failures = failures + 1 if status != SUCCESS else 0
            grace = (restart.get("Grace") or 0) / SECOND
            limit = restart.get("Limit") or 0
            if limit and failures >= limit and time.monotonic() - started >= grace:
                self._restart(task_name, check)
                failures, started = 0, time.monotonic()  # the grace period starts again
            await asyncio.sleep(interval)

    def _record(self, ident: str, status: str, output: str, code: int) -> None:
        if ident not in self.results:
            return
        result = self.results[ident]
        changed = result["Status"] != status
        result.update(Status=status, Output=output, Timestamp=int(time.time()))
        if code:
            result["StatusCode"] = code
        else:
            result.pop("StatusCode", None)
        if status == SUCCESS:
            self._passing_since.setdefault(ident, time.monotonic())
        else:
            self._passing_since.pop(ident, None)
        if changed:
            self.runner.changed.set()

    def _restart(self, task_name: str | None, check: dict) -> None:
        """check_restart's limit reached (the check watcher's asyncRestart): a task's check
        restarts its task, a group service's check the group's tasks (even with ``task`` set,
        as the group service hook's restarter is the alloc runner); both count as failures."""
        reason = f"healthcheck: check {json.dumps(check.get('Name') or '')} unhealthy"
        if task_name is None:
            self.runner.restart_tasks(reason)
            return
        try:
            self.runner.tasks[task_name].restart(reason, failure=True)
        except TaskError as exc:
            log.debug("check_restart of %s skipped: %s", task_name, exc)
