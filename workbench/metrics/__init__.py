"""Segmentation metrics (numpy / scipy / OpenCV only).

* :mod:`.image` — IoU, Dice, pixel accuracy, boundary F, per-image and per-class mIoU
  (survey arXiv 2503.12781 §3.3).
* :mod:`.davis` — DAVIS J, F, mean/recall/decay statistics, and the two G's (survey §4.3).
* :mod:`.vos_eval` — DAVIS scoring of in-memory sequences and the CSV files; the folder
  evaluator is :mod:`workbench.runners.vos_eval`.
"""

from __future__ import annotations

from .davis import db_eval_boundary, db_eval_iou, db_statistics, global_accuracy, youtube_vos_g
from .image import (
    Confusion,
    boundary_f,
    boundary_map,
    boundary_prf,
    class_mean_iou,
    confusion,
    dice,
    iou,
    mean_iou,
    pixel_accuracy,
)
from .vos_eval import GLOBAL_COLUMNS, VOSEvaluation, evaluate_vos_arrays, global_stats, write_vos_csvs

__all__ = [
    "GLOBAL_COLUMNS",
    "Confusion",
    "VOSEvaluation",
    "boundary_f",
    "boundary_map",
    "boundary_prf",
    "class_mean_iou",
    "confusion",
    "db_eval_boundary",
    "db_eval_iou",
    "db_statistics",
    "dice",
    "evaluate_vos_arrays",
    "global_accuracy",
    "global_stats",
    "iou",
    "mean_iou",
    "pixel_accuracy",
    "write_vos_csvs",
    "youtube_vos_g",
]
