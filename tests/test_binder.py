"""A Binder rehearsal without Docker: what repo2docker would build and start, played here.

A fresh virtual environment gets binder/requirements.txt and runs binder/postBuild, as
repo2docker does; binder/start then wraps a real Jupyter server. The practice agent is up
before JupyterLab; its API (and its web UI, where the agent serves one) is fetched through
the server's proxy: the kit's named entry ``/nomad/`` (the "Nomad UI" tile) and
``/proxy/<port>/``. JupyterLab's settings and terminals are the kit's, and a notebook
executes in that environment against the agent binder/start brought up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import ROOT, wait_for
from labkit import free_port
from tornado.httpclient import HTTPRequest
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

TOKEN = "binder-rehearsal"


def _install(venv: Path) -> None:
    """repo2docker's steps: a Python environment, binder/requirements.txt, binder/postBuild."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    # --seed: pip in the venv, as repo2docker's has, without ensurepip's seconds of CPU
    subprocess.run(
        [uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)], check=True
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         "-r", "binder/requirements.txt"],
        cwd=ROOT, check=True, timeout=600,
    )  # fmt: skip
    _borrow_byte_code(venv)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(["binder/postBuild"], cwd=ROOT, env=env, check=True, timeout=600)


def _borrow_byte_code(venv: Path) -> None:
    """pip on Binder compiles each package's byte-code as it installs it; uv does not, and
    compiling all of them costs half a minute of CPU. The suite's own environment holds
    byte-code of the same files (uv links both to one cache), so link it in. Python checks
    each .pyc against its source's mtime and size: one that does not match is compiled again."""
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = venv / ours.relative_to(sys.prefix)  # the same Python made both
    for cache in ours.rglob("__pycache__"):
        package = theirs / cache.parent.relative_to(ours)
        if package.is_dir():
            shutil.copytree(cache, package / "__pycache__", copy_function=os.link)


def _get(url: str) -> tuple[int, str, str]:
    """Status, content type and body of a GET; 0 while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, "", ""


def _terminal_says(base: str, command: str, until: str) -> str:
    """Open a JupyterLab terminal through the server's API, run ``command``, read its screen."""
    request = urllib.request.Request(f"{base}/api/terminals?token={TOKEN}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        name = json.load(response)["name"]

    async def converse() -> str:
        url = base.replace("http://", "ws://") + f"/terminals/websocket/{name}?token={TOKEN}"
        socket = await websocket_connect(HTTPRequest(url))
        socket.write_message(json.dumps(["stdin", command + "\r"]))
        screen = ""
        deadline = time.monotonic() + 60
        while until not in screen and time.monotonic() < deadline:
            message = await socket.read_message()
            if message is None:
                break
            kind, *content = json.loads(message)
            if kind == "stdout":
                screen += content[0]
        socket.close()
        return screen

    return IOLoop.current().run_sync(converse, timeout=90)


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The venv, and a Jupyter server started through binder/start, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("binder")
    venv = tmp / "venv"
    _install(venv)
    home = tmp / "home"
    home.mkdir()
    port, agent_port = free_port(), free_port()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("NOMAD_", "NOMADLAB_", "JUPYTER", "VIRTUAL_ENV"))
    }  # fmt: skip
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        HOME=str(home),
        NOMADLAB_HOME=str(home / ".nomadlab"),
        NOMADLAB_PORT=str(agent_port),
        SHELL="/bin/sh",
    )
    server = subprocess.Popen(
        ["binder/start", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}", "--allow-root"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/api/status?token={TOKEN}")[0] == 200 or server.poll(),
                 timeout=120, what="the Jupyter server binder/start wraps")  # fmt: skip
        assert server.poll() is None, server.stdout.read().decode()
        agent_first = (home / ".nomadlab" / "agent.json").exists()
        yield {"base": base, "venv": venv, "env": env, "home": home, "server": server,
               "agent_port": agent_port, "agent_first": agent_first}  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        recorded = home / ".nomadlab" / "agent.json"
        if recorded.exists():
            subprocess.run([str(venv / "bin" / "nomadlab"), "agent", "stop"], env=env,
                           capture_output=True, timeout=60)  # fmt: skip


