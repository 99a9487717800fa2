"""Weight-free "segment everything" for the classical backend, in SAM 2's record format.

SAM 2's ``SAM2AutomaticMaskGenerator`` prompts the model with a regular grid of
``points_per_side``² points, keeps up to three masks per point (multimask output), drops masks
whose predicted IoU or stability score is below a threshold, and removes duplicates by
non-maximum suppression. :func:`classical_generate_masks` follows the same recipe with graph
based image segmentation instead of a network (Felzenszwalb & Huttenlocher, "Efficient
graph-based image segmentation", IJCV 2004; ``skimage.segmentation.felzenszwalb``):

1. the image is segmented at several ``scales`` (fine, medium, coarse: the analogue of SAM's
   three mask granularities) on a copy downscaled to at most ``max_side`` pixels;
2. a grid of ``points_per_side`` x ``points_per_side`` points (SAM's grid: cell centres,
   ``(i + 0.5) / n``) proposes, at every scale, the region under each point;
3. ``stability_score`` of a region = mean over the neighbouring scales of its best IoU with a
   region of that scale: how well the region survives a change of the scale parameter (SAM's
   stability is the survival of a mask under a change of the logit threshold);
4. ``predicted_iou`` = boundary contrast, a heuristic and NOT a learned IoU: the mean colour
   gradient (Sobel, CIE Lab) on the region's boundary ``b`` over ``b + i``, ``i`` the mean
   gradient inside; regions bounded by strong edges and flat inside score high;
5. regions below ``pred_iou_thresh`` / ``stability_score_thresh`` or smaller than
   ``min_mask_region_area`` pixels are dropped, then greedy NMS on mask IoU (``box_nms_thresh``;
   SAM uses box IoU) keeps the highest-scoring of overlapping regions.

Parameters that only make sense for SAM 2 (``crop_n_layers``, ``use_m2m``, ``points_per_batch``,
``stability_score_offset``, ``crop_nms_thresh``, ``crop_overlap_ratio``,
``crop_n_points_downscale_factor``, ``multimask_output``) are accepted, so one parameter dict
works with both generators, and have no effect.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ...errors import ConfigError, UnknownNameError
from ..validate import check_image

CLASSICAL_AMG_DEFAULTS: dict = {
    "points_per_side": 32,
    "pred_iou_thresh": 0.55,
    "stability_score_thresh": 0.5,
    "min_mask_region_area": 0,
    "box_nms_thresh": 0.7,
    "scales": (100.0, 300.0, 1000.0),
    "sigma": 0.8,
    "max_side": 384,
    "min_size": 20,
}
"""Parameters of :func:`classical_generate_masks` and their defaults. The thresholds are lower
than SAM 2's (0.8 / 0.95) because the heuristic scores have another scale."""

SAM_ONLY_PARAMS = (
    "crop_n_layers",
    "use_m2m",
    "points_per_batch",
    "stability_score_offset",
    "crop_nms_thresh",
    "crop_overlap_ratio",
    "crop_n_points_downscale_factor",
    "multimask_output",
)
"""SAM 2 generator parameters accepted (and ignored) for a common parameter dict."""


def _check(params: dict) -> dict:
    valid = set(CLASSICAL_AMG_DEFAULTS) | set(SAM_ONLY_PARAMS)
    for key in params:
        if key not in valid:
            raise UnknownNameError("mask-generator parameter", key, sorted(valid))
    p = {**CLASSICAL_AMG_DEFAULTS, **{k: v for k, v in params.items() if k in CLASSICAL_AMG_DEFAULTS}}
    for key in ("points_per_side", "max_side", "min_size"):
        if isinstance(p[key], bool) or not isinstance(p[key], (int, np.integer)) or p[key] < 1:
            raise ConfigError(f"{key} must be an integer >= 1; got {p[key]!r}.")
    for key in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh"):
        if not 0.0 <= float(p[key]) <= 1.0:
            raise ConfigError(f"{key} must lie in [0, 1]; got {p[key]!r}.")
    if float(p["min_mask_region_area"]) < 0:
        raise ConfigError(f"min_mask_region_area must be >= 0 pixels; got {p['min_mask_region_area']!r}.")
    scales = tuple(float(s) for s in np.atleast_1d(p["scales"]))
    if len(scales) < 2 or min(scales) <= 0:
        raise ConfigError(
            f"scales must hold at least two positive Felzenszwalb scales, e.g. (100, 300, 1000); got {p['scales']!r}."
        )
    p["scales"] = scales
    return p


