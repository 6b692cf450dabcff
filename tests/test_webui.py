"""The practice web UI in real headless Chromium, against a real practice-agent process."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import nomad
import pytest
from browser import REMOTE_NAME, Browser, browser  # noqa: F401  (the fixture)
from conftest import register_echo, wait_for
from labkit import free_port

from nomadlab.practice import Agent

JOB = "http-microservice"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def module_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The module's practice agent (conftest's ``agent`` resets it around each test), with
    a kit home, and so a proxy secret, of its own, which the Jupyter server reads too."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOMADLAB_HOME", str(home))
        with Agent(http_port=None, log_file=home / "agent.log") as running:
            yield running


def deployed(client: nomad.Nomad, count: int = 1, fast: bool = True) -> list[dict]:
    """Run the http-echo job (fast: a 2s min_healthy_time) and wait for its deployment."""
    register_echo(client, count=count, fast=fast)
    wait_for(
        lambda: (client.job.get_deployment(JOB) or {}).get("Status") == "successful",
        what="the deployment to succeed",
    )
    return [a for a in client.job.get_allocations(JOB) if a["ClientStatus"] == "running"]


@pytest.fixture
def page(browser: Browser):  # noqa: F811
    """A fresh tab; afterwards, no request may have left this machine."""
    tab = browser.page()
    before = len(browser.requests)
    yield tab
    tab.close()
    foreign = [u for u in browser.requests[before:] if u in browser.foreign_requests()]
    assert not foreign, f"the UI asked the internet for {foreign}"


def test_jobs_page_shows_the_job_with_status_and_blocks(
    agent: Agent, client: nomad.Nomad, page
) -> None:
    deployed(client)
    page.goto(f"{agent.address}/ui/jobs")
    row = page.locator(f'tr[data-job="{JOB}"]')
    row.wait_for()
    assert row.locator(".badge").inner_text().strip() == "Healthy"
    assert row.locator(".ratio").inner_text() == "1/1"
    assert row.locator(".blocks .block-running").count() == 1
    assert "practice agent" in page.locator(".practice").inner_text()
    api = page.locator("a.api")
    assert api.inner_text() == "API: GET /v1/jobs?namespace=*"
    assert page.request.get(api.evaluate("a => a.href")).json()[0]["ID"] == JOB


def test_job_page_follows_a_scale_without_reload(agent: Agent, client: nomad.Nomad, page) -> None:
    deployed(client)
    page.goto(f"{agent.address}/ui/jobs/{JOB}")
    ratio = page.locator(".status-panel .ratio")
    assert ratio.inner_text() == "1/1"
    loads = []
    page.on("load", lambda _: loads.append(1))
    client.job.request(JOB, "scale", method="post", json={"Count": 3, "Target": {"Group": "echo"}})
    page.wait_for_function(
        "() => document.querySelector('.status-panel .ratio').textContent === '3/3'",
        timeout=60_000,
    )
    assert page.locator(".status-panel .blocks .block-running").count() == 3
    assert page.locator(".badge").first.inner_text().strip() in ("Deploying", "Healthy")
    assert not loads, "the page reloaded instead of updating itself"
    page.goto(f"{agent.address}/ui/jobs")
    assert page.locator(f'tr[data-job="{JOB}"] .ratio').inner_text() == "3/3"


def test_allocation_page_port_link_answers_with_the_echo(
    agent: Agent, client: nomad.Nomad, page
) -> None:
    alloc = deployed(client)[0]
    page.goto(f"{agent.address}/ui/allocations/{alloc['ID']}")
    link = page.locator("a.port")
    href = link.get_attribute("href")
    assert href == link.inner_text() and href.startswith("http://127.0.0.1:")
    with page.context.expect_page() as opened:
        link.click()
    echo = opened.value
    echo.wait_for_load_state()
    assert "Hello and welcome to 127.0.0.1" in echo.locator("body").inner_text()
    echo.close()
    events = page.locator("table.events").first.inner_text()
    assert "Started" in events and "Task started by client" in events


def test_logs_page_follows_the_echo_request_line(agent: Agent, client: nomad.Nomad, page) -> None:
    alloc = deployed(client)[0]
    port = client.allocation.get_allocation(alloc["ID"])["AllocatedResources"]["Shared"]["Ports"][0]
    page.goto(f"{agent.address}/ui/allocations/{alloc['ID']}/server/logs")
    page.wait_for_function(
        "() => document.querySelector('pre.log').textContent.includes('listening')"
    )
    url = f"http://{port['HostIP']}:{port['Value']}/from-the-logs-test"
    with urllib.request.urlopen(url, timeout=30) as reply:
        assert reply.status == 200
    page.wait_for_function(
        "() => document.querySelector('pre.log').textContent.includes('GET /from-the-logs-test')",
        timeout=60_000,
    )
    assert '"GET /from-the-logs-test HTTP/1.1" 200' in page.locator("pre.log").inner_text()


def test_stepper_scales_the_job_and_is_disabled_during_a_deployment(
    agent: Agent, client: nomad.Nomad, page
) -> None:
    # Nomad's 10s min_healthy_time: the page has that long to show the deployment's lock.
    deployed(client, fast=False)
    page.goto(f"{agent.address}/ui/jobs/{JOB}/echo")
    plus = page.get_by_role("button", name="Increment count")
    assert plus.is_enabled()
    plus.click()
    wait_for(lambda: client.job.get_job(JOB)["TaskGroups"][0]["Count"] == 2, what="count 2")
    page.wait_for_function(
        "() => document.querySelector('.stepper .count').textContent === '2'"
        " && document.querySelector('button[aria-label=\"Increment count\"]').disabled"
    )
    assert client.job.get_deployment(JOB)["Status"] == "running"
    assert "blocked due to active deployment" in page.locator(".note").inner_text()
    event = client.job.request(JOB, "scale", method="get").json()["TaskGroups"]["echo"]["Events"][0]
    assert (event["PreviousCount"], event["Count"]) == (1, 2)
    page.get_by_role("button", name="Increment count").wait_for(state="visible")
    page.wait_for_function(
        "() => !document.querySelector('button[aria-label=\"Increment count\"]').disabled",
        timeout=60_000,
    )
    page.get_by_role("button", name="Decrement count").click()
    wait_for(lambda: client.job.get_job(JOB)["TaskGroups"][0]["Count"] == 1, what="count 1")


def test_stop_button_asks_twice_then_stops_the_allocation(
    agent: Agent, client: nomad.Nomad, page
) -> None:
    alloc = deployed(client)[0]
    page.goto(f"{agent.address}/ui/allocations/{alloc['ID']}")
    stop = page.get_by_role("button", name="Stop")
    stop.click()
    confirm = page.get_by_role("button", name="Yes, Stop Allocation")
    assert client.allocation.get_allocation(alloc["ID"])["DesiredStatus"] == "run"
    confirm.click()
    wait_for(
        lambda: client.allocation.get_allocation(alloc["ID"])["DesiredStatus"] == "stop",
        what="the allocation to be stopped",
    )
    page.wait_for_function("() => !document.querySelector('button[data-post$=\"/stop\"]')")


def test_other_pages_render_live(agent: Agent, client: nomad.Nomad, page) -> None:
    deployed(client)
    for path, text in [
        ("evaluations", "job-register"),
        ("clients", "ready"),
        ("topology", "Memory"),
        (f"jobs/{JOB}/definition", '"TaskGroups"'),
        (f"jobs/{JOB}/versions", "echo (1)"),
        (f"jobs/{JOB}/deployments", "successful"),
        (f"jobs/{JOB}/evaluations", "job-register"),
    ]:
        page.goto(f"{agent.address}/ui/{path}")
        assert text in page.locator("main").inner_text(), path
    node = client.nodes.get_nodes()[0]
    page.goto(f"{agent.address}/ui/clients/{node['ID']}")
    assert "raw_exec" in page.locator("main").inner_text()
    page.goto(f"{agent.address}/ui/evaluations")
    client.job.request(JOB, "scale", method="post", json={"Count": 2, "Target": {"Group": "echo"}})
    page.wait_for_function("() => document.body.textContent.includes('job-scaling')")


@pytest.fixture(scope="module")
def jupyter_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Jupyter server's root directory."""
    return tmp_path_factory.mktemp("jupyter")


