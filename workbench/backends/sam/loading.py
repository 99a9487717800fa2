"""Build SAM (v1) models at any input size and load official checkpoints safely.

The architecture numbers are those of ``segment_anything.build_sam`` (segment-anything 1.0:
``build_sam_vit_b/l/h`` and ``_build_sam``), but the model is assembled here from the
package's own modeling classes (``ImageEncoderViT``, ``PromptEncoder``, ``MaskDecoder``,
``TwoWayTransformer``, ``Sam``) with the input size as a parameter: ``_build_sam`` hard-codes
1024 pixels (and a 64x64 image embedding), which makes CPU tests slow.

Checkpoint format: the official files (``sam_vit_b_01ec64.pth`` …) are a **bare state dict**
(``build_sam`` does ``sam.load_state_dict(torch.load(f))``). :func:`load_sam1_checkpoint`
accepts that and also ``{"model": state_dict}`` (the SAM 2 layout, which fine-tuning code often
writes); it unpickles tensors only (``torch.load(weights_only=True)``) and requires a strict
key/shape match. Failures raise the same :class:`~workbench.errors.CheckpointError` subclasses
as the SAM 2 loader (both use :mod:`workbench.backends.loading`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ...errors import (
    BackendError,
    CheckpointFormatError,
    CheckpointNotFoundError,
    ConfigError,
)
from ...types import ModelInfo
from ..loading import (
    checkpoint_digest,
    checkpoint_path,
    load_state_dict_strict,
    resolve_device,
    safe_torch_load,
)
from ..registry import ModelSpec, get_spec, resolve_checkpoint

if TYPE_CHECKING:
    from segment_anything.modeling import Sam

BACKEND = "sam"
"""Registry backend of the SAM (v1) models (:attr:`ModelSpec.backend`)."""

PATCH_SIZE = 16
PROMPT_EMBED_DIM = 256
ARCHITECTURES = {
    # model type: (encoder_embed_dim, encoder_depth, encoder_num_heads, encoder_global_attn_indexes)
    "vit_b": (768, 12, 12, (2, 5, 8, 11)),
    "vit_l": (1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": (1280, 32, 16, (7, 15, 23, 31)),
}
"""ViT image-encoder sizes of the three SAM models (Kirillov et al. 2023, ``build_sam.py``)."""


def check_sam1_image_size(image_size: int) -> int:
    """Return ``image_size`` if SAM 1 can run at it: a multiple of the 16-pixel patch, >= 64.

    Raises
    ------
    ConfigError
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 64 or image_size % PATCH_SIZE:
        raise ConfigError(
            f"image_size={image_size!r} is not supported: SAM needs a multiple of {PATCH_SIZE} (its ViT patch "
            "size) that is at least 64. Use 1024 (official; required for the official weights), or e.g. 256 "
            "for quick tests with random weights."
        )
    return image_size