def _boundary(lab: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label (both sides of every region border)."""
    b = np.zeros(lab.shape, bool)
    dh = lab[:, 1:] != lab[:, :-1]
    dv = lab[1:, :] != lab[:-1, :]
    b[:, 1:] |= dh
    b[:, :-1] |= dh
    b[1:, :] |= dv
    b[:-1, :] |= dv
    return b


def _contrast(lab: np.ndarray, n: int, grad: np.ndarray) -> np.ndarray:
    """Per label: mean gradient on its boundary / (that + mean gradient inside); 0 without boundary."""
    b = _boundary(lab)
    sb = np.bincount(lab[b], weights=grad[b], minlength=n)
    cb = np.bincount(lab[b], minlength=n)
    si = np.bincount(lab[~b], weights=grad[~b], minlength=n)
    ci = np.bincount(lab[~b], minlength=n)
    mb = sb / np.maximum(cb, 1)
    mi = np.where(ci > 0, si / np.maximum(ci, 1), mb)
    return np.where(cb > 0, mb / np.maximum(mb + mi, 1e-9), 0.0)


def _pair_iou(a: np.ndarray, na: int, b: np.ndarray, nb: int, area_a: np.ndarray, area_b: np.ndarray) -> np.ndarray:
    """Dense ``(na, nb)`` IoU between the regions of two label maps of one image."""
    inter = np.bincount((a.astype(np.int64) * nb + b).ravel(), minlength=na * nb).reshape(na, nb)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1)


def classical_generate_masks(image: np.ndarray, **params) -> list[dict]:
    """Segment everything in ``image`` without weights (see the module notes for the method).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    **params
        Any of :data:`CLASSICAL_AMG_DEFAULTS`: ``points_per_side`` (grid of points_per_side²
        proposal points), ``pred_iou_thresh`` and ``stability_score_thresh`` (in [0, 1]),
        ``min_mask_region_area`` (pixels of the original image; also the smallest region the
        segmentation makes), ``box_nms_thresh`` (mask IoU above which the lower-scoring region is
        dropped), ``scales`` (Felzenszwalb scales, at least two), ``sigma`` (pre-smoothing),
        ``max_side`` (work resolution, pixels), ``min_size`` (smallest region, work pixels);
        SAM-only parameters (:data:`SAM_ONLY_PARAMS`) are ignored.

    Returns
    -------
    list of dict
        SAM 2's record format: ``segmentation`` (H, W) bool, ``area`` (pixels), ``bbox``
        [x, y, w, h] (XYWH pixels), ``predicted_iou`` (boundary contrast in [0, 1]),
        ``point_coords`` [[x, y]] (the grid point that proposed it, pixels), ``stability_score``
        in [0, 1], ``crop_box`` [0, 0, W, H]. Sorted by area, largest first.

    Raises
    ------
    DataError
        Not an (H, W, 3) uint8 image of at least 2 x 2 pixels
        (:func:`workbench.backends.validate.check_image`).
    UnknownNameError
        An unknown parameter (the message lists the valid ones).
    ConfigError
        A parameter out of range.
    """
    from skimage.segmentation import felzenszwalb

    img = check_image(image)
    p = _check(params)
    h, w = img.shape[:2]
    f = min(1.0, p["max_side"] / max(h, w))
    sw, sh = max(2, round(w * f)), max(2, round(h * f))
    work = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA) if f < 1 else img
    px_per_work = (h * w) / (sh * sw)
    min_size = max(int(p["min_size"]), math.ceil(float(p["min_mask_region_area"]) / px_per_work))
    labs = [
        felzenszwalb(work, scale=s, sigma=float(p["sigma"]), min_size=min_size).astype(np.int32) for s in p["scales"]
    ]
    ns = [int(lab.max()) + 1 for lab in labs]
    areas = [np.bincount(lab.ravel(), minlength=n) for lab, n in zip(labs, ns)]
    lab_img = cv2.cvtColor(work, cv2.COLOR_RGB2LAB).astype(np.float32)
    gx, gy = cv2.Sobel(lab_img, cv2.CV_32F, 1, 0), cv2.Sobel(lab_img, cv2.CV_32F, 0, 1)
    grad = np.sqrt((gx**2 + gy**2).sum(axis=2))
    k_sc = len(labs)
    ious = {
        (a, b): _pair_iou(labs[a], ns[a], labs[b], ns[b], areas[a], areas[b])
        for a in range(k_sc)
        for b in range(a + 1, k_sc)
    }

    def iou_between(a, ra, b, rb):
        if a == b:
            return 1.0 if ra == rb else 0.0
        return float(ious[(a, b)][ra, rb] if a < b else ious[(b, a)][rb, ra])

    n_pts = int(p["points_per_side"])
    grid = (np.arange(n_pts) + 0.5) / n_pts
    gxs = np.minimum((grid * sw).astype(int), sw - 1)
    gys = np.minimum((grid * sh).astype(int), sh - 1)
    cands = []  # (pred_iou, stability, scale index, region, grid x, grid y)
    for k, lab in enumerate(labs):
        hit = lab[gys[:, None], gxs[None, :]].ravel()
        regions, first = np.unique(hit, return_index=True)
        contrast = _contrast(lab, ns[k], grad)
        best = []
        for j in (k - 1, k + 1):
            if 0 <= j < k_sc:
                m = ious[(k, j)] if k < j else ious[(j, k)].T
                best.append(m.max(axis=1))
        stab = np.mean(best, axis=0)
        for r, fi in zip(regions, first):
            cands.append((float(contrast[r]), float(stab[r]), k, int(r), int(gxs[fi % n_pts]), int(gys[fi // n_pts])))
    keep_thr = [
        c
        for c in cands
        if c[0] >= p["pred_iou_thresh"]
        and c[1] >= p["stability_score_thresh"]
        and areas[c[2]][c[3]] * px_per_work >= float(p["min_mask_region_area"])
    ]
    keep_thr.sort(key=lambda c: (-c[0], -c[1]))
    kept: list[tuple] = []
    for c in keep_thr:
        if all(iou_between(c[2], c[3], o[2], o[3]) <= p["box_nms_thresh"] for o in kept):
            kept.append(c)
    rows = np.minimum(((np.arange(h) + 0.5) * sh / h).astype(int), sh - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * sw / w).astype(int), sw - 1)
    full = {}
    records = []
    for pred, stab, k, r, gx_, gy_ in kept:
        if k not in full:
            full[k] = labs[k][rows[:, None], cols[None, :]]
        seg = full[k] == r
        ys, xs = np.nonzero(seg.any(axis=1))[0], np.nonzero(seg.any(axis=0))[0]
        if not len(ys):
            continue
        records.append(
            {
                "segmentation": seg,
                "area": int(np.count_nonzero(seg)),
                "bbox": [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)],
                "predicted_iou": pred,
                "point_coords": [[(gx_ + 0.5) * w / sw, (gy_ + 0.5) * h / sh]],
                "stability_score": stab,
                "crop_box": [0, 0, w, h],
            }
        )
    return sorted(records, key=lambda rec: -rec["area"])


__all__ = ["CLASSICAL_AMG_DEFAULTS", "SAM_ONLY_PARAMS", "classical_generate_masks"]
