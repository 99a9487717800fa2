"""Typed state of an interactive session: objects, prompts, results, masks, and the two state
containers (:class:`ImageState`, :class:`VideoState`) that undo snapshots, save/load and
autosave read and write.

This module is the bottom of :mod:`workbench.sessions`: the session classes, persistence,
autosave and recovery import it, it imports none of them (so there is no import cycle between
the sessions and the code that stores them).

Every value here is immutable by convention (frozen dataclasses holding read-only numpy
arrays), so a snapshot of a session is a shallow copy of its containers: unchanged masks are
shared between history entries instead of copied.

Prompt conventions follow SAM (see :mod:`workbench.types`): ``point_coords`` ``(N, 2)``
float32 **x, y** pixels, ``point_labels`` ``(N,)`` int32 (1 positive, 0 negative), ``box``
``(4,)`` float32 **XYXY** pixels; masks are ``(H, W)`` bool in row/column order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import PromptError, UnknownNameError
from ..io.images import DAVIS_PALETTE


def frozen(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` as a read-only array (a copy only when it is a view of writable data)."""
    arr = np.array(arr, copy=True) if arr.flags.writeable or not arr.flags.owndata else arr
    arr.setflags(write=False)
    return arr


def default_color(obj_id: int) -> tuple[int, int, int]:
    """RGB colour of ``obj_id`` in the DAVIS palette (object 1 = (128, 0, 0)), so session
    colours match the palette PNGs the masks are saved as."""
    r, g, b = DAVIS_PALETTE[int(obj_id) % 256]
    return int(r), int(g), int(b)


def check_color(color) -> tuple[int, int, int]:
    """Validate an RGB colour: three integers in 0..255. Raises ``PromptError``."""
    try:
        rgb = tuple(int(c) for c in color)
    except (TypeError, ValueError) as exc:
        raise PromptError(f"color must be three integers (R, G, B) in 0..255; got {color!r}.") from exc
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise PromptError(f"color must be three integers (R, G, B) in 0..255; got {color!r}.")
    return rgb


@dataclass(frozen=True)
class SessionObject:
    """One segmented object.

    Attributes
    ----------
    obj_id : int
        SAM 2's object id (>= 1; 0 is the background of palette masks).
    name : str
        Display name.
    color : tuple of 3 int
        RGB display colour, 0..255.
    """

    obj_id: int
    name: str
    color: tuple[int, int, int]

    def to_json(self) -> dict:
        return {"obj_id": self.obj_id, "name": self.name, "color": list(self.color)}

    @classmethod
    def from_json(cls, d: dict) -> SessionObject:
        return cls(int(d["obj_id"]), str(d["name"]), check_color(d["color"]))


_NO_POINTS = frozen(np.zeros((0, 2), np.float32))
_NO_LABELS = frozen(np.zeros((0,), np.int32))


