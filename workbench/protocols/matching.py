"""Predicted objects without ground-truth ids, matched to the annotated ones before J and F.

Detector prompts (:mod:`workbench.protocols.detect`) and text concept prompts
(:mod:`workbench.protocols.concepts`) make their own objects; their ids say nothing about the
DAVIS annotation ids. Each predicted object is compared with each ground-truth object **on the
first frame it appears on** (its creation frame) by mask IoU, void pixels ignored, and the pairs
are chosen one-to-one maximising the summed IoU (Hungarian algorithm,
``scipy.optimize.linear_sum_assignment`` through :func:`workbench.metrics.boxes.match_by_iou`);
a pair needs IoU > 0. Objects created on one frame are matched together, frame after frame in
time order, each time to the annotated objects no earlier-created object took: an annotated
object keeps the first prediction matched to it, and a later duplicate of it is a false object.
Predicted objects that match nothing keep their pixels as :data:`UNMATCHED_ID` in the id map
(wrong pixels in the global accuracy G, never in J or F).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.label_maps import merge_object_masks
from ..metrics.boxes import match_by_iou
from ..metrics.image import iou as mask_iou
from ..types import FrameMasks
from .vos import VOID_ID, VOSRun

__all__ = ["UNMATCHED_ID", "MatchedVOSRun", "match_created", "match_objects", "merged_ids", "relabel"]

UNMATCHED_ID = 254
"""Id given, in the predicted id maps, to the pixels of predicted objects that match no
ground-truth object (DAVIS ids stay below it; 255 is void)."""


@dataclass
class MatchedVOSRun(VOSRun):
    """A :class:`~workbench.protocols.vos.VOSRun` whose objects the run made itself (detector or
    text prompts) and matched to the annotated ones.

    Attributes
    ----------
    matches : list of dict
        One entry per predicted object: ``obj_id``, ``frame`` (where it was created and
        matched), ``gt_id`` (the annotated object it stands for, or None) and ``iou`` (mask IoU
        with that object on ``frame``; 0 when unmatched); see :func:`match_created`.
    """

    matches: list[dict] = field(default_factory=list)

    @property
    def objects(self) -> int:
        """Predicted objects the run made (over the whole sequence)."""
        return len(self.matches)

    @property
    def unmatched(self) -> int:
        """Predicted objects that match no annotated object (false objects)."""
        return sum(m["gt_id"] is None for m in self.matches)


def match_objects(
    pred_ids: np.ndarray, gt_ids: np.ndarray, objects: list[int], gt_objects: list[int]
) -> tuple[dict[int, int], dict[int, float]]:
    """Match predicted objects to ground-truth objects on one frame by mask IoU (Hungarian).

    Parameters
    ----------
    pred_ids : (H, W) integer array
        Predicted object ids on the frame (0 none).
    gt_ids : (H, W) integer array
        Ground-truth ids on the frame (0 background, 255 void: ignored in the IoU).
    objects : list of int
        Predicted ids to match (created on this frame).
    gt_objects : list of int
        Ground-truth ids that can be matched.

    Returns
    -------
    (matched, ious)
        ``matched``: predicted id -> ground-truth id; ``ious``: predicted id -> IoU of its pair
        (matched ones only).
    """
    if not objects or not gt_objects:
        return {}, {}
    void = gt_ids == VOID_ID
    table = np.array([[mask_iou(pred_ids == p, gt_ids == g, ignore=void) for g in gt_objects] for p in objects])
    pairs = match_by_iou(table)
    return {objects[r]: gt_objects[c] for r, c in pairs}, {objects[r]: float(table[r, c]) for r, c in pairs}


def merged_ids(fm: FrameMasks, shape: tuple[int, int]) -> np.ndarray:
    """Objects of one frame as an ``(H, W)`` int32 id map, the lower id winning overlaps."""
    return merge_object_masks(dict(zip(fm.obj_ids, fm.masks)), shape, np.int32)


def relabel(ids: np.ndarray, matched: dict[int, int]) -> np.ndarray:
    """Predicted ids -> ground-truth ids (unmatched objects -> :data:`UNMATCHED_ID`), uint8."""
    out = np.where(ids > 0, np.uint8(UNMATCHED_ID), np.uint8(0)).astype(np.uint8)
    for p, g in matched.items():
        out[ids == p] = g
    return out


def match_created(
    ids: np.ndarray, gt: np.ndarray, created: dict[int, int], gt_objects: list[int]
) -> tuple[np.ndarray, list[dict], dict[int, int]]:
    """Match every predicted object on its creation frame (time order, see the module docstring).

    Parameters
    ----------
    ids : (T, H, W) integer array
        Predicted ids (0 none).
    gt : (T, H, W) uint8 array
        Ground-truth ids (0 background, 255 void).
    created : dict
        Predicted id -> frame it was created on (first appears).
    gt_objects : list of int
        Annotated ids that can be matched.

    Returns
    -------
    (pred, matches, prompt_frames)
        ``pred``: ``(T, H, W)`` uint8 ids renumbered as the ground truth
        (:data:`UNMATCHED_ID` for false objects); ``matches``: per predicted object
        ``{"obj_id", "frame", "gt_id" (None when unmatched), "iou"}``; ``prompt_frames``:
        ground-truth id -> creation frame of the prediction matched to it.
    """
    matched: dict[int, int] = {}
    ious: dict[int, float] = {}
    for t in sorted(set(created.values())):
        born = [o for o, f in created.items() if f == t]
        free = [g for g in gt_objects if g not in matched.values()]
        m, i = match_objects(ids[t], gt[t], born, free)
        matched.update(m)
        ious.update(i)
    matches = [{"obj_id": o, "frame": f, "gt_id": matched.get(o), "iou": ious.get(o, 0.0)} for o, f in created.items()]
    return relabel(ids, matched), matches, {g: created[o] for o, g in matched.items()}
