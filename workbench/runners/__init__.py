"""Runners: execute protocols over datasets and write run folders under ``reports/<run_id>/``."""
from .card import RunCard, new_run_dir, read_run
from .image_runner import run_image_benchmark
from .vos_runner import run_vos_benchmark

__all__ = ["RunCard", "new_run_dir", "read_run", "run_image_benchmark", "run_vos_benchmark"]