@dataclass(frozen=True)
class Prompt:
    """The prompts of one object on one frame (images: frame 0).

    Attributes
    ----------
    point_coords : (N, 2) float32
        Clicks, **x, y** pixels, in click order (N may be 0).
    point_labels : (N,) int32
        1 positive, 0 negative.
    box : (4,) float32 or None
        XYXY pixels. SAM 2 requires the box before any click, so setting a box starts the
        object's prompts on that frame afresh.
    mask : (H, W) bool or None
        A mask prompt (video ``add_mask``); it replaces clicks and box.
    """

    point_coords: np.ndarray = field(default_factory=lambda: _NO_POINTS)
    point_labels: np.ndarray = field(default_factory=lambda: _NO_LABELS)
    box: np.ndarray | None = None
    mask: np.ndarray | None = None

    @property
    def num_points(self) -> int:
        return int(self.point_labels.shape[0])

    @property
    def is_empty(self) -> bool:
        return self.num_points == 0 and self.box is None and self.mask is None

    def with_points(self, coords: np.ndarray, labels: np.ndarray) -> Prompt:
        """This prompt plus clicks ``coords`` (M, 2) x, y and ``labels`` (M,); drops a mask prompt."""
        return Prompt(
            frozen(np.concatenate([self.point_coords, np.asarray(coords, np.float32).reshape(-1, 2)])),
            frozen(np.concatenate([self.point_labels, np.asarray(labels, np.int32).reshape(-1)])),
            self.box,
            None,
        )

    def equals(self, other: Prompt) -> bool:
        """Exact equality of every field."""

        def same(a, b):
            return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))

        return (
            np.array_equal(self.point_coords, other.point_coords)
            and np.array_equal(self.point_labels, other.point_labels)
            and same(self.box, other.box)
            and same(self.mask, other.mask)
        )

    def to_json(self) -> dict:
        """Points and box as JSON lists (the mask, if any, is stored separately as a PNG)."""
        return {
            "point_coords": self.point_coords.tolist(),
            "point_labels": self.point_labels.tolist(),
            "box": None if self.box is None else self.box.tolist(),
            "has_mask": self.mask is not None,
        }

    @classmethod
    def from_json(cls, d: dict, mask: np.ndarray | None = None) -> Prompt:
        coords = frozen(np.asarray(d.get("point_coords", []), np.float32).reshape(-1, 2))
        labels = frozen(np.asarray(d.get("point_labels", []), np.int32).reshape(-1))
        box = None if d.get("box") is None else frozen(np.asarray(d["box"], np.float32).reshape(4))
        return cls(coords, labels, box, None if mask is None else frozen(np.asarray(mask, bool)))


@dataclass(frozen=True)
class PackedMask:
    """A ``(H, W)`` bool mask stored bit-packed (8x smaller), with its area.

    Attributes
    ----------
    bits : 1-D uint8, ``np.packbits`` of the row-major mask
    shape : (H, W)
    area : int
        Number of True pixels; ``area > 0`` is the object's presence on the frame.
    score : float or None
        The backend's object score (logit) on the frame when it reports one.
    """

    bits: np.ndarray
    shape: tuple[int, int]
    area: int
    score: float | None = None

    @classmethod
    def pack(cls, mask: np.ndarray, score: float | None = None) -> PackedMask:
        m = np.asarray(mask, dtype=bool)
        return cls(
            frozen(np.packbits(m, axis=None)),
            (int(m.shape[0]), int(m.shape[1])),
            int(np.count_nonzero(m)),
            None if score is None else float(score),
        )

    def unpack(self) -> np.ndarray:
        """The ``(H, W)`` bool mask (a new writable array)."""
        h, w = self.shape
        return np.unpackbits(self.bits, count=h * w).reshape(h, w).astype(bool)


@dataclass(frozen=True)
class ImageResult:
    """The last prediction for one object of an image session.

    Attributes
    ----------
    candidates : (C, H, W) bool
        Candidate masks (C = 3 with ``multimask_output`` else 1).
    iou_predictions : (C,) float32
        The model's IoU estimate per candidate.
    low_res_logits : (C, h, w) float32
        Logits fed back as ``mask_input`` on the next click.
    selected : int
        Index of the chosen candidate (default: highest ``iou_predictions``).
    multimask_output : bool
        Whether the call asked for several candidates.
    used_mask_input : bool
        Whether the previous logits were passed as ``mask_input``.
    latency_ms : float
        Wall time of the ``predict`` call, milliseconds.
    """

    candidates: np.ndarray
    iou_predictions: np.ndarray
    low_res_logits: np.ndarray
    selected: int
    multimask_output: bool
    used_mask_input: bool = False
    latency_ms: float = 0.0


@dataclass
class ImageState:
    """Everything an image session knows (values immutable; :meth:`copy` copies containers).

    Attributes
    ----------
    objects : dict obj_id -> SessionObject
    prompts : dict obj_id -> Prompt
    results : dict obj_id -> ImageResult (the last prediction)
    masks : dict obj_id -> (H, W) bool (read-only), the selected candidate (or a loaded mask)
    active_obj_id : int or None
    next_obj_id : int
    """

    objects: dict[int, SessionObject] = field(default_factory=dict)
    prompts: dict[int, Prompt] = field(default_factory=dict)
    results: dict[int, ImageResult] = field(default_factory=dict)
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    active_obj_id: int | None = None
    next_obj_id: int = 1

    def copy(self) -> ImageState:
        return ImageState(
            dict(self.objects),
            dict(self.prompts),
            dict(self.results),
            dict(self.masks),
            self.active_obj_id,
            self.next_obj_id,
        )


