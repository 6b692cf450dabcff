"""Record a job's allocation counts as the agent's state changes, for charts of a scaling run.

``with nomadlab.watch(lab, job) as recording:`` samples desired / placed / running / healthy
each time Nomad's state for the job changes. Two background threads hold blocking queries
(``?index=N&wait=...``), one on the job's allocations and one on the job itself, so a sample
is taken when the agent answers, never on a timer. ``recording.mark("scale → 5")``
annotates the moment; ``recording.samples`` feeds :func:`nomadlab.plots.counts_over_time`.

:class:`Background` is the machinery both this recorder and the scale panel use: a
python-nomad client of its own whose blocking queries another thread can cut short.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter

from nomadlab import agent as agents
from nomadlab.contract import SECOND, parse_duration
from nomadlab.errors import NomadLabError, api_errors

if TYPE_CHECKING:
    import nomad

#: How long one blocking query may wait before the agent answers "nothing changed".
WAIT = "30s"
TERMINAL = ("complete", "failed", "lost")
COUNTS = ("desired", "placed", "running", "healthy")

Sample = dict[str, Any]


class Stopped(Exception):
    """Raised in a background thread when its owner stopped it."""


class _CuttingAdapter(HTTPAdapter):
    """An HTTP adapter that remembers its sockets, so that another thread can cut them.

    Shutting a socket down wakes the thread blocked reading from it at once: the Python
    counterpart of cancelling the context of a blocking query in Nomad's Go API. Once cut,
    a connection opened later is cut as soon as it connects.
    """

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self.is_cut = threading.Event()
        self._lock = threading.Lock()
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        manager = self.poolmanager
        manager.pool_classes_by_scheme = {
            scheme: self._tracking(pool) for scheme, pool in manager.pool_classes_by_scheme.items()
        }

    def _tracking(self, pool_class: type) -> type:
        adapter = self

        class Connection(pool_class.ConnectionCls):  # type: ignore[name-defined, misc]
            def connect(self) -> None:
                super().connect()
                adapter._opened(self.sock)

        return type(pool_class.__name__, (pool_class,), {"ConnectionCls": Connection})

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.add(sock)
        if self.is_cut.is_set():  # cut() ran while this one was connecting
            self._shut(sock)

    def cut(self) -> None:
        """Shut every open connection down; requests blocked on them fail at once."""
        self.is_cut.set()
        with self._lock:
            sockets = list(self.sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class Background:
    """Daemon threads that run blocking queries on a client of their own until stopped."""

    def __init__(self, agent: agents.RunningAgent, wait: str = WAIT) -> None:
        self.address = agent.address
        self.nomad: nomad.Nomad = agents.agent_client(agent)
        self._adapter = _CuttingAdapter()
        self.nomad.session.mount("http://", self._adapter)
        self.nomad.session.mount("https://", self._adapter)
        self.wait = wait
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []  # started ones only
        self.errors: list[NomadLabError] = []
        self._starting = threading.Lock()

    def get(self, endpoint: Any, *path: str, index: int = 0,
            params: dict[str, Any] | None = None) -> tuple[Any, int]:  # fmt: skip
        """GET through python-nomad; a blocking query when ``index`` is given. Raises Stopped."""
        if self.stopping.is_set():
            raise Stopped
        params = dict(params or {})
        timeout = 30.0
        if index:
            params.update(index=index, wait=self.wait)
            timeout += parse_duration(self.wait) / SECOND
        started = time.monotonic()
        try:
            with api_errors(self.address, bool(self.nomad.token)):
                response = endpoint.request(*path, method="get", params=params, timeout=timeout)
        except NomadLabError:
            if self.stopping.is_set():
                raise Stopped from None
            raise
        if self.stopping.is_set():
            raise Stopped
        new_index = int(response.headers.get("X-Nomad-Index") or 0)
        if index and new_index <= index and time.monotonic() - started < 0.05:
            self.stopping.wait(0.25)  # an agent that ignores ?index= must not make us spin
        return response.json(), new_index

    def start(self, target: Callable[[], None], name: str) -> None:
        """Run ``target`` on a daemon thread; a kit error it raises is kept in ``errors``."""

        def run() -> None:
            try:
                target()
            except Stopped:
                pass
            except NomadLabError as exc:
                self.errors.append(exc)
            except Exception as exc:  # keep it for the owner rather than print a traceback
                self.errors.append(NomadLabError(f"{name}: {type(exc).__name__}: {exc}"))

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._starting:  # a thread that stops the others meanwhile waits to see this one
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every thread: cut their blocking queries short and wait for them to end.
        One of the threads may call it, while the owner is still starting another."""
        self.stopping.set()
        self._adapter.cut()
        with self._starting:
            threads = list(self.threads)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(timeout)
        self.nomad.session.close()

    @property
    def alive(self) -> bool:
        """True while any of the threads runs."""
        return any(thread.is_alive() for thread in self.threads)


