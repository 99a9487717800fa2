"""The model families side by side: propagation fps of the same click through the same frames
for each family's video backend (official sam2, SAM 2.1 and EdgeTAM through transformers, the
classical baseline), ratios to the first.

Thin wrapper around ``workbench bench`` (:func:`workbench.cli.bench_main`); every option of the
command works here too, e.g. ``python benchmarks/bench_families.py --families sam2,transformers:edgetam``.
See benchmarks/README.md.
"""

from __future__ import annotations

import sys

from workbench.cli import bench_main as main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "families", *sys.argv[1:]]))
