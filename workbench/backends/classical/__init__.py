"""The weight-free ``classical`` backend: OpenCV GrabCut for images, DIS optical flow +
GrabCut for videos (no torch, no checkpoint).

A baseline to compare SAM 2 against, and the default when no SAM 2 checkpoint is present.
See :mod:`.classical_image` and :mod:`.classical_video` for the methods and measured accuracy.
"""
from __future__ import annotations

from .classical_common import mask_to_logits, validate_prompts
from .classical_image import GrabCutImageBackend, make_classical_image_backend
from .classical_video import FlowVideoBackend, make_classical_video_backend, resolve_overlaps

__all__ = ["FlowVideoBackend", "GrabCutImageBackend", "make_classical_image_backend",
           "make_classical_video_backend", "mask_to_logits", "resolve_overlaps", "validate_prompts"]
