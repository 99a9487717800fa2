"""The weight-free ``classical`` backend: OpenCV GrabCut for images, DIS optical flow +
GrabCut for videos, graph-based regions for "segment everything" (no torch, no checkpoint).

A baseline to compare SAM 2 against, and the default when no SAM 2 checkpoint is present.
See :mod:`.image`, :mod:`.video` and :mod:`.everything` for the methods and measured accuracy;
:mod:`.common` holds their mask helpers.
"""

from __future__ import annotations

from .common import LOW_RES, mask_to_logits, resolve_overlaps
from .everything import CLASSICAL_AMG_DEFAULTS, SAM_ONLY_PARAMS, classical_generate_masks
from .image import GrabCutImageBackend, make_classical_image_backend
from .video import FlowVideoBackend, make_classical_video_backend

__all__ = [
    "CLASSICAL_AMG_DEFAULTS",
    "LOW_RES",
    "SAM_ONLY_PARAMS",
    "FlowVideoBackend",
    "GrabCutImageBackend",
    "classical_generate_masks",
    "make_classical_image_backend",
    "make_classical_video_backend",
    "mask_to_logits",
    "resolve_overlaps",
]