def counts(stubs: list[dict[str, Any]], group: str | None = None) -> dict[str, int]:
    """Placed / running / healthy allocations among allocation stubs (of one group, if given).

    Placed: wanted (``DesiredStatus`` run) and not finished. Running: of those, the ones
    whose ``ClientStatus`` is running. Healthy: running ones the current deployment marked
    healthy (a scale is a new job version, so Nomad checks every allocation's health again).
    """
    live = [
        a
        for a in stubs
        if (group is None or a.get("TaskGroup") == group)
        and a.get("DesiredStatus") == "run"
        and a.get("ClientStatus") not in TERMINAL
    ]
    running = [a for a in live if a.get("ClientStatus") == "running"]
    healthy = [a for a in running if (a.get("DeploymentStatus") or {}).get("Healthy") is True]
    restarts = sum(
        state.get("Restarts") or 0 for a in live for state in (a.get("TaskStates") or {}).values()
    )
    return {
        "placed": len(live),
        "running": len(running),
        "healthy": len(healthy),
        "restarts": restarts,
    }


def desired(job: dict[str, Any] | None, group: str | None = None) -> int:
    """The count the job asks for (of one group, if given); 0 for a stopped or missing job."""
    if not job or job.get("Stop"):
        return 0
    return sum(
        g.get("Count") or 0
        for g in job.get("TaskGroups") or []
        if group is None or g.get("Name") == group
    )


