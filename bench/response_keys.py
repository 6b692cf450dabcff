"""How many response keys differ from Nomad's structs across the tutorial's endpoints.

    python bench/response_keys.py [-v]

Starts a practice agent, runs the tutorial's echo job until its deployment is successful,
reads every endpoint in ``structs.fields.TUTORIAL_ENDPOINTS`` and counts the keys missing
from (or foreign to) Nomad's field lists, nested objects included.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import nomad
import requests
from common import parse_echo_job, until

from nomadlab.practice import Agent
from nomadlab.practice.structs import fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every difference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Agent(log_file=Path(tmp) / "agent.log") as agent:
        client = nomad.Nomad(address=agent.address, timeout=30)
        job = parse_echo_job(client)
        job["TaskGroups"][0]["Update"] = {"MinHealthyTime": 1_000_000_000}
        client.jobs.register_job({"Job": job})
        deployment = until(
            lambda: (
                (d := client.job.get_deployment(job["ID"])) and d["Status"] == "successful" and d
            )
        )
        alloc = client.job.get_allocations(job["ID"])[0]
        ids = {
            "job": job["ID"],
            "alloc": alloc["ID"],
            "eval": alloc["EvalID"],
            "deployment": deployment["ID"],
            "node": alloc["NodeID"],
        }
        total = 0
        for path, name, many in fields.TUTORIAL_ENDPOINTS:
            url = agent.address + path.format(**ids)
            found = fields.endpoint_differences(name, many, requests.get(url, timeout=30).json())
            total += len(found)
            print(f"{len(found):5d}  {path}")
            if args.verbose:
                for difference in found:
                    print(f"       {difference}")
        print(f"{total:5d}  keys differing from Nomad's structs in all")


if __name__ == "__main__":
    main()
