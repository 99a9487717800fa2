"""``transformers`` backend family (``"transformers"``): SAM-family models of Hugging Face
``transformers`` behind the workbench protocols.

SAM 2 / 2.1 (``Sam2Model``, ``Sam2VideoModel``), EdgeTAM (``EdgeTamModel``,
``EdgeTamVideoModel``) and the SAM 3 tracker (``Sam3TrackerModel``, ``Sam3TrackerVideoModel``)
take points, boxes and masks like the ``sam2`` family; SAM 3 (``Sam3Model``) also takes text
concept prompts (:mod:`.concept`). Models load from a local folder in the Hugging Face layout
(:mod:`.loading`) or are built untrained from a config for tests; :mod:`.convert` turns an
official SAM 2 checkpoint into such a folder.

Split by concern: :mod:`.loading`, :mod:`.convert`, :mod:`.image`, :mod:`.video`,
:mod:`.concept`, :mod:`.factory`. Importing this package is cheap: torch and ``transformers``
load on first use of a name below.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

_LAZY = {
    "ARCHITECTURES": ".loading",
    "build_transformers_model": ".loading",
    "convert_sam2_checkpoint": ".convert",
    "convert_state_dict": ".convert",
    "sam2_video_config": ".convert",
    "TransformersImageBackend": ".image",
    "TransformersVideoBackend": ".video",
    "make_transformers_image_backend": ".factory",
    "make_transformers_video_backend": ".factory",
}

__getattr__ = lazy_getattr(__name__, _LAZY)  # torch-backed names imported on first use


__all__ = sorted(_LAZY)