@dataclass
class VideoState:
    """Everything a video session knows (values immutable; :meth:`copy` copies containers).

    Attributes
    ----------
    objects : dict obj_id -> SessionObject
    prompts : dict (frame_idx, obj_id) -> Prompt
    masks : dict frame_idx -> dict obj_id -> PackedMask
    active_obj_id : int or None
    next_obj_id : int
    """

    objects: dict[int, SessionObject] = field(default_factory=dict)
    prompts: dict[tuple[int, int], Prompt] = field(default_factory=dict)
    masks: dict[int, dict[int, PackedMask]] = field(default_factory=dict)
    active_obj_id: int | None = None
    next_obj_id: int = 1

    def copy(self) -> VideoState:
        return VideoState(
            dict(self.objects),
            dict(self.prompts),
            {f: dict(m) for f, m in self.masks.items()},
            self.active_obj_id,
            self.next_obj_id,
        )


# -- the masks of either state, keyed (frame_idx, obj_id) (autosave and recovery) --------------------
def mask_items(state: ImageState | VideoState, frame_idx: int | None = None) -> dict[tuple[int, int], object]:
    """The state's masks: image ``(0, obj_id) -> (H, W) bool``, video ``(frame_idx, obj_id) ->
    PackedMask`` (of ``frame_idx`` only when given). Values are immutable, so identity tells
    whether a mask changed. Call under the session's ``_lock``."""
    if isinstance(state, ImageState):
        return {(0, oid): m for oid, m in state.masks.items()}
    frames = state.masks if frame_idx is None else {frame_idx: state.masks.get(frame_idx, {})}
    return {(f, oid): pm for f, per in frames.items() for oid, pm in per.items()}


def mask_array(value) -> np.ndarray:
    """A value of :func:`mask_items` as an ``(H, W)`` bool array."""
    return value.unpack() if isinstance(value, PackedMask) else np.asarray(value, bool)


def mask_score(value) -> float | None:
    """The finite object score of a value of :func:`mask_items` (video masks), else None."""
    s = value.score if isinstance(value, PackedMask) else None
    return float(s) if s is not None and math.isfinite(s) else None


def put_mask(
    state: ImageState | VideoState, frame_idx: int, obj_id: int, mask: np.ndarray, score: float | None = None
) -> None:
    """Set the mask of ``obj_id`` on ``frame_idx`` (images: frame 0). Call under ``_lock``."""
    if isinstance(state, ImageState):
        state.masks[obj_id] = frozen(mask)
    else:
        state.masks.setdefault(frame_idx, {})[obj_id] = PackedMask.pack(mask, score)


def drop_mask(state: ImageState | VideoState, frame_idx: int, obj_id: int) -> None:
    """Remove the mask of ``obj_id`` on ``frame_idx`` if any. Call under ``_lock``."""
    if isinstance(state, ImageState):
        state.masks.pop(obj_id, None)
    else:
        state.masks.get(frame_idx, {}).pop(obj_id, None)


class ObjectTable:
    """Helpers over an ordered ``dict[obj_id, SessionObject]`` (shared by both sessions)."""

    @staticmethod
    def require(objects: dict[int, SessionObject], obj_id) -> int:
        """Return ``obj_id`` as int if it names an object; else ``UnknownNameError`` listing them."""
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)) or int(obj_id) not in objects:
            raise UnknownNameError("obj_id", obj_id, list(objects))
        return int(obj_id)


__all__ = [
    "ImageResult",
    "ImageState",
    "ObjectTable",
    "PackedMask",
    "Prompt",
    "SessionObject",
    "VideoState",
    "check_color",
    "default_color",
    "drop_mask",
    "frozen",
    "mask_array",
    "mask_items",
    "mask_score",
    "put_mask",
]
