"""Official SAM 2 / 2.1 checkpoints → the Hugging Face layout of ``transformers``.

``transformers`` ships its SAM 2 conversion script (``convert_sam2_video_to_hf.py``) in its source
repository only: the PyPI wheel and sdist of the pinned version (5.25.0) do not hold it, so it
cannot be imported from the installed package. This module is the workbench's own converter,
written from the two models' parameter names (it also reads the model sizes from the official
Hydra config instead of a model name, so MedSAM2's 512-px config converts too). It is checked
three ways:

- strictly: the renamed state dict must have exactly the keys and shapes of a
  ``Sam2VideoModel`` built from the converted config (else
  :class:`~workbench.errors.CheckpointMismatchError`);
- against transformers' own script: ``tests/data/hf_conversion/reference.json`` records the
  tensors (SHA-256 each) and ``config.json`` that the script wrote for the golden random
  SAM 2.1-tiny; this converter writes the same bits under the same names and the same config
  (``tests/backends/transformers/test_hf_conversion_reference.py``);
- against the official ``sam2`` package: same masks and logits on the same random weights
  (``tests/backends/transformers/test_hf_parity.py``).

The model config is read from the official Hydra config (``sam2/configs/...yaml``) of the
checkpoint: Hiera sizes and attention windows, FPN channels, and the SAM 2.1 flags (spatial
no-object embedding, temporal encoding of object pointers).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import torch

from ...errors import CheckpointFormatError, CheckpointMismatchError, ConfigError
from ..loading import safe_torch_load

# Renames that apply anywhere in a key, in this order (whole dotted components only).
_COMPONENTS = (
    ("image_encoder.trunk", "vision_encoder.backbone"),
    ("image_encoder.neck", "vision_encoder.neck"),
    ("sam_prompt_encoder", "prompt_encoder"),
    ("sam_mask_decoder", "mask_decoder"),
    ("pe_layer.positional_encoding_gaussian_matrix", "shared_embedding.positional_embedding"),
    ("patch_embed.proj", "patch_embed.projection"),
    ("output_upscaling.0", "upscale_conv1"),
    ("output_upscaling.1", "upscale_layer_norm"),
    ("output_upscaling.3", "upscale_conv2"),
    ("mask_downscaling.0", "mask_embed.conv1"),
    ("mask_downscaling.1", "mask_embed.layer_norm1"),
    ("mask_downscaling.3", "mask_embed.conv2"),
    ("mask_downscaling.4", "mask_embed.layer_norm2"),
    ("mask_downscaling.6", "mask_embed.conv3"),
    ("norm_final_attn", "layer_norm_final_attn"),
    ("memory_encoder.out_proj", "memory_encoder.projection"),
    ("out_proj", "o_proj"),
    ("pix_feat_proj", "feature_projection"),
    ("fuser", "memory_fuser"),
    ("dwconv", "depthwise_conv"),
    ("pwconv1", "pointwise_conv1"),
    ("pwconv2", "pointwise_conv2"),
    ("gamma", "scale"),
    ("maskmem_tpos_enc", "memory_temporal_positional_encoding"),
    ("no_mem_embed", "no_memory_embedding"),
    ("no_mem_pos_enc", "no_memory_positional_encoding"),
    ("no_obj_ptr", "no_object_pointer"),
    ("obj_ptr_tpos_proj", "temporal_positional_encoding_projection_layer"),
    ("obj_ptr_proj", "object_pointer_proj"),
    ("no_obj_embed_spatial", "occlusion_spatial_embedding_parameter"),
)
_NORM = re.compile(r"(^|\.)norm(\d*)(?=\.)")
_NECK_CONV = re.compile(r"(vision_encoder\.neck\.convs\.\d+)\.conv\.")
_POINT_EMBED = re.compile(r"prompt_encoder\.point_embeddings\.(\d+)\.weight")
_DOWNSAMPLER = re.compile(r"(memory_encoder\.mask_downsampler)\.encoder\.(\d+)\.")
# Multi-layer perceptrons: sam2 numbers their linear layers, transformers names the first
# ``proj_in``, the last ``proj_out`` and the ones between ``layers.0``, ``layers.1`` …
_MLP = re.compile(
    r"^(.*(?:iou_prediction_head|output_hypernetworks_mlps\.\d+|pred_obj_score_head|"
    r"object_pointer_proj|\.mlp))\.layers\.(\d+)\.(weight|bias)$"
)


def _rename(key: str) -> str:
    out = key
    for old, new in _COMPONENTS:
        out = re.sub(rf"(^|\.){re.escape(old)}(?=\.|$)", rf"\g<1>{new}", out)
    out = _NORM.sub(lambda m: f"{m.group(1)}layer_norm{m.group(2)}", out)
    return _NECK_CONV.sub(r"\1.", out)


def convert_state_dict(official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official SAM 2 / 2.1 state dict (``checkpoint["model"]``) to ``Sam2VideoModel``'s.

    Tensors are shared, not copied, except the four prompt point embeddings, which are
    stacked into one ``(4, C)`` table, and the prompt encoder's random Fourier matrix, which
    ``transformers`` also stores as ``shared_image_embedding``.

    Raises
    ------
    CheckpointFormatError
        A key this converter does not know how to place (a file of another model family).
    """
    renamed = {_rename(k): v for k, v in official.items()}
    mlp_depth: dict[str, int] = {}
    for key in renamed:
        if m := _MLP.match(key):
            mlp_depth[m.group(1)] = max(mlp_depth.get(m.group(1), 0), int(m.group(2)) + 1)
    downsampler = [int(m.group(2)) for k in renamed if (m := _DOWNSAMPLER.match(k))]
    last_conv = max(downsampler, default=-1)
    out: dict[str, torch.Tensor] = {}
    points: dict[int, torch.Tensor] = {}
    for key, value in renamed.items():
        if m := _POINT_EMBED.fullmatch(key):
            points[int(m.group(1))] = value
            continue
        if m := _MLP.match(key):
            prefix, i, leaf = m.group(1), int(m.group(2)), m.group(3)
            depth = mlp_depth[prefix]
            name = "proj_in" if i == 0 else "proj_out" if i == depth - 1 else f"layers.{i - 1}"
            key = f"{prefix}.{name}.{leaf}"
        elif m := _DOWNSAMPLER.match(key):
            i = int(m.group(2))
            # sam2: [conv, norm, act] * n, then a final 1x1 conv; transformers: layers.k.{conv, layer_norm}, final_conv
            if i == last_conv:
                name = "final_conv"
            elif i % 3 == 0:
                name = f"layers.{i // 3}.conv"
            elif i % 3 == 1:
                name = f"layers.{i // 3}.layer_norm"
            else:
                raise CheckpointFormatError(
                    f"Unexpected mask downsampler entry {key!r} (an activation has no weights)."
                )
            key = f"{m.group(1)}.{name}.{key[m.end() :]}"
        out[key] = value
    if points:
        out["prompt_encoder.point_embed.weight"] = torch.cat([points[i] for i in sorted(points)], dim=0)
    gaussian = out.get("prompt_encoder.shared_embedding.positional_embedding")
    if gaussian is not None:
        out["shared_image_embedding.positional_embedding"] = gaussian
    return out


