"""The ``nomadlab`` command: Nomad's CLI verbs for machines without the ``nomad`` binary."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``nomadlab <command> ...``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "-help", "--help"):
        print(USAGE)
        return 0 if argv else 1
    command, rest = argv[0], argv[1:]
    if command == "agent":
        from nomadlab.practice.agent import main as agent_main

        return agent_main(rest)
    print(f"nomadlab: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 1


USAGE = """Usage: nomadlab <command> [args]

Commands:
    agent -dev    Run the practice agent: a local Nomad dev agent written in Python
"""

if __name__ == "__main__":
    sys.exit(main())
