"""Semi-supervised video object segmentation protocol (DAVIS style), run as SAM 2's own VOS tool.

Every object of the first ground-truth frame is prompted on frame 0 — with its mask, its
bounding box, or 1/3/5 clicks from the simulated user — then tracked through the sequence
and scored with DAVIS J and F (first and last frames excluded, as davis2017-evaluation does).
FPS is frames tracked divided by the seconds spent in propagation (frame loading and
prompting excluded), as SAM 2's ``benchmark.py`` measures it.

The flow is that of SAM 2's ``tools/vos_inference.py`` (facebookresearch/sam2 @ 2b90b9f):

* objects are prompted in ascending id order (``get_per_obj_mask`` takes ``np.unique``), all
  on the one inference state, then ``propagate_in_video`` runs forward from frame 0
  (``vos_inference``);
* a mask is the logits at the frame's resolution ``> 0.0`` (``score_thresh``);
* objects are merged into one id map with the lower id winning where they overlap
  (``put_per_obj_mask``; :func:`workbench.io.label_maps.merge_object_masks`).

With ``track_objects_appearing_later=True`` it is the tool's
``--track_object_appearing_later_in_video`` mode (``vos_separate_inference_per_object``): every
object appearing anywhere in the ground truth is tracked ALONE (state reset, prompted on the
first frame where its annotation is not empty, propagated forward from there); frames before
that hold no mask of it. For one id map per frame the objects' logits are then merged as
``_apply_non_overlapping_constraints`` does (on each pixel the object with the highest logit,
the first in id order on ties, keeps it; a pixel is that object's when its logit > 0; frames an
object was not tracked on count as logit -1024), see :func:`merge_object_logits`. With
``per_object=True`` (``--per_obj_png_file``) every object's own mask is kept instead, with no
merging (masks may overlap) and no constraint.

Frames are given to the backend as they are; the SAM 2 backend prepares them exactly as sam2's
JPEG loader does (:mod:`workbench.backends.sam2.frames`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from ..backends.base import MaskLogits, VideoBackend, supports
from ..errors import DataError, UnknownNameError
from ..io.label_maps import merge_object_masks
from ..metrics.vos_eval import VOSEvaluation, evaluate_vos_arrays
from ..types import Click, FrameMasks, clicks_to_prompt
from .clicks import ClickSimulator

VOS_PROMPTS = ("mask", "box", "clicks1", "clicks3", "clicks5")
"""First-frame prompt types: GT mask, GT box, or k simulated clicks."""
VOID_ID = 255
"""DAVIS void label: never an object."""
MISSING_LOGIT = -1024.0
"""Logit of an object on frames it was not tracked on, as ``vos_separate_inference_per_object``
fills them (``torch.full(..., fill_value=-1024.0)``)."""


@dataclass
class VOSRun:
    """Result of one sequence.

    Attributes
    ----------
    sequence, prompt : str
    obj_ids : list of int
        Ground-truth object ids prompted (and scored), ascending.
    pred : np.ndarray
        ``(T, H, W)`` uint8 predicted ids (0 background), one id per pixel: where objects
        overlap the lower ``obj_id`` wins (``tools/vos_inference.py``; see
        :func:`workbench.io.label_maps.merge_object_masks`).
    evaluation : VOSEvaluation
        DAVIS scores of this sequence: ``per_object["<seq>_<obj_id>"]`` statistics and
        ``per_frame[seq][obj_id]`` J and F lists (frames 1..T-2). Scored on ``object_masks``
        when they are kept, else on ``pred``. An object tracked from a later frame
        (``track_objects_appearing_later``) is scored only after its prompt frame (NaN before;
        see ``prompt_frames`` of :func:`~workbench.metrics.vos_eval.evaluate_vos_arrays`).
    num_frames : int
        Frames yielded by propagation (summed over objects tracked separately).
    propagate_seconds : float
        Wall time of propagation only.
    prompt_clicks : dict
        ``obj_id -> list of Click`` (row/col) for click prompts.
    object_masks : dict or None
        ``obj_id -> (T, H, W)`` bool, every object's own mask (may overlap), when the run kept
        them (``per_object=True``); None otherwise.
    prompt_frames : dict
        ``obj_id -> frame`` each object was prompted on (0 unless it appears later).
    """

    sequence: str
    prompt: str
    obj_ids: list[int]
    pred: np.ndarray
    evaluation: VOSEvaluation
    num_frames: int
    propagate_seconds: float
    prompt_clicks: dict[int, list[Click]] = field(default_factory=dict)
    object_masks: dict[int, np.ndarray] | None = None
    prompt_frames: dict[int, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second of propagation."""
        return self.num_frames / self.propagate_seconds if self.propagate_seconds > 0 else float("nan")


