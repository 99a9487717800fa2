"""Mask helpers shared by the classical image and video backends (logits, components, holes,
colour models, band refinement, overlaps).

No torch. Masks are row/column ``(H, W)`` bool arrays. Images and prompts are validated by
:mod:`workbench.backends.validate`, as in every backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

LOW_RES = 256
"""Side of the square low-resolution logit grid (SAM 2: 1024 / 4)."""
LOGIT_CLIP = 10.0
"""Absolute value the signed-distance logits are clipped to."""
NO_RECT = (0, 0, 0, 0)
"""``rect`` argument of ``cv2.grabCut`` in the mask modes, which ignore it (what ``None`` converts to)."""

ColorModels = tuple[np.ndarray, np.ndarray]
"""GrabCut colour GMMs ``(bgd, fgd)``, each ``(1, 65)`` float64."""


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


def _crop(
    frame: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], s: float
) -> tuple[np.ndarray, np.ndarray]:
    y0, y1, x0, x1 = box
    img = frame[y0:y1, x0:x1, ::-1]
    m: np.ndarray = mask[y0:y1, x0:x1].astype(np.uint8)
    if s < 1:
        size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(img), m


def learn_color_models(
    frame: np.ndarray, mask: np.ndarray, band: float = 0.1, max_side: int = 320
) -> ColorModels | None:
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
    cv2.grabCut(img, tri, NO_RECT, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK)
    return bgd, fgd


def refine_in_band(
    frame: np.ndarray, warped: np.ndarray, models: ColorModels | None, band: float = 0.1, max_side: int = 320
) -> np.ndarray:
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
    cv2.grabCut(img, tri, NO_RECT, models[0].copy(), models[1].copy(), 1, cv2.GC_EVAL_FREEZE_MODEL)
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
