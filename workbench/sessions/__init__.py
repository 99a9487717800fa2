"""Typed interactive sessions: the state that widgets, runners and autosave drive.

:class:`ImageSession` (click / box prompting of one image) and :class:`VideoSession`
(prompting and tracking objects through a video) keep typed state (objects, prompts per
``(frame_idx, obj_id)``, masks, candidates), an exact undo/redo history, a log of small
action records (``to_json`` / :func:`action_from_json`, for an append-only JSONL autosave),
a background :class:`Worker` for model calls (``*_async`` methods), save/load to a folder, and
autosave (:mod:`.autosave`: every action on disk as it happens; ``recover()`` after a crash).

Modules, by concern (imports point down this list, never up; no cycles):

* :mod:`.image`, :mod:`.video` -- the two sessions (``ImageSession.set_mask`` /
  ``generate_masks`` included), on the shared machinery of :mod:`.base` (undo/redo, action
  log, objects, worker);
* :mod:`.persistence` (save/load), :mod:`.autosave` and :mod:`.recovery` (crash-safe log and
  replay), :mod:`.journal` and :mod:`.store` (their file formats) -- these take a session as an
  argument and import only the state below, never the session modules;
* :mod:`.actions` (action records), :mod:`.state` (typed values and the ``ImageState`` /
  ``VideoState`` containers), :mod:`.worker` (background thread), :mod:`.capabilities` (the
  only place that probes a backend for optional members).

Layering: widgets -> sessions -> backends -> types. Sessions are typed against the backend
protocols (:class:`workbench.backends.ImageBackend` / ``VideoBackend``); nothing here imports
:mod:`workbench.widgets`.
"""

from .actions import (
    ACTION_TYPES,
    Action,
    AddObject,
    AddPoints,
    ClearPrompts,
    Propagate,
    RecolorObject,
    Redo,
    RemoveObject,
    RenameObject,
    SelectCandidate,
    SetBox,
    SetMask,
    Undo,
    action_from_json,
    mask_to_rle,
    rle_to_mask,
)
from .autosave import Autosaver
from .base import SessionBase
from .image import ImageSession, MaskableImageSession
from .recovery import RecoveryReport
from .state import ImageResult, ImageState, PackedMask, Prompt, SessionObject, VideoState, default_color
from .video import DIRECTIONS, PropagationResult, VideoSession
from .worker import CancelToken, Worker, is_cancelled

__all__ = [
    "ACTION_TYPES",
    "DIRECTIONS",
    "Action",
    "AddObject",
    "AddPoints",
    "Autosaver",
    "CancelToken",
    "ClearPrompts",
    "ImageResult",
    "ImageSession",
    "ImageState",
    "MaskableImageSession",
    "PackedMask",
    "Prompt",
    "Propagate",
    "PropagationResult",
    "RecolorObject",
    "RecoveryReport",
    "Redo",
    "RemoveObject",
    "RenameObject",
    "SelectCandidate",
    "SessionBase",
    "SessionObject",
    "SetBox",
    "SetMask",
    "Undo",
    "VideoSession",
    "VideoState",
    "Worker",
    "action_from_json",
    "default_color",
    "is_cancelled",
    "mask_to_rle",
    "rle_to_mask",
]
