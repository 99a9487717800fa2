"""SAM 2 backend (``"sam2"``): the official ``sam2`` predictors behind the workbench protocols.

Split by concern: :mod:`.loading` (model building from the official configs at any input size,
safe checkpoint loading, precision), :mod:`.image` (``SAM2ImagePredictor``), :mod:`.video`
(``SAM2VideoPredictor``), :mod:`.frames` (frame preparation, lazy frames), :mod:`.memory`
(bounded tracking memory), :mod:`.reference` (the raw API for benchmarks), :mod:`.factory`
(``make_sam2_image_backend`` / ``make_sam2_video_backend``). The checkpoint table and downloads
are in :mod:`workbench.backends.registry`. Importing this package loads torch.
"""
from __future__ import annotations

from ..loading import RANDOM
from .factory import make_sam2_image_backend, make_sam2_video_backend
from .image import AMG_DEFAULTS, SAM2ImageBackend
from .loading import build_sam2_model, load_checkpoint, save_checkpoint
from .video import SAM2VideoBackend

__all__ = ["AMG_DEFAULTS", "RANDOM", "SAM2ImageBackend", "SAM2VideoBackend", "build_sam2_model", "load_checkpoint",
           "make_sam2_image_backend", "make_sam2_video_backend", "save_checkpoint"]
