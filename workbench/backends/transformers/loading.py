"""Build ``transformers`` models from a local Hugging Face model folder, or untrained from a config.

A model folder is what ``hf download MODEL_ID --local-dir DIR`` or ``save_pretrained`` writes:
``config.json`` and ``model.safetensors`` (weights as safetensors only: nothing pickled is ever
read; ``use_safetensors=True``). It is found in the checkpoint directory under the model id
(``$SAM2_CHECKPOINT_DIR/facebook/sam2.1-hiera-tiny``) or given as a path, and loaded with
``from_pretrained(local_files_only=True)``: no network access, no remote code. Loading is
strict: a folder whose weights miss or add parameters, or whose config is of another model
type, raises :class:`~workbench.errors.CheckpointMismatchError`.

Untrained models (``checkpoint="random"``) are built from a config at any input size: SAM 2 from
the official Hydra config of the same model (:func:`.convert.sam2_video_config`), the other
architectures from a small config (:func:`tiny_config`) meant for tests.
"""

from __future__ import annotations

import importlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import CheckpointFormatError, CheckpointMismatchError, CheckpointNotFoundError, ConfigError
from ...types import ModelInfo
from ..loading import RANDOM, checkpoint_digest, resolve_device
from ..registry import ModelSpec, get_spec, resolve_checkpoint

BACKEND = "transformers"
MODES = ("image", "video", "concept")


@dataclass(frozen=True)
class Architecture:
    """The ``transformers`` classes of one architecture (names in the ``transformers`` namespace).

    Attributes
    ----------
    image_model, video_model : str
        Model classes for images (one frame, prompts) and videos (inference session).
    image_processor : str
        Processor class of ``image_model`` (resizing, normalising, coordinates).
    video_session : str
        Inference-session class of ``video_model``.
    model_types : tuple of str
        ``config.json`` model types a folder of this architecture may carry.
    """

    image_model: str
    video_model: str
    image_processor: str
    video_processor: str
    video_session: str
    model_types: tuple[str, ...]


ARCHITECTURES: dict[str, Architecture] = {
    "sam2": Architecture(
        "Sam2Model",
        "Sam2VideoModel",
        "Sam2Processor",
        "Sam2VideoProcessor",
        "Sam2VideoInferenceSession",
        ("sam2", "sam2_video"),
    ),
    "edgetam": Architecture(
        "EdgeTamModel",
        "EdgeTamVideoModel",
        "Sam2Processor",
        "Sam2VideoProcessor",
        "EdgeTamVideoInferenceSession",
        ("edgetam", "edgetam_video"),
    ),
    "sam3_tracker": Architecture(
        "Sam3TrackerModel",
        "Sam3TrackerVideoModel",
        "Sam3TrackerProcessor",
        "Sam3TrackerVideoProcessor",
        "Sam3TrackerVideoInferenceSession",
        ("sam3_tracker", "sam3_tracker_video", "sam3_video", "sam3"),
    ),
}
"""Classes per :attr:`ModelSpec.architecture` (see :data:`workbench.backends.registry.HF_ARCHITECTURES`).
SAM 3 (``"sam3"``) prompts with points / boxes / masks through the ``"sam3_tracker"`` classes and
adds text concept prompts (:mod:`.concept`)."""


def arch_key(architecture: str | None) -> str:
    """The :data:`ARCHITECTURES` key whose classes a registry architecture uses."""
    return "sam3_tracker" if architecture == "sam3" else str(architecture)


def hf_class(name: str):
    """A class of the ``transformers`` namespace by name."""
    return getattr(importlib.import_module("transformers"), name)