def _box_of(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float32)  # XYXY


def prompt_object(
    backend: VideoBackend, frame_idx: int, obj_id: int, target: np.ndarray, prompt: str, void: np.ndarray | None = None
) -> list[Click]:
    """Prompt ``obj_id`` on ``frame_idx`` from its ground-truth mask ``target`` ((H, W) bool).

    Parameters
    ----------
    prompt : str
        ``"mask"`` (``add_mask``), ``"box"`` (its XYXY box) or ``"clicks<k>"`` (k clicks of the
        simulated user, each answered by the backend before the next).
    void : (H, W) bool, optional
        Pixels the click simulator ignores.

    Returns
    -------
    list of Click
        The clicks given (empty for mask and box prompts).
    """
    if prompt == "mask":
        backend.add_mask(frame_idx, obj_id, target)
        return []
    if prompt == "box":
        backend.add_box(frame_idx, obj_id, _box_of(target))
        return []
    sim = ClickSimulator(target, ignore_mask=void)
    pred = np.zeros_like(target)
    for _ in range(int(prompt.removeprefix("clicks"))):
        sim.next_click(pred)
        coords, labels = clicks_to_prompt(sim.clicks)
        pred = backend.add_points(frame_idx, obj_id, coords, labels, clear_old_points=True).mask_of(obj_id)
    return list(sim.clicks)


def _check_prompt(prompt: str) -> None:
    if prompt not in VOS_PROMPTS:
        raise UnknownNameError("VOS prompt", prompt, VOS_PROMPTS)


def prompt_first_frame(backend: VideoBackend, gt0: np.ndarray, prompt: str) -> tuple[list[int], dict[int, list[Click]]]:
    """Prompt every object of the first GT frame ``gt0`` ((H, W) uint8 ids, 255 void), in
    ascending id order (as ``tools/vos_inference.py`` adds its masks).

    Returns the prompted object ids and, for click prompts, the clicks given.

    Raises
    ------
    UnknownNameError
        ``prompt`` is not one of ``VOS_PROMPTS``.
    DataError
        The first frame has no object.
    """
    _check_prompt(prompt)
    obj_ids = [int(v) for v in np.unique(gt0) if v not in (0, VOID_ID)]
    if not obj_ids:
        raise DataError(
            "The first annotated frame holds no object to prompt. If the objects appear later in the "
            "video, track them with track_objects_appearing_later=True."
        )
    void = gt0 == VOID_ID
    clicks: dict[int, list[Click]] = {}
    for obj_id in obj_ids:
        given = prompt_object(backend, 0, obj_id, gt0 == obj_id, prompt, void)
        if given:
            clicks[obj_id] = given
    return obj_ids, clicks


def first_appearances(gt: np.ndarray) -> dict[int, int]:
    """``obj_id -> first frame where its annotation is not empty`` for every object of ``gt``
    ((T, H, W) ids; 0 background and 255 void are not objects), ids ascending."""
    present = {}
    for t in range(gt.shape[0]):
        for v in np.unique(gt[t]):
            v = int(v)
            if v not in (0, VOID_ID) and v not in present:
                present[v] = t
    return dict(sorted(present.items()))


