"""Video propagation fps through VideoSession + the SAM 2 backend vs the raw SAM2VideoPredictor loop.

Thin wrapper around ``workbench bench`` (:func:`workbench.cli.bench_main`); every option of the
command works here too, e.g. ``python benchmarks/bench_fps.py --smoke --out results.json``.
See benchmarks/README.md.
"""

from __future__ import annotations

import sys

from workbench.cli import bench_main as main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "fps", *sys.argv[1:]]))
