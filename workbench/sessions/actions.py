"""Action records: one small typed, JSON-serialisable record per user action.

A session applies an action, pushes it on its undo history and appends it to its action log
(:attr:`ImageSession.log`). ``to_json()`` gives one JSON object (one line of an append-only
JSONL autosave log); :func:`action_from_json` reads it back, and ``session.apply(action)``
replays it, so a log can rebuild a session after a crash.

Every record carries resolved ids (never "the active object"), so replay does not depend
on UI state. Coordinates follow SAM: ``x, y`` pixels, boxes XYXY; ``frame_idx`` is 0 for
image sessions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import DataError, UnknownNameError

_REGISTRY: dict[str, type[Action]] = {}


def _register(cls):
    _REGISTRY[cls.__name__] = cls
    return cls


def _rgb(values) -> tuple[int, int, int]:
    """A JSON colour as three ints (ValueError, a malformed record, unless there are three)."""
    r, g, b = (int(c) for c in values)
    return r, g, b


def _xyxy(values) -> tuple[float, float, float, float]:
    """A JSON box as four floats (ValueError, a malformed record, unless there are four)."""
    x0, y0, x1, y1 = (float(v) for v in values)
    return x0, y0, x1, y1


def mask_to_rle(mask: np.ndarray) -> dict:
    """``(H, W)`` bool mask -> COCO run-length encoding ``{"size": [H, W], "counts": str}``
    (pycocotools, column-major runs as in COCO annotations)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def rle_to_mask(rle: dict) -> np.ndarray:
    """Inverse of :func:`mask_to_rle`: ``(H, W)`` bool. Raises ``DataError`` when malformed."""
    from pycocotools import mask as mask_utils

    try:
        data = {"size": [int(s) for s in rle["size"]], "counts": str(rle["counts"]).encode("ascii")}
        return mask_utils.decode(data).astype(bool)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"Malformed mask RLE {str(rle)[:80]!r}: {exc}. Expected {{'size': [H, W], "
            "'counts': str}} as written by mask_to_rle."
        ) from exc


@dataclass(frozen=True)
class Action:
    """Base class of every action record."""

    undoable: ClassVar[bool] = True

    def to_json(self) -> dict:
        """One JSON-ready dict: ``{"type": <class name>, <field>: <value>, ...}``."""
        out: dict = {"type": type(self).__name__}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                v = mask_to_rle(v)
            elif isinstance(v, tuple):
                v = [list(x) if isinstance(x, tuple) else x for x in v]
            out[f.name] = v
        return out

    @classmethod
    def from_json(cls, d: dict) -> Action:
        """Rebuild a record from :meth:`to_json` output (any subclass; dispatches on ``type``)."""
        return action_from_json(d)

    @classmethod
    def _from_fields(cls, d: dict) -> Action:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


@_register
@dataclass(frozen=True)
class AddObject(Action):
    """A new object ``obj_id`` named ``name`` drawn in RGB ``color``."""

    obj_id: int
    name: str
    color: tuple[int, int, int]

    @classmethod
    def _from_fields(cls, d):
        return cls(int(d["obj_id"]), str(d["name"]), _rgb(d["color"]))


@_register
@dataclass(frozen=True)
class RenameObject(Action):
    obj_id: int
    name: str


@_register
@dataclass(frozen=True)
class RecolorObject(Action):
    obj_id: int
    color: tuple[int, int, int]

    @classmethod
    def _from_fields(cls, d):
        return cls(int(d["obj_id"]), _rgb(d["color"]))


@_register
@dataclass(frozen=True)
class RemoveObject(Action):
    """Remove the object with all its prompts and masks."""

    obj_id: int


