"""Plain typed values shared by every layer (no torch, no sam2, no widgets).

Coordinate conventions
----------------------
Prompts use SAM's field names and order: ``point_coords`` is ``(N, 2)`` float32 in **x, y**
pixel order of the original image, ``point_labels`` is ``(N,)`` int32 (1 positive,
0 negative), ``box`` is ``(4,)`` float32 **XYXY** in pixels. Everything else in the workbench
(clicks from the simulated user, mask arrays) uses **row, column** and says so.

Structural protocols
--------------------
:class:`LabelMapSource`, :class:`FrameStack`, :class:`HasObjects`, :class:`ObjectLike` (with
:class:`HasColor` / :class:`HasName`) describe what lower layers (e.g. :mod:`workbench.io.export`)
read from a session without importing :mod:`workbench.sessions`; they are
``runtime_checkable``, so ``isinstance`` tells whether an object provides the members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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
class ConceptPrediction:
    """Every instance of a text concept found in one image (SAM 3's "promptable concept
    segmentation").

    Attributes
    ----------
    text : str
        The concept phrase, e.g. ``"yellow school bus"``.
    masks : np.ndarray
        ``(K, H, W)`` bool, one mask per instance, original image size (K may be 0).
    boxes : np.ndarray
        ``(K, 4)`` float32 XYXY pixels of the original image.
    scores : np.ndarray
        ``(K,)`` float32 detection scores in [0, 1], highest first.
    untrained : bool
        True when produced by random weights.
    """

    text: str
    masks: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    untrained: bool = False

    def __len__(self) -> int:
        return int(self.masks.shape[0])


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
    object_scores : np.ndarray or None
        ``(O,)`` float object scores (logits, > 0 = present) when the backend reports them.
    logits : np.ndarray or None
        ``(O, H, W)`` float32 mask logits at frame size (``masks`` is ``logits > 0``) when asked
        for: ``propagate_logits`` of the :class:`~workbench.backends.base.MaskLogits`
        capability; None otherwise.
    """

    frame_idx: int
    obj_ids: list[int]
    masks: np.ndarray
    object_scores: np.ndarray | None = None
    logits: np.ndarray | None = None

    def mask_of(self, obj_id: int) -> np.ndarray:
        """``(H, W)`` bool mask of ``obj_id`` (raises KeyError-like WorkbenchError if absent)."""
        from .errors import UnknownNameError

        if obj_id not in self.obj_ids:
            raise UnknownNameError("obj_id", obj_id, self.obj_ids)
        return self.masks[self.obj_ids.index(obj_id)]


# -- structural protocols (what io reads from a session without importing it) -------------------------
@runtime_checkable
class LabelMapSource(Protocol):
    """Per-frame object id maps, e.g. a :class:`workbench.sessions.VideoSession`."""

    @property
    def tracked_frames(self) -> Sequence[int]:
        """Sorted frame indices holding at least one mask."""

    def label_map_at(self, frame_idx: int) -> np.ndarray:
        """``(H, W)`` integer object ids on ``frame_idx`` (0 = background)."""


@runtime_checkable
class FrameStack(Protocol):
    """Indexed RGB frames, e.g. a :class:`workbench.sessions.VideoSession`."""

    @property
    def num_frames(self) -> int:
        """Number of frames."""

    def frame(self, frame_idx: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB frame ``frame_idx``."""


@runtime_checkable
class HasColor(Protocol):
    """Something drawn in an RGB colour (``color``: three ints 0..255)."""

    @property
    def color(self) -> Sequence[int]:
        """(R, G, B), 0..255."""


@runtime_checkable
class HasName(Protocol):
    """Something with a display name."""

    @property
    def name(self) -> str:
        """Display name."""


@runtime_checkable
class ObjectLike(HasColor, HasName, Protocol):
    """A segmented object as sessions hold it (:class:`workbench.sessions.SessionObject`)."""


@runtime_checkable
class HasObjects(Protocol):
    """Something holding objects by id (``objects``: mapping ``obj_id -> ObjectLike``), e.g. a session."""

    @property
    def objects(self) -> Mapping[int, ObjectLike]:
        """``obj_id -> object``."""