@pytest.fixture(scope="module")
def jupyter(jupyter_root: Path, module_agent: Agent) -> Iterator[tuple[int, str]]:
    """A real Jupyter server with jupyter-server-proxy, whose ``nomad`` entry leads to the
    module's agent; its port and token. One for the module: each costs seconds of CPU."""
    pytest.importorskip("jupyter_server_proxy", reason="pip install -e '.[test]'")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jupyter_root / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(jupyter_root / "jupyter-runtime"),
           "NOMADLAB_PORT": str(urlsplit(module_agent.address).port)}  # fmt: skip
    command = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
        f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={jupyter_root}", "--ServerApp.port_retries=0",
        "--ServerApp.allow_remote_access=True",  # reached as REMOTE_NAME, as on a hub
    ]  # fmt: skip
    log = (jupyter_root / "jupyter.log").open("wb")
    server = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )

    def ready() -> bool:
        try:
            status = f"http://127.0.0.1:{port}/api/status?token={token}"
            with urllib.request.urlopen(status, timeout=5):
                return True
        except OSError:
            return server.poll() is not None  # stop waiting; the assert below says why

    try:
        wait_for(ready, what="the Jupyter server")
        assert server.poll() is None, (jupyter_root / "jupyter.log").read_text()
        yield port, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # its stop can hang once JupyterLab's page loaded
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_the_pages_work_through_jupyters_proxy(
    agent: Agent, client: nomad.Nomad, page, jupyter: tuple[int, str]
) -> None:
    deployed(client)
    port, token = jupyter
    base = f"http://127.0.0.1:{port}"
    proxied = f"{base}/proxy/{urlsplit(agent.address).port}/ui"
    page.goto(f"{proxied}/jobs?token={token}")
    row = page.locator(f'tr[data-job="{JOB}"]')
    assert row.locator(".badge").inner_text().strip() == "Healthy"
    row.locator("a").first.click()
    page.wait_for_url(f"{proxied}/jobs/{JOB}")
    page.get_by_role("link", name="echo", exact=True).click()
    page.wait_for_url(f"{proxied}/jobs/{JOB}/echo")
    page.get_by_role("button", name="Increment count").click()
    wait_for(lambda: client.job.get_job(JOB)["TaskGroups"][0]["Count"] == 2, what="count 2")
    page.wait_for_function("() => document.querySelector('.stepper .count').textContent === '2'")
    assert page.locator(".flash").is_hidden()
    api = page.locator("a.api").evaluate("a => a.href")
    assert api == f"{base}/proxy/{urlsplit(agent.address).port}/v1/job/{JOB}/scale"


