"""Image segmentation metrics: IoU, Dice, pixel accuracy, boundary F and their means.

Definitions follow the survey the workbench reproduces (Zhang & Tang, "SAM2 for Image and
Video Segmentation: A Comprehensive Survey", arXiv 2503.12781, §3.3: IoU eq. 1, Dice eq. 2,
mIoU eq. 3, PA eq. 4). The boundary F-measure is the DAVIS contour accuracy (Perazzi et al.,
CVPR 2016; survey §4.3.1 eq. 6) computed the way the reference evaluator
``davis2017-evaluation`` does it (``davis2017/metrics.py``: ``f_measure``, ``_seg2bmap``).

Conventions
-----------
* Masks are ``(H, W)`` arrays indexed by **row, column**: ``bool``, or integer / float arrays
  holding only 0 and 1. Anything else (0/255 masks, probabilities) is refused with a
  :class:`~workbench.errors.DataError` — threshold it first.
* ``ignore`` (same shape, True = not scored) removes pixels from every count, like the
  128 "ignore band" of GrabCut or the 255 void label of DAVIS.
* Empty prediction **and** empty ground truth (after removing ignored pixels): IoU = Dice = 1,
  as in the DAVIS reference (``db_eval_iou`` sets J = 1 when the union is empty). Pixel
  accuracy with no scored pixel is also 1. Boundary F of two masks without boundary is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np

from ..errors import DataError

__all__ = [
    "Confusion",
    "as_mask",
    "boundary_f",
    "boundary_map",
    "boundary_prf",
    "boundary_radius",
    "class_mean_iou",
    "confusion",
    "dice",
    "disk_kernel",
    "iou",
    "mean_iou",
    "pixel_accuracy",
]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def as_mask(arr: object, name: str = "mask") -> np.ndarray:
    """Return ``arr`` as a bool array of the same shape.

    Parameters
    ----------
    arr : array_like
        ``bool`` array, or a numeric array whose values are all 0 or 1.
    name : str
        Used in the error message.

    Raises
    ------
    DataError
        ``arr`` holds values other than 0 and 1 (e.g. a 0/255 mask or probabilities).
    """
    a = np.asarray(arr)
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name} must be a bool or 0/1 numeric array; got dtype {a.dtype}.")
    if a.size and not np.isin(a, (0, 1)).all():
        vals = np.unique(a)[:6]
        raise DataError(
            f"{name} must hold only 0 and 1 (or be bool); found values {vals.tolist()}"
            f"{' …' if np.unique(a).size > 6 else ''}. Threshold it first, e.g. `mask > 127` "
            "for 0/255 masks or `prob > 0.5` for probabilities."
        )
    return a.astype(bool)


def _check_shapes(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None) -> None:
    if pred.shape != gt.shape:
        raise DataError(
            f"Prediction shape {pred.shape} differs from ground-truth shape {gt.shape}; "
            "resize the prediction to the ground truth (nearest neighbour) before scoring."
        )
    if ignore is not None and ignore.shape != gt.shape:
        raise DataError(f"Ignore mask shape {ignore.shape} differs from ground-truth shape {gt.shape}.")


def _prepare(pred, gt, ignore):
    p = as_mask(pred, "pred")
    g = as_mask(gt, "gt")
    ig = None if ignore is None else as_mask(ignore, "ignore")
    _check_shapes(p, g, ig)
    return p, g, ig


# --------------------------------------------------------------------------------------------
# region metrics
# --------------------------------------------------------------------------------------------
class Confusion(NamedTuple):
    """Pixel counts of a binary prediction against its ground truth (ignored pixels left out)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def total(self) -> int:
        """Number of scored pixels."""
        return self.tp + self.fp + self.fn + self.tn


