"""Interactive segmentation of one image with any :class:`~workbench.backends.base.ImageBackend`.

Each prompt calls ``backend.predict`` with ALL prompts of the object, as SAM's interactive
notebooks (``notebooks/image_predictor_example.ipynb`` in SAM / SAM 2) do: the first single
click asks for ``multimask_output=True`` (three candidates for an ambiguous click), later
clicks pass the chosen candidate's low-resolution logits as ``mask_input`` and ask for one
mask. A box (XYXY) starts the object's prompts afresh; later clicks refine it. ``set_mask``
gives an object a ready-made mask (e.g. one picked from "segment everything",
:meth:`ImageSession.generate_masks`).

Several sessions may share one backend (a gallery of images): the session whose image the
backend embedded last is remembered here (:data:`_EMBEDDED`, backend -> session token), not on
the backend, and a session re-embeds its image before a prompt when another one was embedded
in between.
"""

from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path

import numpy as np

from ..backends import ImageBackend
from ..errors import DataError, PromptError
from ..io.images import read_image
from ..io.label_maps import merge_object_masks
from ..metrics.image import iou
from .actions import Action, AddObject, AddPoints, ClearPrompts, SelectCandidate, SetBox, SetMask
from .base import SessionBase
from .capabilities import _low_res_size, _supports_masks
from .state import ImageResult, ImageState, ObjectTable, Prompt, default_color, frozen
from .worker import Worker