def merge_object_logits(best: np.ndarray, winner: np.ndarray, frame_idx: int, obj_id: int, logits: np.ndarray) -> None:
    """Fold one object's logits on one frame into a running non-overlap merge (in place).

    Objects must come in ascending id order. ``best`` ((T, H, W) float32, start
    :data:`MISSING_LOGIT`) holds the highest logit so far and ``winner`` ((T, H, W), start the
    first object's id) its object; an object replaces the winner only with a strictly higher
    logit, so ties go to the lower id. The id map is then ``np.where(best > 0, winner, 0)``.
    This equals ``vos_separate_inference_per_object``: ``_apply_non_overlapping_constraints``
    (argmax over objects, first on ties; the others clamped to <= -10) then ``> 0``.
    """
    b, w = best[frame_idx], winner[frame_idx]
    higher = logits > b
    b[higher] = logits[higher]
    w[higher] = obj_id


class _LogitMerge:
    """Running :func:`merge_object_logits` over a sequence: ``best`` ``(T, H, W)`` float32 logits
    (start :data:`MISSING_LOGIT`) and ``winner`` ids (start the first object's id)."""

    def __init__(self, shape: tuple[int, ...], first_id: int):
        self.best = np.full(shape, MISSING_LOGIT, dtype=np.float32)
        self.winner = np.full(shape, first_id, dtype=np.uint8)

    def add(self, frame_idx: int, obj_id: int, logits: np.ndarray) -> None:
        merge_object_logits(self.best, self.winner, frame_idx, obj_id, logits)

    def ids(self) -> np.ndarray:
        """``(T, H, W)`` uint8 id map: the winner where its logit > 0, else 0."""
        return np.where(self.best > 0, self.winner, np.uint8(0)).astype(np.uint8)


def _masks_as_logits(fm: FrameMasks) -> np.ndarray:
    """Stand-in logits for a backend without :class:`~workbench.backends.base.MaskLogits`: 1 on
    the mask, -1 off it (the merge then gives each pixel to the lowest id holding it)."""
    return np.where(fm.masks, np.float32(1.0), np.float32(-1.0))


def _check_shape(fm: FrameMasks, gt: np.ndarray, sequence: str) -> None:
    if fm.masks.shape[1:] != gt.shape[1:]:
        raise DataError(f"{sequence}: backend returned masks of size {fm.masks.shape[1:]}, GT is {gt.shape[1:]}.")


def _track_jointly(backend: VideoBackend, gt: np.ndarray, prompt: str, sequence: str, per_object: bool):
    """``vos_inference``: every frame-0 object on one state, propagated from frame 0."""
    obj_ids, clicks = prompt_first_frame(backend, gt[0], prompt)
    pred = np.zeros(gt.shape, dtype=np.uint8)
    objects = {k: np.zeros(gt.shape, dtype=bool) for k in obj_ids} if per_object else None
    start = time.perf_counter()
    n = 0
    for fm in backend.propagate(start_frame_idx=0):
        n += 1
        _check_shape(fm, gt, sequence)
        frame = dict(zip(fm.obj_ids, fm.masks))
        pred[fm.frame_idx] = merge_object_masks(frame, gt.shape[1:])
        if objects is not None:
            for k, m in frame.items():
                objects[k][fm.frame_idx] = m
    return obj_ids, clicks, dict.fromkeys(obj_ids, 0), pred, objects, n, time.perf_counter() - start


