"""Take the README's web UI screenshots from a real run: ``python docs/make_screenshots.py``.

Starts a practice agent with three nodes, runs ``jobs/http-echo-fast.nomad.hcl`` with
``count = 3``, sends the echo one request, and saves what headless Chromium shows of the
jobs, job and allocation pages as ``docs/img/ui-jobs.png``, ``ui-job.png`` and
``ui-allocation.png``. Needs Debian's ``chromium``; takes about ten seconds.
"""

from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nomad

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "img"
JOB = "http-microservice"
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    from browser import CHROMIUM_ARGS, chromium_path
    from conftest import register_echo
    from playwright.sync_api import sync_playwright

    from nomadlab.practice import Agent

    with (
        tempfile.TemporaryDirectory(prefix="nomadlab-screens-") as tmp,
        Agent(http_port=None, nodes=3, log_file=Path(tmp) / "agent.log") as agent,
    ):
        client = nomad.Nomad(address=agent.address, timeout=30)
        register_echo(client, count=3, fast=True)
        deadline = time.monotonic() + 60
        while (client.job.get_deployment(JOB) or {}).get("Status") != "successful":
            if time.monotonic() > deadline:
                raise SystemExit("the deployment did not succeed; see the agent's log")
            time.sleep(0.2)
        alloc = client.job.get_allocations(JOB)[0]
        port = client.allocation.get_allocation(alloc["ID"])["AllocatedResources"]["Shared"]
        address = f"http://{port['Ports'][0]['HostIP']}:{port['Ports'][0]['Value']}/"
        urllib.request.urlopen(address, timeout=10).read()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1200, "height": 760})
            for name, path in (
                ("ui-jobs", "jobs"),
                ("ui-job", f"jobs/{JOB}"),
                ("ui-allocation", f"allocations/{alloc['ID']}"),
            ):
                page.goto(f"{agent.address}/ui/{path}")
                page.screenshot(path=str(IMAGES / f"{name}.png"))
                print(f"wrote docs/img/{name}.png")
            browser.close()
        client.job.deregister_job(JOB, purge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