@contextmanager
def _quiet_transformers():
    """Silence ``transformers``' info/warning logs and progress bars while loading (they go to
    stderr on every load; failures still raise)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


def _check_image_size(image_size: int, patch: int) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 2 * patch or image_size % patch:
        raise ConfigError(
            f"image_size={image_size!r} is not supported by this model: it needs a multiple of {patch} "
            f"that is at least {2 * patch} pixels. Use the model's own size (image_size=None) or e.g. 256 for tests."
        )
    return image_size


def edgetam_config(image_size: int, mode: str):
    """EdgeTAM's config at ``image_size``: a RepViT-M1 backbone (``timm``, built without
    pretrained weights) with the 2D spatial perceiver memory of ``EdgeTamVideoConfig``'s
    defaults, the architecture of ``yonigozlan/EdgeTAM-hf``."""
    s = image_size
    backbone = dict(
        model_type="timm_wrapper",
        architecture="repvit_m1",
        num_classes=1000,
        model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
    )
    vision = dict(
        model_type="edgetam_vision_model",
        backbone_config=backbone,
        backbone_channel_list=[384, 192, 96, 48],
        backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
    )
    if mode == "video":
        return hf_class("EdgeTamVideoConfig")(
            vision_config=vision,
            prompt_encoder_config={"image_size": s},
            image_size=s,
            memory_attention_rope_feat_sizes=[s // 16, s // 16],
        )
    return hf_class("EdgeTamConfig")(vision_config=vision, prompt_encoder_config={"image_size": s})


def tiny_config(architecture: str, image_size: int, mode: str):
    """A small config of ``architecture`` for untrained test models: the SAM 3 tracker with a
    2-layer, 64-wide ViT (patch 14) and its real prompt encoder, mask decoder and memory.

    SAM 2 uses the real tiny (Hiera-T) config of its official release instead (see
    :func:`build_transformers_model`).

    Raises
    ------
    ConfigError
        No test config for ``architecture``.
    """
    if architecture != "sam3_tracker":
        raise ConfigError(f"No test config for architecture {architecture!r}.")
    n = image_size // 14
    vit = dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=14,
        window_size=8,
        global_attn_indexes=[1],
        pretrain_image_size=112,
    )
    vision = dict(
        model_type="sam3_vision_model",
        backbone_config=dict(model_type="sam3_vit_model", **vit),
        backbone_feature_sizes=[[4 * n, 4 * n], [2 * n, 2 * n], [n, n]],
    )
    if mode == "video":
        return hf_class("Sam3TrackerVideoConfig")(
            vision_config=vision,
            prompt_encoder_config={"image_size": image_size},
            memory_attention_rope_feat_sizes=[n, n],
            image_size=image_size,
        )
    return hf_class("Sam3TrackerConfig")(vision_config=vision, prompt_encoder_config={"image_size": image_size})


def model_image_size(net) -> int:
    """Square input size in pixels of a SAM-family ``transformers`` model (its prompt encoder's)."""
    size = net.config.prompt_encoder_config.image_size
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def _read_model_type(folder: Path) -> str:
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointFormatError(f"{folder / 'config.json'} is not a readable JSON model config: {exc}") from exc
    return str(cfg.get("model_type", ""))


def hub_revision(folder: Path) -> str | None:
    """The Hub commit a folder was downloaded at (``hf download --local-dir`` keeps it in
    ``.cache/huggingface/download/model.safetensors.metadata``, first line), None when unknown."""
    meta = folder / ".cache" / "huggingface" / "download" / "model.safetensors.metadata"
    try:
        first = meta.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return first or None


def model_folder(checkpoint, spec: ModelSpec, checkpoint_dir=None) -> Path | None:
    """The model folder a ``checkpoint`` argument names: None → the spec's folder in the
    checkpoint directory, ``"random"`` → None (untrained), else an existing folder.

    Raises
    ------
    CheckpointNotFoundError
        No such folder, or it lacks ``config.json`` / ``model.safetensors``.
    """
    if checkpoint is None:
        return resolve_checkpoint(spec, checkpoint_dir, backend=BACKEND)
    if isinstance(checkpoint, str) and checkpoint == RANDOM:
        return None
    path = Path(checkpoint).expanduser().resolve()
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise CheckpointNotFoundError(
            f"{path} is not a Hugging Face model folder: it needs config.json and model.safetensors "
            "(weights are read as safetensors only). Pass such a folder, checkpoint=None to use "
            f"{spec.filename} from the checkpoint directory, or checkpoint='random' for untrained weights."
        )
    return path


def _tracker_image_from_video(folder: Path, arch: Architecture):
    """``Sam3TrackerModel`` from a SAM 3 video folder (``model_type`` ``sam3_video``), which
    ``Sam3TrackerModel.from_pretrained`` cannot map in transformers 5.25.0: the tracker video
    model is loaded strictly and its image part copied (its parameters are a subset)."""
    video = _load(hf_class(arch.video_model), folder, arch)
    c = video.config
    image = hf_class("Sam3TrackerConfig")(
        vision_config=c.vision_config,
        prompt_encoder_config=c.prompt_encoder_config,
        mask_decoder_config=c.mask_decoder_config,
    )
    with _quiet_transformers():
        net = hf_class(arch.image_model)(image)
    missing, _ = net.load_state_dict(video.state_dict(), strict=False)
    if missing:
        raise CheckpointMismatchError(
            f"{folder}: the SAM 3 tracker image model misses {len(missing)} weights, e.g. {missing[:4]}."
        )
    return net


def _load(cls, folder: Path, arch: Architecture):
    model_type = _read_model_type(folder)
    if cls.__name__ == "Sam3TrackerModel" and model_type == "sam3_video":
        return _tracker_image_from_video(folder, arch)
    if model_type not in arch.model_types:
        raise CheckpointMismatchError(
            f"{folder} holds a {model_type!r} model, not one {cls.__name__} loads ({', '.join(arch.model_types)}). "
            "Pick the registry model of that architecture."
        )
    try:
        with _quiet_transformers():
            model, info = cls.from_pretrained(
                folder, local_files_only=True, use_safetensors=True, output_loading_info=True
            )
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointFormatError(f"Cannot load {folder} as {cls.__name__}: {exc}") from exc
    ignored = getattr(cls, "_keys_to_ignore_on_load_unexpected", None) or []
    unexpected = [k for k in info.get("unexpected_keys", []) if not any(re.search(p, k) for p in ignored)]
    missing = list(info.get("missing_keys", []))
    if missing or unexpected or info.get("mismatched_keys"):
        raise CheckpointMismatchError(
            f"{folder} does not match {cls.__name__}: {len(missing)} missing weight(s) {missing[:4]}, "
            f"{len(unexpected)} unexpected {unexpected[:4]}, mismatched {list(info.get('mismatched_keys', []))[:4]}. "
            "The folder belongs to another model; pick the registry model it was made for."
        )
    return model


def build_transformers_model(
    model: str = "hf_sam2.1_hiera_tiny",
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    image_size: int | None = None,
    mode: str = "image",
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
):
    """Build a ``transformers`` model of the registry and describe it.

    Parameters
    ----------
    model : str
        Registry name, alias or model id (:func:`workbench.backends.registry.get_spec` with
        ``backend="transformers"``).
    checkpoint : None, str or Path
        None: the model folder in the checkpoint directory; a folder path; ``"random"``:
        untrained weights from ``torch.manual_seed(seed)``.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    image_size : int, optional
        Input size of an untrained model (None: the model's own). A loaded folder keeps its
        config's size; another size raises ``ConfigError``.
    mode : {"image", "video"}
        The image class or the video class of the architecture.
    seed : int
        Seed for random weights (the global torch RNG is left untouched).
    checkpoint_dir : str or Path, optional
        Where ``checkpoint=None`` looks; default ``$SAM2_CHECKPOINT_DIR``.

    Returns
    -------
    (torch.nn.Module, ModelInfo)
        The model in eval mode on ``device``, and what it is: ``extra`` records the model id,
        the Hub ``revision`` (None when the folder does not say), the architecture and class,
        ``transformers``' version; ``checkpoint_sha256`` is that of ``model.safetensors``.

    Raises
    ------
    UnknownNameError, ConfigError, BackendError, CheckpointError
    """
    from importlib.metadata import version

    from .convert import sam2_video_config

    spec = get_spec(model, backend=BACKEND)
    if mode not in ("image", "video"):
        raise ConfigError(f"mode must be 'image' or 'video'; got {mode!r}.")
    arch = ARCHITECTURES[arch_key(spec.architecture)]
    dev = resolve_device(device)
    folder = model_folder(checkpoint, spec, checkpoint_dir)
    cls = hf_class(arch.video_model if mode == "video" else arch.image_model)
    if folder is not None:
        net = _load(cls, folder, arch)
    else:
        size = spec.image_size if image_size is None else image_size
        patch = 14 if arch_key(spec.architecture) == "sam3_tracker" else 32
        size = _check_image_size(size, patch)
        if spec.architecture == "sam2":
            config = sam2_video_config(spec.config, size)
            if mode == "image":
                config = hf_class("Sam2Config")(
                    vision_config=config.vision_config,
                    prompt_encoder_config=config.prompt_encoder_config,
                    mask_decoder_config=config.mask_decoder_config,
                )
        elif spec.architecture == "edgetam":
            config = edgetam_config(size, mode)
        else:
            config = tiny_config(arch_key(spec.architecture), size, mode)
        with torch.random.fork_rng(devices=[]), _quiet_transformers():
            torch.manual_seed(seed)
            net = cls(config)
    net = net.to(dev).eval()
    weights = None if folder is None else folder / "model.safetensors"
    info = ModelInfo(
        backend=BACKEND,
        model=spec.name,
        checkpoint=str(folder) if folder is not None else None,
        checkpoint_sha256=checkpoint_digest(weights) if weights is not None else "untrained",
        image_size=model_image_size(net),
        device=str(dev),
        untrained=folder is None,
        extra={
            "family": spec.family,
            "architecture": spec.architecture,
            "model_class": cls.__name__,
            "model_id": spec.filename,
            "revision": None if folder is None else hub_revision(folder),
            "transformers": version("transformers"),
            "mode": mode,
            **({"seed": seed} if folder is None else {}),
        },
    )
    return net, info


__all__ = [
    "ARCHITECTURES",
    "BACKEND",
    "Architecture",
    "arch_key",
    "build_transformers_model",
    "edgetam_config",
    "hf_class",
    "hub_revision",
    "model_folder",
    "model_image_size",
    "tiny_config",
]
