"""A classroom on one server, through a real JupyterHub: three learners (DummyAuthenticator,
SimpleLocalProcessSpawner, a home each), each with the kit's agent (ACLs on, as on any
JupyterHub) running the tutorial's echo job, each Nomad UI tile answering to its learner and
refused to the others, through the hub and on loopback.

The learners start at once, as a class does, and their setup commands run as their terminals
would run them: the spawner's environment (``HOME``, ``JUPYTERHUB_USER``) and the kit's
``nomadlab`` CLI; one learner's real terminal, opened through the hub, gets her agent's
``NOMAD_ADDR`` and ``NOMAD_TOKEN`` from the server the spawner started. Needs node and
configurable-http-proxy (``.ci/run`` installs it); skipped elsewhere, never in CI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import JOBS, wait_for
from test_jupyter_proxy import in_terminal

from nomadlab import agent as agents

LEARNERS = ("ada", "bob", "cy")
BIN = Path(sys.executable).parent

if shutil.which("configurable-http-proxy") is None:
    reason = "configurable-http-proxy (npm) is not installed; .ci/run installs it"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


CONFIG = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.JupyterHub.db_url = "sqlite:///{tmp}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
c.JupyterHub.pid_file = "{tmp}/hub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.cmd = ["{bin}/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.JupyterHub.services = [{{"name": "teacher", "api_token": "{token}"}}]
c.JupyterHub.load_roles = [{{
    "name": "teacher",
    "scopes": ["admin:users", "admin:servers", "tokens"],
    "services": ["teacher"],
}}]
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict, Path]]:
    """A JupyterHub on loopback with its proxy; yields its URL, the teacher's API header and
    its directory (the learners' homes are under ``home/``)."""
    tmp = tmp_path_factory.mktemp("hub")
    port, hub_port, proxy_api = (agents.free_port() for _ in range(3))
    token = secrets.token_hex(16)
    (tmp / "jupyterhub_config.py").write_text(
        CONFIG.format(
            port=port, hub_port=hub_port, proxy_api=proxy_api, tmp=tmp, bin=BIN, token=token
        )
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for key in ("NOMADLAB_HOME", "NOMADLAB_PORT", "NOMAD_ADDR", "NOMAD_TOKEN", "NOMADLAB_ACL"):
        env.pop(key, None)
    log = (tmp / "hub.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "jupyterhub"), "-f", str(tmp / "jupyterhub_config.py")],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url, api = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}

    def ready() -> bool:
        assert process.poll() is None, (tmp / "hub.log").read_text()[-3000:]
        try:
            return requests.get(f"{url}/hub/api/", timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(ready, timeout=90, what="JupyterHub to answer")
        yield url, api, tmp
    finally:
        stops = [  # the kit's agents outlive their servers, as on a real hub
            subprocess.Popen(
                [str(BIN / "nomadlab"), "agent", "stop"],
                env=learner_env(tmp / "home" / name, name),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name in LEARNERS
            if (tmp / "home" / name).exists()
        ]
        for stop in stops:
            stop.wait(60)
        os.killpg(process.pid, 15)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


def learner_env(home: Path, name: str) -> dict[str, str]:
    """What a learner's terminal has: the spawner's HOME and JUPYTERHUB_USER, the kit on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NOMAD", "JUPYTERHUB")) and k != "NOMADLAB_HOME"
    }
    return {
        **env,
        "HOME": str(home),
        "JUPYTERHUB_USER": name,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }


def prepare(url: str, api: dict, tmp: Path, name: str) -> dict:
    """One learner: their server started by the hub, a hub API token, and from their terminal
    the kit's agent and the echo job; returns home, token, agent address and the kit's token."""
    started = requests.post(f"{url}/hub/api/users/{name}/server", headers=api, timeout=90)
    assert started.status_code in (201, 202), started.text

    def ready() -> bool:
        user = requests.get(f"{url}/hub/api/users/{name}", headers=api, timeout=10).json()
        return bool((user.get("servers") or {}).get("", {}).get("ready"))

    wait_for(ready, timeout=120, what=f"{name}'s server")
    token = requests.post(
        f"{url}/hub/api/users/{name}/tokens", json={"note": "test"}, headers=api, timeout=10
    ).json()["token"]
    home = tmp / "home" / name
    env = learner_env(home, name)
    for command in (
        ["agent", "start"],
        ["job", "run", "-var", f"python={sys.executable}", str(JOBS / "http-echo.nomad.hcl")],
    ):
        run = subprocess.run(
            [str(BIN / "nomadlab"), *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    record = json.loads((home / ".nomadlab" / "agent.json").read_text())
    return {
        "token": token,
        "home": home,
        "address": record["address"],
        "acl": record["acl"],
        "kit_token": (home / ".nomadlab" / "nomad-token").read_text().strip(),
    }


@pytest.fixture(scope="module")
def classroom(hub: tuple[str, dict, Path]) -> dict[str, dict]:
    """The three learners at once, as in a class: each one's server, agent and echo job;
    per learner, what :func:`prepare` returns."""
    url, api, tmp = hub
    requests.post(
        f"{url}/hub/api/users", json={"usernames": list(LEARNERS)}, headers=api, timeout=30
    ).raise_for_status()
    with ThreadPoolExecutor(len(LEARNERS)) as pool:
        done = {name: pool.submit(prepare, url, api, tmp, name) for name in LEARNERS}
        return {name: future.result() for name, future in done.items()}


def test_each_learner_has_an_agent_of_their_own_with_acls(classroom: dict[str, dict]) -> None:
    addresses = {learner["address"] for learner in classroom.values()}
    assert len(addresses) == len(LEARNERS), addresses
    for name, learner in classroom.items():
        assert learner["acl"] is True, name
        assert (learner["home"] / ".nomadlab" / "nomad-token").stat().st_mode & 0o777 == 0o600
        jobs = requests.get(
            f"{learner['address']}/v1/jobs",
            headers={"X-Nomad-Token": learner["kit_token"]},
            timeout=10,
        )
        assert [j["ID"] for j in jobs.json()] == ["http-microservice"], name


def test_the_nomad_ui_tile_answers_each_learner_through_the_hub(
    hub: tuple[str, dict, Path], classroom: dict[str, dict]
) -> None:
    url = hub[0]
    for name, learner in classroom.items():
        auth = {"Authorization": f"token {learner['token']}"}
        page = requests.get(f"{url}/user/{name}/nomad/ui/jobs", headers=auth, timeout=30)
        assert page.status_code == 200, (name, page.status_code, page.text[:300])
        assert "http-microservice" in page.text
        tile = requests.get(f"{url}/user/{name}/nomad/ui/", headers=auth, timeout=30)
        assert tile.status_code == 200 and tile.url.endswith("/nomad/ui/jobs"), tile.url


def test_one_learners_agent_and_ui_are_refused_to_another(
    hub: tuple[str, dict, Path], classroom: dict[str, dict]
) -> None:
    """What the ACLs are for: bob's process reaches ada's agent on loopback, with no token or
    his own, and is refused; bob's browser asking the hub for ada's UI is refused too."""
    url = hub[0]
    ada, bob = classroom["ada"], classroom["bob"]
    task = {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}
    job = {"Job": {"ID": "bobs", "Type": "batch", "TaskGroups": [{"Name": "g", "Tasks": [task]}]}}
    for headers in ({}, {"X-Nomad-Token": bob["kit_token"]}):
        write = requests.put(f"{ada['address']}/v1/jobs", json=job, headers=headers, timeout=10)
        assert (write.status_code, write.text) == (403, "Permission denied")
        ui = requests.get(f"{ada['address']}/ui/jobs", headers=headers, timeout=10)
        assert ui.status_code == 403
    through_hub = requests.get(
        f"{url}/user/ada/nomad/ui/jobs",
        allow_redirects=False,
        headers={"Authorization": f"token {bob['token']}"},
        timeout=30,
    )
    assert through_hub.status_code in (403, 404), through_hub.status_code
    assert "http-microservice" not in through_hub.text
    jobs = requests.get(
        f"{ada['address']}/v1/jobs", headers={"X-Nomad-Token": ada["kit_token"]}, timeout=10
    ).json()
    assert [j["ID"] for j in jobs] == ["http-microservice"]


def test_a_learners_terminal_reaches_their_agent_with_their_token(
    hub: tuple[str, dict, Path], classroom: dict[str, dict]
) -> None:
    """A terminal of ada's server, opened through the hub: the spawner started that server,
    not ``nomadlab lab``, and its terminals still get NOMAD_ADDR and NOMAD_TOKEN for her
    agent (the server learned them before her agent started), which accept her commands."""
    url, ada = hub[0], classroom["ada"]
    out = ada["home"] / "terminal"
    commands = f"env > {out}.env; {sys.executable} -m nomadlab job status > {out}.status 2>&1"
    auth = {"Authorization": f"token {ada['token']}"}
    in_terminal(f"{url}/user/ada", auth, commands, ada["home"] / "done")
    env = dict(line.split("=", 1) for line in Path(f"{out}.env").read_text().splitlines()
               if "=" in line)  # fmt: skip
    assert (env["NOMAD_ADDR"], env["NOMAD_TOKEN"]) == (ada["address"], ada["kit_token"])
    status = Path(f"{out}.status").read_text()
    assert status.startswith("ID ") and "http-microservice" in status, status