def confusion(pred, gt, ignore=None) -> Confusion:
    """Count true/false positives/negatives of a binary mask.

    Parameters
    ----------
    pred, gt : array_like, shape ``(H, W)`` (any shape, equal)
        Binary masks (bool or 0/1), row/column indexed.
    ignore : array_like or None
        Same shape, True where a pixel is not scored.

    Returns
    -------
    Confusion
        ``(tp, fp, fn, tn)`` as Python ints.

    Raises
    ------
    DataError
        Shapes differ, or a mask is not binary.
    """
    p, g, ig = _prepare(pred, gt, ignore)
    if ig is not None:
        keep = ~ig
        p, g = p[keep], g[keep]
    tp = int(np.count_nonzero(p & g))
    fp = int(np.count_nonzero(p & ~g))
    fn = int(np.count_nonzero(~p & g))
    tn = int(p.size - tp - fp - fn)
    return Confusion(tp, fp, fn, tn)


def iou(pred, gt, ignore=None) -> float:
    """Intersection over union ``|A ∩ B| / |A ∪ B|`` (survey eq. 1; DAVIS J).

    Parameters
    ----------
    pred, gt : array_like, shape ``(H, W)``
        Binary masks (bool or 0/1). Any equal shape works (e.g. a 3-D volume).
    ignore : array_like or None
        True where a pixel is not scored.

    Returns
    -------
    float
        In [0, 1]; 1.0 when both masks are empty (empty union).

    Raises
    ------
    DataError
        Shapes differ, or a mask is not binary.
    """
    c = confusion(pred, gt, ignore)
    union = c.tp + c.fp + c.fn
    return 1.0 if union == 0 else c.tp / union


def dice(pred, gt, ignore=None) -> float:
    """Dice similarity coefficient ``2|A ∩ B| / (|A| + |B|)`` (survey eq. 2).

    Equals ``2 IoU / (1 + IoU)``. Returns 1.0 when both masks are empty. Same parameters
    and errors as :func:`iou`.
    """
    c = confusion(pred, gt, ignore)
    denom = 2 * c.tp + c.fp + c.fn
    return 1.0 if denom == 0 else 2 * c.tp / denom


def pixel_accuracy(pred, gt, ignore=None) -> float:
    """Pixel accuracy: correctly labelled pixels / scored pixels (survey eq. 4).

    ``pred`` and ``gt`` may be binary masks or integer label maps of equal shape (labels are
    compared for equality). Returns 1.0 when every pixel is ignored.

    Raises
    ------
    DataError
        Shapes differ.
    """
    p, g = np.asarray(pred), np.asarray(gt)
    ig = None if ignore is None else as_mask(ignore, "ignore")
    _check_shapes(p, g, ig)
    correct = p == g
    if ig is not None:
        correct = correct[~ig]
    return 1.0 if correct.size == 0 else float(np.count_nonzero(correct)) / correct.size


def mean_iou(preds: Sequence, gts: Sequence, ignores: Sequence | None = None) -> float:
    """Mean of per-image IoU — the mIoU of interactive segmentation (RITM/SAM protocols).

    Parameters
    ----------
    preds, gts : sequence of ``(H_i, W_i)`` binary masks
        One prediction per ground truth, in the same order; sizes may differ between images.
    ignores : sequence of masks or None
        Per-image ignore masks (None entries allowed).

    Returns
    -------
    float
        ``mean_i iou(preds[i], gts[i])``; NaN for an empty sequence.

    Raises
    ------
    DataError
        The sequences have different lengths, or an image pair is invalid (see :func:`iou`).
    """
    preds, gts = list(preds), list(gts)
    ignores = [None] * len(gts) if ignores is None else list(ignores)
    if not (len(preds) == len(gts) == len(ignores)):
        raise DataError(
            f"mean_iou needs one prediction (and ignore mask) per ground truth; got "
            f"{len(preds)} predictions, {len(gts)} ground truths, {len(ignores)} ignore masks."
        )
    if not gts:
        return float("nan")
    return float(np.mean([iou(p, g, i) for p, g, i in zip(preds, gts, ignores)]))


