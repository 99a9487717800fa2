"""What image and video sessions share: objects, exact undo/redo, action log, worker, locks.

Undo model
----------
Before every action the session takes a snapshot: a copy of its typed state (containers only;
masks and prompts are immutable values shared between snapshots) plus, for video, the
backend's :meth:`snapshot` of the model state. ``undo()`` puts the snapshot back, so masks,
candidates, logits and the model's memory return bit for bit to what they were; nothing is
re-computed. ``redo()`` restores the snapshot taken when undoing. A new action after an undo
drops the redo stack. If an action fails half-way (an exception, a ``KeyboardInterrupt``) the
snapshot is restored and nothing is recorded.

Autosave
--------
With autosave on (:meth:`SessionBase.enable_autosave`, :mod:`.autosave`) every action, undo,
redo and ``set_active`` is written to the session folder (masks as PNGs, one fsync'd log line)
before the method returns; a failed write rolls the action back and raises. ``recover()``
rebuilds a session from the folder after a crash.

Threads
-------
The synchronous methods may be called from any thread; ``_action_lock`` serialises actions
(model calls included) and ``_lock`` guards short reads and writes of the state, so a UI can
read masks while a propagation runs on the worker. The ``*_async`` methods queue the same
calls on :attr:`worker` and return ``concurrent.futures.Future`` objects.

Backends
--------
Sessions are typed against the protocols :class:`workbench.backends.ImageBackend` /
:class:`~workbench.backends.VideoBackend`. Optional capabilities (an own "segment everything"
generator, snapshot/restore of the model state, its ``info``) are probed only in
:mod:`.capabilities`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..backends.base import ImageBackend, VideoBackend
from ..errors import ConfigError, PromptError
from .actions import Action, AddObject, AddPoints, RecolorObject, Redo, RemoveObject, RenameObject, Undo
from .capabilities import _supports_masks, backend_label, backend_name, backend_untrained, supports_concepts
from .state import ImageState, ObjectTable, SessionObject, VideoState, check_color, default_color
from .worker import Worker


class SessionBase:
    """Shared machinery of :class:`ImageSession` and :class:`VideoSession` (not used alone)."""

    kind: ClassVar[str] = ""
    # set by the subclasses' __init__ (each narrows the types to its own backend and state)
    backend: ImageBackend | VideoBackend
    width: int
    height: int
    _state: ImageState | VideoState

    def _check_inside(self, x, y, what: str) -> None:
        """Raise ``PromptError`` unless ``(x, y)`` are numbers inside the ``width`` x ``height``
        picture (``what`` names it in the message: "image" or "frame")."""
        try:
            fx, fy = float(x), float(y)
        except (TypeError, ValueError) as exc:
            raise PromptError(f"x and y must be numbers (pixels); got x={x!r}, y={y!r}.") from exc
        if not (0 <= fx < self.width and 0 <= fy < self.height):
            raise PromptError(
                f"Click (x={fx:g}, y={fy:g}) lies outside the {self.width}x{self.height} (WxH) {what}: "
                f"0 <= x < {self.width}, 0 <= y < {self.height}."
            )

    def __init__(self, max_history: int = 100, worker: Worker | None = None):
        if int(max_history) < 1:
            raise PromptError(f"max_history must be at least 1; got {max_history}.")
        self.max_history = int(max_history)
        self._lock = threading.RLock()
        self._action_lock = threading.RLock()
        self._undo: list[tuple[Action, Any]] = []
        self._redo: list[tuple[Action, Any]] = []
        self._timeline: list[Action] = []
        self.log: list[Action] = []
        """Every action applied, in order, including :class:`Undo` / :class:`Redo` records
        (what an append-only autosave log holds). ``session.apply`` replays it."""
        self._listeners: list[Callable[[Action], None]] = []
        self._worker = worker
        self._own_worker = worker is None
        self._click_buffer: dict[tuple, list[tuple[float, float, int]]] = {}
        self._autosave = None  # autosave.Autosaver while autosave is on
        self._initial: dict | None = None  # objects at construction (None: the log does not go back that far)
        self._busy = 0  # > 0 while an action runs (autosave orders set_active after it)
        self.recovery = None
        """:class:`~workbench.sessions.autosave.RecoveryReport` of a session made by ``recover()``."""

    # -- hooks the subclasses implement ---------------------------------------------------------
    def _snapshot(self) -> Any:
        raise NotImplementedError

    def _restore(self, snap: Any) -> None:
        raise NotImplementedError

    def _dispatch(self, action: Action, **ctx) -> tuple[Any, Action]:
        """Carry out ``action`` (``ctx``: run-time options that are not part of the record,
        e.g. a progress callback); return ``(result, record to log)``."""
        raise NotImplementedError

    # -- actions -----------------------------------------------------------------------------------
    def _remember_initial(self) -> None:
        """Record the objects the session starts with (the subclasses call this at the end of
        ``__init__``): autosave replays the log from there."""
        with self._lock:
            st = self._state
            self._initial = {
                "objects": [o.to_json() for o in st.objects.values()],
                "active_obj_id": st.active_obj_id,
                "next_obj_id": st.next_obj_id,
            }

    def _do(self, action: Action, **ctx) -> Any:
        with self._action_lock:
            before = self._snapshot()
            saver = self._autosave
            self._busy += 1
            try:
                if saver is not None:
                    saver.begin(action)
                result, record = self._dispatch(action, **ctx)
                if saver is not None:
                    saver.commit(record)  # on disk before the action counts as done
            except BaseException:
                self._restore(before)
                if saver is not None:
                    saver.abort()
                raise
            finally:
                self._busy -= 1
            with self._lock:
                self._undo.append((record, before))
                del self._undo[: -self.max_history]
                self._redo.clear()
                self._timeline.append(record)
            self._record(record)
            return result

    def _record(self, record: Action) -> None:
        self.log.append(record)
        for fn in list(self._listeners):
            fn(record)

    def subscribe(self, fn: Callable[[Action], None]) -> Callable[[], None]:
        """Call ``fn(action)`` after every recorded action (e.g. append it to a JSONL autosave
        log). Returns a function that unsubscribes."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def apply(self, action: Action) -> Any:
        """Replay one action record (from :attr:`log` or a JSONL log read back with
        :func:`~workbench.sessions.actions.action_from_json`), :class:`Undo` / :class:`Redo`
        included."""
        if isinstance(action, Undo):
            return self.undo()
        if isinstance(action, Redo):
            return self.redo()
        return self._do(action)

    @property
    def timeline(self) -> list[Action]:
        """The actions that produced the current state (undone ones removed)."""
        with self._lock:
            return list(self._timeline)

    @property
    def can_undo(self) -> bool:
        with self._lock:
            return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        with self._lock:
            return bool(self._redo)

    @property
    def undo_depth(self) -> int:
        """Number of actions that can be undone (at most ``max_history``)."""
        with self._lock:
            return len(self._undo)

    def undo(self) -> Action:
        """Return to the state before the last action, exactly (masks, candidates, logits and
        the model's state). Returns the undone record.

        Raises
        ------
        PromptError
            Nothing to undo.
        """
        with self._action_lock:
            if not self._undo:
                raise PromptError("Nothing to undo.")
            now = self._snapshot()
            record, before = self._undo[-1]
            self._restore(before)
            self._journal(Undo(), now)
            with self._lock:
                self._undo.pop()
                self._redo.append((record, now))
                self._timeline.pop()
            self._record(Undo())
            return record

    def redo(self) -> Action:
        """Re-apply the last undone action by restoring the state it produced (no model call).
        Returns the redone record.

        Raises
        ------
        PromptError
            Nothing to redo.
        """
        with self._action_lock:
            if not self._redo:
                raise PromptError("Nothing to redo.")
            now = self._snapshot()
            record, after = self._redo[-1]
            self._restore(after)
            self._journal(Redo(), now)
            with self._lock:
                self._redo.pop()
                self._undo.append((record, now))
                self._timeline.append(record)
            self._record(Redo())
            return record

    def _journal(self, record: Action, rollback: Any) -> None:
        """Autosave an undo/redo; when that fails put ``rollback`` back and re-raise."""
        saver = self._autosave
        if saver is None:
            return
        self._busy += 1
        try:
            saver.commit(record)
        except BaseException:
            self._restore(rollback)
            saver.abort()
            raise
        finally:
            self._busy -= 1

    # -- autosave ----------------------------------------------------------------------------------
    def enable_autosave(self, folder: str | Path):
        """Write every action from now on to ``folder`` as it happens (see :mod:`.autosave`):
        an append-only, checksummed JSONL log (fsync'd before each method returns) and mask
        PNGs (atomic writes). Also possible at construction: ``autosave=folder``. History
        made before this call is written too (a loaded session is saved to ``folder/base``).

        Returns
        -------
        Autosaver

        Raises
        ------
        DataError
            ``folder`` already holds an autosave log (use ``recover``), it is in use, or
            autosave is already on.
        """
        from .autosave import enable_autosave

        return enable_autosave(self, folder)

    def disable_autosave(self) -> None:
        """Stop autosaving (waits for a running action); the folder stays recoverable."""
        with self._action_lock:
            saver, self._autosave = self._autosave, None
        if saver is not None:
            saver.close()

    @property
    def autosaver(self):
        """The :class:`~workbench.sessions.autosave.Autosaver` while autosave is on, else None
        (``autosaver.folder``; ``autosaver.last_seq``: the log line of the last action)."""
        return self._autosave

    # -- objects -----------------------------------------------------------------------------------
    @property
    def objects(self) -> dict[int, SessionObject]:
        """``obj_id -> SessionObject`` in creation order."""
        with self._lock:
            return dict(self._state.objects)

    @property
    def obj_ids(self) -> list[int]:
        with self._lock:
            return list(self._state.objects)

    @property
    def active_obj_id(self) -> int | None:
        """The object that prompts with ``obj_id=None`` go to (the last added or selected)."""
        with self._lock:
            return self._state.active_obj_id

    def set_active(self, obj_id: int) -> None:
        """Make ``obj_id`` the target of prompts given without ``obj_id`` (UI state: not an
        undoable action; autosave logs it, after the running action if one runs).
        Raises ``UnknownNameError``."""
        saver = self._autosave
        if saver is not None and self._action_lock.acquire(blocking=False):
            try:
                if not self._busy:
                    with self._lock:
                        oid = ObjectTable.require(self._state.objects, obj_id)
                    saver.note_active(oid, True)
                    with self._lock:
                        self._state.active_obj_id = oid
                    return
            finally:
                self._action_lock.release()
        with self._lock:
            self._state.active_obj_id = oid = ObjectTable.require(self._state.objects, obj_id)
        if saver is not None:
            saver.note_active(oid, False)

    def _resolve(self, obj_id) -> int:
        with self._lock:
            if obj_id is None:
                if self._state.active_obj_id is None:
                    raise PromptError("No object to prompt: add one first with session.add_object().")
                return self._state.active_obj_id
            return ObjectTable.require(self._state.objects, obj_id)

    def add_object(self, name: str | None = None, color=None, obj_id: int | None = None) -> int:
        """Add an object and make it active; returns its ``obj_id``.

        Parameters
        ----------
        name : str, optional
            Default ``"object <id>"``.
        color : (R, G, B) ints 0..255, optional
            Default: the DAVIS palette colour of the id.
        obj_id : int, optional
            Default: one more than the largest id used so far (ids are never reused).

        Raises
        ------
        PromptError
            ``obj_id`` already exists or is not in 1..2**31-1; bad colour.
        """
        with self._lock:
            oid = self._state.next_obj_id if obj_id is None else obj_id
        if isinstance(oid, bool) or not isinstance(oid, int) or not 1 <= oid < 2**31:
            raise PromptError(f"obj_id must be an integer >= 1; got {oid!r}.")
        if oid in self.objects:
            raise PromptError(f"obj_id {oid} already exists; existing ids: {self.obj_ids}.")
        rgb = default_color(oid) if color is None else check_color(color)
        return self._do(AddObject(oid, str(name) if name is not None else f"object {oid}", rgb))

    def rename_object(self, obj_id: int, name: str) -> None:
        """Rename ``obj_id``. Raises ``UnknownNameError``."""
        self._do(RenameObject(self._resolve(obj_id), str(name)))

    def recolor_object(self, obj_id: int, color) -> None:
        """Change the display colour of ``obj_id``. Raises ``UnknownNameError``, ``PromptError``."""
        self._do(RecolorObject(self._resolve(obj_id), check_color(color)))

    def remove_object(self, obj_id: int) -> None:
        """Remove ``obj_id`` with its prompts and masks. Raises ``UnknownNameError``."""
        self._do(RemoveObject(self._resolve(obj_id)))

    def _object_action(self, action: Action) -> bool:
        """Apply the object bookkeeping of an action on ``self._state`` (call under ``_lock``).
        Returns True when ``action`` was an object action."""
        st = self._state
        if isinstance(action, AddObject):
            if action.obj_id in st.objects:
                raise PromptError(f"obj_id {action.obj_id} already exists; existing ids: {list(st.objects)}.")
            st.objects[action.obj_id] = SessionObject(action.obj_id, action.name, check_color(action.color))
            st.active_obj_id = action.obj_id
            st.next_obj_id = max(st.next_obj_id, action.obj_id + 1)
        elif isinstance(action, RenameObject):
            o = st.objects[ObjectTable.require(st.objects, action.obj_id)]
            st.objects[o.obj_id] = SessionObject(o.obj_id, action.name, o.color)
        elif isinstance(action, RecolorObject):
            o = st.objects[ObjectTable.require(st.objects, action.obj_id)]
            st.objects[o.obj_id] = SessionObject(o.obj_id, o.name, check_color(action.color))
        elif isinstance(action, RemoveObject):
            del st.objects[ObjectTable.require(st.objects, action.obj_id)]
            if st.active_obj_id == action.obj_id:
                st.active_obj_id = next(reversed(st.objects), None)
        else:
            return False
        return True

    # -- clicks through the worker ------------------------------------------------------------------
    def _check_xy(self, x: float, y: float, frame_idx: int) -> None:
        raise NotImplementedError

    def _queue_points(
        self, obj_id, frame_idx: int, x: float, y: float, positive: bool, on_done, multimask_output: bool | None = None
    ) -> Future:
        """Buffer one click and queue a job that applies every buffered click of this
        (frame, object) as one :class:`AddPoints` action. A newer click supersedes the pending
        job, so a burst of clicks costs one model call while none of the clicks is lost."""
        oid = self._resolve(obj_id)
        self._check_xy(x, y, frame_idx)
        key = ("points", int(frame_idx), oid)
        with self._lock:
            self._click_buffer.setdefault(key, []).append((float(x), float(y), 1 if positive else 0))
        return self.submit(self._flush_points, key, multimask_output, key=key, on_done=on_done)

    def _flush_points(self, key, multimask_output):
        with self._lock:
            pts = self._click_buffer.pop(key, [])
        if not pts:
            return None  # an earlier job already applied these clicks
        _, frame_idx, oid = key
        action = AddPoints(
            oid, frame_idx, tuple((x, y) for x, y, _ in pts), tuple(lab for _, _, lab in pts), multimask_output
        )
        return self._do(action)

    # -- segment everything ------------------------------------------------------------------------
    def uses_classical_masks(self, generator=None) -> bool:
        """True when "segment everything" runs the weight-free classical generator (its
        parameter scale and defaults: :meth:`mask_generator_defaults`; ``crop_n_layers`` and
        ``use_m2m`` have no effect): ``generator`` is that function, the backend is the
        classical one, or (``generator`` None: ``generate_masks``) the backend has no generator
        of its own."""
        from ..backends.classical import classical_generate_masks

        if generator is classical_generate_masks or backend_name(self.backend) == "classical":
            return True
        return generator is None and (self.kind == "video" or not _supports_masks(self.backend))

    def mask_generator_defaults(self, generator=None) -> dict:
        """Parameter defaults of the "segment everything" generator that differ from SAM 2's
        (``SAM2AutomaticMaskGenerator``): the classical generator's when
        :meth:`uses_classical_masks`, else ``{}``."""
        from ..backends.classical import CLASSICAL_AMG_DEFAULTS

        return dict(CLASSICAL_AMG_DEFAULTS) if self.uses_classical_masks(generator) else {}

    @staticmethod
    def _classical_masks(image: np.ndarray, **params) -> list[dict]:
        from ..backends.classical import classical_generate_masks

        return classical_generate_masks(image, **params)

    # -- text concept prompts (SAM 3) -------------------------------------------------------------
    @property
    def takes_text(self) -> bool:
        """True when the backend takes text concept prompts
        (:class:`~workbench.backends.base.ConceptPrompts`): widgets show a text box only then."""
        return supports_concepts(self.backend)

    def find_concept(self, image: np.ndarray, text: str, threshold: float = 0.5) -> list[dict]:
        """Every instance of the concept ``text`` in ``image`` (the session's image or a video
        frame), as records in the "segment everything" format (``segmentation`` (H, W) bool,
        ``area``, ``bbox`` XYWH, ``predicted_iou`` = the detection score, ``point_coords`` the
        box centre, ``stability_score``, ``crop_box``), largest first, so they can be picked
        into objects like generated masks.

        Raises
        ------
        ConfigError
            The backend takes no text prompts.
        PromptError, DataError
            Empty phrase, bad image.
        """
        if not supports_concepts(self.backend):
            raise ConfigError(
                f"{self.backend_label} takes no text prompts; text concept prompts need SAM 3 "
                "(make_image_backend('transformers', 'sam3') or make_video_backend('transformers', 'sam3'))."
            )
        found = self.backend.segment_concept(image, text, threshold=threshold)
        h, w = found.masks.shape[1:] if len(found) else image.shape[:2]
        records = []
        for mask, (x0, y0, x1, y1), score in zip(found.masks, found.boxes.tolist(), found.scores.tolist()):
            records.append(
                {
                    "segmentation": mask,
                    "area": int(mask.sum()),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "predicted_iou": float(score),
                    "point_coords": [[(x0 + x1) / 2, (y0 + y1) / 2]],
                    "stability_score": float(score),
                    "crop_box": [0, 0, int(w), int(h)],
                }
            )
        return sorted(records, key=lambda r: -r["area"])

    @property
    def backend_label(self) -> str:
        """``"<backend> · <model> · <device> · <precision>"`` of the session's backend (its class
        name when it has no ``info``): the device and precision actually chosen (``"auto"``)."""
        return backend_label(self.backend)

    @property
    def backend_untrained(self) -> bool:
        """True when the backend runs random (untrained) weights: its masks are meaningless."""
        return backend_untrained(self.backend)

    # -- background worker -------------------------------------------------------------------------
    @property
    def worker(self) -> Worker:
        """The session's background :class:`Worker` (created on first use)."""
        with self._lock:
            if self._worker is None:
                self._worker = Worker(name=f"workbench-{self.kind}-session")
            return self._worker

    def submit(
        self,
        fn: Callable,
        *args,
        key: Hashable | None = None,
        on_done: Callable[[Future], None] | None = None,
        **kwargs,
    ) -> Future:
        """Run ``fn(*args, **kwargs)`` (usually a session method) on :attr:`worker`."""
        return self.worker.submit(fn, *args, key=key, on_done=on_done, **kwargs)

    def undo_async(self, on_done=None) -> Future:
        return self.submit(self.undo, on_done=on_done)

    def redo_async(self, on_done=None) -> Future:
        return self.submit(self.redo, on_done=on_done)

    def close(self) -> None:
        """Stop the session's own worker (queued jobs are cancelled) and its autosave (the
        folder stays recoverable)."""
        if self._worker is not None and self._own_worker:
            self._worker.shutdown(wait=True)
            self._worker = None
        self.disable_autosave()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["SessionBase"]
