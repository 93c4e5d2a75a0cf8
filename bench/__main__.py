"""Every benchmark, one after another, each in its own process: `.venv/bin/python -m bench`.

Takes about ten minutes on two cores; PERFORMANCE.md lists the figures and each one's own command.
"""

from __future__ import annotations

import subprocess
import sys

from bench.servers import ROOT

BENCHES = ("turns", "triage", "hosting", "memory", "gc_pause", "reader", "inputs")


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"$ python -m bench.{name}", flush=True)
        failed += (
            subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, check=False).returncode != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
