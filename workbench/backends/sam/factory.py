"""SAM (v1) factories used by :func:`workbench.backends.make_image_backend` /
:func:`~workbench.backends.make_video_backend` (backend ``"sam"``).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import BackendError, ConfigError
from ..runtime import warn_if_slow
from .image import SAM1ImageBackend
from .loading import build_sam1_model

_BUILD_KW = ("seed", "checkpoint_dir")
_BACKEND_KW = ("mask_threshold", "precision")


def make_sam1_image_backend(
    model: str = "vit_b", checkpoint: str | Path | None = None, device: str = "auto", image_size: int = 1024, **kw
) -> SAM1ImageBackend:
    """Build a :class:`SAM1ImageBackend`.

    Parameters
    ----------
    model : str
        ``"vit_b"``, ``"vit_l"``, ``"vit_h"`` (or an alias: ``"sam_vit_b"``, the official file
        name, ``"facebook/sam-vit-base"`` …).
    checkpoint : None, str or Path
        None: the official file (``sam_vit_b_01ec64.pth`` …) in ``$SAM2_CHECKPOINT_DIR``; a file
        path; or ``"random"`` (untrained weights: every prediction is flagged ``untrained``).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    image_size : int
        Model input size in pixels (1024 official; a multiple of 16 >= 64).
    **kw
        ``seed``, ``checkpoint_dir`` (model building); ``mask_threshold`` (predictor);
        ``precision`` (``"auto"`` or ``"fp32"``: SAM v1 runs in fp32).

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    unknown = sorted(set(kw) - {*_BUILD_KW, *_BACKEND_KW})
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {unknown} for the SAM image backend. "
            f"Valid options: {', '.join(sorted({*_BUILD_KW, *_BACKEND_KW}))}."
        )
    net, info = build_sam1_model(model, checkpoint, device, image_size, **{k: kw[k] for k in _BUILD_KW if k in kw})
    precision = kw.pop("precision", "auto")
    if precision not in ("auto", "fp32"):
        raise ConfigError(
            f"SAM (v1) runs in fp32: precision={precision!r} is not supported (use 'auto' or 'fp32'). "
            f"Valid options: {', '.join(sorted({*_BUILD_KW, *_BACKEND_KW}))}."
        )
    warn_if_slow("sam", info.device, info.image_size)
    return SAM1ImageBackend(net, info, **{k: kw[k] for k in _BACKEND_KW if k in kw})


def make_sam1_video_backend(*args, **kw):
    """SAM (v1) has no video predictor: always raises.

    Raises
    ------
    BackendError
        With a hint to use ``"sam2"`` (memory-based tracking) or ``"classical"``.
    """
    raise BackendError(
        "SAM (v1) is an image model and has no video predictor. For video tracking use "
        "backend='sam2' (SAM 2 memory attention) or backend='classical' (weight-free); "
        "SAM can still segment single frames through make_image_backend('sam', ...)."
    )


__all__ = ["make_sam1_image_backend", "make_sam1_video_backend"]
