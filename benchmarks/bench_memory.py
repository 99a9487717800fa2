"""Peak RSS / GPU memory vs video length, bounded backend vs raw init_state (fresh process each).

Thin wrapper around ``workbench bench`` (:func:`workbench.cli.bench_main`); every option of the
command works here too, e.g. ``python benchmarks/bench_memory.py --smoke --out results.json``.
See benchmarks/README.md.
"""

from __future__ import annotations

import sys

from workbench.cli import bench_main as main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "memory", *sys.argv[1:]]))
