"""An image session that also takes a whole mask as an object's mask (for "segment everything").

:class:`~workbench.sessions.ImageSession` has clicks, boxes and candidate selection but no way
to give an object a ready-made mask. Picking one of the automatic masks of "segment
everything" into an object needs one, so :class:`MaskableImageSession` adds ``set_mask``
through the existing :class:`~workbench.sessions.SetMask` action record (``frame_idx`` 0):
undoable, logged, replayable from a JSONL log (the mask travels as COCO RLE), saved and loaded
like any other image session.

The mask becomes the object's only candidate; its logits for the next click are the mask as
signed-distance logits in SAM's 256 x 256 low-resolution frame
(:func:`workbench.backends.classical.common.mask_to_logits`), so a later click refines the
picked mask (``mask_input``) instead of starting over. ``iou_predictions`` is NaN: no model
estimated this mask.

Intended to move into :class:`ImageSession` itself (``ImageSession.set_mask(mask, obj_id=None)``);
:func:`add_mask_object` already calls ``session.set_mask`` on any session that has it.
"""
from __future__ import annotations

import numpy as np

from ..errors import BackendError, PromptError
from ..sessions import ImageResult, ImageSession, Prompt, SetMask
from ..sessions.state import ObjectTable, frozen


class MaskableImageSession(ImageSession):
    """:class:`~workbench.sessions.ImageSession` plus :meth:`set_mask` (same constructor)."""

    def set_mask(self, mask: np.ndarray, obj_id: int | None = None) -> ImageResult:
        """Make ``mask`` the mask of ``obj_id`` (default: the active object), replacing its
        prompts. Undoable; recorded as ``SetMask(obj_id, 0, mask)``.

        Parameters
        ----------
        mask : (H, W) bool (or 0/1) array, the image's size
        obj_id : int, optional

        Returns
        -------
        ImageResult
            One candidate (the mask), ``iou_predictions`` [NaN], logits from the mask.

        Raises
        ------
        PromptError
            Wrong shape or an empty mask.
        UnknownNameError
            ``obj_id`` does not exist.
        """
        oid = self._resolve(obj_id)
        m = np.asarray(mask)
        if m.shape != (self.height, self.width):
            raise PromptError(f"mask must be (H, W) = ({self.height}, {self.width}) like the image; got {m.shape}.")
        m = m.astype(bool) if m.dtype != bool else m
        if not m.any():
            raise PromptError("The mask is empty: give an object a mask with at least one pixel.")
        return self._do(SetMask(oid, 0, frozen(m)))

    def set_mask_async(self, mask, obj_id=None, on_done=None):
        """:meth:`set_mask` on the session worker; returns a Future of the ImageResult."""
        return self.submit(self.set_mask, mask, obj_id, on_done=on_done)

    def _dispatch(self, action, **ctx):
        if not isinstance(action, SetMask):
            return super()._dispatch(action, **ctx)
        from ..backends.classical import mask_to_logits

        if int(action.frame_idx) != 0:
            raise PromptError(f"Image sessions have one frame (frame_idx 0); got frame_idx={action.frame_idx}.")
        m = np.asarray(action.mask, bool)
        if m.shape != (self.height, self.width):
            raise PromptError(f"SetMask mask is {m.shape}; the image is ({self.height}, {self.width}).")
        m = frozen(m)
        result = ImageResult(frozen(m[None]), frozen(np.array([np.nan], np.float32)),
                             frozen(mask_to_logits(m)[None].astype(np.float32)), 0, False, False, 0.0)
        with self._lock:
            oid = ObjectTable.require(self._state.objects, action.obj_id)
            self._state.prompts[oid] = Prompt(mask=m)
            self._state.results[oid] = result
            self._state.masks[oid] = m
        return result, action


def add_mask_object(session, mask: np.ndarray, name: str | None = None, into_active: bool = False) -> int:
    """Give ``mask`` to a new object (default) or to the active one; returns its ``obj_id``.

    Works with any image session that has ``set_mask(mask, obj_id)``
    (:class:`MaskableImageSession`). Two undo steps when a new object is created (add object,
    set mask).

    Raises
    ------
    BackendError
        The session cannot take a mask (a plain ``ImageSession``): build it as
        :class:`MaskableImageSession`.
    PromptError
        Bad mask; ``into_active`` without an active object.
    """
    if not callable(getattr(session, "set_mask", None)):
        raise BackendError(f"{type(session).__name__} cannot take a mask as an object's mask: create the session "
                           "as workbench.widgets.MaskableImageSession(backend, image, ...) to pick masks.")
    if not np.asarray(mask).any():
        raise PromptError("The mask is empty: pick a mask with at least one pixel.")
    if into_active:
        oid = session._resolve(None)
    else:
        oid = session.add_object(name)
    session.set_mask(mask, oid)
    return oid


__all__ = ["MaskableImageSession", "add_mask_object"]