@_register
@dataclass(frozen=True)
class AddPoints(Action):
    """Clicks for ``obj_id`` on ``frame_idx``: ``point_coords`` ((x, y), ...) pixels and
    ``point_labels`` (1 positive / 0 negative, ...). Usually one click; several when a burst of
    clicks was merged by the worker (one model call, one undo step).
    ``multimask_output`` (images): None = the session's rule."""

    obj_id: int
    frame_idx: int
    point_coords: tuple[tuple[float, float], ...]
    point_labels: tuple[int, ...]
    multimask_output: bool | None = None

    @classmethod
    def _from_fields(cls, d):
        return cls(
            int(d["obj_id"]),
            int(d["frame_idx"]),
            tuple((float(x), float(y)) for x, y in d["point_coords"]),
            tuple(int(v) for v in d["point_labels"]),
            d.get("multimask_output"),
        )


@_register
@dataclass(frozen=True)
class SetBox(Action):
    """An XYXY pixel ``box`` for ``obj_id`` on ``frame_idx``; it replaces that object's
    prompts on that frame (SAM 2 takes the box before any click)."""

    obj_id: int
    frame_idx: int
    box: tuple[float, float, float, float]

    @classmethod
    def _from_fields(cls, d):
        return cls(int(d["obj_id"]), int(d["frame_idx"]), _xyxy(d["box"]))


@_register
@dataclass(frozen=True)
class SetMask(Action):
    """A mask prompt ``(H, W)`` bool for ``obj_id`` on ``frame_idx`` (JSON: COCO RLE)."""

    obj_id: int
    frame_idx: int
    mask: np.ndarray

    @classmethod
    def _from_fields(cls, d):
        m = d["mask"]
        return cls(
            int(d["obj_id"]), int(d["frame_idx"]), rle_to_mask(m) if isinstance(m, dict) else np.asarray(m, bool)
        )

    def __eq__(self, other):
        return (
            isinstance(other, SetMask)
            and (self.obj_id, self.frame_idx) == (other.obj_id, other.frame_idx)
            and np.array_equal(self.mask, other.mask)
        )

    __hash__ = None  # type: ignore[assignment]  # unhashable: the mask compares by value (typeshed: a method)


@_register
@dataclass(frozen=True)
class ClearPrompts(Action):
    """Clear prompts (and the masks they produced): of ``obj_id`` (None: every object) on
    ``frame_idx`` (None: every frame)."""

    obj_id: int | None = None
    frame_idx: int | None = None


@_register
@dataclass(frozen=True)
class SelectCandidate(Action):
    """Image sessions: make candidate ``index`` the mask of ``obj_id``."""

    obj_id: int
    index: int


@_register
@dataclass(frozen=True)
class Propagate(Action):
    """Video sessions: track every prompted object. ``direction`` is ``"forward"``,
    ``"backward"`` or ``"both"``; ``frames_done`` is the number of frames processed when the
    propagation was cancelled (None: it ran to the end), so a replay stops at the same frame."""

    direction: str = "forward"
    start_frame_idx: int | None = None
    max_frame_num_to_track: int | None = None
    frames_done: int | None = None


@_register
@dataclass(frozen=True)
class Undo(Action):
    """Log-only record: the user undid the last action."""

    undoable: ClassVar[bool] = False


@_register
@dataclass(frozen=True)
class Redo(Action):
    """Log-only record: the user redid the last undone action."""

    undoable: ClassVar[bool] = False


def action_from_json(d: dict) -> Action:
    """Rebuild any action record from its :meth:`Action.to_json` dict.

    Raises
    ------
    UnknownNameError
        ``d["type"]`` is not an action type (the message lists them).
    DataError
        A field is missing or malformed.
    """
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in _REGISTRY:
        raise UnknownNameError("action type", kind, _REGISTRY)
    try:
        return _REGISTRY[kind]._from_fields(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"Malformed {kind} record {str(d)[:120]}: {exc!r}.") from exc


ACTION_TYPES: tuple[str, ...] = tuple(_REGISTRY)
"""Names of every action record type."""

__all__ = [
    "ACTION_TYPES",
    "Action",
    "AddObject",
    "AddPoints",
    "ClearPrompts",
    "Propagate",
    "RecolorObject",
    "Redo",
    "RemoveObject",
    "RenameObject",
    "SelectCandidate",
    "SetBox",
    "SetMask",
    "Undo",
    "action_from_json",
    "mask_to_rle",
    "rle_to_mask",
]
