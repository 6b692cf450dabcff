"""Draw the README's charts from a real run: ``python docs/make_images.py``.

Starts a practice agent with three nodes (nothing else is touched: the kit's state goes
to a temporary directory), runs ``jobs/http-echo-fast.nomad.hcl``, scales it 1 → 3 → 5 →
2 while ``nomadlab.watch`` records, kills one task so that Nomad restarts it, and saves
the three charts of ``nomadlab.plots`` as ``docs/img/counts.png``, ``timeline.png`` and
``by-node.png``. Takes about half a minute.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "img"
JOB = "http-microservice"
HOLD = 2.0  # seconds each count runs before the next step, so that the charts show it


def kill_task(alloc_id: str) -> None:
    """SIGKILL the processes of one allocation, found by the NOMAD_ALLOC_ID Nomad gives them."""
    for process in psutil.process_iter(["environ"]):
        if (process.info["environ"] or {}).get("NOMAD_ALLOC_ID") == alloc_id:
            process.kill()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nomadlab-images-") as tmp:
        for name in ("NOMAD_ADDR", "NOMAD_TOKEN", "NOMADLAB_AGENT"):
            os.environ.pop(name, None)
        os.environ["NOMADLAB_HOME"] = str(Path(tmp) / "home")

        import nomadlab
        from nomadlab import plots
        from nomadlab.lab import Lab
        from nomadlab.practice import Agent

        with Agent(http_port=None, nodes=3, log_file=Path(tmp) / "agent.log") as agent:
            lab = Lab(agent.address, quiet=True)
            with nomadlab.watch(lab, JOB) as recording:
                recording.mark("run, count 1")
                lab.run(ROOT / "jobs" / "http-echo-fast.nomad.hcl", count=1)
                for count in (3, 5, 2):
                    time.sleep(HOLD)
                    recording.mark(f"scale → {count}")
                    lab.scale(JOB, count)
                time.sleep(HOLD)
                first = min(
                    (a for a in lab.nomad.job.get_allocations(JOB) if a["DesiredStatus"] == "run"),
                    key=lambda a: a["Name"],
                )
                recording.mark(f"kill -9 {first['Name'].removeprefix(JOB + '.')}")
                kill_task(first["ID"])
                recording.wait_until(lambda s: s["restarts"] == 1 and s["running"] == 2)
                time.sleep(HOLD)
            allocations = plots.fetch_allocations(lab, JOB)
            nodes = plots.fetch_nodes(lab)
            lab.stop(JOB, purge=True)

    IMAGES.mkdir(parents=True, exist_ok=True)
    charts = {
        "counts.png": plots.counts_over_time(recording.samples),
        "timeline.png": plots.allocation_timeline(allocations),
        "by-node.png": plots.allocations_by_node(allocations, nodes),
    }
    for name, chart in charts.items():
        chart.savefig(IMAGES / name, dpi=100)
        print(f"wrote {(IMAGES / name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