def _official_config(config_name: str) -> dict:
    """The ``model`` section of an official Hydra config shipped in the ``sam2`` package (or a
    path to a YAML file in the same layout, e.g. MedSAM2's ``sam2.1_hiera_t512.yaml``)."""
    from omegaconf import OmegaConf

    path = Path(config_name)
    if not path.is_file():
        path = Path(str(resources.files("sam2") / config_name))
    if not path.is_file():
        raise ConfigError(f"Official SAM 2 config {config_name!r} not found in the sam2 package nor as a file.")
    cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    model = cfg.get("model") if isinstance(cfg, dict) else None
    if not isinstance(model, dict):
        raise ConfigError(f"{path} is not an official SAM 2 model config (no `model:` section).")
    return model


def sam2_video_config(config_name: str, image_size: int | None = None):
    """A ``transformers.Sam2VideoConfig`` equivalent to an official SAM 2 / 2.1 Hydra config.

    Parameters
    ----------
    config_name : str
        Config path inside the ``sam2`` package (``"configs/sam2.1/sam2.1_hiera_t.yaml"``), or a
        YAML file in the same layout.
    image_size : int, optional
        Square input size in pixels (default: the config's, 1024 for Meta's releases). Feature
        sizes of the backbone and of the memory attention's rotary encoding follow from it.

    Raises
    ------
    ConfigError
        No such config, or one without the SAM 2 model layout.
    """
    from transformers import Sam2HieraDetConfig, Sam2VideoConfig, Sam2VisionConfig

    model = _official_config(config_name)
    trunk = model["image_encoder"]["trunk"]
    neck = model["image_encoder"]["neck"]
    size = int(image_size or model.get("image_size", 1024))
    embed, heads = int(trunk.get("embed_dim", 96)), int(trunk.get("num_heads", 1))
    stages = [int(s) for s in trunk.get("stages", [2, 3, 16, 3])]
    hiera = Sam2HieraDetConfig(
        hidden_size=embed,
        num_attention_heads=heads,
        image_size=[size, size],
        blocks_per_stage=stages,
        embed_dim_per_stage=[embed * 2**i for i in range(len(stages))],
        num_attention_heads_per_stage=[heads * 2**i for i in range(len(stages))],
        window_size_per_stage=[int(w) for w in trunk.get("window_spec", [8, 4, 14, 7])],
        global_attention_blocks=[int(b) for b in trunk.get("global_att_blocks", [12, 16, 20])],
        window_positional_embedding_background_size=[
            int(s) for s in trunk.get("window_pos_embed_bkg_spatial_size", [14, 14])
        ],
    )
    vision = Sam2VisionConfig(
        backbone_config=hiera,
        backbone_channel_list=[int(c) for c in neck["backbone_channel_list"]],
        backbone_feature_sizes=[[size // s, size // s] for s in (4, 8, 16)],
        fpn_top_down_levels=[int(x) for x in neck.get("fpn_top_down_levels", [2, 3])],
    )
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"image_size": size},
        image_size=size,
        num_maskmem=int(model.get("num_maskmem", 7)),
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        enable_occlusion_spatial_embedding=bool(model.get("no_obj_embed_spatial", False)),
        enable_temporal_pos_encoding_for_object_pointers=bool(model.get("proj_tpos_enc_in_obj_ptrs", False)),
    )


