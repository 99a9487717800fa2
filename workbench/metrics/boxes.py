"""Boxes: a mask's bounding box, pairwise box IoU, and one-to-one matching by IoU.

Used by detector prompting (:mod:`workbench.protocols.detect`, the video session's "add objects
from detector"): the Det-SAM2 rule that a detection overlapping no tracked object becomes a new
object, and the matching of detector-created objects to ground-truth objects before DAVIS
scoring. Boxes are **XYXY** float pixels, with the box of a mask spanning its pixels' edges
(``[col_min, row_min, col_max + 1, row_max + 1]``), so a one-pixel mask has a 1 x 1 box.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["box_iou", "mask_box", "match_by_iou", "unmatched_boxes"]


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """XYXY pixel box ``(4,)`` float32 around the ``True`` pixels of ``mask`` ((H, W)), its
    pixels' outer edges included; None for an empty mask."""
    m = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of XYXY boxes.

    Parameters
    ----------
    a : (N, 4) array
    b : (M, 4) array

    Returns
    -------
    np.ndarray
        ``(N, M)`` float64 IoU in [0, 1]; 0 where both boxes have no area.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x1 - x0).clip(0) * (y1 - y0).clip(0)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def unmatched_boxes(boxes: np.ndarray, tracked: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of ``boxes`` that overlap no ``tracked`` box by ``iou_threshold`` or more, taken in
    order; each box kept is added to the tracked ones before the next is tested (so two
    detections of one new object give one new object).

    This is the new-object rule of detect-then-track prompting (Det-SAM2, Wang, Zhou & Liu,
    arXiv 2411.18977, as the issue specifies it): a detection whose box IoU with every tracked
    object's box is below the threshold is a new object.

    Parameters
    ----------
    boxes : (N, 4) array
        Detections, XYXY pixels, in the order to consider them (highest score first).
    tracked : (M, 4) array
        Boxes of the objects tracked on that frame (M may be 0).
    iou_threshold : float
        In (0, 1]: a detection with IoU >= this against any tracked box is that object.
    """
    known = [np.asarray(t, dtype=np.float64) for t in np.asarray(tracked, dtype=np.float64).reshape(-1, 4)]
    out = []
    for i, box in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
        if not known or box_iou(box[None], np.stack(known)).max() < iou_threshold:
            out.append(i)
            known.append(box)
    return out


def match_by_iou(iou: np.ndarray, min_iou: float = 0.0) -> list[tuple[int, int]]:
    """One-to-one matching that maximises the summed IoU (Hungarian algorithm,
    ``scipy.optimize.linear_sum_assignment``).

    Parameters
    ----------
    iou : (P, G) array
        IoU of every predicted object (rows) with every ground-truth object (columns).
    min_iou : float
        Pairs with IoU <= ``min_iou`` are dropped after the assignment (default 0: a pair must
        overlap at all).

    Returns
    -------
    list of (row, column)
        Matched pairs, rows ascending.
    """
    iou = np.asarray(iou, dtype=np.float64)
    if iou.size == 0:
        return []
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] > min_iou]
