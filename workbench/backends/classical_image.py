"""Weight-free promptable image segmentation with OpenCV GrabCut.

A baseline to compare SAM 2 against, and the image backend used when no SAM 2 checkpoint is
present. Prompts (SAM names: ``point_coords`` N x 2 **x, y** pixels, ``point_labels`` 1/0,
``box`` XYXY pixels, ``mask_input`` low-resolution logits) are turned into a GrabCut trimap and
segmented with ``cv2.grabCut`` (Rother, Kolmogorov & Blake, "GrabCut: interactive foreground
extraction using iterated graph cuts", SIGGRAPH 2004; OpenCV implementation).

Trimap (work resolution, see ``max_side``):

* box: inside = probable foreground, a thin ring just outside = probable background (the box
  may be tight on the object), the rest = definite background;
* ``mask_input``: logits > 0 = probable foreground, else probable background (inside the box
  when a box is given as well), so a later click refines the earlier mask;
* clicks only: a disk of radius ``prior_radius`` x image diagonal around each positive click
  is probable foreground, the rest probable background (measured best of disk / rectangle
  priors on the GrabCut dataset);
* clicks: a disk of radius ``seed_radius`` x diagonal (at least 3 pixels of the original image)
  around each click is definite foreground (positive) or definite background (negative).

Low-resolution logits follow SAM 2's frame: the image is stretched (aspect ratio not kept) to a
256 x 256 grid, and the logits are a clipped signed distance to the mask boundary in grid
pixels (positive inside), so ``logits > 0`` is the mask and they round-trip through
``mask_input``.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import BackendError, DataError, PromptError
from ..types import ImagePrediction, ModelInfo

LOW_RES = 256
"""Side of the square low-resolution logit grid (SAM 2: 1024 / 4)."""
LOGIT_CLIP = 10.0
"""Absolute value the signed-distance logits are clipped to."""
_MIN_SAMPLES = 20
"""Fewest fore/background pixels GrabCut is run with (it fits 5-component GMMs to each)."""


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


def _keep_seeded_components(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
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


def _fill_small_holes(mask: np.ndarray, frac: float = 0.01) -> np.ndarray:
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


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


class GrabCutImageBackend:
    """:class:`~workbench.backends.base.ImageBackend` built on OpenCV GrabCut (no weights).

    Parameters
    ----------
    max_side : int
        The image is downscaled (area interpolation) so that its longest side is at most this
        many pixels; masks are computed there and upsampled (bilinear, threshold 0.5).
    iterations : int
        GrabCut iterations (>= 2): candidate "coarse" is the result after 1, the others after all.
    seed_radius : float
        Radius of the definite fore/background disk of each click, as a fraction of the image
        diagonal (at least 3 pixels of the original image).
    prior_radius : float
        Clicks-only prior: radius of the probable-foreground disk around each positive click,
        as a fraction of the diagonal.
    box_margin : float
        Width of the probable-background ring around a box, as a fraction of the diagonal.

    Notes
    -----
    ``multimask_output=True`` returns 3 candidates, in this order: ``clean`` (components touching
    a positive click, or the largest one, with holes under 1 % of its area filled), ``raw`` (the
    GrabCut labelling after all iterations) and ``coarse`` (after the first iteration).
    ``multimask_output=False`` returns ``clean``.

    ``iou_predictions`` is a heuristic, NOT a learned IoU: for each candidate, its mean IoU with
    the other two candidates (agreement between iterations and post-processing) times its
    compactness (share of its area in its largest connected component). Empty masks score 0.
    """

    def __init__(self, max_side: int = 320, iterations: int = 2, seed_radius: float = 0.01,
                 prior_radius: float = 0.15, box_margin: float = 0.01):
        if int(max_side) < 16:
            raise BackendError(f"max_side must be at least 16 pixels; got {max_side}.")
        if int(iterations) < 2:
            raise BackendError(f"iterations must be at least 2; got {iterations}.")
        self.max_side, self.iterations = int(max_side), int(iterations)
        self.seed_radius, self.prior_radius, self.box_margin = float(seed_radius), float(prior_radius), float(box_margin)
        self.info = ModelInfo(
            backend="classical", model="grabcut", checkpoint=None, checkpoint_sha256="none", image_size=0,
            device="cpu", extra={"max_side": self.max_side, "iterations": self.iterations,
                                 "seed_radius": self.seed_radius, "prior_radius": self.prior_radius,
                                 "box_margin": self.box_margin},
        )
        self.reset_image()

    # -- image ---------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Store ``image`` ((H, W, 3) uint8 RGB) and its downscaled BGR working copy.

        Raises
        ------
        DataError
            Wrong shape or dtype.
        """
        img = validate_image(image)
        h, w = img.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
        small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else img
        self._shape = (h, w)
        self._small = np.ascontiguousarray(small[..., ::-1])  # GrabCut's colour model is order-agnostic
        self._sx, self._sy = sw / w, sh / h

    def reset_image(self) -> None:
        """Forget the current image."""
        self._shape: tuple[int, int] | None = None
        self._small: np.ndarray | None = None
        self._sx = self._sy = 1.0

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """(H, W) of the current image, None before :meth:`set_image`."""
        return self._shape

    # -- prompting -----------------------------------------------------------------------------
    def _trimap(self, coords, labels, box, mask_input) -> tuple[np.ndarray, np.ndarray]:
        """GrabCut trimap at work resolution and the boolean map of positive seed pixels."""
        sh, sw = self._small.shape[:2]
        diag = float(np.hypot(sh, sw))
        h, w = self._shape
        tri = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
        if box is not None:
            x0, y0 = int(np.floor(box[0] * self._sx)), int(np.floor(box[1] * self._sy))
            x1, y1 = int(np.ceil(box[2] * self._sx)), int(np.ceil(box[3] * self._sy))
            m = max(1, round(self.box_margin * diag))
            tri[:] = cv2.GC_BGD
            tri[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m] = cv2.GC_PR_BGD
            inside = np.zeros((sh, sw), bool)
            inside[y0:y1, x0:x1] = True
        else:
            inside = np.ones((sh, sw), bool)
        pts = np.column_stack([coords[:, 0] * self._sx, coords[:, 1] * self._sy]) if len(coords) else coords
        pts = np.clip(np.round(pts), 0, [sw - 1, sh - 1]).astype(int) if len(coords) else np.zeros((0, 2), int)
        if mask_input is not None:
            prior = cv2.resize(mask_input, (sw, sh), interpolation=cv2.INTER_LINEAR) > 0
            tri[inside] = np.where(prior[inside], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
        elif box is not None:
            tri[inside] = cv2.GC_PR_FGD
        else:
            r = max(2, round(self.prior_radius * diag))
            for (x, y), lab in zip(pts, labels):
                if lab == 1:
                    cv2.circle(tri, (int(x), int(y)), r, cv2.GC_PR_FGD, -1)
        seed_r = max(1, round(max(3.0, self.seed_radius * float(np.hypot(h, w))) * min(self._sx, self._sy)))
        seeds = np.zeros((sh, sw), np.uint8)
        for (x, y), lab in zip(pts, labels):  # negatives drawn last: they win where disks overlap
            if lab == 1:
                cv2.circle(tri, (int(x), int(y)), seed_r, cv2.GC_FGD, -1)
                cv2.circle(seeds, (int(x), int(y)), seed_r, 1, -1)
        for (x, y), lab in zip(pts, labels):
            if lab == 0:
                cv2.circle(tri, (int(x), int(y)), seed_r, cv2.GC_BGD, -1)
        return tri, (seeds > 0) & (tri == cv2.GC_FGD)

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> ImagePrediction:
        """Segment the current image from SAM-style prompts with GrabCut.

        Parameters
        ----------
        point_coords : (N, 2) float array, x, y pixels of the original image, optional
        point_labels : (N,) int array, 1 positive / 0 negative, required with points
        box : (4,) float array, XYXY pixels, optional
        mask_input : (1, h, w) float32 logits, e.g. ``low_res_logits[i:i+1]`` of an earlier
            call (any h, w; stretched over the image), optional
        multimask_output : bool
            3 candidates (clean, raw, coarse; see the class notes) or 1 (clean).

        Returns
        -------
        ImagePrediction
            ``masks`` (C, H, W) bool, ``iou_predictions`` (C,) float32 heuristic scores in [0, 1]
            (not a learned IoU), ``low_res_logits`` (C, 256, 256) float32.
            Only negative clicks (no box, no mask input) give empty masks with score 0.

        Raises
        ------
        BackendError
            :meth:`set_image` was not called.
        PromptError
            No prompt, or a malformed one (see :func:`validate_prompts`).
        """
        if self._small is None:
            raise BackendError("No image set: call set_image(image) before predict().")
        coords, labels, bx, mi = validate_prompts(self._shape, point_coords, point_labels, box, mask_input)
        tri, seeds = self._trimap(coords, labels, bx, mi)
        fg = (tri == cv2.GC_FGD) | (tri == cv2.GC_PR_FGD)
        if fg.all():  # nothing marked background: the image border is probable background
            border = np.ones(tri.shape, bool)
            border[1:-1, 1:-1] = False
            tri[border & (tri != cv2.GC_FGD)] = cv2.GC_PR_BGD
            fg = (tri == cv2.GC_FGD) | (tri == cv2.GC_PR_FGD)
        n_fg, n_bg = np.count_nonzero(fg), fg.size - np.count_nonzero(fg)
        if n_fg == 0:
            cands = [np.zeros(tri.shape, bool)] * 3
        elif min(n_fg, n_bg) < _MIN_SAMPLES:  # too few pixels to fit GrabCut's colour models
            cands = [fg.copy()] * 3
        else:
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            cv2.grabCut(self._small, tri, None, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK)
            coarse = (tri == cv2.GC_FGD) | (tri == cv2.GC_PR_FGD)
            cv2.grabCut(self._small, tri, None, bgd, fgd, self.iterations - 1, cv2.GC_EVAL)
            raw = (tri == cv2.GC_FGD) | (tri == cv2.GC_PR_FGD)
            clean = _fill_small_holes(_keep_seeded_components(raw, seeds))
            cands = [clean, raw, coarse]
        scores = self._scores(cands)
        keep = [0, 1, 2] if multimask_output else [0]
        h, w = self._shape
        masks = np.stack([self._upsample(cands[i], (h, w)) for i in keep])
        logits = np.stack([mask_to_logits(cands[i]) for i in keep])
        return ImagePrediction(masks=masks, iou_predictions=scores[keep].astype(np.float32),
                               low_res_logits=logits, untrained=False)

    @staticmethod
    def _scores(cands: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(len(cands), np.float64)
        for i, c in enumerate(cands):
            area = np.count_nonzero(c)
            if area == 0:
                continue
            agree = np.mean([_iou(c, o) for j, o in enumerate(cands) if j != i])
            n, _, stats, _ = cv2.connectedComponentsWithStats(c.astype(np.uint8), connectivity=8)
            compact = stats[1:, cv2.CC_STAT_AREA].max() / area if n > 1 else 0.0
            out[i] = agree * compact
        return np.clip(out, 0.0, 1.0)

    @staticmethod
    def _upsample(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        if mask.shape == (h, w):
            return mask.copy()
        return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5


def make_classical_image_backend(**kw) -> GrabCutImageBackend:
    """Build a :class:`GrabCutImageBackend`; keyword arguments as its constructor."""
    return GrabCutImageBackend(**kw)
