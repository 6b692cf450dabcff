"""Web UI figures: the job page's render time with many allocations, and how long a state
change takes to show on an open page in a real browser.

    python bench/webui.py [--allocs 200] [--nodes 5] [--renders 50] [--changes 10]

Runs a practice agent with N simulated nodes and a job of ``/bin/sleep`` tasks (cheap
processes, so 200 of them fit any machine). Prints p50/p99 of ``GET /ui/jobs/<id>``
(server-side render of the whole page, over HTTP), then opens the page in headless
Chromium and scales the job by one, ten times: the time from the scale request to the
browser showing the new count (p50/max), as measured by the page's own clock.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nomad
import requests
from common import until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser import CHROMIUM_ARGS, chromium_path

from nomadlab.practice import Agent

JOB_ID = "ui-bench"
HCL = """
job "ui-bench" {
  datacenters = ["dc1"]
  group "sleepers" {
    count = %d
    update { min_healthy_time = "200ms" }
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 10
        memory = 16
      }
    }
  }
}
"""


def deployed(client: nomad.Nomad, previous: str | None = None) -> dict | None:
    deployment = client.job.get_deployment(JOB_ID)
    if deployment and deployment["ID"] != previous and deployment["Status"] == "successful":
        return deployment
    return None


def scale(client: nomad.Nomad, count: int) -> None:
    client.job.request(
        JOB_ID, "scale", method="post", json={"Count": count, "Target": {"Group": "sleepers"}}
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocs", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(http_port=None, nodes=args.nodes, log_file=Path(tmp) / "agent.log").start()
        try:
            client = nomad.Nomad(address=agent.address, timeout=60)
            job = client.jobs.request(
                "parse", method="post", json={"JobHCL": HCL % args.allocs, "Canonicalize": True}
            ).json()
            client.jobs.register_job({"Job": job})
            previous = until(lambda: deployed(client), timeout=600)["ID"]
            url = f"{agent.address}/ui/jobs/{JOB_ID}"
            renders = []
            for _ in range(args.renders):
                start = time.perf_counter()
                page = requests.get(url, timeout=60)
                renders.append(time.perf_counter() - start)
                assert page.status_code == 200 and f"{args.allocs}/{args.allocs}" in page.text
            latencies = browser_latencies(client, url, args.allocs, args.changes, previous)
        finally:
            client.job.deregister_job(JOB_ID, purge=True)
            agent.stop()
    print(f"practice web UI, job page with {args.allocs} allocations on {args.nodes} nodes")
    print(f"  GET /ui/jobs/<id> render: p50 {statistics.median(renders) * 1e3:.1f} ms, "
          f"p99 {percentile(renders, 0.99) * 1e3:.1f} ms ({len(renders)} requests)")  # fmt: skip
    print(f"  state change → shown in Chromium: p50 {statistics.median(latencies) * 1e3:.0f} ms, "
          f"max {max(latencies) * 1e3:.0f} ms ({len(latencies)} scale requests)")  # fmt: skip


def browser_latencies(
    client: nomad.Nomad, url: str, count: int, changes: int, previous: str
) -> list[float]:
    """Scale by one ``changes`` times; each time, how long until the open page shows it."""
    from playwright.sync_api import sync_playwright

    latencies = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        page = context.new_page()
        page.goto(url)
        for step in range(1, changes + 1):
            target = count + step
            page.evaluate(
                """(text) => { window.shownAt = null;
                new MutationObserver((_, observer) => {
                  const ratio = document.querySelector('.status-panel .ratio');
                  if (ratio && ratio.textContent.endsWith('/' + text)) {
                    window.shownAt = Date.now(); observer.disconnect(); }
                }).observe(document.body, {childList: true, subtree: true}); }""",
                str(target),
            )
            sent = time.time()
            scale(client, target)
            page.wait_for_function("() => window.shownAt !== null", timeout=60_000)
            latencies.append(page.evaluate("() => window.shownAt") / 1000 - sent)
            previous = until(lambda last=previous: deployed(client, last), timeout=120)["ID"]
        context.close()
    return latencies


if __name__ == "__main__":
    main()
