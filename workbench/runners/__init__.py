"""Runners: execute protocols over datasets and write run folders under ``reports/<run_id>/``.

A runner is called as ``runner(spec, options)``: a run spec (what to compute,
:mod:`workbench.protocols.specs`) and :class:`ExecutionOptions` (how to execute it). Flat
keyword calls (``run_image_benchmark(backend="sam2", dataset="grabcut", run_id="x")``) are
split into the two by name. :data:`RUNNERS` maps spec kinds to runners; :func:`resume_run`
continues a run from the spec stored in its run card.
"""

from ..protocols.specs import (
    BackendRequest,
    ImageRunSpec,
    PVSRunSpec,
    RunSpec,
    VolumeRunSpec,
    VOSRunSpec,
    spec_from_dict,
)
from .card import RunCard, new_run_dir, read_run, spec_from_card
from .executors import LocalExecutor, RayExecutor, make_executor
from .image_runner import run_image_benchmark
from .options import ExecutionOptions
from .pvs_runner import run_pvs_benchmark
from .registry import RUNNERS, resume_run, run_spec
from .runs_index import load_click_curves, load_frame_curves, load_pvs_curves, load_runs, load_vos_sequences
from .volume_runner import run_volume_benchmark
from .vos_runner import run_vos_benchmark

__all__ = [
    "RUNNERS",
    "BackendRequest",
    "ExecutionOptions",
    "ImageRunSpec",
    "LocalExecutor",
    "PVSRunSpec",
    "RayExecutor",
    "RunCard",
    "RunSpec",
    "VOSRunSpec",
    "VolumeRunSpec",
    "load_click_curves",
    "load_frame_curves",
    "load_pvs_curves",
    "load_runs",
    "load_vos_sequences",
    "make_executor",
    "new_run_dir",
    "read_run",
    "resume_run",
    "run_image_benchmark",
    "run_pvs_benchmark",
    "run_spec",
    "run_volume_benchmark",
    "run_vos_benchmark",
    "spec_from_card",
    "spec_from_dict",
]