def convert_sam2_checkpoint(
    checkpoint: str | Path, config_name: str, out_dir: str | Path, image_size: int | None = None
) -> Path:
    """Write an official SAM 2 / 2.1 checkpoint as a Hugging Face model folder.

    Parameters
    ----------
    checkpoint : str or Path
        Official file ``{"model": state_dict}`` (read with ``weights_only=True``).
    config_name : str
        Its official config (see :func:`sam2_video_config`).
    out_dir : str or Path
        Folder to write ``config.json`` and ``model.safetensors`` into (created).
    image_size : int, optional
        Input size recorded in the config (default: the official config's).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    CheckpointError
        Unreadable file, not the official layout, or keys / shapes that do not fit the config.
    """
    from transformers import Sam2VideoModel

    path = Path(checkpoint)
    obj = safe_torch_load(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise CheckpointFormatError(f"{path} is not an official SAM 2 checkpoint {{'model': state_dict}}.")
    state = convert_state_dict(obj["model"])
    config = sam2_video_config(config_name, image_size)
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Sam2VideoModel(config).state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    bad = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or unexpected or bad:
        raise CheckpointMismatchError(
            f"{path} does not fit {config_name} after renaming: missing {missing[:4]}, unexpected "
            f"{unexpected[:4]}, shape mismatches {bad[:4]}. Pass the config of the checkpoint's model size."
        )
    model = Sam2VideoModel(config)
    model.load_state_dict(state, strict=True)
    out = Path(out_dir)
    model.save_pretrained(out, safe_serialization=True)
    return out


__all__ = ["convert_sam2_checkpoint", "convert_state_dict", "sam2_video_config"]
