"""What a :class:`~workbench.widgets.canvas.prompt_canvas.PromptCanvas` draws and prompts: one image of
an :class:`~workbench.sessions.ImageSession`, or one frame of a
:class:`~workbench.sessions.VideoSession`.

Both adapters expose the same small interface (image, masks and prompts of the shown frame;
click / box / clear / mask operations as synchronous calls on the session), so the canvas does
not care which session it drives. Coordinates: ``x, y`` are image pixels (SAM ``point_coords``
order, x = column), boxes XYXY pixels, masks ``(H, W)`` bool.

The adapters call session methods only (never the backend).
"""

from __future__ import annotations

import numpy as np

from ...errors import PromptError
from ...sessions import ImageSession, VideoSession


def add_mask_object(session: ImageSession, mask: np.ndarray, name: str | None = None, into_active: bool = False) -> int:
    """Give ``mask`` to a new object (default) or to the active one of an image session
    (:meth:`~workbench.sessions.ImageSession.set_mask`); returns its ``obj_id``. Two undo steps
    when a new object is created (add object, set mask).

    Raises
    ------
    PromptError
        Bad mask; ``into_active`` without an active object.
    """
    if not np.asarray(mask).any():
        raise PromptError("The mask is empty: pick a mask with at least one pixel.")
    if into_active:
        oid = session._resolve(None)
    else:
        oid = session.add_object(name)
    session.set_mask(mask, oid)
    return oid


class ImageTarget:
    """Adapter for an :class:`~workbench.sessions.ImageSession` (frame 0)."""

    kind = "image"

    def __init__(self, session: ImageSession):
        self.session = session
        self.frame_idx = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.session.height, self.session.width

    def image(self) -> np.ndarray:
        return self.session.image

    def masks(self) -> dict[int, np.ndarray]:
        """``obj_id -> (H, W) bool`` of every object with a mask."""
        return self.session.masks

    def prompts(self) -> dict:
        """``obj_id -> Prompt`` of the objects prompted."""
        s = self.session
        out = {}
        for oid in s.obj_ids:
            p = s.prompt_of(oid)
            if not p.is_empty:
                out[oid] = p
        return out

    # -- operations (synchronous; the canvas queues them on session.worker when async) ----------
    def click(self, x: int, y: int, positive: bool):
        return self.session.add_point(x, y, positive)

    def click_async(self, x: int, y: int, positive: bool, on_done):
        """Queue a click; a newer click on the same object supersedes a pending one."""
        return self.session.add_point_async(x, y, positive, on_done=on_done)

    def box(self, box):
        return self.session.set_box(*box)

    def box_key(self):
        return ("box", 0, self.session._resolve(None))

    def clear_active(self) -> None:
        self.session.clear()

    def set_mask(self, mask: np.ndarray, name: str | None = None, into_active: bool = False) -> int:
        return add_mask_object(self.session, mask, name=name, into_active=into_active)

    def generate_masks(self, **params) -> list[dict]:
        """ "Segment everything" on the image (the session's generator)."""
        return self.session.generate_masks(**params)

    def candidates(self) -> dict | None:
        """The active object's candidates: ``masks`` (C, H, W) bool, ``pred`` (C,) model IoU
        estimates, ``true`` (C,) IoU with the ground truth or None, ``selected`` index,
        ``multimask`` bool, ``obj_id``; None before a prediction."""
        s = self.session
        oid = s.active_obj_id
        r = None if oid is None else s.result(oid)
        if r is None:
            return None
        return {
            "obj_id": oid,
            "masks": r.candidates,
            "pred": r.iou_predictions,
            "true": s.true_iou,
            "selected": r.selected,
            "multimask": r.multimask_output,
        }

    def select_candidate(self, index: int):
        return self.session.select_candidate(index)

    def needs_embedding(self) -> bool:
        """True when the backend holds another image, so the next call embeds this one first."""
        return self.session.needs_embedding()

    def latency_ms(self) -> float:
        return float(self.session.last_latency_ms)


class VideoFrameTarget:
    """Adapter for one frame (``frame_idx``, settable) of a :class:`~workbench.sessions.VideoSession`."""

    kind = "video"

    def __init__(self, session: VideoSession, frame_idx: int = 0):
        self.session = session
        self.frame_idx = session._check_frame(frame_idx)

    @property
    def shape(self) -> tuple[int, int]:
        return self.session.height, self.session.width

    def image(self) -> np.ndarray:
        return self.session.frame(self.frame_idx)

    def masks(self) -> dict[int, np.ndarray]:
        return self.session.masks_at(self.frame_idx)

    def prompts(self) -> dict:
        f = self.frame_idx
        return {oid: p for (fi, oid), p in self.session.prompts.items() if fi == f and not p.is_empty}

    def click(self, x: int, y: int, positive: bool):
        return self.session.add_point(self.frame_idx, x, y, positive)

    def click_async(self, x: int, y: int, positive: bool, on_done):
        return self.session.add_point_async(self.frame_idx, x, y, positive, on_done=on_done)

    def box(self, box):
        return self.session.set_box(self.frame_idx, *box)

    def box_key(self):
        return ("box", self.frame_idx, self.session._resolve(None))

    def clear_active(self) -> None:
        self.session.clear(frame_idx=self.frame_idx)

    def set_mask(self, mask: np.ndarray, name: str | None = None, into_active: bool = False) -> int:
        if not np.asarray(mask).any():
            raise PromptError("The mask is empty: pick a mask with at least one pixel.")
        oid = self.session._resolve(None) if into_active else self.session.add_object(name)
        self.session.set_mask(self.frame_idx, oid, mask)
        return oid

    def generate_masks(self, **params) -> list[dict]:
        """ "Segment everything" on the shown frame (the weight-free generator)."""
        return self.session.generate_masks(self.frame_idx, **params)

    def candidates(self) -> dict | None:
        return None  # video predictors return one mask per object

    def select_candidate(self, index: int):
        raise PromptError("Video sessions have no mask candidates to choose from.")

    def needs_embedding(self) -> bool:
        return False

    def latency_ms(self) -> float:
        return float(self.session.last_latency_ms)


def make_target(session: ImageSession | VideoSession, frame_idx: int | None = None):
    """The adapter for ``session``: :class:`VideoFrameTarget` for a
    :class:`~workbench.sessions.VideoSession`, else :class:`ImageTarget`."""
    if isinstance(session, VideoSession):
        return VideoFrameTarget(session, 0 if frame_idx is None else frame_idx)
    if frame_idx not in (None, 0):
        raise PromptError(f"Image sessions have one frame (frame_idx 0); got frame_idx={frame_idx}.")
    return ImageTarget(session)


__all__ = ["ImageTarget", "VideoFrameTarget", "add_mask_object", "make_target"]
