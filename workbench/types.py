"""Plain typed values shared by every layer (no torch, no sam2, no widgets).

Coordinate conventions
----------------------
Prompts use SAM's field names and order: ``point_coords`` is ``(N, 2)`` float32 in **x, y**
pixel order of the original image, ``point_labels`` is ``(N,)`` int32 (1 positive,
0 negative), ``box`` is ``(4,)`` float32 **XYXY** in pixels. Everything else in the workbench
(clicks from the simulated user, mask arrays) uses **row, column** and says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Click:
    """One simulated or user click in **row/column** pixel coordinates.

    Attributes
    ----------
    y, x : int
        Row and column, 0-based, of the clicked pixel.
    is_positive : bool
        True for a foreground click (SAM label 1), False for background (label 0).
    """

    y: int
    x: int
    is_positive: bool

    @property
    def point(self) -> tuple[float, float]:
        """The click as a SAM ``point_coords`` row: ``(x, y)``."""
        return (float(self.x), float(self.y))

    @property
    def label(self) -> int:
        """The click as a SAM ``point_labels`` entry: 1 positive, 0 negative."""
        return 1 if self.is_positive else 0


def clicks_to_prompt(clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
    """Convert clicks to SAM's ``point_coords`` ``(N, 2)`` float32 (x, y) and
    ``point_labels`` ``(N,)`` int32."""
    coords = np.array([c.point for c in clicks], dtype=np.float32).reshape(-1, 2)
    labels = np.array([c.label for c in clicks], dtype=np.int32)
    return coords, labels


@dataclass(frozen=True)
class ModelInfo:
    """What produced a result: enough for a run card.

    Attributes
    ----------
    backend : str
        ``"sam2"``, ``"classical"``, …
    model : str
        Registry name, e.g. ``"sam2.1_hiera_tiny"``; ``"grabcut"`` / ``"dis-flow"`` for classical.
    checkpoint : str or None
        Path of the checkpoint file, None when no weights are used.
    checkpoint_sha256 : str
        Hex digest of the checkpoint file, ``"untrained"`` for random weights, ``"none"`` for
        weight-free backends.
    image_size : int
        Square input size the model resizes images to (pixels); 0 when not applicable.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:0"`` …
    untrained : bool
        True when the weights are random: every accuracy number made with them is meaningless.
    """

    backend: str
    model: str
    checkpoint: str | None = None
    checkpoint_sha256: str = "none"
    image_size: int = 0
    device: str = "cpu"
    untrained: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class ImagePrediction:
    """Output of one image prompt.

    Attributes
    ----------
    masks : np.ndarray
        ``(C, H, W)`` bool, C = 3 with ``multimask_output`` else 1, original image size.
    iou_predictions : np.ndarray
        ``(C,)`` float32, the model's own IoU estimate for each mask.
    low_res_logits : np.ndarray
        ``(C, h, w)`` float32 logits to feed back as ``mask_input`` (``(1, h, w)``) on the next
        call; h = w = image_size / 4 for SAM 2.
    untrained : bool
        True when produced by random weights.
    """

    masks: np.ndarray
    iou_predictions: np.ndarray
    low_res_logits: np.ndarray
    untrained: bool = False

    def best(self) -> int:
        """Index of the mask with the highest predicted IoU."""
        return int(np.argmax(self.iou_predictions))


@dataclass
class FrameMasks:
    """Masks of every tracked object on one video frame.

    Attributes
    ----------
    frame_idx : int
        0-based frame index.
    obj_ids : list of int
        Object ids, in the order of ``masks``.
    masks : np.ndarray
        ``(O, H, W)`` bool, one mask per object, original frame size.
    """

    frame_idx: int
    obj_ids: list[int]
    masks: np.ndarray

    def mask_of(self, obj_id: int) -> np.ndarray:
        """``(H, W)`` bool mask of ``obj_id`` (raises KeyError-like WorkbenchError if absent)."""
        from .errors import UnknownNameError

        if obj_id not in self.obj_ids:
            raise UnknownNameError("obj_id", obj_id, self.obj_ids)
        return self.masks[self.obj_ids.index(obj_id)]
