"""SAM (v1) backend (``"sam"``): the official ``segment_anything`` predictors, image only.

:mod:`.image` (``SamPredictor`` behind :class:`~workbench.backends.base.ImageBackend`),
:mod:`.loading` (model building at any input size, safe checkpoint loading), :mod:`.factory`
(``make_sam1_image_backend``; SAM has no video predictor). Importing this package loads torch.
"""

from __future__ import annotations

from ..loading import RANDOM
from .factory import make_sam1_image_backend, make_sam1_video_backend
from .image import AMG_DEFAULTS, SAM1ImageBackend
from .loading import build_sam1_model, build_sam1_net, load_sam1_checkpoint, save_sam1_checkpoint

__all__ = [
    "AMG_DEFAULTS",
    "RANDOM",
    "SAM1ImageBackend",
    "build_sam1_model",
    "build_sam1_net",
    "load_sam1_checkpoint",
    "make_sam1_image_backend",
    "make_sam1_video_backend",
    "save_sam1_checkpoint",
]
