"""Build SAM 2 models from the official configs and load checkpoints safely.

The model is instantiated by the reference implementation's own builders
(``sam2.build_sam.build_sam2`` / ``build_sam2_video_predictor``, sam2 1.1.0) with
``ckpt_path=None``; weights are then loaded by :func:`load_checkpoint` here, which only
unpickles tensors (``torch.load(weights_only=True)``), requires the official
``{"model": state_dict}`` layout and a strict key/shape match, and turns every failure into a
:class:`~workbench.errors.CheckpointError` subclass whose message says how to fix it (the
family-neutral part, shared with SAM v1, is :mod:`workbench.backends.loading`).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import torch

from ...errors import (
    BackendError,
    CheckpointError,
    CheckpointFormatError,
    ConfigError,
    UnknownNameError,
)
from ...types import ModelInfo
from ..loading import (
    RANDOM,
    checkpoint_digest,
    checkpoint_path,
    load_state_dict_strict,
    resolve_device,
    safe_torch_load,
)
from ..registry import ModelSpec, get_spec, resolve_checkpoint

MODES = ("image", "video")
PRECISIONS = ("auto", "fp32", "bf16")
BACKEND = "sam2"
"""Registry backend of the SAM 2 models (:attr:`ModelSpec.backend`)."""


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"fp32"`` or ``"bf16"`` for ``precision`` in :data:`PRECISIONS` on ``device``.

    ``"auto"`` is bf16 autocast on CUDA GPUs that support it (as the official notebooks do),
    fp32 otherwise. bf16 on CPU is refused: autocast there is about 150x slower.

    Raises
    ------
    UnknownNameError, BackendError
    """
    if precision not in PRECISIONS:
        raise UnknownNameError("precision", precision, PRECISIONS)
    if device.type != "cuda":
        if precision == "bf16":
            raise BackendError(
                "bf16 autocast is only used on CUDA; on CPU it is ~150x slower. Use precision='fp32' or 'auto' on CPU."
            )
        return "fp32"
    if precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return precision


def autocast_context(device: torch.device, precision: str):
    """Context manager for inference: bf16 autocast on CUDA when ``precision == "bf16"``,
    a no-op otherwise (never autocast on CPU)."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def enable_tf32(device: torch.device) -> None:
    """Allow TF32 matmuls/convolutions on Ampere+ GPUs (process-wide torch flags), as the
    official SAM 2 notebooks do. No-op on CPU."""
    if device.type == "cuda" and torch.cuda.get_device_properties(device).major >= 8:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def backbone_feature_sizes(image_size: int) -> list[tuple[int, int]]:
    """Spatial sizes ``(h, w)`` of the three backbone levels SAM 2's decoder uses, at strides
    4, 8 and 16 of the square input (``[(256, 256), (128, 128), (64, 64)]`` at 1024)."""
    return [(image_size // s, image_size // s) for s in (4, 8, 16)]


def _check_image_size(image_size: int) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 64 or image_size % 32:
        raise ConfigError(
            f"image_size={image_size!r} is not supported: SAM 2 needs a multiple of 32 that is at least 64 "
            "(Hiera's stride-32 stage and 8x8 windowed position embeddings). Use 1024 (official), "
            "or e.g. 512 / 256 for quick experiments."
        )
    return image_size


def _has_sam2_extension() -> bool:
    """True when sam2's optional CUDA extension ``sam2._C`` (hole filling) is importable."""
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return False
    return True


def load_checkpoint(model: torch.nn.Module, path: str | Path, spec: ModelSpec | None = None) -> None:
    """Load an official-format SAM 2 checkpoint into ``model`` (strict).

    Parameters
    ----------
    model : torch.nn.Module
        A model built from the config the checkpoint should match.
    path : str or Path
        File written by the authors or by :func:`save_checkpoint`: ``{"model": state_dict}``.
    spec : ModelSpec, optional
        Used in error messages to name the config the keys were checked against.

    Raises
    ------
    CheckpointNotFoundError
        No such file.
    UnsafeCheckpointError
        The file contains pickled Python objects (refused, never executed).
    CheckpointFormatError
        Truncated / corrupt file, or not a ``{"model": state_dict}`` dict of tensors.
    CheckpointMismatchError
        Missing or unexpected keys, or tensor shapes that differ from the config.
    """
    path = Path(path)
    against = f"config {spec.config} (model {spec.name!r})" if spec else "the model's config"
    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or "model" not in obj:
        keys = sorted(map(str, obj))[:5] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointFormatError(
            f"Checkpoint {path} is not in the official SAM 2 format {{'model': state_dict}} (found {keys}). "
            "If it is a bare state dict, re-save it with torch.save({'model': state_dict}, path)."
        )
    load_state_dict_strict(
        model,
        obj["model"],
        path,
        against,
        "The file most likely belongs to another model size or family (SAM 2 vs SAM 2.1); "
        "pick the model whose file name it has.",
    )