class _EmbeddedImages:
    """Which session's image each backend embedded last: ``backend -> token`` held weakly
    (a backend that is gone is forgotten). Backends that cannot be weakly referenced or hashed
    are kept by id with a strong reference (so the id is never reused while remembered)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._weak: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._strong: dict[int, tuple[object, object]] = {}

    def get(self, backend) -> object | None:
        with self._lock:
            try:
                return self._weak.get(backend)
            except TypeError:
                held = self._strong.get(id(backend))
                return None if held is None else held[1]

    def set(self, backend, token: object) -> None:
        with self._lock:
            try:
                self._weak[backend] = token
            except TypeError:
                self._strong[id(backend)] = (backend, token)


_EMBEDDED = _EmbeddedImages()
"""backend -> token of the :class:`ImageSession` whose image it embedded last."""


class ImageSession(SessionBase):
    """Click / box prompting of one image, with exact undo/redo.

    Parameters
    ----------
    backend : ImageBackend
        ``set_image`` is called here, and again before a prompt when another session used
        the same backend in between.
    image : (H, W, 3) uint8 RGB array, or a path read with :func:`workbench.io.read_image`
    gt_mask : (H, W) bool, optional
        Ground truth: enables :attr:`true_iou`.
    gt_ignore : (H, W) bool, optional
        Pixels left out of :attr:`true_iou` (e.g. the GrabCut 128 band).
    multimask_output : bool, optional
        Force ``multimask_output`` for every call; None (default) = True for a lone first
        click, False otherwise.
    use_mask_input : bool
        Feed the selected candidate's logits back as ``mask_input`` on later clicks (SAM's
        notebooks do so); boxes are predicted without it.
    first_object : str or None
        Name of an object created up front (id 1) so clicks work at once; None for none.
    max_history : int
        Undo depth.
    worker : Worker, optional
        Share a worker between sessions; default a session-owned one.
    autosave : str or Path, optional
        Folder to autosave every action to as it happens (:meth:`enable_autosave`); after a
        crash rebuild the session with :meth:`recover`.

    Raises
    ------
    DataError
        Bad image or ground-truth shape; ``autosave`` folder already holds a log.
    """

    kind = "image"
    backend: ImageBackend
    _state: ImageState

    def __init__(
        self,
        backend: ImageBackend,
        image,
        gt_mask=None,
        *,
        gt_ignore=None,
        multimask_output: bool | None = None,
        use_mask_input: bool = True,
        first_object: str | None = "object 1",
        max_history: int = 100,
        worker: Worker | None = None,
        autosave: str | Path | None = None,
    ):
        super().__init__(max_history=max_history, worker=worker)
        self.backend = backend
        self.image_path = str(image) if isinstance(image, (str, Path)) else None
        img = read_image(image) if isinstance(image, (str, Path)) else np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise DataError(
                f"image must be (H, W, 3) uint8 RGB; got {img.shape} {img.dtype}. "
                "Read files with workbench.io.read_image."
            )
        self.image = frozen(img)
        self.height, self.width = int(img.shape[0]), int(img.shape[1])
        self.gt_mask = self._check_gt(gt_mask, "gt_mask")
        self.gt_ignore = self._check_gt(gt_ignore, "gt_ignore")
        self.multimask_output = multimask_output
        self.use_mask_input = bool(use_mask_input)
        self.last_latency_ms: float = 0.0
        """Wall time of the last ``backend.predict`` call, milliseconds."""
        self._image_token = object()
        self.embed_latency_ms = 0.0
        """Wall time of the last ``set_image`` (image embedding), milliseconds."""
        self._ensure_image()
        self._state = ImageState()
        if first_object is not None:
            self._object_action(AddObject(1, str(first_object), default_color(1)))
        self._remember_initial()
        if autosave is not None:
            self.enable_autosave(autosave)

    def _check_gt(self, m, name):
        if m is None:
            return None
        arr = np.asarray(m)
        if arr.shape != (self.height, self.width):
            raise DataError(f"{name} must be (H, W) = ({self.height}, {self.width}) like the image; got {arr.shape}.")
        return frozen(arr.astype(bool) if arr.dtype != bool else arr)

    def _ensure_image(self) -> None:
        """(Re-)embed this session's image when the backend last embedded another one, so
        several sessions (e.g. a gallery of images) can share one backend."""
        if not self.needs_embedding():
            return
        t0 = time.perf_counter()
        self.backend.set_image(np.ascontiguousarray(self.image))
        self.embed_latency_ms = (time.perf_counter() - t0) * 1000.0
        _EMBEDDED.set(self.backend, self._image_token)

    def needs_embedding(self) -> bool:
        """True when the backend holds another session's image, so the next prompt embeds this
        session's image first (``set_image``)."""
        return _EMBEDDED.get(self.backend) is not self._image_token

    # -- snapshots ---------------------------------------------------------------------------------
    def _snapshot(self) -> ImageState:
        with self._lock:
            return self._state.copy()

    def _restore(self, snap: ImageState) -> None:
        with self._lock:
            self._state = snap.copy()

    # -- reading -------------------------------------------------------------------------------------
    @property
    def masks(self) -> dict[int, np.ndarray]:
        """``obj_id -> (H, W) bool`` (read-only arrays) for every object with a mask."""
        with self._lock:
            return dict(self._state.masks)

    def mask_of(self, obj_id: int | None = None) -> np.ndarray:
        """``(H, W)`` bool mask of ``obj_id`` (default active); all False when not prompted yet."""
        oid = self._resolve(obj_id)
        with self._lock:
            m = self._state.masks.get(oid)
        return m if m is not None else np.zeros((self.height, self.width), bool)

    def prompt_of(self, obj_id: int | None = None) -> Prompt:
        oid = self._resolve(obj_id)
        with self._lock:
            return self._state.prompts.get(oid, Prompt())

    def result(self, obj_id: int | None = None) -> ImageResult | None:
        """The last :class:`ImageResult` of ``obj_id`` (default active), None before any prompt."""
        oid = self._resolve(obj_id)
        with self._lock:
            return self._state.results.get(oid)

    def _active_result(self) -> ImageResult | None:
        with self._lock:
            oid = self._state.active_obj_id
            return None if oid is None else self._state.results.get(oid)

    @property
    def candidates(self) -> np.ndarray | None:
        """``(C, H, W)`` bool candidate masks of the active object (None before a prompt)."""
        r = self._active_result()
        return None if r is None else r.candidates

    @property
    def iou_predictions(self) -> np.ndarray | None:
        """``(C,)`` float32 model IoU estimates of the active object's candidates."""
        r = self._active_result()
        return None if r is None else r.iou_predictions

    @property
    def low_res_logits(self) -> np.ndarray | None:
        """``(C, h, w)`` float32 logits of the active object's candidates."""
        r = self._active_result()
        return None if r is None else r.low_res_logits

    @property
    def selected(self) -> int | None:
        """Index of the active object's chosen candidate."""
        r = self._active_result()
        return None if r is None else r.selected

    @property
    def true_iou(self) -> np.ndarray | None:
        """``(C,)`` float64 IoU of each candidate of the active object with ``gt_mask``
        (:func:`workbench.metrics.image.iou`, ``gt_ignore`` left out); None without ground
        truth or prediction."""
        r = self._active_result()
        if r is None or self.gt_mask is None:
            return None
        return np.array([iou(c, self.gt_mask, self.gt_ignore) for c in r.candidates])

    def label_map(self) -> np.ndarray:
        """``(H, W)`` int32 object ids (0 = background); where objects overlap the lower id
        wins (:func:`workbench.io.label_maps.merge_object_masks`, the rule of SAM 2's
        ``tools/vos_inference.py``)."""
        with self._lock:
            masks = {
                oid: self._state.masks[oid] for oid in self._state.objects if self._state.masks.get(oid) is not None
            }
        return merge_object_masks(masks, (self.height, self.width), np.int32)

    # -- actions -------------------------------------------------------------------------------------
    def _check_xy(self, x, y, frame_idx=0) -> None:
        if int(frame_idx) != 0:
            raise PromptError(f"Image sessions have one frame (frame_idx 0); got frame_idx={frame_idx}.")
        self._check_inside(x, y, "image")

    def add_point(
        self, x: float, y: float, positive: bool = True, obj_id: int | None = None, multimask_output: bool | None = None
    ) -> ImageResult:
        """Click at column ``x``, row ``y`` (pixels); predict the object from all its prompts.

        Parameters
        ----------
        x, y : float
            SAM ``point_coords`` order: x = column, y = row, in pixels.
        positive : bool
            Foreground (label 1) or background (label 0).
        obj_id : int, optional
            Default: the active object.
        multimask_output : bool, optional
            Override the session's rule for this call.

        Returns
        -------
        ImageResult

        Raises
        ------
        PromptError
            Click outside the image; no object.
        UnknownNameError
            ``obj_id`` does not exist (lists the valid ids).
        """
        oid = self._resolve(obj_id)
        self._check_xy(x, y)
        return self._do(AddPoints(oid, 0, ((float(x), float(y)),), (1 if positive else 0,), multimask_output))

    def add_points(
        self, point_coords, point_labels, obj_id: int | None = None, multimask_output: bool | None = None
    ) -> ImageResult:
        """Several clicks at once (``(N, 2)`` x, y pixels; ``(N,)`` 1/0 labels), one model call
        and one undo step."""
        oid = self._resolve(obj_id)
        coords = np.asarray(point_coords, dtype=np.float64).reshape(-1, 2)
        labels = np.asarray(point_labels).reshape(-1)
        if coords.shape[0] == 0 or labels.shape[0] != coords.shape[0] or not np.isin(labels, (0, 1)).all():
            raise PromptError(
                f"point_coords must be (N, 2) with N >= 1 and point_labels (N,) of 1/0; got "
                f"{coords.shape} and {labels.tolist()}."
            )
        for x, y in coords:
            self._check_xy(x, y)
        return self._do(
            AddPoints(
                oid, 0, tuple((float(x), float(y)) for x, y in coords), tuple(int(v) for v in labels), multimask_output
            )
        )

    def set_box(self, x0: float, y0: float, x1: float, y1: float, obj_id: int | None = None) -> ImageResult:
        """Prompt with an XYXY pixel box (replaces the object's earlier clicks and box).

        Raises
        ------
        PromptError
            Not x0 < x1 and y0 < y1 inside the image.
        """
        oid = self._resolve(obj_id)
        box = (float(x0), float(y0), float(x1), float(y1))
        if not (0 <= box[0] < box[2] <= self.width and 0 <= box[1] < box[3] <= self.height):
            raise PromptError(
                f"box {list(box)} must be XYXY with 0 <= x0 < x1 <= {self.width} and 0 <= y0 < y1 <= {self.height}."
            )
        return self._do(SetBox(oid, 0, box))

    def select_candidate(self, index: int, obj_id: int | None = None) -> ImageResult:
        """Make candidate ``index`` the object's mask (and the logits of its next click).

        Raises
        ------
        PromptError
            No prediction yet, or ``index`` out of range (the message gives the range).
        """
        oid = self._resolve(obj_id)
        r = self.result(oid)
        n = 0 if r is None else r.candidates.shape[0]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise PromptError(
                f"Candidate index must be an integer in [0, {n - 1}] for object {oid}; got {index!r}."
                if n
                else f"Object {oid} has no candidates yet: click or draw a box first."
            )
        return self._do(SelectCandidate(oid, int(index)))

    def set_mask(self, mask: np.ndarray, obj_id: int | None = None) -> ImageResult:
        """Make ``mask`` the mask of ``obj_id`` (default: the active object), replacing its
        prompts, e.g. a mask picked from :meth:`generate_masks`. Undoable; recorded as
        ``SetMask(obj_id, 0, mask)`` (the mask travels as COCO RLE in a JSONL log), saved and
        loaded like any other prompt.

        The mask becomes the object's only candidate; its logits for the next click are the
        mask as signed-distance logits in SAM's 256 x 256 low-resolution frame
        (:func:`workbench.backends.classical.mask_to_logits`), so a later click refines the
        mask (``mask_input``) instead of starting over. ``iou_predictions`` is NaN: no model
        estimated this mask.

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

    def clear(self, obj_id: int | None = None, all_objects: bool = False) -> None:
        """Remove the prompts and masks of ``obj_id`` (default: the active object), or of every
        object with ``all_objects=True``. Undoable."""
        oid = None if all_objects else self._resolve(obj_id)
        self._do(ClearPrompts(obj_id=oid))

    def generate_masks(self, **params) -> list[dict]:
        """ "Segment everything" on the session's image: the backend's own generator
        (``generate_masks``: ``SAM2AutomaticMaskGenerator`` for SAM 2, the weight-free one for
        the classical backend), else the weight-free
        :func:`~workbench.backends.classical.classical_generate_masks`.

        Not an action (nothing in the session changes): give a record's ``segmentation`` to an
        object with :meth:`set_mask`.

        Returns
        -------
        list of dict
            Records in the format of ``SAM2AutomaticMaskGenerator`` (``segmentation`` (H, W)
            bool, ``area``, ``bbox`` XYWH, ``predicted_iou``, ``stability_score``), largest first.

        Raises
        ------
        UnknownNameError, ConfigError
            A parameter the generator does not know, or out of range.
        """
        image = np.array(self.image)  # writable copy (torch.from_numpy)
        if _supports_masks(self.backend):
            return self.backend.generate_masks(image, **params)
        return self._classical_masks(image, **params)

    def add_point_async(self, x, y, positive=True, obj_id=None, multimask_output=None, on_done=None):
        """:meth:`add_point` on the worker; a newer click supersedes a pending one (their clicks
        are merged into one :class:`AddPoints`). Returns a Future of the ImageResult (None
        when an earlier job already applied this click); errors in the click itself raise here."""
        return self._queue_points(obj_id, 0, x, y, positive, on_done, multimask_output)

    def set_box_async(self, x0, y0, x1, y1, obj_id=None, on_done=None):
        return self.submit(self.set_box, x0, y0, x1, y1, obj_id, key=("box", 0, self._resolve(obj_id)), on_done=on_done)

    def select_candidate_async(self, index, obj_id=None, on_done=None):
        return self.submit(self.select_candidate, index, obj_id, on_done=on_done)

    def set_mask_async(self, mask, obj_id=None, on_done=None):
        """:meth:`set_mask` on the session worker; returns a Future of the ImageResult."""
        return self.submit(self.set_mask, mask, obj_id, on_done=on_done)

    # -- dispatch --------------------------------------------------------------------------------------
    def _dispatch(self, action: Action, **_ctx):
        with self._lock:
            if self._object_action(action):
                st = self._state
                for d in (st.prompts, st.results, st.masks):
                    for oid in [k for k in d if k not in st.objects]:
                        del d[oid]
                return getattr(action, "obj_id", None), action
        if isinstance(action, AddPoints):
            return self._predict(action.obj_id, action, refine=True), action
        if isinstance(action, SetBox):
            return self._predict(action.obj_id, action, refine=False), action
        if isinstance(action, SelectCandidate):
            with self._lock:
                oid = ObjectTable.require(self._state.objects, action.obj_id)
                r = self._state.results.get(oid)
                if r is None or not 0 <= action.index < r.candidates.shape[0]:
                    raise PromptError(f"Object {oid} has no candidate {action.index}.")
                r = ImageResult(
                    r.candidates,
                    r.iou_predictions,
                    r.low_res_logits,
                    action.index,
                    r.multimask_output,
                    r.used_mask_input,
                    r.latency_ms,
                )
                self._state.results[oid] = r
                self._state.masks[oid] = frozen(r.candidates[action.index])
            return r, action
        if isinstance(action, SetMask):
            return self._set_mask(action), action
        if isinstance(action, ClearPrompts):
            with self._lock:
                st = self._state
                ids = list(st.objects) if action.obj_id is None else [ObjectTable.require(st.objects, action.obj_id)]
                for oid in ids:
                    for d in (st.prompts, st.results, st.masks):
                        d.pop(oid, None)
            return None, action
        raise PromptError(f"{type(action).__name__} does not apply to image sessions.")

    def _set_mask(self, action: SetMask) -> ImageResult:
        from ..backends.classical import mask_to_logits

        if int(action.frame_idx) != 0:
            raise PromptError(f"Image sessions have one frame (frame_idx 0); got frame_idx={action.frame_idx}.")
        m = np.asarray(action.mask, bool)
        if m.shape != (self.height, self.width):
            raise PromptError(f"SetMask mask is {m.shape}; the image is ({self.height}, {self.width}).")
        m = frozen(m)
        result = ImageResult(
            frozen(m[None]),
            frozen(np.array([np.nan], np.float32)),
            frozen(mask_to_logits(m, _low_res_size(self.backend))[None].astype(np.float32)),
            0,
            False,
            False,
            0.0,
        )
        with self._lock:
            oid = ObjectTable.require(self._state.objects, action.obj_id)
            self._state.prompts[oid] = Prompt(mask=m)
            self._state.results[oid] = result
            self._state.masks[oid] = m
        return result

    def _predict(self, oid: int, action, refine: bool) -> ImageResult:
        with self._lock:
            oid = ObjectTable.require(self._state.objects, oid)
            prompt = self._state.prompts.get(oid, Prompt())
            prev = self._state.results.get(oid)
        if isinstance(action, SetBox):
            prompt = Prompt(box=frozen(np.asarray(action.box, np.float32)))
            prev = None
        else:
            prompt = prompt.with_points(np.asarray(action.point_coords, np.float32), np.asarray(action.point_labels))
        multimask = action.multimask_output if isinstance(action, AddPoints) else None
        if multimask is None:
            multimask = self.multimask_output
        if multimask is None:
            multimask = prompt.num_points == 1 and prompt.box is None
        mask_input = None
        if refine and self.use_mask_input and prev is not None and prompt.box is None:
            mask_input = prev.low_res_logits[prev.selected : prev.selected + 1]
        self._ensure_image()
        t0 = time.perf_counter()
        pred = self.backend.predict(
            point_coords=prompt.point_coords if prompt.num_points else None,
            point_labels=prompt.point_labels if prompt.num_points else None,
            box=prompt.box,
            mask_input=mask_input,
            multimask_output=bool(multimask),
        )
        latency = (time.perf_counter() - t0) * 1000.0
        sel = pred.best()
        result = ImageResult(
            frozen(np.asarray(pred.masks, bool)),
            frozen(np.asarray(pred.iou_predictions, np.float32)),
            frozen(np.asarray(pred.low_res_logits, np.float32)),
            sel,
            bool(multimask),
            mask_input is not None,
            latency,
        )
        with self._lock:
            self._state.prompts[oid] = prompt
            self._state.results[oid] = result
            self._state.masks[oid] = frozen(result.candidates[sel])
            self.last_latency_ms = latency
        return result

    # -- persistence -------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Save image, objects, prompts, masks (palette PNGs), candidates and logits (.npz)
        and the action timeline to ``folder`` atomically (see :mod:`.store`). Returns the
        manifest path."""
        from .persistence import save_image_session

        return save_image_session(self, folder)

    @classmethod
    def load(cls, folder: str | Path, backend: ImageBackend, **kw) -> ImageSession:
        """Rebuild a session saved with :meth:`save`: the image is embedded by ``backend``;
        objects, prompts, candidates, logits and masks come back exactly (the saved masks are
        authoritative). The undo history starts empty; :attr:`timeline` / :attr:`log` hold the
        saved timeline. ``kw`` override saved options; ``autosave=folder`` starts autosaving
        the loaded session (its state is saved to ``folder/base``).

        Raises
        ------
        DatasetNotFoundError, DataError
        """
        from .persistence import load_image_session

        return load_image_session(cls, folder, backend, **kw)

    @classmethod
    def recover(
        cls,
        folder: str | Path,
        backend: ImageBackend,
        *,
        autosave: bool = True,
        verify: bool = True,
        stop_at_corrupt: bool = False,
        **kw,
    ) -> ImageSession:
        """Rebuild a session from its autosave folder after a crash (see :mod:`.autosave`).

        Every action whose log line is complete is replayed through :meth:`apply` (undo/redo
        included), so prompts, objects, candidates and the undo/redo history are those right
        after the last acknowledged action; the saved mask PNGs are authoritative. A torn last
        line is truncated away, temporary and orphan files are deleted.

        Parameters
        ----------
        folder : str or Path
            The autosave folder.
        backend : ImageBackend
            Preferably the backend (and model) the session was recorded with.
        autosave : bool
            Keep autosaving to ``folder`` (the log continues).
        verify : bool
            Compare the replayed masks with the saved PNGs (the saved ones win).
        stop_at_corrupt : bool
            Use the lines before a corrupt line (the rest is kept aside) instead of raising.
        **kw
            Override saved constructor options (``multimask_output``, ``use_mask_input``,
            ``max_history``, ``worker``).

        Returns
        -------
        ImageSession
            With :attr:`recovery` (a ``RecoveryReport``).

        Raises
        ------
        DatasetNotFoundError
            No autosave in ``folder``.
        DataError
            Corrupt log, folder in use by a live session, a video session's folder, or a
            replay the backend refuses.
        """
        from .recovery import recover_session

        return recover_session(
            cls, folder, backend, autosave=autosave, verify=verify, stop_at_corrupt=stop_at_corrupt, **kw
        )


MaskableImageSession = ImageSession
"""Former name of :class:`ImageSession` from when ``set_mask`` lived in a widget-side
subclass; kept as an alias."""

__all__ = ["ImageSession", "ImageState", "MaskableImageSession"]
