"""Factories of the ``transformers`` family, used by :func:`workbench.backends.make_image_backend`
/ :func:`~workbench.backends.make_video_backend` with ``backend="transformers"``."""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError
from ..runtime import warn_if_slow
from .image import TransformersImageBackend
from .loading import build_transformers_model
from .video import TransformersVideoBackend

_BUILD_KW = ("seed", "checkpoint_dir")


def _build_kw(kw: dict, what: str, allowed: tuple[str, ...] = ()) -> tuple[dict, dict]:
    unknown = sorted(set(kw) - set(_BUILD_KW) - set(allowed) - {"precision"})
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {unknown} for the transformers {what} backend. "
            f"Valid options: {', '.join(sorted({*_BUILD_KW, *allowed, 'precision'}))}."
        )
    if kw.get("precision", "auto") not in ("auto", "fp32"):
        raise ConfigError(
            f"precision={kw['precision']!r}: the transformers backends run in float32 only; use 'auto' or 'fp32'."
        )
    return {k: kw[k] for k in _BUILD_KW if k in kw}, {k: kw[k] for k in allowed if k in kw}


def _folder(info) -> Path | None:
    return None if info.checkpoint is None else Path(info.checkpoint)


def make_transformers_image_backend(
    model: str = "hf_sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str = "auto",
    image_size: int | None = None,
    **kw,
) -> TransformersImageBackend:
    """Build a :class:`TransformersImageBackend`.

    Parameters
    ----------
    model : str
        Registry name, alias or model id (``"hf_sam2.1_hiera_tiny"``, ``"facebook/sam2.1-hiera-tiny"``,
        ``"sam3_tracker"``, ``"edgetam"`` …); ``"sam3"`` gives a backend that also takes text
        concept prompts (:class:`~workbench.backends.base.ConceptPrompts`).
    checkpoint : None, str or Path
        None: the model folder in ``$SAM2_CHECKPOINT_DIR``; a folder; ``"random"`` (untrained).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    image_size : int, optional
        Input size of untrained models (None: the model's own).
    **kw
        ``seed``, ``checkpoint_dir``; ``precision`` (``"auto"`` / ``"fp32"``: float32).

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    build, _ = _build_kw(kw, "image")
    net, info = build_transformers_model(model, checkpoint, device, image_size, mode="image", **build)
    warn_if_slow("transformers", info.device, info.image_size)
    if info.extra.get("architecture") == "sam3":
        from .concept import Sam3ImageBackend

        return Sam3ImageBackend(net, info, _folder(info), int(build.get("seed", 0)))
    return TransformersImageBackend(net, info)


def make_transformers_video_backend(
    model: str = "hf_sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str = "auto",
    image_size: int | None = None,
    **kw,
) -> TransformersVideoBackend:
    """Build a :class:`TransformersVideoBackend`; parameters as
    :func:`make_transformers_image_backend`.

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    build, _ = _build_kw(kw, "video")
    net, info = build_transformers_model(model, checkpoint, device, image_size, mode="video", **build)
    warn_if_slow("transformers", info.device, info.image_size)
    if info.extra.get("architecture") == "sam3":
        from .concept import Sam3VideoBackend

        return Sam3VideoBackend(net, info, _folder(info), int(build.get("seed", 0)))
    return TransformersVideoBackend(net, info)


__all__ = ["make_transformers_image_backend", "make_transformers_video_backend"]
