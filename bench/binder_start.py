"""How long binder/start takes before it hands over to JupyterLab (median of 5 runs).

binder/start brings up the practice agent, then ``exec``s its arguments; here the argument is
a command that notes the moment it runs, so the figure is start → agent ready → hand-over.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nomadlab import agent as agents

ROOT = Path(__file__).resolve().parent.parent


def once() -> float:
    """Seconds from running binder/start to the command it hands over to."""
    with tempfile.TemporaryDirectory() as home:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        env = {**os.environ, "NOMADLAB_HOME": home, "PATH": path,
               "NOMADLAB_PORT": str(agents.free_port())}  # fmt: skip
        env.pop("NOMAD_ADDR", None)
        began = time.time()
        handed = subprocess.run(
            [ROOT / "binder" / "start", sys.executable, "-c", "import time; print(time.time())"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        took = float(handed.stdout.strip().splitlines()[-1]) - began
        record = json.loads((Path(home) / "agent.json").read_text())
        agents.stop(agents.RunningAgent.from_json(record))
        return took


def main() -> None:
    runs = [once() for _ in range(5)]
    print(
        f"binder/start → agent ready → JupyterLab's command runs: {statistics.median(runs):.2f} s"
    )


if __name__ == "__main__":
    main()
