"""Typed interactive sessions: the state that widgets, runners and autosave drive.

:class:`ImageSession` (click / box prompting of one image) and :class:`VideoSession`
(prompting and tracking objects through a video) keep typed state (objects, prompts per
``(frame_idx, obj_id)``, masks, candidates), an exact undo/redo history, a log of small
action records (``to_json`` / :func:`action_from_json`, for an append-only JSONL autosave),
a background :class:`Worker` for model calls (``*_async`` methods), save/load to a folder, and
autosave (:mod:`.autosave`: every action on disk as it happens; ``recover()`` after a crash).
No widget code is imported here.
"""
from .actions import (ACTION_TYPES, Action, AddObject, AddPoints, ClearPrompts, Propagate, RecolorObject, Redo,
                      RemoveObject, RenameObject, SelectCandidate, SetBox, SetMask, Undo, action_from_json,
                      mask_to_rle, rle_to_mask)
from .autosave import Autosaver
from .image_session import ImageSession, ImageState
from .recovery import RecoveryReport
from .state import ImageResult, PackedMask, Prompt, SessionObject, default_color
from .video_ops import PropagationResult
from .video_session import DIRECTIONS, VideoSession, VideoState
from .worker import CancelToken, Worker, is_cancelled

__all__ = ["ACTION_TYPES", "Action", "AddObject", "AddPoints", "Autosaver", "CancelToken", "ClearPrompts",
           "DIRECTIONS", "ImageResult", "ImageSession", "ImageState", "PackedMask", "Prompt", "Propagate",
           "PropagationResult", "RecolorObject", "RecoveryReport", "Redo", "RemoveObject", "RenameObject",
           "SelectCandidate", "SessionObject", "SetBox", "SetMask", "Undo", "VideoSession", "VideoState", "Worker",
           "action_from_json", "default_color", "is_cancelled", "mask_to_rle", "rle_to_mask"]
