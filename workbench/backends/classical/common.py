"""Prompt validation and mask helpers shared by the classical image and video backends.

No torch. Prompts use SAM's names and order (``point_coords`` N x 2 **x, y** pixels,
``point_labels`` 1/0, ``box`` XYXY pixels, ``mask_input`` low-resolution logits); masks are
row/column ``(H, W)`` bool arrays.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import DataError, PromptError

LOW_RES = 256
"""Side of the square low-resolution logit grid (SAM 2: 1024 / 4)."""
LOGIT_CLIP = 10.0
"""Absolute value the signed-distance logits are clipped to."""


def validate_image(image: object) -> np.ndarray:
    """Return ``image`` as a C-contiguous ``(H, W, 3)`` uint8 RGB array.

    Raises
    ------
    DataError
        Not a 3-channel uint8 array of at least 2 x 2 pixels.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise DataError(
            f"The image must be an (H, W, 3) uint8 RGB array; got shape {arr.shape} dtype {arr.dtype}. "
            "Read files with workbench.io.read_image, or convert with np.asarray(img, np.uint8)."
        )
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise DataError(f"The image must be at least 2 x 2 pixels; got {arr.shape[1]} x {arr.shape[0]}.")
    return np.ascontiguousarray(arr)


def validate_prompts(
    shape: tuple[int, int],
    point_coords: object,
    point_labels: object,
    box: object,
    mask_input: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Check SAM-style prompts against an image of ``shape`` = (H, W).

    Returns
    -------
    coords : (N, 2) float64, x, y pixels (N may be 0)
    labels : (N,) int64 in {0, 1}
    box : (4,) float64 XYXY pixels, or None
    mask_input : (h, w) float32 logits, or None

    Raises
    ------
    PromptError
        No prompt at all; coordinates of the wrong shape, not finite or outside the image
        (the message gives the valid x and y ranges); labels missing, of another length or not
        0/1; a box that is not 4 numbers with x0 < x1, y0 < y1 inside the image; a mask input
        that is not ``(1, h, w)`` finite logits.
    """
    h, w = shape
    coords = np.zeros((0, 2), np.float64)
    labels = np.zeros((0,), np.int64)
    if point_coords is not None:
        coords = np.asarray(point_coords, dtype=np.float64)
        if coords.ndim == 1 and coords.size == 2:
            coords = coords.reshape(1, 2)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise PromptError(f"point_coords must be an (N, 2) array of x, y pixels; got shape {coords.shape}.")
        if point_labels is None:
            raise PromptError("point_labels is required with point_coords: one label per point, 1 positive / 0 negative.")
        labels = np.asarray(point_labels).reshape(-1)
        if labels.shape[0] != coords.shape[0]:
            raise PromptError(f"point_labels has {labels.shape[0]} entries but point_coords has {coords.shape[0]} points.")
        if labels.size and not np.isin(labels, (0, 1)).all():
            raise PromptError(f"point_labels must be 1 (positive) or 0 (negative); got {sorted(set(labels.tolist()))}.")
        labels = labels.astype(np.int64)
        if not np.isfinite(coords).all():
            raise PromptError("point_coords must be finite numbers (x, y pixels).")
        bad = (coords[:, 0] < 0) | (coords[:, 0] >= w) | (coords[:, 1] < 0) | (coords[:, 1] >= h)
        if bad.any():
            raise PromptError(
                f"Point(s) {coords[bad].tolist()} lie outside the {w} x {h} image: point_coords are (x, y) with "
                f"0 <= x < {w} and 0 <= y < {h}. Check that x and y are not swapped (clicks are row/column)."
            )
    elif point_labels is not None and np.asarray(point_labels).size:
        raise PromptError("point_labels was given without point_coords.")
    bx = None
    if box is not None:
        bx = np.asarray(box, dtype=np.float64)
        if bx.size != 4:
            raise PromptError(f"box must be 4 numbers (x0, y0, x1, y1) in pixels, one box only; got shape {bx.shape}.")
        bx = bx.reshape(4)
        if not np.isfinite(bx).all():
            raise PromptError("box must be finite numbers (x0, y0, x1, y1).")
        x0, y0, x1, y1 = bx
        if not (x0 < x1 and y0 < y1):
            raise PromptError(f"box {bx.tolist()} is empty or not XYXY: it needs x0 < x1 and y0 < y1.")
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise PromptError(
                f"box {bx.tolist()} leaves the {w} x {h} image: it needs 0 <= x0 < x1 <= {w} and 0 <= y0 < y1 <= {h}."
            )
    mi = None
    if mask_input is not None:
        mi = np.asarray(mask_input, dtype=np.float32)
        if mi.ndim == 3 and mi.shape[0] == 1:
            mi = mi[0]
        if mi.ndim != 2 or min(mi.shape) < 2:
            raise PromptError(
                f"mask_input must be (1, h, w) logits, e.g. prediction.low_res_logits[i:i+1]; got shape {np.shape(mask_input)}."
            )
        if not np.isfinite(mi).all():
            raise PromptError("mask_input must hold finite logits.")
    if coords.shape[0] == 0 and bx is None and mi is None:
        raise PromptError("No prompt given: pass point_coords + point_labels, a box, and/or a mask_input.")
    return coords, labels, bx, mi


def mask_to_logits(mask: np.ndarray, size: int = LOW_RES) -> np.ndarray:
    """``(h, w)`` bool mask -> ``(size, size)`` float32 logits (stretched, SAM 2 frame): signed
    distance to the boundary in grid pixels, positive inside, clipped to +-``LOGIT_CLIP``."""
    grid = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) > 0.5
    g8 = grid.astype(np.uint8)
    inside = cv2.distanceTransform(g8, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - g8, cv2.DIST_L2, 3)
    # Half a pixel either side so that the zero level lies between inside and outside pixels.
    sd = np.where(grid, inside - 0.5, 0.5 - outside)
    return np.clip(sd, -LOGIT_CLIP, LOGIT_CLIP).astype(np.float32)


def keep_seeded_components(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Connected components (8-connectivity) of ``mask`` that touch a ``seeds`` pixel; the
    largest component when no seed touches the mask."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.copy()
    ids = np.unique(lab[seeds & mask])
    ids = ids[ids > 0]
    if ids.size == 0:
        ids = np.array([1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))])
    return np.isin(lab, ids)


def fill_small_holes(mask: np.ndarray, frac: float = 0.01) -> np.ndarray:
    """Fill holes (background components not touching the border) smaller than ``frac`` of the
    mask area."""
    inv = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    if n <= 2:
        return mask.copy()
    limit = frac * max(int(mask.sum()), 1)
    border = lab[0, 0]
    small = [i for i in range(1, n) if i != border and stats[i, cv2.CC_STAT_AREA] <= limit]
    if not small:
        return mask.copy()
    return mask | np.isin(lab[1:-1, 1:-1], small)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool masks of one shape (1.0 when both are empty)."""
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


# -- tracking helpers of the video backend ---------------------------------------------------------
_MIN_PIXELS = 20
"""Fewest object pixels a mask needs to be refined / to learn colour models from."""


def _band_crop(mask: np.ndarray, band: float, max_side: int) -> tuple[tuple[int, int, int, int], float, int]:
    """Crop (y0, y1, x0, x1) around ``mask`` with a margin, its downscale factor and the band
    radius in crop pixels."""
    h, w = mask.shape
    r = float(np.clip(band * np.sqrt(np.count_nonzero(mask)), 3, 40))
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    m = int(2 * r)
    y0, y1 = max(0, rows[0] - m), min(h, rows[-1] + 1 + m)
    x0, x1 = max(0, cols[0] - m), min(w, cols[-1] + 1 + m)
    s = min(1.0, max_side / max(y1 - y0, x1 - x0))
    return (int(y0), int(y1), int(x0), int(x1)), s, max(1, round(r * s))


def _crop(frame: np.ndarray, mask: np.ndarray, box, s: float) -> tuple[np.ndarray, np.ndarray]:
    y0, y1, x0, x1 = box
    img = frame[y0:y1, x0:x1, ::-1]
    m = mask[y0:y1, x0:x1].astype(np.uint8)
    if s < 1:
        size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(img), m


def learn_color_models(frame: np.ndarray, mask: np.ndarray, band: float = 0.1, max_side: int = 320):
    """GrabCut colour GMMs ``(bgd, fgd)`` (each ``(1, 65)`` float64) of ``mask`` on ``frame``
    ((H, W, 3) uint8 RGB), learnt in the crop :func:`refine_in_band` uses; None when the crop
    holds too few object or background pixels."""
    if np.count_nonzero(mask) < _MIN_PIXELS:
        return None
    box, s, _ = _band_crop(mask, band, max_side)
    img, m = _crop(frame, mask, box, s)
    n_fg = np.count_nonzero(m)
    if n_fg < _MIN_PIXELS or m.size - n_fg < _MIN_PIXELS:
        return None
    tri = np.where(m > 0, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # k-means initialisation of the GMMs: reproducible models
    cv2.grabCut(img, tri, None, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK)
    return bgd, fgd


def refine_in_band(frame: np.ndarray, warped: np.ndarray, models, band: float = 0.1,
                   max_side: int = 320) -> np.ndarray:
    """Snap a warped ``(H, W)`` bool mask onto ``frame`` ((H, W, 3) uint8 RGB) with one frozen-
    model GrabCut cut in a band of ``band`` x sqrt(area) pixels around its boundary."""
    if models is None or np.count_nonzero(warped) < _MIN_PIXELS:
        return warped
    box, s, r = _band_crop(warped, band, max_side)
    img, m = _crop(frame, warped, box, s)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    tri = np.full(m.shape, cv2.GC_BGD, np.uint8)
    tri[cv2.dilate(m, kernel) > 0] = cv2.GC_PR_BGD
    tri[m > 0] = cv2.GC_PR_FGD
    tri[cv2.erode(m, kernel) > 0] = cv2.GC_FGD
    cv2.grabCut(img, tri, None, models[0].copy(), models[1].copy(), 1, cv2.GC_EVAL_FREEZE_MODEL)
    res = ((tri == cv2.GC_FGD) | (tri == cv2.GC_PR_FGD)).astype(np.float32)
    y0, y1, x0, x1 = box
    out = np.zeros_like(warped)
    out[y0:y1, x0:x1] = cv2.resize(res, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) > 0.5
    return out


def resolve_overlaps(masks: np.ndarray, priority: Sequence[int]) -> np.ndarray:
    """Make ``(O, H, W)`` bool masks disjoint: at each pixel claimed by several objects the one
    with the highest ``priority`` wins, then the one the pixel lies deepest inside (L2 distance
    to its boundary), then the earlier one."""
    if masks.shape[0] < 2:
        return masks
    over = masks.sum(0) > 1
    if not over.any():
        return masks
    score = np.full((masks.shape[0], int(over.sum())), -np.inf)
    for k, m in enumerate(masks):
        depth = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
        score[k] = np.where(m[over], priority[k] * 1e6 + depth[over], -np.inf)
    winner = np.argmax(score, axis=0)
    out = masks.copy()
    out[:, over] = np.arange(masks.shape[0])[:, None] == winner[None]
    return out
