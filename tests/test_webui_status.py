"""Nomad's UI status logic (pure functions) and the UI's HTTP behaviour without a browser."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from html import unescape

import nomad
import pytest
from conftest import register_echo, wait_for

from nomadlab import plots
from nomadlab.practice import Agent
from nomadlab.practice.webui import handlers, status

STATIC = handlers.HERE / "static"


def job(count: int = 3, kind: str = "service", **extra: object) -> dict:
    return {"Type": kind, "Status": "running", "Stop": False,
            "TaskGroups": [{"Name": "echo", "Count": count}], **extra}  # fmt: skip


def alloc(client_status: str, index: int = 1, version: int = 0, healthy: bool | None = None):
    return {"ID": f"a{index}", "ClientStatus": client_status, "CreateIndex": index,
            "JobVersion": version, "TaskGroup": "echo", "NodeID": "n1", "NodeName": "node",
            "DesiredStatus": "run", "CreateTime": 1, "ModifyTime": 1,
            "DeploymentStatus": None if healthy is None else {"Healthy": healthy}}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "allocs", "deployment", "label"),
    [
        (job(), [alloc("running", i) for i in range(3)], {"Status": "running"}, "Deploying"),
        (job(), [alloc("running", i) for i in range(3)], {"Status": "successful"}, "Healthy"),
        (job(Status="dead", Stop=True), [], None, "Stopped"),
        (job(count=0), [alloc("complete")], None, "Scaled Down"),
        (job(), [alloc("running", 1), alloc("pending", 2), alloc("failed", 3)], None,
         "Recovering"),
        (job(), [alloc("running", 1), alloc("failed", 2)], None, "Degraded"),
        (job(), [alloc("failed", i) for i in range(3)], None, "Failed"),
        (job(), [], None, "Failed"),  # three unplaced
        (job(kind="batch"), [alloc("complete", i) for i in range(3)], None, "Complete"),
        (job(kind="batch"), [alloc("complete", 1), alloc("running", 2), alloc("running", 3)],
         None, "Running"),
    ],
)  # fmt: skip
def test_job_status_follows_nomads_ui(spec, allocs, deployment, label) -> None:
    assert status.job_status(spec, allocs, deployment).label == label


def test_blocks_fill_the_expected_slots_newest_first() -> None:
    old_failed = alloc("failed", 1, version=0)
    new_failed = alloc("failed", 2, version=1)
    blocks = status.alloc_blocks(job(count=3), [old_failed, new_failed, alloc("running", 3)])
    assert [a["ID"] for a in blocks["running"]] == ["a3"]
    assert [a["ID"] for a in blocks["failed"]] == ["a2", "a1"]
    assert blocks["unplaced"] == []
    assert status.alloc_blocks(job(count=2), [])["unplaced"] == [None, None]


def test_status_colours_are_the_charts_colours() -> None:
    css = (STATIC / "nomadlab.css").read_text()
    for name in ("pending", "running", "complete", "failed", "lost", "healthy", "unhealthy"):
        assert re.search(rf"--{name}: {plots.STATUS_COLORS[name]};", css), name
    for label in ("healthy", "deploying", "recovering", "degraded", "failed", "stopped"):
        assert re.search(rf"\.badge-{label}::before[^{{]*{{ content: \"[^\"]+\"", css), label


def test_vendored_htmx_records_its_version_and_licence() -> None:
    readme = (STATIC / "README.md").read_text()
    version = re.search(r"htmx\.min\.js` \| [^|]+\| ([\d.]+) \|", readme).group(1)
    assert f'version:"{version}"' in (STATIC / "htmx.min.js").read_text()
    assert "Zero-Clause BSD" in (STATIC / "htmx.LICENSE").read_text()


def test_relative_root_climbs_back_to_ui() -> None:
    assert handlers.relative_root("/ui/jobs") == "./"
    assert handlers.relative_root("/ui/jobs/web") == "../"
    assert handlers.relative_root("/ui/allocations/abc/server/logs") == "../../../"
    assert handlers.split_job_id("web@prod") == ("web", "prod")
    assert handlers.split_job_id("web") == ("web", "default")


def fetch(url: str) -> tuple[int, str, dict]:
    request = urllib.request.Request(url)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status, reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_root_redirects_to_the_ui_and_pages_use_relative_urls(agent: Agent) -> None:
    code, _, headers = fetch(f"{agent.address}/")
    assert (code, headers["Location"]) == (307, "ui/")
    code, _, headers = fetch(f"{agent.address}/ui/")
    assert (code, headers["Location"]) == (307, "jobs")
    code, body, _ = fetch(f"{agent.address}/ui/jobs")
    assert code == 200 and "No jobs" in body
    assert not re.search(r'(href|src|hx-get|data-post)="(/|https?://)', body)
    code, body, headers = fetch(f"{agent.address}/ui/jobs/nope")
    assert (code, body, headers["Content-Type"]) == (
        404,
        "job not found",
        "text/plain; charset=utf-8",
    )


def test_live_fragment_is_a_blocking_query(agent: Agent, client: nomad.Nomad) -> None:
    body = fetch(f"{agent.address}/ui/jobs")[1]
    index = int(re.search(r'hx-get="\?live=(\d+)"', body).group(1))
    answered: list[str] = []
    waiter = threading.Thread(
        target=lambda: answered.append(fetch(f"{agent.address}/ui/jobs?live={index}")[1])
    )
    waiter.start()
    time.sleep(1.0)
    assert not answered, "the fragment answered before anything changed"
    register_echo(client)
    waiter.join(timeout=60)
    assert answered and 'data-job="http-microservice"' in answered[0]
    assert answered[0].startswith('<div id="live"')
    wait_for(lambda: client.job.get_allocations("http-microservice"), what="an allocation")


def test_a_deployment_with_canaries_offers_promote_and_fail() -> None:
    """Canary deployments come from the job-updates work; the panel's buttons are here."""
    import tornado.template

    job_spec = job(count=2, ID="web", Name="web", Namespace="default", Priority=50, Version=1)
    deployment = {"ID": "d" * 36, "Status": "running", "JobVersion": 1,
                  "StatusDescription": "Deployment is running but requires manual promotion",
                  "TaskGroups": {"echo": {"DesiredTotal": 2, "PlacedAllocs": 1, "HealthyAllocs": 1,
                                          "UnhealthyAllocs": 0, "DesiredCanaries": 1,
                                          "PlacedCanaries": ["a1"], "Promoted": False,
                                          "ProgressDeadline": 600_000_000_000}}}  # fmt: skip
    allocs = [alloc("running", 1, version=1, healthy=True)]
    loader = tornado.template.Loader(str(handlers.HERE / "templates"))
    html = loader.load("job.html").generate(
        **handlers.template_helpers("/ui/jobs/web"), job=job_spec, tab="", tabs=handlers.JOB_TABS,
        status_=status.job_status(job_spec, allocs, deployment), deployment=deployment,
        blocks=status.alloc_blocks(job_spec, allocs), expected=2, allocs=allocs,
    ).decode()  # fmt: skip
    assert 'data-post="../../v1/deployment/promote/dddddddd' in html
    assert '{"DeploymentID":"dddddddd' in unescape(html) and '"All":true}' in unescape(html)
    assert 'data-post="../../v1/deployment/fail/dddddddd' in html
    assert "1/1" in html and "Deploying" in html
    deployment["TaskGroups"]["echo"]["Promoted"] = True
    promoted = loader.load("job.html").generate(
        **handlers.template_helpers("/ui/jobs/web"), job=job_spec, tab="", tabs=handlers.JOB_TABS,
        status_=status.job_status(job_spec, allocs, deployment), deployment=deployment,
        blocks=status.alloc_blocks(job_spec, allocs), expected=2, allocs=allocs,
    ).decode()  # fmt: skip
    assert "deployment/promote" not in promoted and "deployment/fail" in promoted
