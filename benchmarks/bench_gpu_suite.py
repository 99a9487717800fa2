"""FPS of every SAM 2.1 size, workbench vs raw API, next to the published A100 figures (CUDA only).

Thin wrapper around ``workbench bench`` (:func:`workbench.cli.bench_main`); every option of the
command works here too, e.g. ``python benchmarks/bench_gpu_suite.py --smoke --out results.json``.
See benchmarks/README.md.
"""

from __future__ import annotations

import sys

from workbench.cli import bench_main as main

if __name__ == "__main__":
    raise SystemExit(main(["--gpu-suite", *sys.argv[1:]]))
