"""Video backend of the ``transformers`` family: ``Sam2VideoModel`` (and ``EdgeTamVideoModel``,
``Sam3TrackerVideoModel``) with its inference session behind
:class:`~workbench.backends.base.VideoBackend`.

Prompts are checked by :mod:`workbench.backends.validate` (the rules of every backend), then
added to the session with the processor's ``add_inputs_to_inference_session``; the frame is run
with ``model(inference_session=..., frame_idx=...)`` and tracking with
``propagate_in_video_iterator``. Frames are prepared as the official SAM 2 video loader does
(PIL resize of the uint8 frame to the model size, /255, then the processor's normalisation),
so both SAM 2 packages see the same pixels. Masks are the low-resolution logits upsampled to
the frame size by ``post_process_masks`` and thresholded at 0.
Source: ``transformers/models/sam2_video/{modeling,processing}_sam2_video.py`` (5.25.0).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...errors import BackendError, PromptError
from ...io.frames import FrameSource
from ...types import FrameMasks, ModelInfo
from ..validate import check_box, check_frame_obj, check_mask, check_video_points
from .image import make_processor
from .loading import ARCHITECTURES, arch_key, hf_class, model_image_size

_PER_OBJECT = ("point_inputs_per_obj", "mask_inputs_per_obj", "output_dict_per_obj", "frames_tracked_per_obj")
"""Session attributes keyed by object index (``Sam2VideoInferenceSession``, transformers 5.25.0)."""


def _copy_tree(value):
    """Copy nested dicts and lists, sharing tensors (the session replaces tensors, it never
    writes into a stored one)."""
    if isinstance(value, dict):
        return type(value)((k, _copy_tree(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_copy_tree(v) for v in value]
    return value


class TransformersVideoBackend:
    """Promptable video object tracking with a ``transformers`` SAM-family video model.

    Parameters
    ----------
    model : Sam2VideoModel, EdgeTamVideoModel or Sam3TrackerVideoModel
        From :func:`workbench.backends.transformers.loading.build_transformers_model` with
        ``mode="video"``.
    info : ModelInfo
        Its description (``info.extra["architecture"]`` picks the processor and session).

    Notes
    -----
    All frames are prepared when a video is loaded (3 x S x S float32 each), as the official
    predictor does by default.
    """

    def __init__(self, model, info: ModelInfo):
        self.model = model
        self.info = info
        self.device = next(model.parameters()).device
        self.image_size = model_image_size(model)
        arch = str(info.extra.get("architecture", "sam2"))
        self.processor = make_processor(arch, self.image_size, video=True)
        self._session_cls = hf_class(ARCHITECTURES[arch_key(arch)].video_session)
        self.session = None
        self._hw = (0, 0)

    # -- state ----------------------------------------------------------------------------------
    @property
    def inference_state(self):
        """The ``transformers`` inference session of the loaded video (None before :meth:`init_state`)."""
        return self.session

    @property
    def num_frames(self) -> int:
        """Number of frames of the loaded video (0 before :meth:`init_state`)."""
        return 0 if self.session is None else int(self.session.num_frames or 0)

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the loaded video's frames (``(0, 0)`` before :meth:`init_state`)."""
        return self._hw

    @property
    def obj_ids(self) -> list[int]:
        """Object ids prompted so far, in insertion order."""
        return [] if self.session is None else [int(o) for o in self.session.obj_ids]

    def _require(self):
        if self.session is None:
            raise BackendError("No video loaded: call init_state(video) first.")
        return self.session

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        size = self.image_size
        small = np.asarray(Image.fromarray(frame).resize((size, size)))
        return (small / 255.0).astype(np.float32)

    def init_state(self, video: str | Path | Sequence[np.ndarray]) -> None:
        """Load a video (a folder of frames named by index, a video file, or ``(H, W, 3)`` uint8
        RGB frames) and reset all prompts.

        Raises
        ------
        DatasetNotFoundError, DataError
            Missing or unreadable video.
        """
        source = video if isinstance(video, FrameSource) else FrameSource(video, cache_size=2)
        frames = [self._prepare(source[i]) for i in range(len(source))]
        h, w = source[0].shape[:2]
        pixels = self.processor.image_processor(images=frames, do_resize=False, do_rescale=False, return_tensors="pt")[
            "pixel_values"
        ]
        self.session = self._session_cls(
            video=pixels,
            video_height=int(h),
            video_width=int(w),
            inference_device=self.device,
            video_storage_device=self.device,
            inference_state_device=self.device,
            dtype=torch.float32,
        )
        self._hw = (int(h), int(w))

    def reset(self) -> None:
        """Clear all prompts and tracking results, keeping the loaded video."""
        self._require().reset_tracking_data()

    def close(self) -> None:
        """Release the loaded video and its tracking state."""
        self.session = None
        self._hw = (0, 0)

    # -- prompts --------------------------------------------------------------------------------
    def _masks(self, out, logits: bool = False) -> FrameMasks:
        with torch.inference_mode():
            full = self.processor.post_process_masks(
                [out.pred_masks.float().cpu()], original_sizes=[list(self._hw)], binarize=False
            )[0][:, 0]
        scores = out.object_score_logits
        return FrameMasks(
            frame_idx=int(out.frame_idx),
            obj_ids=[int(o) for o in out.object_ids],
            masks=(full > 0.0).numpy(),
            object_scores=None if scores is None else scores.float().cpu().numpy().reshape(-1),
            logits=full.numpy().astype(np.float32) if logits else None,
        )

    def _run_frame(self, frame_idx: int) -> FrameMasks:
        with torch.inference_mode():
            out = self.model(inference_session=self.session, frame_idx=frame_idx)
        self._align_object_scores()
        return self._masks(out)

    def _align_object_scores(self) -> None:
        """Give stored object scores of mask prompts the decoder's ``(B, 1, 1)`` shape.

        ``EdgeTamVideoModel`` (transformers 5.25.0) stores ``(B, 1)`` scores for a frame prompted
        with a mask and ``(B, 1, 1)`` for one run through the decoder, then fails to concatenate
        them when objects of both kinds share a frame. The values are unchanged."""
        if self.info.extra.get("architecture") != "edgetam" or self.session is None:
            return
        for per_obj in self.session.output_dict_per_obj.values():
            for out in per_obj["cond_frame_outputs"].values():
                scores = out.get("object_score_logits")
                if isinstance(scores, torch.Tensor) and scores.dim() == 2:
                    out["object_score_logits"] = scores[:, None]

    def _check(self, frame_idx, obj_id) -> tuple[int, int]:
        return check_frame_obj(frame_idx, obj_id, self.num_frames if self.session is not None else 0)

    def add_points(
        self,
        frame_idx: int,
        obj_id: int,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        clear_old_points: bool = True,
    ) -> FrameMasks:
        """Add clicks (x, y pixels; labels 1/0) for ``obj_id`` on ``frame_idx``; return the
        masks of all objects on that frame.

        Raises
        ------
        BackendError, PromptError
        """
        self._require()
        frame_idx, obj_id = self._check(frame_idx, obj_id)
        coords, labels = check_video_points(point_coords, point_labels, self._hw)
        self.processor.add_inputs_to_inference_session(
            self.session,
            frame_idx=frame_idx,
            obj_ids=obj_id,
            input_points=[[coords.tolist()]],
            input_labels=[[labels.tolist()]],
            clear_old_inputs=bool(clear_old_points),
        )
        return self._run_frame(frame_idx)

    def add_box(self, frame_idx: int, obj_id: int, box: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an XYXY pixel box (replaces its clicks there).

        Raises
        ------
        BackendError, PromptError
        """
        self._require()
        frame_idx, obj_id = self._check(frame_idx, obj_id)
        b = check_box(box, self._hw)
        self.processor.add_inputs_to_inference_session(
            self.session, frame_idx=frame_idx, obj_ids=obj_id, input_boxes=[[b.tolist()]], clear_old_inputs=True
        )
        return self._run_frame(frame_idx)

    def add_mask(self, frame_idx: int, obj_id: int, mask: np.ndarray) -> FrameMasks:
        """Prompt ``obj_id`` on ``frame_idx`` with an ``(H, W)`` bool mask at frame size.

        Raises
        ------
        BackendError, PromptError
            Wrong mask shape (it must match the frame size).
        """
        self._require()
        frame_idx, obj_id = self._check(frame_idx, obj_id)
        m = check_mask(mask, self._hw)
        self.processor.add_inputs_to_inference_session(
            self.session, frame_idx=frame_idx, obj_ids=obj_id, input_masks=[torch.from_numpy(m)]
        )
        return self._run_frame(frame_idx)

    # -- tracking -------------------------------------------------------------------------------
    def propagate(
        self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None, reverse: bool = False
    ) -> Iterator[FrameMasks]:
        """Track every object from ``start_frame_idx`` (default: the first prompted frame) forward,
        or backward when ``reverse``; yield one :class:`FrameMasks` per frame (with
        ``object_scores``).

        Raises
        ------
        BackendError
            No video, or no object prompted yet.
        PromptError
            ``start_frame_idx`` out of range or negative ``max_frame_num_to_track``.
        """
        return self._checked(start_frame_idx, max_frame_num_to_track, reverse, False)

    def propagate_logits(
        self, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None, reverse: bool = False
    ) -> Iterator[FrameMasks]:
        """As :meth:`propagate`, with ``FrameMasks.logits`` (``(O, H, W)`` float32 mask logits at
        frame size; ``masks == logits > 0``): the :class:`~workbench.backends.base.MaskLogits`
        capability."""
        return self._checked(start_frame_idx, max_frame_num_to_track, reverse, True)

    def _checked(self, start, max_frames, reverse, logits) -> Iterator[FrameMasks]:
        session = self._require()
        if not session.obj_ids:
            raise BackendError("No object prompted yet: call add_points / add_box / add_mask before propagate().")
        if start is not None:
            start, _ = self._check(start, 0)
        elif not any(d["cond_frame_outputs"] for d in session.output_dict_per_obj.values()):
            raise BackendError("No prompted frame has been run yet: add a prompt before propagate().")
        if max_frames is not None and int(max_frames) < 0:
            raise PromptError(f"max_frame_num_to_track must be >= 0; got {max_frames}.")
        return self._propagate(start, max_frames, bool(reverse), logits)

    def _propagate(self, start, max_frames, reverse, logits) -> Iterator[FrameMasks]:
        it = self.model.propagate_in_video_iterator(
            self.session, start_frame_idx=start, max_frame_num_to_track=max_frames, reverse=reverse
        )
        while True:
            with torch.inference_mode():
                try:
                    out = next(it)
                except StopIteration:
                    return
                item = self._masks(out, logits)
            yield item

    def remove_object(self, obj_id: int) -> None:
        """Remove ``obj_id`` with all its prompts and outputs; the other objects keep theirs
        (each object is tracked on its own, so their results do not change).

        Raises
        ------
        PromptError
            ``obj_id`` is not tracked; the message lists the tracked ids.
        """
        s = self._require()
        if obj_id not in s.obj_ids:
            raise PromptError(f"obj_id {obj_id!r} is not tracked. Tracked ids: {list(s.obj_ids)}.")
        keep = [o for o in s.obj_ids if o != obj_id]
        old = {o: s.obj_id_to_idx(o) for o in keep}
        per_obj = {name: getattr(s, name) for name in _PER_OBJECT}
        s._obj_id_to_idx.clear()
        s._obj_idx_to_id.clear()
        for name, table in per_obj.items():
            setattr(s, name, {new: table[old[o]] for new, o in enumerate(keep)})
        for new, o in enumerate(keep):
            s._obj_id_to_idx[o] = new
            s._obj_idx_to_id[new] = o
        s.obj_ids = list(keep)
        s.obj_with_new_inputs = [o for o in s.obj_with_new_inputs if o != obj_id]

    # -- exact undo -------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Copy of the session's objects, prompts and outputs, for :meth:`restore`.

        Raises
        ------
        BackendError
            No video loaded.
        """
        s = self._require()
        state = {name: _copy_tree(getattr(s, name)) for name in _PER_OBJECT}
        state["_obj_id_to_idx"] = copy.copy(s._obj_id_to_idx)
        state["_obj_idx_to_id"] = copy.copy(s._obj_idx_to_id)
        state["obj_ids"] = list(s.obj_ids)
        state["obj_with_new_inputs"] = list(s.obj_with_new_inputs)
        return {"session": s, "state": state}

    def restore(self, snapshot: object) -> None:
        """Return to the state of a :meth:`snapshot` (restorable any number of times).

        Raises
        ------
        BackendError
            No video loaded, or the snapshot was taken on another video.
        """
        s = self._require()
        if not isinstance(snapshot, dict) or snapshot.get("session") is not s:
            raise BackendError(
                "This snapshot belongs to another video (init_state was called since); it cannot be restored."
            )
        for name, value in snapshot["state"].items():
            setattr(s, name, _copy_tree(value) if isinstance(value, dict) else copy.copy(value))


__all__ = ["TransformersVideoBackend"]
