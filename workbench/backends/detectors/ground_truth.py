"""The ground-truth detector: boxes from the annotations, with controlled noise (numpy only).

For controlled studies of detector-prompted tracking: how much does tracking lose as the
detector gets worse? On frame ``t`` every annotated object (ids other than 0 and the void label
255) gives its mask's box (:func:`workbench.metrics.boxes.mask_box`), then

1. **miss**: the box is dropped with probability ``miss_rate``;
2. **jitter**: each coordinate moves by Gaussian noise, standard deviation ``jitter`` x the box's
   width (x0, x1) or height (y0, y1); the box is re-ordered to XYXY and clipped to the frame
   (a box left with less than one pixel of width or height is dropped);
3. **false positives**: a Poisson(``false_positives``) number of extra boxes, centres uniform in
   the frame, sides uniform in [5 %, 30 %] of the frame's width and height.

Every box scores 1 and has label 0 (one class, "object"): the detector says nothing about
which object a box is. The noise of frame ``t`` comes from ``numpy.random.default_rng([seed,
crc32(key), t])``: the same boxes on a frame whatever the prompting mode, the order frames are
asked in, or the worker (``key``: the sequence name).
"""

from __future__ import annotations

import zlib

import numpy as np

from ...errors import ConfigError, DataError
from ...metrics.boxes import mask_box
from ...types import Detections, ModelInfo
from ..validate import check_image

__all__ = ["FP_SIDE_RANGE", "VOID_ID", "GroundTruthDetector"]

VOID_ID = 255
"""DAVIS void label: never an object."""
FP_SIDE_RANGE = (0.05, 0.30)
"""Sides of false boxes, as fractions of the frame's width / height (uniform)."""


class GroundTruthDetector:
    """:class:`~workbench.types.Detector` that derives boxes from annotations (see the module
    docstring for the noise model).

    Parameters
    ----------
    annotations : (T, H, W) integer array
        Object ids per frame (0 background, 255 void), e.g. a DAVIS sequence's annotations.
    jitter : float
        Standard deviation of each box coordinate's noise, as a fraction of the box's width
        (x) or height (y); >= 0.
    miss_rate : float
        Probability in [0, 1] that an object's box is dropped on a frame.
    false_positives : float
        Mean number of false boxes per frame (Poisson); >= 0.
    seed : int
        Noise seed (with ``key`` and the frame index).
    key : str
        Name mixed into the seed, e.g. the sequence name.

    Raises
    ------
    DataError
        ``annotations`` is not a (T, H, W) integer array.
    ConfigError
        A noise value out of range.
    """

    def __init__(
        self,
        annotations: np.ndarray,
        jitter: float = 0.0,
        miss_rate: float = 0.0,
        false_positives: float = 0.0,
        seed: int = 0,
        key: str = "",
    ):
        ann = np.asarray(annotations)
        if ann.ndim != 3 or not np.issubdtype(ann.dtype, np.integer):
            raise DataError(
                f"annotations must be (T, H, W) integer object ids; got shape {ann.shape} dtype {ann.dtype}."
            )
        if not (jitter >= 0 and 0 <= miss_rate <= 1 and false_positives >= 0):
            raise ConfigError(
                f"Ground-truth detector noise out of range: jitter {jitter} (>= 0), miss_rate {miss_rate} "
                f"(0..1), false_positives {false_positives} (>= 0)."
            )
        self.annotations = ann
        self.jitter, self.miss_rate, self.false_positives = float(jitter), float(miss_rate), float(false_positives)
        self.seed, self.key = int(seed), str(key)
        self.info = ModelInfo(
            backend="gt",
            model="ground-truth",
            extra={"jitter": self.jitter, "miss_rate": self.miss_rate, "false_positives": self.false_positives},
        )

    def _rng(self, frame_idx: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(self.key.encode("utf-8")), int(frame_idx)])

    def detect(self, frame: np.ndarray | None = None, frame_idx: int | None = None) -> Detections:
        """Noisy boxes of the objects annotated on frame ``frame_idx``.

        Parameters
        ----------
        frame : (H, W, 3) uint8 array or None
            The frame (only its size is checked against the annotations; may be None).
        frame_idx : int
            Index of the frame in the annotations (required).

        Returns
        -------
        Detections
            True boxes first (object ids ascending), then false ones; scores 1, labels 0.

        Raises
        ------
        ConfigError
            ``frame_idx`` missing or out of range.
        DataError
            ``frame`` is not an (H, W, 3) uint8 array of the annotations' size.
        """
        t_count, h, w = self.annotations.shape
        if frame_idx is None or isinstance(frame_idx, bool) or not 0 <= int(frame_idx) < t_count:
            raise ConfigError(
                f"The ground-truth detector needs the frame's index (0..{t_count - 1}) to find its "
                f"annotation; got frame_idx={frame_idx!r}."
            )
        if frame is not None and check_image(frame).shape[:2] != (h, w):
            raise DataError(f"frame is {np.shape(frame)[:2]}, the annotations are {(h, w)} (H, W).")
        ids = self.annotations[int(frame_idx)]
        rng = self._rng(int(frame_idx))
        boxes = []
        for obj_id in np.unique(ids):
            if obj_id in (0, VOID_ID):
                continue
            box = mask_box(ids == obj_id)
            # one draw per object whatever the settings, so changing one noise keeps the others' draws
            missed = rng.random() < self.miss_rate
            noise = rng.standard_normal(4)
            if missed or box is None:
                continue
            bw, bh = box[2] - box[0], box[3] - box[1]
            box = box + self.jitter * noise * np.array([bw, bh, bw, bh], dtype=np.float64)
            boxes.append([min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])])
        n_false = int(rng.poisson(self.false_positives)) if self.false_positives > 0 else 0
        lo, hi = FP_SIDE_RANGE
        for _ in range(n_false):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            fw, fh = rng.uniform(lo, hi) * w, rng.uniform(lo, hi) * h
            boxes.append([cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2])
        arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        n = len(arr)
        return Detections(arr, np.ones(n, np.float32), np.zeros(n, np.int64)).clipped(h, w)
