"""No web page can drive the practice agent (cross-site writes, DNS rebinding, CORS), while
python-nomad, curl and the kit's own Jupyter proxy entry keep working."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest
import requests
from conftest import raw_exec_job, wait_for

from nomadlab.contract import PROXY_HEADER, proxy_secret
from nomadlab.practice import Agent


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crosssite") / "nomadlab-home"


@pytest.fixture(scope="module")
def shared_agent(home: Path) -> Iterator[Agent]:
    """One practice agent for this module, its proxy secret in ``home``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOMADLAB_HOME", str(home))
        running = Agent(http_port=None, log_file=home.parent / "agent.log").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def guarded(shared_agent: Agent) -> Iterator[Agent]:
    """The module's agent, with every job a test registered purged after it."""
    yield shared_agent
    for job in requests.get(f"{shared_agent.address}/v1/jobs", timeout=10).json():
        requests.delete(
            f"{shared_agent.address}/v1/job/{job['ID']}", params={"purge": "true"}, timeout=10
        )


def marker_job(marker: Path) -> dict:
    """A raw_exec job whose command leaves ``marker`` behind: proof that it ran."""
    code = f"open({str(marker)!r}, 'w').write('ran')"
    job = raw_exec_job("pwned", 1, sys.executable, ["-c", code])
    return {"Job": {**job, "Type": "batch"}}


def host_of(agent: Agent) -> str:
    return f"127.0.0.1:{agent.http_port}"


def assert_refused(response: requests.Response, why: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert why in response.text
    assert not any(h.lower().startswith("access-control-allow") for h in response.headers)


def test_a_cross_site_text_plain_post_cannot_run_a_command(guarded: Agent, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    body = json.dumps(marker_job(marker))
    attack = requests.post(
        f"{guarded.address}/v1/jobs",
        data=body,
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
        timeout=10,
    )
    assert_refused(attack, "cross-site POST from the web page at 'http://evil.example'")
    assert requests.get(f"{guarded.address}/v1/jobs", timeout=10).json() == []
    assert requests.get(f"{guarded.address}/v1/allocations", timeout=10).json() == []
    # The same body without a browser's Origin (as curl sends it) registers and runs.
    ran = requests.post(f"{guarded.address}/v1/jobs", data=body, timeout=10)
    assert ran.status_code == 200, ran.text
    wait_for(marker.exists, what="the control job's command to run")


@pytest.mark.parametrize("origin", ["null", "http://localhost:1", "https://127.0.0.1"])
def test_a_write_from_a_foreign_or_opaque_origin_is_refused(guarded: Agent, origin: str) -> None:
    response = requests.delete(
        f"{guarded.address}/v1/job/anything", headers={"Origin": origin}, timeout=10
    )
    assert_refused(response, "cross-site DELETE")


@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/agent/self", "/", "/ui/", "/no/such/route"])
def test_a_dns_rebinding_host_is_refused_for_reads_and_writes(
    guarded: Agent, method: str, path: str, tmp_path: Path
) -> None:
    body = json.dumps(marker_job(tmp_path / "pwned")) if method != "GET" else None
    response = requests.request(
        method,
        f"{guarded.address}{path}",
        data=body,
        headers={"Host": f"evil.example:{guarded.http_port}"},
        timeout=10,
    )
    assert_refused(response, "'evil.example:")
    assert "DNS rebinding" in response.text
    assert requests.get(f"{guarded.address}/v1/jobs", timeout=10).json() == []


def test_options_grants_no_cors(guarded: Agent) -> None:
    response = requests.options(
        f"{guarded.address}/v1/jobs",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("text/plain")
    assert not any(h.lower().startswith("access-control") for h in response.headers)


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "LOCALHOST.:{port}", "app.localhost", "127.7.7.7:{port}", "[::1]"]
)
def test_loopback_names_and_addresses_are_served(guarded: Agent, host: str) -> None:
    response = requests.get(
        f"{guarded.address}/v1/status/leader",
        headers={"Host": host.format(port=guarded.http_port)},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_python_nomad_and_curl_like_clients_work_unchanged(guarded: Agent, tmp_path: Path) -> None:
    client = nomad.Nomad(address=guarded.address, timeout=30)
    marker = tmp_path / "ran"
    client.jobs.register_job(marker_job(marker))
    wait_for(marker.exists, what="the job registered by python-nomad to run")
    assert [j["ID"] for j in client.jobs.get_jobs()] == ["pwned"]
    client.job.deregister_job("pwned", purge=True)
    assert client.jobs.get_jobs() == []


def test_a_same_origin_write_passes(guarded: Agent) -> None:
    response = requests.delete(
        f"{guarded.address}/v1/job/none",
        headers={"Origin": f"http://{host_of(guarded)}", "Host": host_of(guarded)},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    other_port = requests.delete(
        f"{guarded.address}/v1/job/none",
        headers={"Origin": f"http://127.0.0.1:{guarded.http_port + 1}"},
        timeout=10,
    )
    assert_refused(other_port, "cross-site DELETE")


def test_the_proxy_secret_admits_a_foreign_host_and_a_wrong_one_does_not(
    guarded: Agent, home: Path, tmp_path: Path
) -> None:
    secret = proxy_secret(home)
    proxied = {"Host": "hub.mybinder.org", PROXY_HEADER: secret}
    assert requests.get(f"{guarded.address}/v1/jobs", headers=proxied, timeout=10).json() == []
    write = requests.put(
        f"{guarded.address}/v1/jobs",
        json=marker_job(tmp_path / "ran"),
        headers={**proxied, "Origin": "https://hub.mybinder.org"},
        timeout=10,
    )
    assert write.status_code == 200, write.text
    for wrong in ("", secret[:-1], secret + "0", "x" * len(secret)):
        response = requests.get(
            f"{guarded.address}/v1/jobs",
            headers={"Host": "hub.mybinder.org", PROXY_HEADER: wrong},
            timeout=10,
        )
        assert_refused(response, "does not name this agent")
    # The secret lifts the Host rule only: a foreign page's write through it is still refused.
    foreign = requests.put(
        f"{guarded.address}/v1/jobs",
        json=marker_job(tmp_path / "ran2"),
        headers={**proxied, "Origin": "http://evil.example"},
        timeout=10,
    )
    assert_refused(foreign, "cross-site PUT")


def test_the_secret_is_private_and_stable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    secret = proxy_secret(home)
    assert len(secret) == 64 and secret == proxy_secret(home)
    assert stat.S_IMODE((home / "proxy-secret").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    (home / "proxy-secret").write_text("short\n")
    replaced = proxy_secret(home)
    assert len(replaced) == 64 and replaced != secret
