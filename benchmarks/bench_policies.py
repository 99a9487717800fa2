"""Tracking policies against sam2's own: fps ratios, SAM2Long's cost per number of pathways,
each policy's peak memory at 200 vs 2000 frames (fresh process each).

Thin wrapper around ``workbench bench`` (:func:`workbench.cli.bench_main`); every option of the
command works here too, e.g. ``python benchmarks/bench_policies.py --no-policy-memory``.
See benchmarks/README.md.
"""

from __future__ import annotations

import sys

from workbench.cli import bench_main as main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "policies", *sys.argv[1:]]))
