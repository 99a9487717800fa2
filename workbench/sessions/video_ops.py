"""The backend-facing steps of :class:`~workbench.sessions.video_session.VideoSession`:
propagation with progress and cancellation, re-prompting the backend, clearing prompts.

Each function runs inside the session's action (``_action_lock`` held) and writes the session
state only under ``session._lock``, frame by frame, so a UI can read masks meanwhile.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .actions import ClearPrompts, Propagate
from .state import ObjectTable, Prompt
from .worker import is_cancelled


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


def run_propagation(session, action: Propagate, progress=None, cancel=None) -> PropagationResult:
    """Track with ``session.backend.propagate`` in the action's direction(s), storing every
    yielded frame's masks. Stops after a frame when ``cancel`` is set, or after
    ``action.frames_done`` frames when replaying a cancelled propagation."""
    with session._lock:
        start = action.start_frame_idx
        if start is None:
            start = min(f for f, _ in session._state.prompts)
    runs = {"forward": [False], "backward": [True], "both": [False, True]}[action.direction]
    total = sum(expected_frames(session.num_frames, start, action.max_frame_num_to_track, r) for r in runs)
    limit = action.frames_done
    if limit is not None:
        total = min(total, limit)
    frames: list[int] = []
    cancelled, t0 = False, time.perf_counter()
    for reverse in runs:
        if cancelled or (limit is not None and len(frames) >= limit):
            break
        gen = session.backend.propagate(start_frame_idx=action.start_frame_idx,
                                        max_frame_num_to_track=action.max_frame_num_to_track, reverse=reverse)
        try:
            for fm in gen:
                session._store_frame(fm, fm.obj_ids)
                frames.append(int(fm.frame_idx))
                saver = getattr(session, "_autosave", None)
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
            close = getattr(gen, "close", None)
            if close is not None:
                close()
    return PropagationResult(frames, cancelled, time.perf_counter() - t0)


def apply_prompt(backend, frame_idx: int, obj_id: int, prompt: Prompt):
    """Give one stored :class:`Prompt` to ``backend`` (box first, then clicks, or the mask);
    returns the last ``FrameMasks`` (None for an empty prompt)."""
    if prompt.mask is not None:
        return backend.add_mask(frame_idx, obj_id, np.array(prompt.mask))  # writable copy
    fm = None
    if prompt.box is not None:
        fm = backend.add_box(frame_idx, obj_id, prompt.box)
    if prompt.num_points:
        fm = backend.add_points(frame_idx, obj_id, prompt.point_coords, prompt.point_labels,
                                clear_old_points=prompt.box is None)
    return fm


def clear_prompts(session, action: ClearPrompts) -> None:
    """Drop the prompts (and masks on those frames) named by ``action``. The backend has no
    per-frame clear in its protocol, so each affected object is removed from the backend and
    given its remaining prompts again; its tracking on other frames is kept in the session
    but must be propagated again to update the model's memory."""
    with session._lock:
        st = session._state
        ids = list(st.objects) if action.obj_id is None else [ObjectTable.require(st.objects, action.obj_id)]
    if action.frame_idx is not None:
        session._check_frame(action.frame_idx)
    for oid in ids:
        with session._lock:
            gone = [k for k in st.prompts if k[1] == oid and action.frame_idx in (None, k[0])]
            for k in gone:
                del st.prompts[k]
            for f, per in st.masks.items():
                if action.frame_idx in (None, f):
                    per.pop(oid, None)
            keep = sorted(((k, p) for k, p in st.prompts.items() if k[1] == oid), key=lambda kp: kp[0])
        if not gone:
            continue
        if oid in session.backend.obj_ids:
            session.backend.remove_object(oid)
        for (f, _), p in keep:
            fm = apply_prompt(session.backend, f, oid, p)
            if fm is not None:
                session._store_frame(fm, [oid])


__all__ = ["PropagationResult", "apply_prompt", "clear_prompts", "expected_frames", "run_propagation"]