def save_checkpoint(model: torch.nn.Module, path: str | Path) -> Path:
    """Write ``model``'s weights in the official SAM 2 format ``{"model": state_dict}``.

    Tensors are moved to CPU; the file is written to a temporary name and renamed, so a crash
    never leaves a truncated checkpoint. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": sd}, tmp)
    tmp.replace(path)
    return path


def build_sam2_model(
    model: str = "sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    mode: str = "image",
    seed: int = 0,
    vos_optimized: bool = False,
    checkpoint_dir: str | Path | None = None,
    apply_postprocessing: bool = True,
) -> tuple[torch.nn.Module, ModelInfo]:
    """Build a SAM 2 model from its official config and load its weights.

    Parameters
    ----------
    model : str
        Registry name or alias of a SAM 2 model (see :func:`workbench.backends.registry.get_spec`).
    checkpoint : None, str or Path
        None: the official file from the checkpoint directory (error when absent); a path: that
        file; ``"random"``: untrained weights from ``torch.manual_seed(seed)``.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    image_size : int, optional
        Square input size in pixels (must be a multiple of 32, >= 64); None: the model's own
        (:attr:`ModelSpec.image_size`, 1024 official, 512 for MedSAM2). Set through the Hydra
        override ``++model.image_size=N``.
    mode : {"image", "video"}
        ``"image"`` builds ``SAM2Base`` (for ``SAM2ImagePredictor``), ``"video"`` a
        ``SAM2VideoPredictor``.
    seed : int
        Seed for random weights (the global torch RNG is left untouched).
    vos_optimized : bool
        Video only: ``SAM2VideoPredictorVOS`` with ``torch.compile`` (slow first frames).
    checkpoint_dir : str or Path, optional
        Where ``checkpoint=None`` looks; default ``$SAM2_CHECKPOINT_DIR``.
    apply_postprocessing : bool
        The flag of sam2's builders (``build_sam2`` / ``build_sam2_video_predictor``), default
        True as there: dynamic multimask fallback via stability, and for video
        ``binarize_mask_from_pts_for_mem_enc=true`` and ``fill_hole_area=8`` (set to 0 again
        without sam2's CUDA extension). ``tools/vos_inference.py`` builds with False (see
        :mod:`workbench.backends.sam2.settings`). Recorded in ``ModelInfo.extra``.

    Returns
    -------
    (torch.nn.Module, ModelInfo)
        The model in eval mode on ``device`` and what it is (checkpoint path and SHA-256,
        ``untrained`` for random weights).

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    spec = get_spec(model, backend=BACKEND)
    if mode not in MODES:
        raise UnknownNameError("mode", mode, MODES)
    if vos_optimized and mode != "video":
        raise ConfigError("vos_optimized=True applies to mode='video' only.")
    image_size = _check_image_size(spec.image_size if image_size is None else image_size)
    if not isinstance(apply_postprocessing, bool):
        raise ConfigError(f"apply_postprocessing must be True or False; got {apply_postprocessing!r}.")
    dev = resolve_device(device)
    # Resolve the weights first: a missing file should fail before the (slow) build.
    path = checkpoint_path(checkpoint, spec, lambda: resolve_checkpoint(spec, checkpoint_dir))
    from sam2.build_sam import build_sam2, build_sam2_video_predictor

    overrides = [f"++model.image_size={image_size}"] if image_size != 1024 else []
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if mode == "image":
                net = build_sam2(
                    spec.config,
                    ckpt_path=None,
                    device="cpu",
                    hydra_overrides_extra=overrides,
                    apply_postprocessing=apply_postprocessing,
                )
            else:
                net = build_sam2_video_predictor(
                    spec.config,
                    ckpt_path=None,
                    device="cpu",
                    hydra_overrides_extra=overrides,
                    vos_optimized=vos_optimized,
                    apply_postprocessing=apply_postprocessing,
                )
                if not _has_sam2_extension():
                    # Hole filling needs sam2._C; without it the reference code warns on every
                    # frame and skips the step, so switching it off gives the same masks quietly.
                    net.fill_hole_area = 0
    except Exception as exc:  # hydra / instantiate failures
        raise BackendError(f"Could not build SAM 2 model {spec.name!r} from {spec.config}: {exc}") from exc
    if path is not None:
        load_checkpoint(net, path, spec)
    net = net.to(dev).eval()
    info = ModelInfo(
        backend="sam2",
        model=spec.name,
        checkpoint=str(path) if path is not None else None,
        checkpoint_sha256=checkpoint_digest(path) if path is not None else "untrained",
        image_size=image_size,
        device=str(dev),
        untrained=path is None,
        extra={
            "config": spec.config,
            "family": spec.family,
            "size": spec.size,
            "mode": mode,
            "vos_optimized": bool(vos_optimized),
            "apply_postprocessing": apply_postprocessing,
            **({"fill_hole_area": int(net.fill_hole_area)} if mode == "video" else {}),
            **({"seed": seed} if path is None else {}),
        },
    )
    return net, info


__all__ = [
    "BACKEND",
    "MODES",
    "PRECISIONS",
    "RANDOM",
    "CheckpointError",
    "autocast_context",
    "backbone_feature_sizes",
    "build_sam2_model",
    "enable_tf32",
    "load_checkpoint",
    "resolve_device",
    "resolve_precision",
    "save_checkpoint",
]
