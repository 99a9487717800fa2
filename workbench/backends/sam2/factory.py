"""SAM 2 factories used by :func:`workbench.backends.make_image_backend` /
:func:`~workbench.backends.make_video_backend` (backend ``"sam2"``): split the options between
model building (:mod:`.loading`) and the backend (:mod:`.image`, :mod:`.video`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError
from ..runtime import warn_if_slow
from .image import SAM2ImageBackend
from .loading import build_sam2_model
from .policies import DEFAULT_POLICY, make_policy
from .settings import SETTING_NAMES, video_settings
from .video import SAM2VideoBackend

_BUILD_KW = ("seed", "checkpoint_dir")
_IMAGE_KW = ("precision", "mask_threshold", "max_hole_area", "max_sprinkle_area")
_VIDEO_KW = (
    "precision",
    "offload_video_to_cpu",
    "offload_state_to_cpu",
    "lazy_frames",
    "vos_optimized",
    "memory",
    "frame_cache",
    "prefetch",
    "preload_limit_mb",
    "spill_dir",
    "spill_window",
    "tf32",
    "memory_preset",
    "policy",
    "policy_params",
    *SETTING_NAMES,
)


def _split(kw: dict, backend_keys: tuple[str, ...], what: str) -> tuple[dict, dict]:
    unknown = sorted(set(kw) - set(_BUILD_KW) - set(backend_keys))
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {unknown} for the SAM 2 {what} backend. "
            f"Valid options: {', '.join(sorted({*_BUILD_KW, *backend_keys}))}."
        )
    build = {k: kw[k] for k in _BUILD_KW if k in kw}
    backend = {k: kw[k] for k in backend_keys if k in kw}
    return build, backend


def make_sam2_image_backend(
    model: str = "sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str = "auto",
    image_size: int | None = None,
    **kw,
) -> SAM2ImageBackend:
    """Build a :class:`SAM2ImageBackend`.

    Parameters
    ----------
    model : str
        Registry name or alias (``"sam2.1_hiera_tiny"``, ``"sam2.1_hiera_b+"``, ``"large"`` …).
    checkpoint : None, str or Path
        None: the official file in ``$SAM2_CHECKPOINT_DIR``; a file path; or ``"random"``
        (untrained weights: every prediction is flagged ``untrained``).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    image_size : int, optional
        Model input size in pixels (a multiple of 32 >= 64); None: the model's own (1024
        official, 512 for MedSAM2).
    **kw
        ``seed``, ``checkpoint_dir`` (model building); ``precision`` (``"auto"`` / ``"fp32"`` /
        ``"bf16"``), ``mask_threshold``, ``max_hole_area``, ``max_sprinkle_area`` (predictor).

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    build, backend = _split(kw, _IMAGE_KW, "image")
    net, info = build_sam2_model(model, checkpoint, device, image_size, mode="image", **build)
    warn_if_slow("sam2", info.device, info.image_size)
    return SAM2ImageBackend(net, info, **backend)


def make_sam2_video_backend(
    model: str = "sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str = "auto",
    image_size: int | None = None,
    **kw,
) -> SAM2VideoBackend:
    """Build a :class:`SAM2VideoBackend`; parameters as :func:`make_sam2_image_backend`, plus
    the options of :class:`SAM2VideoBackend` (``offload_video_to_cpu``, ``offload_state_to_cpu``,
    ``lazy_frames``, ``memory`` …), ``vos_optimized`` (``SAM2VideoPredictorVOS`` with
    ``torch.compile``) and SAM 2's memory/runtime settings:

    memory_preset : str, SAM2VideoSettings, dict or None
        ``"official"`` (default: the checkpoint config's values) or ``"interactive"``
        (refinement clicks become conditioning frames), or a
        :class:`~workbench.backends.sam2.settings.SAM2VideoSettings`.
    max_cond_frames_in_attn, add_all_frames_to_correct_as_cond, clear_non_cond_mem_around_input, \
non_overlap_masks, apply_postprocessing
        Overrides of the preset (see :mod:`workbench.backends.sam2.settings`);
        ``apply_postprocessing`` is passed to the model builder.
    policy : str
        A tracking policy of :data:`workbench.backends.sam2.policies.POLICIES` (``"sam2"``
        default, ``"samurai"``, ``"sam2long"``).
    policy_params : dict, optional
        That policy's parameters, named as its paper / reference code names them. The policy
        and every parameter value are recorded in ``backend.info.extra`` (``policy``,
        ``policy_params``) and so in run cards.

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    build, backend = _split(kw, _VIDEO_KW, "video")
    vos = backend.pop("vos_optimized", False)
    policy_name = backend.pop("policy", None) or DEFAULT_POLICY
    policy_params = dict(backend.pop("policy_params", None) or {})
    make_policy(policy_name, **policy_params)  # bad names / parameters fail before the model loads
    if vos and policy_name != DEFAULT_POLICY:
        raise ConfigError(
            f"vos_optimized=True compiles the methods the {policy_name!r} tracking policy replaces; "
            "use one or the other."
        )
    settings = video_settings(
        backend.pop("memory_preset", None), **{k: backend.pop(k) for k in SETTING_NAMES if k in backend}
    )
    net, info = build_sam2_model(
        model, checkpoint, device, image_size, mode="video", vos_optimized=vos, **settings.build_flags, **build
    )
    warn_if_slow("sam2", info.device, info.image_size)
    video = SAM2VideoBackend(net, info, video_settings=settings, **backend)
    video.set_policy(policy_name, policy_params)  # installs it and records it in info.extra
    return video


__all__ = ["make_sam2_image_backend", "make_sam2_video_backend"]