def _track_separately(backend: VideoBackend, gt: np.ndarray, prompt: str, sequence: str, per_object: bool):
    """``vos_separate_inference_per_object``: each object alone from its first annotated frame."""
    firsts = first_appearances(gt)
    if not firsts:
        raise DataError(f"{sequence}: the annotations hold no object to prompt on any frame.")
    obj_ids = list(firsts)
    use_logits = supports(backend, MaskLogits)
    objects = {k: np.zeros(gt.shape, dtype=bool) for k in obj_ids} if per_object else None
    merger = None if per_object else _LogitMerge(gt.shape, obj_ids[0])
    clicks: dict[int, list[Click]] = {}
    seconds, n = 0.0, 0
    for obj_id in obj_ids:
        t0 = firsts[obj_id]
        backend.reset()
        given = prompt_object(backend, t0, obj_id, gt[t0] == obj_id, prompt, gt[t0] == VOID_ID)
        if given:
            clicks[obj_id] = given
        start = time.perf_counter()
        it = (
            cast(MaskLogits, backend).propagate_logits(start_frame_idx=t0)
            if use_logits and not per_object
            else backend.propagate(start_frame_idx=t0)
        )
        for fm in it:
            n += 1
            _check_shape(fm, gt, sequence)
            if objects is not None:
                objects[obj_id][fm.frame_idx] = fm.mask_of(obj_id)
            elif merger is not None:
                k = fm.obj_ids.index(obj_id)
                merger.add(fm.frame_idx, obj_id, fm.logits[k] if fm.logits is not None else _masks_as_logits(fm)[k])
        seconds += time.perf_counter() - start
    pred = merger.ids() if merger is not None else merge_object_masks(objects or {}, gt.shape)
    return obj_ids, clicks, firsts, pred, objects, n, seconds


def run_vos_sequence(
    backend: VideoBackend,
    frames,
    gt: np.ndarray,
    prompt: str = "mask",
    sequence: str = "",
    *,
    track_objects_appearing_later: bool = False,
    per_object: bool = False,
) -> VOSRun:
    """Prompt, propagate forward, score with DAVIS J/F (the flow of ``tools/vos_inference.py``,
    see the module docstring).

    Parameters
    ----------
    backend : VideoBackend
    frames : str, Path or sequence of (H, W, 3) uint8 arrays
        What ``backend.init_state`` accepts (a JPEG folder for DAVIS).
    gt : np.ndarray
        ``(T, H, W)`` uint8 ground-truth ids (0 background, 255 void).
    prompt : str
        One of ``VOS_PROMPTS``.
    sequence : str
        Name used in keys and messages.
    track_objects_appearing_later : bool
        Track every object of the annotations separately from the first frame it appears on
        (``--track_object_appearing_later_in_video``). Default False: the objects of frame 0,
        tracked together.
    per_object : bool
        Keep every object's own mask (``VOSRun.object_masks``, for one PNG folder per object,
        ``--per_obj_png_file``) and score those; default False scores the merged id map.

    Raises
    ------
    UnknownNameError
        Unknown ``prompt``.
    DataError
        Frame and annotation counts or sizes differ, or no object to prompt.
    """
    _check_prompt(prompt)
    backend.init_state(frames)
    if backend.num_frames != gt.shape[0]:
        raise DataError(f"{sequence}: {backend.num_frames} frames but {gt.shape[0]} annotations.")
    track = _track_separately if track_objects_appearing_later else _track_jointly
    obj_ids, clicks, firsts, pred, objects, n, seconds = track(backend, gt, prompt, sequence, per_object)
    scored = objects if objects is not None else {k: pred == k for k in obj_ids}
    evaluation = evaluate_vos_arrays(
        {k: gt == k for k in obj_ids},
        scored,
        void=gt == VOID_ID,
        sequence=sequence,
        prompt_frames=firsts if track_objects_appearing_later else None,
    )
    backend.reset()
    return VOSRun(sequence, prompt, obj_ids, pred, evaluation, n, seconds, clicks, objects, firsts)


__all__ = [
    "MISSING_LOGIT",
    "VOS_PROMPTS",
    "VOSRun",
    "first_appearances",
    "merge_object_logits",
    "prompt_first_frame",
    "prompt_object",
    "run_vos_sequence",
]
