"""Runners: execute protocols over datasets and write run folders under ``reports/<run_id>/``."""
from .card import RunCard, new_run_dir, read_run
from .executors import LocalExecutor, RayExecutor, make_executor
from .image_runner import run_image_benchmark
from .runlog import resume_run
from .runs_index import load_click_curves, load_frame_curves, load_runs, load_vos_sequences
from .volume_runner import run_volume_benchmark
from .vos_runner import run_vos_benchmark

__all__ = ["LocalExecutor", "RayExecutor", "RunCard", "load_click_curves", "load_frame_curves", "load_runs",
           "load_vos_sequences", "make_executor", "new_run_dir", "read_run", "resume_run", "run_image_benchmark",
           "run_volume_benchmark", "run_vos_benchmark"]