def test_the_agent_is_up_before_jupyterlab_and_answers_through_its_proxy(binder: dict) -> None:
    record = json.loads((binder["home"] / ".nomadlab" / "agent.json").read_text())
    assert record["mode"] == "practice" and record["address"].endswith(f":{binder['agent_port']}")
    agent, server = psutil.Process(record["pid"]), psutil.Process(binder["server"].pid)
    assert "jupyter" in " ".join(server.cmdline()), "binder/start ends with exec: same process"
    assert agent.create_time() >= server.create_time(), "the agent is binder/start's"
    assert binder["agent_first"], "the agent was recorded before Jupyter first answered"

    for proxied in (f"{binder['base']}/nomad", f"{binder['base']}/proxy/{binder['agent_port']}"):
        status, kind, body = _get(f"{proxied}/v1/agent/self?token={TOKEN}")
        assert status == 200, (proxied, body)
        assert json.loads(body)["config"]["Version"]["Version"]
    if _get(f"{record['address']}/ui/")[0] == 200:  # the agent serves a web UI: the tile's path
        status, kind, body = _get(f"{binder['base']}/nomad/ui/?token={TOKEN}")
        assert status == 200 and kind.startswith("text/html"), body[:500]


def test_jupyterlab_has_the_kits_settings_and_terminals(binder: dict) -> None:
    plugin = "@jupyterlab/apputils-extension:notification"
    status, _, body = _get(f"{binder['base']}/lab/api/settings/{plugin}?token={TOKEN}")
    assert status == 200, body
    news = json.loads(body)["schema"]["properties"]["fetchNews"]
    assert news["default"] == "false", f"the news pop-up would show: {news}"
    bin_dir = binder["venv"] / "bin"
    screen = _terminal_says(
        binder["base"], "command -v nomadlab python; echo done-$((6*7))", "done-42"
    )
    assert f"{bin_dir}/nomadlab" in screen and f"{bin_dir}/python" in screen, screen


def test_a_notebook_runs_against_the_agent_binder_started(binder: dict, tmp_path: Path) -> None:
    out = tmp_path / "01_dev_agent.ipynb"
    done = subprocess.run(
        [str(binder["venv"] / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=120", f"--output={out}", "notebooks/01_dev_agent.ipynb"],
        cwd=ROOT, env=binder["env"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = "".join(
        o.get("text", "")
        for c in nbformat.read(out, as_version=4).cells
        for o in c.get("outputs", [])
    )
    assert "practice mode" in outputs and "reused" in outputs, outputs[:2000]
    agent = json.loads((binder["home"] / ".nomadlab" / "agent.json").read_text())
    status, _, jobs = _get(f"{agent['address']}/v1/jobs")
    assert status == 200 and json.loads(jobs) == [], "the notebook left a job"


def test_the_readme_first_screen_has_the_two_commands_the_badge_and_a_picture() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    assert "make lab" in first_screen and "make test" in first_screen
    badge = "(https://mybinder.org/v2/gh/"
    assert badge in first_screen and "labpath=notebooks%2F00_setup.ipynb)" in first_screen
    picture = re.search(r"!\[([^\]]+)\]\(([^)]+\.png)\)", first_screen)
    assert picture and (ROOT / picture[2]).is_file(), "a picture, with alt text"


def test_binder_installs_the_labs_lock_and_start_hands_over() -> None:
    assert (ROOT / "binder/requirements.txt").read_text().count("-r ../requirements/lab.txt") == 1
    start = (ROOT / "binder/start").read_text().rstrip().splitlines()
    assert start[-1] == 'exec "$@"' and os.access(ROOT / "binder/start", os.X_OK)
    assert os.access(ROOT / "binder/postBuild", os.X_OK)
