"""A pytest plugin that runs each of the kit's notebooks against a practice agent of its own.

Loaded by the checkout's pytest settings (``-p nomadlab.pytest_notebooks`` in
pyproject.toml), so that notebooks/ holds nothing but notebooks. nbval (``--nbval-lax``)
collects every ``*.ipynb`` in notebooks/ as one test per code cell, and runs each notebook
in a fresh kernel. Before a notebook's kernel starts, this starts a practice agent for that
notebook alone, on a free port, and points the kernel at it with ``NOMAD_ADDR`` (a kernel
inherits this process's environment), so ``nomadlab.start()`` attaches to it.

- Each notebook gets its own agent and its own ``NOMADLAB_HOME`` in a temporary directory,
  so notebooks can run in parallel (pytest-xdist, ``--dist loadfile``) and the learner's
  ``~/.nomadlab`` is neither read nor written.
- A notebook that needs several nodes says so in its metadata:
  ``"nomadlab": {"nodes": 3}``; the agent then runs with ``-nodes 3`` and the classroom's
  heartbeat timers, as ``several_nodes()`` starts one for a learner.
- ``DOCKER_HOST`` names a socket that does not exist, so the agent never finds a Docker
  engine and the docker job fails to place the same way on every machine.
- Notebooks are collected before the other tests, so that under xdist the longest
  pieces of work start first.
- ``--notebooks=committed`` (what ``make test`` uses) judges each notebook as git's HEAD
  holds it, so outputs a learner's JupyterLab autosaved into the working copy change
  nothing; a notebook git does not know yet is judged as it is.
- After each notebook, no job may be left on its agent and no task process alive; then its
  agent is stopped, and none of its processes may outlive it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from _pytest.compat import legacy_path
from nbval.plugin import IPyNbFile

#: Environment variables that would point the kernels elsewhere or change the agent's mode.
CLEARED = (
    "NOMAD_TOKEN", "NOMAD_REGION", "NOMAD_NAMESPACE", "NOMAD_CACERT", "NOMAD_CAPATH",
    "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY", "NOMAD_SKIP_VERIFY", "NOMAD_HTTP_AUTH",
    "NOMAD_TLS_SERVER_NAME", "NOMADLAB_AGENT", "NOMADLAB_PORT",
)  # fmt: skip
NO_DOCKER = "unix:///nonexistent/nomadlab-notebook-tests/docker.sock"
#: How long a stopped task may take to exit (its kill_timeout is 5s).
EXIT_GRACE = 15.0


def is_notebook(item: pytest.Item) -> bool:
    """True for the cells nbval collects from a notebook in the checkout's notebooks/."""
    path = Path(str(item.path))
    return path.suffix == ".ipynb" and item.config.rootpath / "notebooks" in path.parents


def notebook_settings(metadata: dict[str, Any]) -> dict[str, Any]:
    """What a notebook asks of its practice agent (``metadata["nomadlab"]``), checked."""
    wanted = dict(metadata.get("nomadlab") or {})
    unknown = set(wanted) - {"nodes"}
    if unknown:
        raise ValueError(f'unknown key(s) in the notebook\'s "nomadlab" metadata: {unknown}')
    nodes = wanted.get("nodes", 1)
    if not isinstance(nodes, int) or isinstance(nodes, bool) or not 1 <= nodes <= 10:
        raise ValueError(f'"nomadlab": {{"nodes": …}} must be a whole number 1–10, not {nodes!r}')
    return {"nodes": nodes}