class Recorder:
    """Samples of a job's desired / placed / running / healthy allocations over time.

    Each sample is ``{"time": unix seconds, "desired", "placed", "running", "healthy",
    "restarts", "index"}``, plus ``"event"`` for :meth:`mark`; ``index`` is the Raft index of
    the agent's answer that produced it. A sample is taken whenever a count changes.
    """

    def __init__(
        self, agent: agents.RunningAgent, job: str, group: str | None = None, *, wait: str = WAIT
    ) -> None:
        """Record ``job`` (its exact ID; it may not exist yet) on ``agent``."""
        self.agent = agent
        self.job = job
        self.group = group
        self.wait = wait
        self.samples: list[Sample] = []
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._state: dict[str, int] = {"desired": 0, "placed": 0, "running": 0, "healthy": 0,
                                       "restarts": 0, "index": 0}  # fmt: skip
        self._changed = threading.Condition()
        self._background: Background | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Take a first sample now and follow the job from there; returns itself."""
        if self._background is not None:
            return self
        background = self._background = Background(self.agent, self.wait)
        try:
            job_index = self._read_job(0)
            alloc_index = self._read_allocs(0)
        except BaseException:
            background.stop()
            raise
        self.started_at = time.time()
        self._record(force=True)
        background.start(lambda: self._follow(self._read_job, job_index), f"watch {self.job} job")
        background.start(
            lambda: self._follow(self._read_allocs, alloc_index), f"watch {self.job} allocations"
        )
        return self

    def stop(self) -> list[Sample]:
        """Stop following, close with a last sample; raise if a thread lost the agent."""
        background = self._background
        if background is None or self.stopped_at is not None:
            return self.samples
        background.stop()
        self.stopped_at = time.time()
        self._record(force=True)
        if background.errors:
            raise NomadLabError(
                f'Stopped recording job "{self.job}" early: {background.errors[0]}'
            ) from background.errors[0]
        return self.samples

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self.stop()
        except NomadLabError:
            if exc is None:
                raise

    @property
    def recording(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._background is not None and self.stopped_at is None

    def __repr__(self) -> str:
        state = "recording" if self.recording else "stopped" if self.stopped_at else "not started"
        return f"<Recorder {self.job!r} {state}, {len(self.samples)} samples>"

    # -- what the learner calls --------------------------------------------------------------

    def mark(self, event: str) -> None:
        """Annotate this moment (e.g. ``"scale → 5"``): a sample carrying ``event``."""
        with self._changed:
            self.samples.append({**self._sample(), "event": event})

    @property
    def latest(self) -> Sample:
        """The current counts (the last sample's values, without any event)."""
        with self._changed:
            return self._sample()

    def wait_until(self, condition: Callable[[Sample], bool], timeout: float = 120.0) -> Sample:
        """Block until ``condition(sample)`` holds for the current counts; return that sample.

        E.g. ``recording.wait_until(lambda s: s["healthy"] == 3)``. Wakes on each change the
        background threads see, and raises NomadLabError after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                sample = self._sample()
                if condition(sample):
                    return sample
                background = self._background
                if background is None or not background.alive:
                    raise NomadLabError(
                        f'The recorder of job "{self.job}" is not running, so nothing will '
                        "change: call recording.start() (or use `with nomadlab.watch(...)`)."
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NomadLabError(
                        f'Waited {timeout:g}s for job "{self.job}" to reach the expected counts; '
                        f"it is at {_describe(sample)}. lab.status({self.job!r}) shows why."
                    )
                self._changed.wait(min(left, 1.0))

    # -- the background threads ----------------------------------------------------------------

    def _follow(self, read: Callable[[int], int], index: int) -> None:
        while True:
            index = read(max(index, 1))

    def _read_job(self, index: int) -> int:
        """The job's desired count; while there is no such job, wait for the job list to change."""
        assert self._background is not None
        background = self._background
        try:
            job, new_index = background.get(background.nomad.job, self.job, index=index)
        except NomadLabError as exc:
            if getattr(exc, "status", 0) != 404:
                raise
            job = None  # not registered yet, or purged: wake when the list of jobs changes
            _, new_index = background.get(
                background.nomad.jobs, index=index, params={"prefix": self.job}
            )
        self._update(desired=desired(job, self.group), index=new_index)
        return new_index

    def _read_allocs(self, index: int) -> int:
        assert self._background is not None
        background = self._background
        stubs, new_index = background.get(
            background.nomad.job, self.job, "allocations", index=index
        )
        self._update(**counts(stubs or [], self.group), index=new_index)
        return new_index

    def _update(self, **values: int) -> None:
        with self._changed:
            index = max(self._state["index"], values.pop("index", 0))
            self._state.update(values, index=index)
            if self.started_at is not None and self.stopped_at is None:
                self._record()
            self._changed.notify_all()

    def _sample(self) -> Sample:
        return {"time": time.time(), **self._state}

    def _record(self, force: bool = False) -> None:
        with self._changed:
            sample = self._sample()
            last = self.samples[-1] if self.samples else None
            if force or last is None or any(last[k] != sample[k] for k in (*COUNTS, "restarts")):
                self.samples.append(sample)


def _describe(sample: Sample) -> str:
    return ", ".join(f"{k} {sample[k]}" for k in COUNTS)
