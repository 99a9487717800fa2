"""Interactive video object tracking with any :class:`~workbench.backends.base.VideoBackend`.

The interaction follows SAM 2's video notebook (``notebooks/video_predictor_example.ipynb``):
prompt objects (clicks, a box, or a mask) on any frame, propagate through the video, add
refinement clicks on a frame where tracking went wrong and propagate again. Undo restores the
session state and the backend's model state (``backend.snapshot()`` / ``restore``) exactly,
including after a propagation.

Propagation runs inside the session's action (``_action_lock`` held) and writes the session
state only under ``_lock``, frame by frame, so a UI can read masks meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backends import VideoBackend
from ..errors import BackendError, DataError, PromptError, UnknownNameError
from ..io.frames import FrameSource
from ..io.label_maps import merge_object_masks
from ..metrics.boxes import mask_box, unmatched_boxes
from ..types import Detector, FrameMasks, MemoryTrace
from .actions import Action, AddObject, AddPoints, ClearPrompts, Propagate, RemoveObject, SetBox, SetMask
from .base import SessionBase
from .capabilities import _supports_memory_trace, _supports_policies, _supports_snapshots, backend_video_settings
from .state import ObjectTable, PackedMask, Prompt, VideoState, default_color, frozen
from .worker import CancelToken, Worker, is_cancelled

DIRECTIONS = ("forward", "backward", "both")


@dataclass(frozen=True)
class PropagationResult:
    """What one :meth:`VideoSession.propagate` call did.

    Attributes
    ----------
    frames : list of int
        Frame indices processed, in processing order (the start frame twice for "both").
    cancelled : bool
        Stopped early by the cancel token.
    seconds : float
        Wall time.
    """

    frames: list[int]
    cancelled: bool
    seconds: float

    @property
    def fps(self) -> float:
        """Frames per second."""
        return len(self.frames) / self.seconds if self.seconds > 0 else 0.0


def expected_frames(num_frames: int, start: int, max_frames: int | None, reverse: bool) -> int:
    """Frames SAM 2's ``propagate_in_video`` yields from ``start``: up to ``max_frames`` after
    the start (all by default) in the direction; none backward from frame 0."""
    m = num_frames if max_frames is None else int(max_frames)
    if reverse:
        return start - max(start - m, 0) + 1 if start > 0 else 0
    return min(start + m, num_frames - 1) - start + 1


class VideoSession(SessionBase):
    """Prompting and tracking objects through one video, with exact undo/redo.

    Parameters
    ----------
    backend : VideoBackend
        Must provide ``snapshot()`` / ``restore()``; ``init_state(video)`` is called here.
    video : str, Path, FrameSource or sequence of (H, W, 3) uint8 RGB frames
        A JPEG/PNG frame folder, a video file, or frames in memory.
    first_object : str or None
        Name of an object created up front (id 1); None for none.
    max_history : int
        Undo depth (each step keeps a structural copy of the model state; tensors are shared).
    worker : Worker, optional
    autosave : str or Path, optional
        Folder to autosave every action (and every propagated frame) to as it happens
        (:meth:`enable_autosave`); after a crash rebuild the session with :meth:`recover`.

    Raises
    ------
    BackendError
        The backend cannot snapshot its state.
    DatasetNotFoundError, DataError
        Unreadable video.
    """

    kind = "video"
    backend: VideoBackend
    _state: VideoState

    def __init__(
        self,
        backend: VideoBackend,
        video,
        *,
        first_object: str | None = "object 1",
        max_history: int = 100,
        worker: Worker | None = None,
        autosave: str | Path | None = None,
    ):
        super().__init__(max_history=max_history, worker=worker)
        if not _supports_snapshots(backend):
            raise BackendError(
                f"{type(backend).__name__} has no snapshot()/restore(); a VideoSession needs them for exact undo."
            )
        self.backend = backend
        self.video = video
        self.frames = video if isinstance(video, FrameSource) else FrameSource(video)
        self.num_frames = len(self.frames)
        self.height, self.width = self.frames.height, self.frames.width
        backend.init_state(video)
        if backend.num_frames != self.num_frames:
            raise DataError(f"The backend loaded {backend.num_frames} frames but the video has {self.num_frames}.")
        self.last_latency_ms: float = 0.0
        """Wall time of the last prompt call on the backend, milliseconds."""
        self._cancel: Any = None  # token of the running propagation (anything with set() / is_set())
        self._state = VideoState()
        if first_object is not None:
            self._object_action(AddObject(1, str(first_object), default_color(1)))
        self._remember_initial()
        if autosave is not None:
            self.enable_autosave(autosave)

    # -- snapshots ---------------------------------------------------------------------------------
    def _snapshot(self):
        with self._lock:
            return self._state.copy(), self.backend.snapshot()

    def _restore(self, snap) -> None:
        state, model = snap
        self.backend.restore(model)
        with self._lock:
            self._state = state.copy()

    @property
    def backend_video_settings(self) -> str:
        """The SAM 2 memory preset and the settings in effect that differ from sam2's defaults
        (e.g. ``"memory preset interactive (add_all_frames_to_correct_as_cond=True)"``); ``""`` for
        backends without them (:func:`~workbench.sessions.capabilities.backend_video_settings`)."""
        return backend_video_settings(self.backend)

    # -- reading -------------------------------------------------------------------------------------
    def frame(self, frame_idx: int) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB frame ``frame_idx``."""
        return self.frames[self._check_frame(frame_idx)]

    def masks_at(self, frame_idx: int) -> dict[int, np.ndarray]:
        """``obj_id -> (H, W) bool`` of every object with a mask on ``frame_idx``."""
        f = self._check_frame(frame_idx)
        with self._lock:
            packed = dict(self._state.masks.get(f, {}))
        return {oid: p.unpack() for oid, p in packed.items()}

    def presence_at(self, frame_idx: int) -> dict[int, bool]:
        """``obj_id -> bool``: the object's mask on ``frame_idx`` is not empty."""
        f = self._check_frame(frame_idx)
        with self._lock:
            return {oid: p.area > 0 for oid, p in self._state.masks.get(f, {}).items()}

    def areas_at(self, frame_idx: int) -> dict[int, int]:
        """``obj_id -> mask area`` in pixels on ``frame_idx``."""
        f = self._check_frame(frame_idx)
        with self._lock:
            return {oid: p.area for oid, p in self._state.masks.get(f, {}).items()}

    def scores_at(self, frame_idx: int) -> dict[int, float | None]:
        """``obj_id -> object score`` (logit, > 0 = present) on ``frame_idx`` when the backend
        reports one in ``FrameMasks.object_scores``, else None."""
        f = self._check_frame(frame_idx)
        with self._lock:
            return {oid: p.score for oid, p in self._state.masks.get(f, {}).items()}

    def label_map_at(self, frame_idx: int) -> np.ndarray:
        """``(H, W)`` int32 object ids on ``frame_idx`` (0 = background); where objects overlap
        the lower id wins, as SAM 2's ``tools/vos_inference.py`` writes DAVIS PNGs
        (:func:`workbench.io.label_maps.merge_object_masks`)."""
        masks = self.masks_at(frame_idx)
        return merge_object_masks(
            {oid: masks[oid] for oid in self.obj_ids if oid in masks}, (self.height, self.width), np.int32
        )

    @property
    def tracked_frames(self) -> list[int]:
        """Sorted frame indices holding at least one mask."""
        with self._lock:
            return sorted(f for f, m in self._state.masks.items() if m)

    @property
    def prompts(self) -> dict[tuple[int, int], Prompt]:
        """``(frame_idx, obj_id) -> Prompt``."""
        with self._lock:
            return dict(self._state.prompts)

    def prompt_of(self, frame_idx: int, obj_id: int | None = None) -> Prompt:
        oid = self._resolve(obj_id)
        with self._lock:
            return self._state.prompts.get((int(frame_idx), oid), Prompt())

    def prompted_frames(self, obj_id: int | None = None) -> list[int]:
        """Sorted frames with prompts (of ``obj_id``, or of any object when None)."""
        with self._lock:
            return sorted({f for f, o in self._state.prompts if obj_id is None or o == obj_id})

    # -- checks --------------------------------------------------------------------------------------
    def _check_frame(self, frame_idx) -> int:
        if (
            isinstance(frame_idx, bool)
            or not isinstance(frame_idx, (int, np.integer))
            or not 0 <= frame_idx < self.num_frames
        ):
            raise PromptError(f"frame_idx must be an integer in [0, {self.num_frames - 1}]; got {frame_idx!r}.")
        return int(frame_idx)

    def _check_xy(self, x, y, frame_idx) -> None:
        self._check_frame(frame_idx)
        self._check_inside(x, y, "frame")

    # -- prompts ---------------------------------------------------------------------------------------
    def add_point(
        self, frame_idx: int, x: float, y: float, positive: bool = True, obj_id: int | None = None
    ) -> np.ndarray:
        """Click at column ``x``, row ``y`` (pixels) on ``frame_idx`` for ``obj_id`` (default
        active). On a frame that was already tracked this is a refinement click (SAM 2 then
        corrects the tracked mask); propagate again afterwards. Returns the object's new
        ``(H, W)`` bool mask on that frame.

        Raises
        ------
        PromptError
            Frame out of range, click outside the frame.
        UnknownNameError
            ``obj_id`` does not exist (lists the valid ids).
        """
        oid = self._resolve(obj_id)
        self._check_xy(x, y, frame_idx)
        return self._do(AddPoints(oid, int(frame_idx), ((float(x), float(y)),), (1 if positive else 0,)))

    def add_points(self, frame_idx: int, point_coords, point_labels, obj_id: int | None = None) -> np.ndarray:
        """Several clicks at once (``(N, 2)`` x, y pixels; ``(N,)`` 1/0 labels): one call, one undo step."""
        oid = self._resolve(obj_id)
        coords = np.asarray(point_coords, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(point_labels).reshape(-1)
        if coords.shape[0] == 0 or labels.shape[0] != coords.shape[0] or not np.isin(labels, (0, 1)).all():
            raise PromptError(
                f"point_coords must be (N, 2) with N >= 1 and point_labels (N,) of 1/0; got "
                f"{coords.shape} and {labels.tolist()}."
            )
        for x, y in coords:
            self._check_xy(x, y, frame_idx)
        return self._do(
            AddPoints(
                oid, int(frame_idx), tuple((float(x), float(y)) for x, y in coords), tuple(int(v) for v in labels)
            )
        )

    def set_box(
        self, frame_idx: int, x0: float, y0: float, x1: float, y1: float, obj_id: int | None = None
    ) -> np.ndarray:
        """XYXY pixel box for ``obj_id`` on ``frame_idx``; replaces its clicks on that frame.

        Raises
        ------
        PromptError
            Not x0 < x1, y0 < y1 inside the frame.
        """
        oid = self._resolve(obj_id)
        f = self._check_frame(frame_idx)
        box = (float(x0), float(y0), float(x1), float(y1))
        if not (0 <= box[0] < box[2] <= self.width and 0 <= box[1] < box[3] <= self.height):
            raise PromptError(
                f"box {list(box)} must be XYXY with 0 <= x0 < x1 <= {self.width} and 0 <= y0 < y1 <= {self.height}."
            )
        return self._do(SetBox(oid, f, box))

    def set_mask(self, frame_idx: int, obj_id: int | None, mask: np.ndarray) -> np.ndarray:
        """Mask prompt ``(H, W)`` bool for ``obj_id`` on ``frame_idx`` (replaces clicks and box).

        Raises
        ------
        PromptError
            Wrong mask shape.
        """
        oid = self._resolve(obj_id)
        f = self._check_frame(frame_idx)
        m = np.asarray(mask)
        if m.shape != (self.height, self.width):
            raise PromptError(f"mask must be (H, W) = ({self.height}, {self.width}); got {m.shape}.")
        return self._do(SetMask(oid, f, frozen(m.astype(bool) if m.dtype != bool else m)))

    def add_objects_from_detector(
        self,
        frame_idx: int,
        detector: Detector,
        *,
        score_threshold: float = 0.0,
        iou_threshold: float | None = None,
        name: str = "detection",
    ) -> list[int]:
        """Detect objects on ``frame_idx`` and add every detection as a new object prompted
        with its box there (then propagate as usual).

        Parameters
        ----------
        frame_idx : int
        detector : Detector
            E.g. ``workbench.backends.detectors.make_detector(DetectorSpec(kind="torchvision",
            weights=...))``, or the ground-truth detector of a video's annotations. It gets the
            frame and ``frame_idx``.
        score_threshold : float
            Also drop detections scoring below this (detectors apply their own threshold).
        iou_threshold : float, optional
            Skip detections whose box IoU with the mask box of an object already on this frame
            is ``>= iou_threshold`` (the Det-SAM2 new-object rule,
            :func:`workbench.metrics.boxes.unmatched_boxes`); None (default) adds every one.
        name : str
            Object names are ``"<name> <label> (<score>)"``.

        Returns
        -------
        list of int
            The new object ids, highest-scoring detection first (empty when nothing was
            found). Each object is two undoable steps (add, box); the last one added is active.

        Raises
        ------
        PromptError
            ``frame_idx`` out of range.
        WorkbenchError
            What the detector raises (e.g. ``ConfigError`` from a ground-truth detector without
            that frame).
        """
        f = self._check_frame(frame_idx)
        det = detector.detect(self.frame(f), frame_idx=f).filter(score_threshold).clipped(self.height, self.width)
        if iou_threshold is not None:
            tracked = [b for m in self.masks_at(f).values() if (b := mask_box(m)) is not None]
            keep = unmatched_boxes(det.boxes, np.array(tracked, np.float32).reshape(-1, 4), iou_threshold)
            det = det.select(np.asarray(keep, dtype=np.int64))
        added = []
        for box, score, label in zip(det.boxes, det.scores, det.labels):
            oid = self.add_object(f"{name} {int(label)} ({float(score):.2f})")
            x0, y0, x1, y1 = (float(v) for v in box)
            self.set_box(f, x0, y0, x1, y1, obj_id=oid)
            added.append(oid)
        return added

    def clear(self, obj_id: int | None = None, frame_idx: int | None = None, all_objects: bool = False) -> None:
        """Remove the prompts of ``obj_id`` (default active; every object with
        ``all_objects``) on ``frame_idx`` (default every frame), with the masks they made
        on those frames. The backend forgets the object and gets its remaining prompts again,
        so propagate afterwards."""
        f = None if frame_idx is None else self._check_frame(frame_idx)
        oid = None if all_objects else self._resolve(obj_id)
        self._do(ClearPrompts(obj_id=oid, frame_idx=f))

    # -- tracking ---------------------------------------------------------------------------------------
    def propagate(
        self,
        direction: str = "forward",
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        progress: Callable[[int, int, int], None] | None = None,
        cancel=None,
    ) -> PropagationResult:
        """Track every prompted object and store its mask on every frame reached.

        Parameters
        ----------
        direction : {"forward", "backward", "both"}
            "both" runs forward then backward from the start frame (SAM 2's notebook).
        start_frame_idx : int, optional
            Default: the earliest prompted frame.
        max_frame_num_to_track : int, optional
            Frames to track after the start in each direction; default all.
        progress : callable, optional
            ``progress(done, total, frame_idx)`` after each frame (on the calling thread).
        cancel : CancelToken, threading.Event or None
            Checked after each frame; when set the propagation stops, the frames done so far
            keep their masks and the model state stays as tracked so far. :meth:`cancel`
            sets the token of the running propagation.

        Returns
        -------
        PropagationResult

        Raises
        ------
        UnknownNameError
            Bad ``direction``.
        PromptError, BackendError
            No prompt yet; frame out of range.
        """
        if direction not in DIRECTIONS:
            raise UnknownNameError("propagation direction", direction, DIRECTIONS)
        if start_frame_idx is not None:
            start_frame_idx = self._check_frame(start_frame_idx)
        if not self.prompts:
            raise PromptError("Nothing to propagate: prompt an object (add_point / set_box / set_mask) first.")
        token = cancel if cancel is not None else CancelToken()
        with self._action_lock:
            self._cancel = token
            try:
                return self._do(
                    Propagate(direction, start_frame_idx, max_frame_num_to_track), progress=progress, cancel=token
                )
            finally:
                self._cancel = None

    def cancel(self) -> None:
        """Stop the running propagation after its current frame (no-op when none runs);
        callable from any thread, e.g. a UI's stop button."""
        token = self._cancel
        if token is not None:
            token.set()

    def _store_frame(self, fm: FrameMasks, obj_ids) -> None:
        scores = fm.object_scores
        with self._lock:
            per = self._state.masks.setdefault(int(fm.frame_idx), {})
            for i, oid in enumerate(fm.obj_ids):
                if oid in obj_ids and oid in self._state.objects:
                    score = None if scores is None else float(np.asarray(scores).reshape(-1)[i])
                    per[int(oid)] = PackedMask.pack(fm.masks[i], score)

    # -- segment everything -------------------------------------------------------------------------
    def generate_masks(self, frame_idx: int, **params) -> list[dict]:
        """ "Segment everything" on frame ``frame_idx`` with the weight-free generator
        (:func:`~workbench.backends.classical.classical_generate_masks`; video
        backends have no automatic mask generator). Not an action: give a record's
        ``segmentation`` to an object with :meth:`set_mask`.

        Returns
        -------
        list of dict
            Records in the format of ``SAM2AutomaticMaskGenerator``, largest first.

        Raises
        ------
        PromptError
            Frame out of range.
        UnknownNameError, ConfigError
            Bad generator parameters.
        """
        return self._classical_masks(np.array(self.frame(frame_idx)), **params)

    # -- async ------------------------------------------------------------------------------------------
    def add_point_async(self, frame_idx, x, y, positive=True, obj_id=None, on_done=None):
        """:meth:`add_point` on the worker; a newer click on the same (frame, object)
        supersedes a pending one (their clicks are merged into one :class:`AddPoints`)."""
        return self._queue_points(obj_id, frame_idx, x, y, positive, on_done)

    def set_box_async(self, frame_idx, x0, y0, x1, y1, obj_id=None, on_done=None):
        return self.submit(
            self.set_box,
            frame_idx,
            x0,
            y0,
            x1,
            y1,
            obj_id,
            key=("box", int(frame_idx), self._resolve(obj_id)),
            on_done=on_done,
        )

    # -- tracking policy ---------------------------------------------------------------------------
    @property
    def tracking_policies(self) -> tuple[str, ...]:
        """Tracking policies the backend offers (empty when it has one way of tracking, e.g.
        classical)."""
        return tuple(self.backend.tracking_policies) if _supports_policies(self.backend) else ()

    @property
    def tracking_policy(self) -> str | None:
        """The policy in use, None when the backend has no policies."""
        return str(self.backend.policy_name) if _supports_policies(self.backend) else None

    def set_tracking_policy(self, name: str, params: dict | None = None) -> None:
        """Track with ``name`` from the next propagation on (frames already tracked keep their
        masks until propagated again). Not an undoable action: it is a setting of the model,
        like the device.

        Raises
        ------
        BackendError
            The backend has no tracking policies.
        UnknownNameError, ConfigError
            Unknown policy or parameter.
        """
        if not _supports_policies(self.backend):
            raise BackendError(
                f"{type(self.backend).__name__} has no tracking policies; use a SAM 2 video "
                "backend (make_video_backend('sam2', ...))."
            )
        with self._action_lock:  # not while a propagation runs
            self.backend.set_policy(name, params)

    # -- teaching view: which memories fed a prediction ------------------------------------------
    @property
    def has_memory_trace(self) -> bool:
        """The backend records which memories fed each prediction (SAM 2 video backends)."""
        return _supports_memory_trace(self.backend)

    def memory_trace(self, frame_idx: int, obj_id: int | None = None) -> MemoryTrace | None:
        """Which memories fed the prediction of ``obj_id`` (default: the active object) on
        ``frame_idx``: the conditioning frames, the non-conditioning memory frames and the object
        pointers the model attended, and the tracking policy's scores, as recorded while it ran
        (:class:`~workbench.types.MemoryTrace`). None when the object has no prediction there yet.

        Raises
        ------
        BackendError
            The backend keeps no such record (e.g. the classical one).
        PromptError
            Frame out of range.
        UnknownNameError
            Unknown ``obj_id``.
        """
        f = self._check_frame(frame_idx)
        oid = self._resolve(obj_id)
        if not _supports_memory_trace(self.backend):
            raise BackendError(
                f"{type(self.backend).__name__} does not record which memories fed its predictions; "
                "use a SAM 2 video backend (make_video_backend('sam2', ...))."
            )
        return self.backend.memory_trace(f, oid)

    def memory_traces(self, obj_id: int | None = None) -> list[MemoryTrace]:
        """:meth:`memory_trace` of ``obj_id`` (default: active) on every frame that has one, in
        frame order.

        Raises
        ------
        BackendError, UnknownNameError
            As :meth:`memory_trace`.
        """
        oid = self._resolve(obj_id)
        traces = (self.memory_trace(f, oid) for f in range(self.num_frames))
        return [t for t in traces if t is not None]

    def set_mask_async(self, frame_idx, obj_id, mask, on_done=None):
        return self.submit(self.set_mask, frame_idx, obj_id, mask, on_done=on_done)

    def propagate_async(
        self,
        direction="forward",
        start_frame_idx=None,
        max_frame_num_to_track=None,
        progress=None,
        cancel=None,
        on_done=None,
    ):
        """:meth:`propagate` on the worker. ``progress`` is called on the worker thread.
        Cancel with ``cancel.cancel()`` / ``cancel.set()`` or :meth:`cancel`."""
        return self.submit(
            self.propagate, direction, start_frame_idx, max_frame_num_to_track, progress, cancel, on_done=on_done
        )

    # -- dispatch ----------------------------------------------------------------------------------------
    def _dispatch(self, action: Action, progress=None, cancel=None, **_ctx) -> tuple[Any, Action]:
        if isinstance(action, Propagate):
            res = self._propagate(action, progress, cancel)
            if res.cancelled:
                action = Propagate(
                    action.direction, action.start_frame_idx, action.max_frame_num_to_track, len(res.frames)
                )
            return res, action
        if isinstance(action, RemoveObject):
            oid = ObjectTable.require(self.objects, action.obj_id)
            if oid in self.backend.obj_ids:
                self.backend.remove_object(oid)
        with self._lock:
            if self._object_action(action):
                self._drop_missing_objects()
                return getattr(action, "obj_id", None), action
        if isinstance(action, (AddPoints, SetBox, SetMask)):
            return self._prompt(action), action
        if isinstance(action, ClearPrompts):
            self._clear_prompts(action)
            return None, action
        raise PromptError(f"{type(action).__name__} does not apply to video sessions.")

    def _drop_missing_objects(self) -> None:
        st = self._state
        for key in [k for k in st.prompts if k[1] not in st.objects]:
            del st.prompts[key]
        for per in st.masks.values():
            for oid in [o for o in per if o not in st.objects]:
                del per[oid]

    def _prompt(self, action) -> np.ndarray:
        f, oid = self._check_frame(action.frame_idx), ObjectTable.require(self.objects, action.obj_id)
        with self._lock:
            old = self._state.prompts.get((f, oid), Prompt())
        t0 = time.perf_counter()
        if isinstance(action, AddPoints):
            coords = np.asarray(action.point_coords, np.float32).reshape(-1, 2)
            labels = np.asarray(action.point_labels, np.int32)
            base = old if old.mask is None else Prompt()
            prompt = base.with_points(coords, labels)
            if base.box is not None:  # the backend holds box + earlier clicks: add the new clicks only
                fm = self.backend.add_points(f, oid, coords, labels, clear_old_points=False)
            else:
                fm = self.backend.add_points(f, oid, prompt.point_coords, prompt.point_labels, clear_old_points=True)
        elif isinstance(action, SetBox):
            box = frozen(np.asarray(action.box, np.float32))
            prompt = Prompt(box=box)
            fm = self.backend.add_box(f, oid, box)
        else:
            prompt = Prompt(mask=frozen(np.asarray(action.mask, bool)))
            fm = self.backend.add_mask(f, oid, np.array(prompt.mask))  # writable copy for torch.from_numpy
        self.last_latency_ms = (time.perf_counter() - t0) * 1000.0
        with self._lock:
            self._state.prompts[(f, oid)] = prompt
        self._store_frame(fm, [oid])
        return fm.mask_of(oid)

    def _apply_prompt(self, frame_idx: int, obj_id: int, prompt: Prompt) -> FrameMasks | None:
        """Give one stored :class:`Prompt` to the backend (box first, then clicks, or the mask);
        returns the last ``FrameMasks`` (None for an empty prompt)."""
        backend = self.backend
        if prompt.mask is not None:
            return backend.add_mask(frame_idx, obj_id, np.array(prompt.mask))  # writable copy
        fm = None
        if prompt.box is not None:
            fm = backend.add_box(frame_idx, obj_id, prompt.box)
        if prompt.num_points:
            fm = backend.add_points(
                frame_idx, obj_id, prompt.point_coords, prompt.point_labels, clear_old_points=prompt.box is None
            )
        return fm

    def _propagate(self, action: Propagate, progress=None, cancel=None) -> PropagationResult:
        """Track with ``backend.propagate`` in the action's direction(s), storing every yielded
        frame's masks. Stops after a frame when ``cancel`` is set, or after
        ``action.frames_done`` frames when replaying a cancelled propagation."""
        with self._lock:
            start = action.start_frame_idx
            if start is None:
                start = min(f for f, _ in self._state.prompts)
        runs = {"forward": [False], "backward": [True], "both": [False, True]}[action.direction]
        total = sum(expected_frames(self.num_frames, start, action.max_frame_num_to_track, r) for r in runs)
        limit = action.frames_done
        if limit is not None:
            total = min(total, limit)
        frames: list[int] = []
        cancelled, t0 = False, time.perf_counter()
        for reverse in runs:
            if cancelled or (limit is not None and len(frames) >= limit):
                break
            gen = self.backend.propagate(
                start_frame_idx=action.start_frame_idx,
                max_frame_num_to_track=action.max_frame_num_to_track,
                reverse=reverse,
            )
            try:
                for fm in gen:
                    self._store_frame(fm, fm.obj_ids)
                    frames.append(int(fm.frame_idx))
                    saver = self._autosave
                    if saver is not None:  # the frame is on disk before the next one is computed
                        saver.frame(int(fm.frame_idx), len(frames))
                    if progress is not None:
                        progress(len(frames), total, int(fm.frame_idx))
                    if limit is not None and len(frames) >= limit:
                        break
                    if is_cancelled(cancel):
                        cancelled = True
                        break
            finally:
                close = getattr(gen, "close", None)  # generators have close(); plain iterators not
                if close is not None:
                    close()
        return PropagationResult(frames, cancelled, time.perf_counter() - t0)

    def _clear_prompts(self, action: ClearPrompts) -> None:
        """Drop the prompts (and masks on those frames) named by ``action``. The backend has no
        per-frame clear in its protocol, so each affected object is removed from the backend and
        given its remaining prompts again; its tracking on other frames is kept in the session
        but must be propagated again to update the model's memory."""
        with self._lock:
            st = self._state
            ids = list(st.objects) if action.obj_id is None else [ObjectTable.require(st.objects, action.obj_id)]
        if action.frame_idx is not None:
            self._check_frame(action.frame_idx)
        for oid in ids:
            with self._lock:
                gone = [k for k in st.prompts if k[1] == oid and action.frame_idx in (None, k[0])]
                for k in gone:
                    del st.prompts[k]
                for f, per in st.masks.items():
                    if action.frame_idx in (None, f):
                        per.pop(oid, None)
                keep = sorted(((k, p) for k, p in st.prompts.items() if k[1] == oid), key=lambda kp: kp[0])
            if not gone:
                continue
            if oid in self.backend.obj_ids:
                self.backend.remove_object(oid)
            for (f, _), p in keep:
                fm = self._apply_prompt(f, oid, p)
                if fm is not None:
                    self._store_frame(fm, [oid])

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Save objects, prompts (JSON; mask prompts as PNG), every mask as a palette PNG
        ``masks/<obj_id>/<frame_idx>.png``, object scores and the action timeline to
        ``folder`` atomically (see :mod:`.store`). In-memory videos are written once to
        ``folder/frames/``. Returns the manifest path."""
        from .persistence import save_video_session

        return save_video_session(self, folder)

    @classmethod
    def load(cls, folder: str | Path, backend: VideoBackend, video=None, **kw) -> VideoSession:
        """Rebuild a session saved with :meth:`save`. The backend's state is rebuilt by giving
        it the saved prompts again (no propagation); then the saved masks are authoritative.
        The undo history starts empty; :attr:`timeline` / :attr:`log` hold the saved timeline.
        ``video``: the video, when it moved since the save (default: the saved path or
        ``frames/``). ``autosave=folder`` starts autosaving the loaded session.

        Raises
        ------
        DatasetNotFoundError, DataError
        """
        from .persistence import load_video_session

        return load_video_session(cls, folder, backend, video, **kw)

    @classmethod
    def recover(
        cls,
        folder: str | Path,
        backend: VideoBackend,
        video=None,
        *,
        autosave: bool = True,
        verify: bool = True,
        stop_at_corrupt: bool = False,
        **kw,
    ) -> VideoSession:
        """Rebuild a session from its autosave folder after a crash (see :mod:`.autosave`).

        As :meth:`ImageSession.recover`. Propagations are re-run up to the frames that were
        complete on disk (so the backend's memory is rebuilt); one cut off by the crash comes
        back as ``Propagate(..., frames_done=k)`` with its ``k`` complete frames. ``video``:
        the video, when it moved (default: the recorded path, or ``folder/frames``); ``kw``:
        ``max_history``, ``worker``.

        Raises
        ------
        DatasetNotFoundError
            No autosave in ``folder``, or the video is gone.
        DataError
            Corrupt log, folder in use by a live session, an image session's folder, another
            video, or a replay the backend refuses.
        """
        from .recovery import recover_session

        return recover_session(
            cls, folder, backend, video, autosave=autosave, verify=verify, stop_at_corrupt=stop_at_corrupt, **kw
        )


__all__ = ["DIRECTIONS", "PropagationResult", "VideoSession", "VideoState", "expected_frames"]
