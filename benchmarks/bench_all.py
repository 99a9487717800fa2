"""Every section of workbench bench (same as the workbench bench command).

Thin wrapper around ``workbench bench`` (:func:`workbench.cli.bench_main`); every option of the
command works here too, e.g. ``python benchmarks/bench_all.py --smoke --out results.json``.
See benchmarks/README.md.
"""

from __future__ import annotations

import sys

from workbench.cli import bench_main as main

if __name__ == "__main__":
    raise SystemExit(main([*sys.argv[1:]]))
