"""Semi-supervised video object segmentation protocol (DAVIS style).

Every object of the first ground-truth frame is prompted on frame 0 — with its mask, its
bounding box, or 1/3/5 clicks from the simulated user — then tracked through the sequence
and scored with DAVIS J and F (first and last frames excluded, as davis2017-evaluation does).
FPS is frames tracked divided by the seconds spent in propagation (frame loading and
prompting excluded), as SAM 2's ``benchmark.py`` measures it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import VideoBackend
from ..errors import DataError, UnknownNameError
from ..metrics.vos_eval import VOSEvaluation, evaluate_vos_arrays
from ..types import Click, clicks_to_prompt
from .clicks import ClickSimulator

VOS_PROMPTS = ("mask", "box", "clicks1", "clicks3", "clicks5")
"""First-frame prompt types: GT mask, GT box, or k simulated clicks."""


@dataclass
class VOSRun:
    """Result of one sequence.

    Attributes
    ----------
    sequence, prompt : str
    obj_ids : list of int
        Ground-truth object ids prompted on frame 0.
    pred : np.ndarray
        ``(T, H, W)`` uint8 predicted ids (0 background); where objects overlap, the
        higher ``obj_id`` wins.
    evaluation : VOSEvaluation
        DAVIS scores of this sequence: ``per_object["<seq>_<obj_id>"]`` statistics and
        ``per_frame[seq][obj_id]`` J and F lists (frames 1..T-2).
    num_frames : int
    propagate_seconds : float
        Wall time of propagation only.
    prompt_clicks : dict
        ``obj_id -> list of Click`` (row/col) for click prompts.
    """

    sequence: str
    prompt: str
    obj_ids: list[int]
    pred: np.ndarray
    evaluation: VOSEvaluation
    num_frames: int
    propagate_seconds: float
    prompt_clicks: dict[int, list[Click]] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second of propagation."""
        return self.num_frames / self.propagate_seconds if self.propagate_seconds > 0 else float("nan")


def _box_of(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float32)  # XYXY


def prompt_first_frame(backend: VideoBackend, gt0: np.ndarray, prompt: str) -> tuple[list[int], dict[int, list[Click]]]:
    """Prompt every object of the first GT frame ``gt0`` ((H, W) uint8 ids, 255 void).

    Returns the prompted object ids and, for click prompts, the clicks given.

    Raises
    ------
    UnknownNameError
        ``prompt`` is not one of ``VOS_PROMPTS``.
    DataError
        The first frame has no object.
    """
    if prompt not in VOS_PROMPTS:
        raise UnknownNameError("VOS prompt", prompt, VOS_PROMPTS)
    obj_ids = [int(v) for v in np.unique(gt0) if v not in (0, 255)]
    if not obj_ids:
        raise DataError("The first annotated frame holds no object to prompt.")
    void = gt0 == 255
    clicks: dict[int, list[Click]] = {}
    for obj_id in obj_ids:
        target = gt0 == obj_id
        if prompt == "mask":
            backend.add_mask(0, obj_id, target)
        elif prompt == "box":
            backend.add_box(0, obj_id, _box_of(target))
        else:
            sim = ClickSimulator(target, ignore_mask=void)
            pred = np.zeros_like(target)
            for _ in range(int(prompt.removeprefix("clicks"))):
                sim.next_click(pred)
                coords, labels = clicks_to_prompt(sim.clicks)
                pred = backend.add_points(0, obj_id, coords, labels, clear_old_points=True).mask_of(obj_id)
            clicks[obj_id] = list(sim.clicks)
    return obj_ids, clicks


def run_vos_sequence(backend: VideoBackend, frames, gt: np.ndarray, prompt: str = "mask",
                     sequence: str = "") -> VOSRun:
    """Prompt on frame 0, propagate forward, score with DAVIS J/F.

    Parameters
    ----------
    backend : VideoBackend
    frames : str, Path or sequence of (H, W, 3) uint8 arrays
        What ``backend.init_state`` accepts (a JPEG folder for DAVIS).
    gt : np.ndarray
        ``(T, H, W)`` uint8 ground-truth ids (0 background, 255 void).
    prompt : str
        One of ``VOS_PROMPTS``.

    Raises
    ------
    DataError
        Frame and annotation counts or sizes differ.
    """
    backend.init_state(frames)
    if backend.num_frames != gt.shape[0]:
        raise DataError(f"{sequence}: {backend.num_frames} frames but {gt.shape[0]} annotations.")
    obj_ids, clicks = prompt_first_frame(backend, gt[0], prompt)
    pred = np.zeros(gt.shape, dtype=np.uint8)
    start = time.perf_counter()
    n = 0
    for fm in backend.propagate(start_frame_idx=0):
        n += 1
        if fm.masks.shape[1:] != gt.shape[1:]:
            raise DataError(f"{sequence}: backend returned masks of size {fm.masks.shape[1:]}, GT is {gt.shape[1:]}.")
        frame = pred[fm.frame_idx]
        frame[:] = 0
        for k, obj_id in sorted(enumerate(fm.obj_ids), key=lambda t: t[1]):
            frame[fm.masks[k]] = obj_id
    seconds = time.perf_counter() - start
    evaluation = evaluate_vos_arrays({k: gt == k for k in obj_ids}, {k: pred == k for k in obj_ids},
                                     void=gt == 255, sequence=sequence)
    backend.reset()
    return VOSRun(sequence, prompt, obj_ids, pred, evaluation, n, seconds, clicks)
