"""A pytest plugin that runs the kit's notebooks against a practice agent it starts.

Loaded by the checkout's pytest settings (``-p nomadlab.pytest_notebooks`` in
pyproject.toml), so that notebooks/ holds nothing but notebooks. nbval (``--nbval-lax``)
collects every ``*.ipynb`` in notebooks/, in name order, as one test per code cell, and
runs each notebook in a fresh
kernel. Before the first notebook runs, this starts a practice agent on a free port and
points the kernels at it with ``NOMAD_ADDR`` (a kernel inherits this process's
environment), so ``nomadlab.start()`` in a notebook attaches to it and starts nothing.

- ``NOMADLAB_HOME`` goes to a temporary directory: the learner's ``~/.nomadlab`` (their
  agent's record, their jobs registry) is neither read nor written.
- ``DOCKER_HOST`` names a socket that does not exist, so the agent never finds a Docker
  engine and the docker job fails to place the same way on every machine.
- Notebooks run after every other test, one at a time.
- After each notebook, no job may be left on the agent and no task process alive: a
  notebook cleans up what it started. After the last one the agent is stopped, and none
  of its processes may outlive it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

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


class NotebookAgent:
    """The practice agent the notebooks share, and the environment they see."""

    def __init__(self) -> None:
        self.agent: Any = None
        self.tmp: Path | None = None
        self.saved: dict[str, str | None] = {}

    def start(self) -> None:
        from nomadlab.practice import Agent

        self.tmp = Path(tempfile.mkdtemp(prefix="nomadlab-notebooks-"))
        settings: dict[str, str | None] = dict.fromkeys(CLEARED)
        settings.update(NOMADLAB_HOME=str(self.tmp / "home"), DOCKER_HOST=NO_DOCKER)
        self._set(settings)
        self.agent = Agent(http_port=None, log_file=self.tmp / "agent.log").start()
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
        """Fail if ``notebook`` left jobs or task processes; remove them for the next one."""
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


AGENT = NotebookAgent()


def pytest_configure(config: pytest.Config) -> None:
    """Find the sanitize file from anywhere below the checkout, not only from its root."""
    given = config.getoption("nbval_sanitize_with", None)
    if given and not Path(given).is_file() and (config.rootpath / given).is_file():
        config.option.nbval_sanitize_with = str(config.rootpath / given)


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Run the notebooks after every other test, in name order (nbval keeps cell order)."""
    items[:] = [i for i in items if not is_notebook(i)] + [i for i in items if is_notebook(i)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Start the agent before the first notebook's kernel starts (nbval starts it next)."""
    if is_notebook(item) and not AGENT.running:
        AGENT.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After a notebook's last cell (and its kernel's shutdown), check that it cleaned up."""
    result = yield
    if not is_notebook(item) or not AGENT.running:
        return result
    if nextitem is not None and nextitem.path == item.path:
        return result
    try:
        AGENT.check_clean(Path(str(item.path)).name)
    finally:
        if nextitem is None or not is_notebook(nextitem):
            problems = AGENT.stop()
            if problems:
                raise AssertionError("; ".join(problems))
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the agent if the run ended early (interrupted, -x); report what it left."""
    if AGENT.running:
        problems = AGENT.stop()
        if problems:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line("notebooks: " + "; ".join(problems), red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
