"""SAM 2 backend (``"sam2"``): the official ``sam2`` predictors behind the workbench protocols.

Split by concern: :mod:`.loading` (model building from the official configs at any input size,
safe checkpoint loading, precision), :mod:`.image` (``SAM2ImagePredictor``), :mod:`.video`
(``SAM2VideoPredictor``), :mod:`.settings` (named memory/runtime settings of the video
predictor and their presets; torch-free), :mod:`.frames` (frame preparation, lazy frames),
:mod:`.memory` (bounded tracking memory), :mod:`.reference` (the raw API for benchmarks),
:mod:`.factory` (``make_sam2_image_backend`` / ``make_sam2_video_backend``). The checkpoint table
and downloads are in :mod:`workbench.backends.registry`.

Importing this package is cheap: :mod:`.settings` is imported eagerly, everything else (and
torch with it) on first use of a name below, so run specs can check SAM 2 settings before any
model is loaded.
"""

from __future__ import annotations

from ..lazy import lazy_getattr
from .settings import MEMORY_PRESETS, SAM2VideoSettings, video_settings

_LAZY = {
    "RANDOM": "..loading",
    "make_sam2_image_backend": ".factory",
    "make_sam2_video_backend": ".factory",
    "AMG_DEFAULTS": ".image",
    "SAM2ImageBackend": ".image",
    "build_sam2_model": ".loading",
    "load_checkpoint": ".loading",
    "save_checkpoint": ".loading",
    "SAM2VideoBackend": ".video",
}

__getattr__ = lazy_getattr(__name__, _LAZY)  # torch-backed names imported on first use


__all__ = [
    "AMG_DEFAULTS",
    "MEMORY_PRESETS",
    "RANDOM",
    "SAM2ImageBackend",
    "SAM2VideoBackend",
    "SAM2VideoSettings",
    "build_sam2_model",
    "load_checkpoint",
    "make_sam2_image_backend",
    "make_sam2_video_backend",
    "save_checkpoint",
    "video_settings",
]