def class_mean_iou(pred_labels, gt_labels, labels: Sequence[int] | None = None, ignore=None) -> float:
    """Class-averaged IoU of label maps (survey eq. 3, the semantic-segmentation mIoU).

    Parameters
    ----------
    pred_labels, gt_labels : array_like of int, equal shape
        Label maps (row/column indexed).
    labels : sequence of int or None
        Classes to average over; default: classes present in ``gt_labels`` or
        ``pred_labels`` (after removing ignored pixels).
    ignore : array_like or None
        True where a pixel is not scored.

    Returns
    -------
    float
        Mean over classes of ``|P_c ∩ G_c| / |P_c ∪ G_c|``; a class absent from both maps
        counts as 1.0 (same empty-union convention as :func:`iou`).

    Raises
    ------
    DataError
        Shapes differ.
    """
    p, g = np.asarray(pred_labels), np.asarray(gt_labels)
    ig = None if ignore is None else as_mask(ignore, "ignore")
    _check_shapes(p, g, ig)
    if ig is not None:
        p, g = p[~ig], g[~ig]
    classes = np.union1d(np.unique(p), np.unique(g)) if labels is None else np.asarray(labels)
    if classes.size == 0:
        return float("nan")
    scores = []
    for c in classes:
        pc, gc = p == c, g == c
        union = np.count_nonzero(pc | gc)
        scores.append(1.0 if union == 0 else np.count_nonzero(pc & gc) / union)
    return float(np.mean(scores))


# --------------------------------------------------------------------------------------------
# boundary F-measure (DAVIS contour accuracy)
# --------------------------------------------------------------------------------------------
def boundary_map(mask) -> np.ndarray:
    """One-pixel-wide boundary of a mask, as in the BSDS ``seg2bmap`` used by DAVIS.

    A pixel is a boundary pixel when its value differs from its right, lower or
    lower-right neighbour; neighbours outside the image are taken equal to the nearest
    pixel inside (so the last row compares only to the right, the last column only
    downwards, and the bottom-right pixel is never a boundary). The boundary therefore sits
    half a pixel towards the origin from the true contour, as in the reference.

    Parameters
    ----------
    mask : array_like, shape ``(..., H, W)``
        Binary mask(s); leading axes (e.g. frames) are processed independently.

    Returns
    -------
    np.ndarray of bool, shape ``(..., H, W)``
    """
    m = as_mask(mask, "mask")
    if m.ndim < 2:
        raise DataError(f"boundary_map needs an (..., H, W) mask; got shape {m.shape}.")
    if m.shape[-1] == 0 or m.shape[-2] == 0:
        raise DataError(f"boundary_map needs a mask with at least one row and column; got shape {m.shape}.")
    pad = [(0, 0)] * (m.ndim - 2) + [(0, 1), (0, 1)]
    q = np.pad(m, pad, mode="edge")
    right = q[..., :-1, 1:]
    down = q[..., 1:, :-1]
    diag = q[..., 1:, 1:]
    return (m != right) | (m != down) | (m != diag)