def test_the_ui_works_inside_an_iframe_of_another_origin(
    agent: Agent, client: nomad.Nomad, page
) -> None:
    deployed(client)
    page.set_content(f'<iframe src="{agent.address}/ui/jobs/{JOB}" width="1000" height="700">')
    frame = page.frame_locator("iframe")
    assert frame.locator(".status-panel .ratio").inner_text() == "1/1"
    client.job.request(JOB, "scale", method="post", json={"Count": 2, "Target": {"Group": "echo"}})
    frame.locator(".status-panel .ratio", has_text="2/2").wait_for(timeout=60_000)


def test_a_purged_job_says_so_on_its_open_page(agent: Agent, client: nomad.Nomad, page) -> None:
    deployed(client)
    page.goto(f"{agent.address}/ui/jobs/{JOB}")
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    client.job.deregister_job(JOB, purge=True)
    flash = page.locator(".flash")
    flash.wait_for(state="visible", timeout=60_000)
    assert flash.inner_text().startswith("job not found: it no longer exists")
    settled = len(requests)
    page.wait_for_timeout(2500)
    assert len(requests) == settled, "the page kept asking for a job that is gone"


def test_the_kits_jupyter_entry_works_where_the_generic_proxy_is_refused(
    agent: Agent, client: nomad.Nomad, page, jupyter: tuple[int, str]
) -> None:
    """Reached under a non-loopback name, as on Binder: Jupyter's generic proxy passes that
    Host on and the agent refuses it; the kit's ``nomad/`` entry adds the secret."""
    deployed(client)
    port, token = jupyter
    hub = f"http://{REMOTE_NAME}:{port}"
    refused = page.goto(f"{hub}/proxy/{urlsplit(agent.address).port}/ui/jobs?token={token}")
    assert refused is not None and refused.status == 403
    assert "does not name this agent" in refused.text()
    page.goto(f"{hub}/nomad/ui/jobs/{JOB}/echo?token={token}")
    assert page.locator(".stepper .count").inner_text() == "1"
    page.get_by_role("button", name="Increment count").click()
    wait_for(lambda: client.job.get_job(JOB)["TaskGroups"][0]["Count"] == 2, what="count 2")
    page.wait_for_function("() => document.querySelector('.stepper .count').textContent === '2'")
    assert page.locator(".flash").is_hidden()


