"""Service discovery figures: how soon a new backend instance reaches the frontend's template.

    python bench/service_discovery.py [--rounds 5]

Runs jobs/backend.nomad.hcl (1 instance) and jobs/frontend.nomad.hcl on a practice agent,
then scales the backend up one instance at a time. For each new instance it prints the
time from its registration (it appears in /v1/service/backend) and from its becoming
healthy (its checks passed for min_healthy_time) to the frontend's rendered
local/backends.txt listing it; then the median. Nomad's native discovery lists an
instance as soon as it is registered, healthy or not, so the second figure is usually
negative: the template shows an instance before the deployment counts it healthy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nomad
from common import until

from nomadlab.discovery import fetch_service
from nomadlab.practice import Agent

JOBS = Path(__file__).resolve().parent.parent / "jobs"


def run_job(client: nomad.Nomad, name: str, **variables: str) -> None:
    values = {"python": sys.executable, **variables}
    parsed = client.jobs.request(
        "parse",
        method="post",
        json={
            "JobHCL": (JOBS / f"{name}.nomad.hcl").read_text(),
            "Canonicalize": True,
            "Variables": "".join(f'{k} = "{v}"\n' for k, v in values.items()),
        },
    ).json()
    client.jobs.register_job({"Job": parsed})


def registered(client: nomad.Nomad) -> dict[str, str]:
    """Alloc ID → ``host:port`` of each backend registration."""
    found, _ = fetch_service(client, "backend")
    return {r["AllocID"]: f"{r['Address']}:{r['Port']}" for r in found}


def rendered(client: nomad.Nomad, alloc_id: str) -> str:
    return client.client.cat.read_file(alloc_id, path="web/local/backends.txt")


def healthy(client: nomad.Nomad, alloc_id: str) -> bool:
    status = client.allocation.get_allocation(alloc_id).get("DeploymentStatus") or {}
    return status.get("Healthy") is True


def one_round(client: nomad.Nomad, frontend: str, count: int) -> tuple[float, float]:
    before = set(registered(client))
    client.job.request(
        "backend", "scale", method="post", json={"Count": count, "Target": {"Group": "backend"}}
    )
    new = until(lambda: set(registered(client)) - before, poll=0.002)
    t_registered = time.monotonic()
    (alloc_id,) = new
    address = registered(client)[alloc_id]
    t_rendered = t_healthy = None
    while t_rendered is None or t_healthy is None:
        now = time.monotonic()
        if t_rendered is None and address in rendered(client, frontend):
            t_rendered = now
        if t_healthy is None and healthy(client, alloc_id):
            t_healthy = now
        time.sleep(0.002)
    until(lambda: client.job.get_deployment("backend")["Status"] == "successful")
    return t_rendered - t_registered, t_rendered - t_healthy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Agent(http_port=None, log_file=Path(tmp) / "agent.log") as agent,
    ):
        client = nomad.Nomad(address=agent.address, timeout=30)
        run_job(client, "backend", count="1")
        until(lambda: (d := client.job.get_deployment("backend")) and d["Status"] == "successful")
        run_job(client, "frontend")
        frontend = until(
            lambda: [
                a["ID"]
                for a in client.job.get_allocations("frontend")
                if a["ClientStatus"] == "running"
            ]
        )[0]
        from_registration, from_health = [], []
        for round_number in range(args.rounds):
            after_registration, after_health = one_round(client, frontend, 2 + round_number)
            from_registration.append(after_registration)
            from_health.append(after_health)
            print(
                f"instance {round_number + 2}: template shows it "
                f"{after_registration * 1000:.0f} ms after registration, "
                f"{after_health * 1000:+.0f} ms relative to healthy"
            )
        print(
            f"median: registration -> template {statistics.median(from_registration) * 1000:.0f} "
            f"ms; healthy -> template {statistics.median(from_health) * 1000:+.0f} ms"
        )
        for job in ("frontend", "backend"):
            client.job.deregister_job(job, purge=True)


if __name__ == "__main__":
    main()