def boundary_radius(shape: tuple[int, int], bound_th: float = 0.008) -> float:
    """Matching tolerance in pixels: ``bound_th`` itself when ``>= 1``, otherwise
    ``ceil(bound_th * sqrt(H**2 + W**2))`` (fraction of the image diagonal), as DAVIS does.
    For 480×854 DAVIS frames and the default 0.008 this is 8 pixels."""
    if not math.isfinite(bound_th) or bound_th < 0:
        raise DataError(
            f"bound_th must be a finite number >= 0 (fraction of the diagonal if < 1, else pixels); got {bound_th}."
        )
    if bound_th >= 1:
        return float(bound_th)
    return float(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def disk_kernel(radius: float) -> np.ndarray:
    """Disk structuring element ``x**2 + y**2 <= radius**2`` on the grid
    ``arange(-radius, radius + 1)`` (same as ``skimage.morphology.disk``), uint8."""
    grid = np.arange(-radius, radius + 1)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    return (xx**2 + yy**2 <= radius**2).astype(np.uint8)


def _dilate_stack(bmaps: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Dilate each ``(H, W)`` bool map of a ``(T, H, W)`` stack with OpenCV."""
    out = np.empty(bmaps.shape, dtype=bool)
    for t in range(bmaps.shape[0]):
        out[t] = cv2.dilate(bmaps[t].view(np.uint8), kernel).astype(bool)
    return out


def boundary_prf_stack(
    pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None, bound_th: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boundary precision, recall and F per frame of ``(T, H, W)`` bool stacks (no checks)."""
    if void is not None:
        pred, gt = pred & ~void, gt & ~void
    radius = boundary_radius(pred.shape[-2:], bound_th)
    kernel = disk_kernel(radius)
    pb, gb = boundary_map(pred), boundary_map(gt)
    pd, gd = _dilate_stack(pb, kernel), _dilate_stack(gb, kernel)
    n_p = np.count_nonzero(pb, axis=(1, 2))
    n_g = np.count_nonzero(gb, axis=(1, 2))
    hit_p = np.count_nonzero(pb & gd, axis=(1, 2))
    hit_g = np.count_nonzero(gb & pd, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_p > 0, hit_p / np.maximum(n_p, 1), 1.0)
        recall = np.where(n_g > 0, hit_g / np.maximum(n_g, 1), 1.0)
        # DAVIS: a prediction without boundary scores P=1, R=0 against a non-empty GT and a
        # GT without boundary scores P=0, R=1 against a non-empty prediction.
        precision = np.where((n_p > 0) & (n_g == 0), 0.0, precision)
        recall = np.where((n_p == 0) & (n_g > 0), 0.0, recall)
        s = precision + recall
        f = np.where(s > 0, 2 * precision * recall / np.where(s > 0, s, 1.0), 0.0)
    return precision, recall, f


def boundary_prf(pred, gt, bound_th: float = 0.008, ignore=None) -> tuple[float, float, float]:
    """Boundary precision, recall and F-measure of one ``(H, W)`` mask pair.

    See :func:`boundary_f`. Returns ``(precision, recall, f)``.
    """
    p, g, ig = _prepare(pred, gt, ignore)
    if p.ndim != 2:
        raise DataError(f"boundary metrics need (H, W) masks; got shape {p.shape}.")
    pr, rc, f = boundary_prf_stack(p[None], g[None], None if ig is None else ig[None], bound_th)
    return float(pr[0]), float(rc[0]), float(f[0])


def boundary_f(pred, gt, bound_th: float = 0.008, ignore=None) -> float:
    """Boundary F-measure (DAVIS contour accuracy F, survey §4.3.1 eq. 6).

    Boundaries are the one-pixel maps of :func:`boundary_map` of ``mask & ~ignore``; a
    predicted boundary pixel is matched when a ground-truth boundary pixel lies within a
    disk of radius :func:`boundary_radius` (and vice versa). Precision and recall are the
    matched fractions and F their harmonic mean. This is the morphological approximation of
    bipartite matching used by ``davis2017-evaluation`` (``f_measure``), and gives the same
    numbers.

    Parameters
    ----------
    pred, gt : array_like, shape ``(H, W)``
        Binary masks (bool or 0/1), row/column indexed.
    bound_th : float
        Tolerance: fraction of the image diagonal if < 1, else pixels. Default 0.008.
    ignore : array_like or None
        True where a pixel is not scored (removed from both masks before taking boundaries).

    Returns
    -------
    float
        In [0, 1]; 1.0 when neither mask has a boundary; 0.0 when only one has.

    Raises
    ------
    DataError
        Shapes differ, masks are not 2-D or not binary, or ``bound_th < 0``.
    """
    return boundary_prf(pred, gt, bound_th, ignore)[2]