def test_a_hidden_tab_lets_go_of_its_connection_and_catches_up_when_shown(
    agent: Agent, client: nomad.Nomad, page
) -> None:
    deployed(client)
    page.goto(f"{agent.address}/ui/jobs/{JOB}")
    live = []
    page.on("request", lambda request: live.append(request.url) if "live=" in request.url else 0)
    set_hidden = """(hidden) => {
        Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
        document.dispatchEvent(new Event("visibilitychange")); }"""
    page.evaluate(set_hidden, True)
    client.job.request(JOB, "scale", method="post", json={"Count": 2, "Target": {"Group": "echo"}})
    wait_for(lambda: len(running_allocs(client)) == 2, what="two running allocations")
    page.wait_for_timeout(1000)
    assert page.locator(".status-panel .ratio").inner_text() == "1/1"
    assert not live, f"a hidden tab asked for {live}"
    page.evaluate(set_hidden, False)
    page.locator(".status-panel .ratio", has_text="2/2").wait_for(timeout=60_000)


def running_allocs(client: nomad.Nomad) -> list[dict]:
    return [a for a in client.job.get_allocations(JOB) if a["ClientStatus"] == "running"]


def test_a_chart_in_jupyterlab_carries_its_alt_text(
    jupyter_root: Path, page, jupyter: tuple[int, str]
) -> None:
    """A chart a notebook saved, opened in JupyterLab: the image a learner sees has the
    chart's words as its alt (JupyterLab's PNG renderer would drop them)."""
    from IPython.core.formatters import DisplayFormatter
    from test_plots import NOW, scaled_job

    from nomadlab.plots import allocation_timeline

    chart = allocation_timeline(scaled_job(), now_ns=NOW)
    data, metadata = DisplayFormatter().format(chart)
    data["image/png"] = base64.b64encode(data["image/png"]).decode()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("plots.allocation_timeline(allocs)")]
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("display_data", data=data, metadata=metadata)
    ]
    nbformat.write(notebook, jupyter_root / "chart.ipynb")
    port, token = jupyter
    page.goto(f"http://127.0.0.1:{port}/lab/tree/chart.ipynb?token={token}")
    image = page.wait_for_selector(".jp-OutputArea-output img", timeout=60_000)
    assert image.get_attribute("alt") == chart.alt
    assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "the PNG shows"
    page.goto("about:blank")  # JupyterLab's sockets close before its server is stopped