def build_sam1_net(model_type: str = "vit_b", image_size: int = 1024) -> torch.nn.Module:
    """Assemble an untrained ``segment_anything.modeling.Sam`` (eval mode, CPU).

    Parameters
    ----------
    model_type : {"vit_b", "vit_l", "vit_h"}
    image_size : int
        Square input size in pixels (1024 official). The image embedding is
        ``image_size / 16`` per side and the low-resolution mask logits ``image_size / 4``.

    Notes
    -----
    Parameters whose shapes depend on ``image_size`` (the ViT absolute position embedding and
    the relative position tables of the global-attention blocks) make checkpoints size-specific:
    the official weights load only at 1024.
    """
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    image_size = check_sam1_image_size(image_size)
    embed_dim, depth, num_heads, global_attn = ARCHITECTURES[get_spec(model_type, backend=BACKEND).size]
    grid = image_size // PATCH_SIZE
    encoder = ImageEncoderViT(
        img_size=image_size,
        patch_size=PATCH_SIZE,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=4,
        out_chans=PROMPT_EMBED_DIM,
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        window_size=14,
        global_attn_indexes=global_attn,
    )
    prompt_encoder = PromptEncoder(
        embed_dim=PROMPT_EMBED_DIM,
        image_embedding_size=(grid, grid),
        input_image_size=(image_size, image_size),
        mask_in_chans=16,
    )
    decoder = MaskDecoder(
        transformer_dim=PROMPT_EMBED_DIM,
        transformer=TwoWayTransformer(depth=2, embedding_dim=PROMPT_EMBED_DIM, mlp_dim=2048, num_heads=8),
        num_multimask_outputs=3,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )
    sam = Sam(
        image_encoder=encoder,
        prompt_encoder=prompt_encoder,
        mask_decoder=decoder,
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def load_sam1_checkpoint(model: Sam, path: str | Path, spec: ModelSpec | None = None) -> str:
    """Load a SAM (v1) checkpoint into ``model`` (strict).

    Parameters
    ----------
    model : segment_anything.modeling.Sam
        Built by :func:`build_sam1_net` for the model type and image size of the file.
    path : str or Path
        An official file (a bare state dict) or ``{"model": state_dict}``.
    spec : ModelSpec, optional
        Names the model in error messages.

    Returns
    -------
    str
        The layout found: ``"state_dict"`` (official) or ``"model"``.

    Raises
    ------
    CheckpointNotFoundError, UnsafeCheckpointError, CheckpointFormatError, CheckpointMismatchError
    """
    path = Path(path)
    size = model.image_encoder.img_size
    against = f"SAM {spec.size if spec else 'model'} at image_size={size}"
    if not path.is_file():
        raise CheckpointNotFoundError(f"Checkpoint file not found: {path}.")
    obj = safe_torch_load(path)
    layout = "model" if isinstance(obj, dict) and isinstance(obj.get("model"), dict) else "state_dict"
    sd = obj["model"] if isinstance(obj, dict) and layout == "model" else obj
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        found = sorted(map(str, sd))[:5] if isinstance(sd, dict) else type(sd).__name__
        raise CheckpointFormatError(
            f"Checkpoint {path} is not a SAM checkpoint: expected a state dict of tensors (official layout) or "
            f"{{'model': state_dict}}, found {found}. Re-download the official file."
        )

    def shape_hint(bad: list[str]) -> str:
        if all("pos" in b for b in bad):
            return "Position embeddings depend on image_size: official SAM weights need image_size=1024."
        return "The file belongs to another model type (vit_b / vit_l / vit_h)."

    load_state_dict_strict(
        model,
        sd,
        path,
        against,
        "The file most likely belongs to another model family (SAM 2 files load with backend "
        "'sam2') or was saved with a prefix.",
        shape_hint,
    )
    return layout


def save_sam1_checkpoint(model: torch.nn.Module, path: str | Path) -> Path:
    """Write ``model``'s weights in the official SAM (v1) format: a bare state dict of CPU
    tensors (written to a temporary name, then renamed). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(sd, tmp)
    tmp.replace(path)
    return path


def build_sam1_model(
    model: str = "vit_b",
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    image_size: int = 1024,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
) -> tuple[torch.nn.Module, ModelInfo]:
    """Build a SAM (v1) model and load its weights.

    Parameters
    ----------
    model : str
        ``"vit_b"``, ``"vit_l"``, ``"vit_h"`` or an alias (see
        :func:`workbench.backends.registry.get_spec`, backend ``"sam"``).
    checkpoint : None, str or Path
        None: the official file in the checkpoint directory (error when absent); a path; or
        ``"random"``: untrained weights from ``torch.manual_seed(seed)`` (global RNG untouched).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    image_size : int
        Square input size in pixels (1024 official; a multiple of 16, >= 64).
    seed : int
        Seed for random weights.
    checkpoint_dir : str or Path, optional
        Where ``checkpoint=None`` looks; default ``$SAM2_CHECKPOINT_DIR``.

    Returns
    -------
    (segment_anything.modeling.Sam, ModelInfo)
        The model in eval mode on ``device``; ``info.model`` is the registry name
        (``"sam_vit_b"`` …), ``info.backend`` ``"sam"``.

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    spec = get_spec(model, backend=BACKEND)
    image_size = check_sam1_image_size(image_size)
    dev = resolve_device(device)
    path = checkpoint_path(checkpoint, spec, lambda: resolve_checkpoint(spec, checkpoint_dir))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_sam1_net(spec.size, image_size)
    except ImportError as exc:
        raise BackendError(
            f"The SAM backend needs the 'segment-anything' package: {exc}. "
            "Install it with `pip install segment-anything`."
        ) from exc
    layout = load_sam1_checkpoint(net, path, spec) if path is not None else None
    net = net.to(dev).eval()
    info = ModelInfo(
        backend="sam",
        model=spec.name,
        checkpoint=str(path) if path is not None else None,
        checkpoint_sha256=checkpoint_digest(path) if path is not None else "untrained",
        image_size=image_size,
        device=str(dev),
        untrained=path is None,
        extra={"family": spec.family, "model_type": spec.size, **({"layout": layout} if layout else {"seed": seed})},
    )
    return net, info


__all__ = [
    "ARCHITECTURES",
    "BACKEND",
    "PATCH_SIZE",
    "build_sam1_model",
    "build_sam1_net",
    "check_sam1_image_size",
    "load_sam1_checkpoint",
    "save_sam1_checkpoint",
]
