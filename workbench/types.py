"""Plain typed values shared by every layer (no torch, no sam2, no widgets).

Coordinate conventions
----------------------
Prompts use SAM's field names and order: ``point_coords`` is ``(N, 2)`` float32 in **x, y**
pixel order of the original image, ``point_labels`` is ``(N,)`` int32 (1 positive,
0 negative), ``box`` is ``(4,)`` float32 **XYXY** in pixels. Everything else in the workbench
(clicks from the simulated user, mask arrays) uses **row, column** and says so.

Detections
----------
:class:`Detections` (boxes, scores, labels of one frame) is what a :class:`Detector` returns; the
detectors themselves (torchvision models, Ultralytics YOLO, the ground-truth detector) live in
:mod:`workbench.backends.detectors`.

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


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes found by a :class:`Detector` on one frame.

    Attributes
    ----------
    boxes : np.ndarray
        ``(N, 4)`` float32 **XYXY** pixels of the original frame (x0 <= x1, y0 <= y1).
    scores : np.ndarray
        ``(N,)`` float32 confidences in [0, 1].
    labels : np.ndarray
        ``(N,)`` int64 class indices of the detector (COCO category ids for torchvision's
        COCO models, the YOLO model's class indices, 0 for the ground-truth detector's single
        class "object").

    Raises
    ------
    DataError
        Arrays of other shapes, a box with x0 > x1 or y0 > y1, or non-finite values.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        from .errors import DataError

        boxes = (
            np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
            if np.size(self.boxes)
            else np.zeros((0, 4), np.float32)
        )
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        labels = np.asarray(self.labels).reshape(-1).astype(np.int64)
        if not (len(boxes) == len(scores) == len(labels)):
            raise DataError(
                f"Detections need as many scores and labels as boxes; got {len(boxes)} boxes, "
                f"{len(scores)} scores, {len(labels)} labels."
            )
        if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
            raise DataError("Detections hold NaN or infinite boxes or scores.")
        if len(boxes) and ((boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any()):
            raise DataError("Detection boxes must be XYXY with x0 <= x1 and y0 <= y1 (pixels).")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        """No detection."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def select(self, keep: np.ndarray) -> Detections:
        """The detections where ``keep`` ((N,) bool, or indices) is set, in that order."""
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])

    def filter(self, score_threshold: float = 0.0, classes: Sequence[int] | None = None) -> Detections:
        """Detections with ``score >= score_threshold`` (and a label in ``classes`` when given),
        highest score first (ties keep their order)."""
        keep = self.scores >= float(score_threshold)
        if classes is not None:
            keep &= np.isin(self.labels, np.asarray(list(classes), dtype=np.int64))
        idx = np.flatnonzero(keep)
        return self.select(idx[np.argsort(-self.scores[idx], kind="stable")])

    def clipped(self, height: int, width: int) -> Detections:
        """Boxes clipped to a ``height`` x ``width`` frame; boxes with no area left (or under one
        pixel wide or high) are dropped."""
        b = self.boxes.copy()
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
        keep = ((b[:, 2] - b[:, 0]) >= 1) & ((b[:, 3] - b[:, 1]) >= 1)
        return Detections(b[keep], self.scores[keep], self.labels[keep])


@runtime_checkable
class Detector(Protocol):
    """Finds objects in a frame: ``frame (H, W, 3) uint8 RGB -> Detections``.

    Implementations (:mod:`workbench.backends.detectors`): torchvision detection models, Ultralytics
    YOLO (optional extra) and the ground-truth detector of controlled studies, which needs the
    frame's index to find the frame's annotation.

    Attributes
    ----------
    info : ModelInfo
        What detects: ``backend`` ``"torchvision"`` / ``"ultralytics"`` / ``"gt"``, model name,
        weights file and SHA-256, ``untrained`` for random weights (then every accuracy made
        with its boxes is meaningless).
    """

    info: ModelInfo

    def detect(self, frame: np.ndarray, frame_idx: int | None = None) -> Detections:
        """Detect objects on ``frame`` ((H, W, 3) uint8 RGB). ``frame_idx``: index of the frame
        in its video (0-based); image detectors ignore it, the ground-truth detector requires it.

        Raises
        ------
        DataError
            Not an (H, W, 3) uint8 frame.
        ConfigError
            The ground-truth detector was given no (or an out-of-range) ``frame_idx``."""


@dataclass(frozen=True)
class MemoryTrace:
    """What fed a video model's prediction of one object on one frame (SAM 2's memory).

    Recorded while the model ran (never recomputed afterwards): the frames whose stored
    memories the memory attention read, in the order it read them, and the tracking policy's
    own scores for the frame.

    Attributes
    ----------
    frame_idx : int
        The frame predicted (0-based).
    obj_id : int
        The object.
    policy : str
        Tracking policy that made the prediction (``"sam2"``, ``"samurai"``, ``"sam2long"``).
    is_cond_frame : bool
        The frame is a conditioning frame of the object (it holds a prompt); its prediction then
        came from the prompt, and attended memories only when it was a correction of an
        already tracked frame.
    cond_frames : tuple of int
        Conditioning frames whose memories were attended (SAM 2: all prompted frames, or the
        ``max_cond_frames_in_attn`` closest ones).
    non_cond_frames : tuple of int
        Non-conditioning memory frames attended, oldest memory slot first (SAM 2: the
        ``num_maskmem - 1`` = 6 frames behind; SAMURAI: the ones its memory selection kept;
        SAM2Long: those of the pathway that made the output). A prompted frame that SAM 2 did not
        select as conditioning frame is listed here when it was read in a recent-memory slot.
    obj_ptr_frames : tuple of int
        Frames whose object pointers were attended (conditioning ones first, then up to
        ``max_obj_ptrs_in_encoder - 1`` = 15 recent ones).
    policy_scores : mapping of str to float
        The frame's scores by name, e.g. ``object_score_logit``, ``pred_iou_0`` .. (the decoder's
        predicted IoU per candidate mask); SAMURAI: ``chosen_mask``, ``kf_iou_<i>``,
        ``weighted_score_<i>``, ``kf_score``, ``stable_frames``, ``kalman_weighted``; SAM2Long:
        ``pathway_score_<k>``, ``selected_pathway``, ``certain``. Names are listed with each
        policy (:mod:`workbench.backends.sam2.policies.trace`).
    """

    frame_idx: int
    obj_id: int
    policy: str
    is_cond_frame: bool
    cond_frames: tuple[int, ...]
    non_cond_frames: tuple[int, ...]
    obj_ptr_frames: tuple[int, ...]
    policy_scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def memory_frames(self) -> tuple[int, ...]:
        """Every frame whose spatial memory was attended: conditioning, then non-conditioning."""
        return self.cond_frames + self.non_cond_frames

    def to_row(self) -> dict:
        """One flat table row: frame, object, policy, the frame lists as ``"0 3 4"`` strings
        (``"-"`` when empty) and every score under its name."""

        def frames(values: tuple[int, ...]) -> str:
            return " ".join(str(v) for v in values) or "-"

        return {
            "frame": self.frame_idx,
            "obj_id": self.obj_id,
            "policy": self.policy,
            "prompted": self.is_cond_frame,
            "cond_frames": frames(self.cond_frames),
            "non_cond_frames": frames(self.non_cond_frames),
            "obj_ptr_frames": frames(self.obj_ptr_frames),
            **dict(self.policy_scores),
        }


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