def committed_text(path: Path) -> str | None:
    """The notebook as git's HEAD holds it, or None where git does not know it."""
    try:
        shown = subprocess.run(
            ["git", "-C", str(path.parent), "show", f"HEAD:./{path.name}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shown.stdout if shown.returncode == 0 else None


def judged_text(path: Path, source: str) -> str:
    """The text of the notebook a test judges: ``source`` is ``committed`` or ``working``."""
    if source == "committed" and (text := committed_text(path)) is not None:
        return text
    return path.read_text(encoding="utf-8")


class NotebookAgent:
    """One notebook's practice agent, and the environment its kernel sees."""

    def __init__(self, nodes: int = 1) -> None:
        self.nodes = nodes
        self.agent: Any = None
        self.tmp: Path | None = None
        self.saved: dict[str, str | None] = {}

    def start(self) -> None:
        from nomadlab.practice import CLASSROOM, Agent

        self.tmp = Path(tempfile.mkdtemp(prefix="nomadlab-notebook-"))
        settings: dict[str, str | None] = dict.fromkeys(CLEARED)
        settings.update(NOMADLAB_HOME=str(self.tmp / "home"), DOCKER_HOST=NO_DOCKER)
        self._set(settings)
        self.agent = Agent(
            http_port=None,
            nodes=self.nodes,
            log_file=self.tmp / "agent.log",
            config=[CLASSROOM] if self.nodes > 1 else [],
        ).start()
        self._set({"NOMAD_ADDR": self.agent.address})

    def _set(self, settings: dict[str, str | None]) -> None:
        for name, value in settings.items():
            self.saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    @property
    def running(self) -> bool:
        return self.agent is not None

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.agent.address + path, timeout=10) as response:
            return json.load(response)

    def jobs(self) -> list[str]:
        """IDs of the jobs registered on the agent."""
        return sorted(job["ID"] for job in self._get("/v1/jobs"))

    def purge(self, job_id: str) -> None:
        request = urllib.request.Request(
            f"{self.agent.address}/v1/job/{urllib.parse.quote(job_id)}?purge=true",
            method="DELETE",
        )
        urllib.request.urlopen(request, timeout=10).close()

    def task_processes(self) -> list[psutil.Process]:
        """Live processes the agent started for tasks (they carry NOMAD_ALLOC_ID)."""
        try:
            children = psutil.Process(self.agent.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        return [p for p in children if _task_of_any_alloc(p)]

    def wait_for_no_tasks(self, timeout: float = EXIT_GRACE) -> list[psutil.Process]:
        """Task processes still alive after ``timeout`` seconds (stopping takes a moment)."""
        deadline = time.monotonic() + timeout
        while (left := self.task_processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def check_clean(self, notebook: str) -> None:
        """Fail if ``notebook`` left jobs or task processes; remove them."""
        left = self.jobs()
        for job_id in left:
            self.purge(job_id)
        processes = self.wait_for_no_tasks()
        problems = []
        if left:
            problems.append(f"jobs still registered: {', '.join(left)} (now purged)")
        if processes:
            problems.append(f"task processes still running: {_describe(processes)}")
        if problems:
            raise AssertionError(
                f"{notebook} did not clean up what it started: {'; '.join(problems)}. "
                "End the notebook with lab.stop(job, purge=True) for every job it ran."
            )

    def stop(self) -> list[str]:
        """Stop the agent and restore the environment; what was left behind, if anything."""
        problems = []
        if self.agent is not None:
            processes = self.task_processes()
            pid = self.agent.pid
            code = self.agent.stop()
            if code != 0:
                problems.append(f"the practice agent exited with code {code}:\n"
                                f"{self.agent.log_tail()}")  # fmt: skip
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                problems.append(f"the practice agent (pid {pid}) is still running")
            _, alive = psutil.wait_procs(processes, timeout=EXIT_GRACE)
            if alive:
                problems.append(f"task processes outlived the agent: {_describe(alive)}")
                for process in alive:
                    process.kill()
            self.agent = None
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.saved.clear()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return problems


def _task_of_any_alloc(process: psutil.Process) -> bool:
    try:
        return bool(process.environ().get("NOMAD_ALLOC_ID")) and process.status() != "zombie"
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _describe(processes: list[psutil.Process]) -> str:
    found = []
    for process in processes:
        try:
            found.append(f"pid {process.pid} ({' '.join(process.cmdline()[:4])})")
        except psutil.Error:
            found.append(f"pid {process.pid}")
    return ", ".join(found)


#: The agent of the notebook this process runs now (one at a time per pytest process).
CURRENT: dict[str, NotebookAgent] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--notebooks",
        choices=("working", "committed"),
        default="working",
        help="judge notebooks as they are in the working tree (default) or as git's HEAD "
        "holds them (make test: outputs a learner's lab autosaved do not count)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Find the sanitize file from anywhere below the checkout, not only from its root."""
    given = config.getoption("nbval_sanitize_with", None)
    if given and not Path(given).is_file() and (config.rootpath / given).is_file():
        config.option.nbval_sanitize_with = str(config.rootpath / given)


class CommittedNotebook(IPyNbFile):
    """nbval's notebook, read as git's HEAD holds it instead of from the working tree."""

    def collect(self) -> Iterator[pytest.Item]:
        copy = Path(tempfile.mkdtemp(prefix="nomadlab-committed-")) / self.path.name
        copy.write_text(judged_text(self.path, "committed"), encoding="utf-8")
        self._read_from = copy
        try:
            yield from super().collect()
        finally:
            del self._read_from
            shutil.rmtree(copy.parent, ignore_errors=True)

    @property
    def fspath(self) -> Any:
        """nbval reads ``fspath`` while collecting: the committed copy; else the file."""
        return legacy_path(getattr(self, "_read_from", self.path))


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    """Have nbval read the judged text of each notebook (see ``--notebooks``)."""
    collectors = yield
    if file_path.suffix != ".ipynb" or parent.config.getoption("notebooks") == "working":
        return collectors
    return [
        CommittedNotebook.from_parent(parent, path=file_path) if type(c) is IPyNbFile else c
        for c in collectors
    ]


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Notebooks first (they wait on timers the longest), then every other test."""
    items[:] = [i for i in items if is_notebook(i)] + [i for i in items if not is_notebook(i)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Start a notebook's agent before its kernel starts (nbval starts it next)."""
    if not is_notebook(item) or str(item.path) in CURRENT:
        return
    settings = notebook_settings(item.parent.nb.metadata)
    agent = NotebookAgent(nodes=settings["nodes"])
    agent.start()
    CURRENT[str(item.path)] = agent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After a notebook's last cell (and its kernel's shutdown): check it, stop its agent."""
    result = yield
    agent = CURRENT.get(str(item.path))
    if agent is None or (nextitem is not None and nextitem.path == item.path):
        return result
    del CURRENT[str(item.path)]
    try:
        agent.check_clean(item.path.name)
    finally:
        problems = agent.stop()
        if problems:
            raise AssertionError("; ".join(problems))
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop an agent still running if the run ended early (interrupted, -x)."""
    for path, agent in list(CURRENT.items()):
        del CURRENT[path]
        problems = agent.stop()
        if problems:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line("notebooks: " + "; ".join(problems), red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
