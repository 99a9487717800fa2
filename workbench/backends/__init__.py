"""Backends: the only place where ``sam2``, ``segment_anything`` and ``torch`` are imported.

``make_image_backend`` / ``make_video_backend`` build a backend by name; the model families are
imported lazily, so the weight-free ``classical`` backend starts without loading torch.

Layout: one package per family, :mod:`.sam2` (SAM 2 / 2.1, MedSAM2), :mod:`.sam` (SAM v1),
:mod:`.transformers` (SAM 2, EdgeTAM, SAM 3 tracker and SAM 3 through Hugging Face
``transformers``) and :mod:`.classical` (weight-free), plus :mod:`.detectors` (object detectors
whose boxes prompt the video models: torchvision, Ultralytics YOLO, ground truth), on top of
family-neutral modules: :mod:`.base` (protocols and capabilities), :mod:`.validate` (the one
image / prompt validator), :mod:`.registry` (the
official checkpoints of every family), :mod:`.loading` (devices, safe checkpoint loading) and
:mod:`.verify` (checkpoint integrity). Families never import each other.

Optional capabilities are tested with :func:`supports`, e.g.
``supports(backend, MaskGenerator)`` before ``backend.generate_masks(image)``.
"""

from __future__ import annotations

from ..errors import ConfigError, UnknownNameError
from .base import (
    CAPABILITIES,
    ConceptPrompts,
    ImageBackend,
    MaskGenerator,
    MaskLogits,
    MemoryIntrospection,
    PolicySwitchable,
    Snapshotable,
    VideoBackend,
    supports,
)

BACKENDS = ("sam2", "sam", "transformers", "classical")
"""Backend names accepted by the factories. "sam" is SAM v1 through ``segment-anything`` (image
only); "transformers" runs SAM 2 / 2.1, EdgeTAM, the SAM 3 tracker and SAM 3 through Hugging
Face ``transformers`` (:mod:`.transformers`).

Rules of ``backend="auto"``, in order:

1. a ``checkpoint`` given (a file or ``"random"``): ``"sam2"``;
2. no ``model``: the first official SAM 2 checkpoint present in the checkpoint directory,
   SAM 2.1 tiny → large, then SAM 2 tiny → large (MedSAM2, a medical fine-tune, is never
   picked without being named);
3. a ``model`` named: ``"sam2"`` when its official file is present, else ``"transformers"``
   when its Hugging Face model folder is present (``"sam2.1_hiera_tiny"`` → the folder
   ``facebook/sam2.1-hiera-tiny``; ``"edgetam"``, ``"sam3"`` … exist only there);
4. otherwise ``"classical"`` (weight-free). "sam" is never picked by "auto"."""

_AUTO_FAMILIES = ("sam2.1", "sam2")


def _known(model: str, backend: str):
    from .registry import get_spec

    try:
        return get_spec(model, backend=backend)
    except UnknownNameError:
        return None


def _choose(backend: str, model: str | None, checkpoint: str | None) -> tuple[str, str | None]:
    if backend == "auto":
        from .registry import is_present, list_specs

        if checkpoint is not None:
            return "sam2", model
        if model is None:
            for spec in list_specs(backend="sam2"):
                if spec.family in _AUTO_FAMILIES and is_present(spec):
                    return "sam2", spec.name
            return "classical", None
        sam2, hf = _known(model, "sam2"), _known(model, "transformers")
        if sam2 is None and hf is None:
            from .registry import get_spec

            get_spec(model, backend="sam2")  # raises with the list of names
        if sam2 is not None and is_present(sam2):
            return "sam2", model
        if hf is not None and is_present(hf):
            return "transformers", hf.name
        return "classical", None
    if backend not in BACKENDS:
        raise UnknownNameError("backend", backend, [*BACKENDS, "auto"])
    return backend, model


def _classical_kw(kw: dict) -> dict:
    """The settings the classical backends take: ``precision`` is for torch models, so it is
    checked (a typo still fails) and dropped."""
    precision = kw.pop("precision", "auto")
    if precision not in ("auto", "fp32"):
        raise UnknownNameError("precision of the classical backend", precision, ["auto", "fp32"])
    policy, params = kw.pop("policy", None), kw.pop("policy_params", None)
    if policy not in (None, "sam2") or params:
        raise ConfigError(
            f"Tracking policy {policy!r} (and policy_params) are SAM 2 policies; the classical backend "
            "tracks with optical flow. Use backend='sam2', or leave policy at 'sam2'."
        )
    return kw


def _without_sam2_video_settings(kw: dict, name: str) -> dict:
    """Drop SAM 2's video settings (``memory_preset`` and the names of
    :data:`workbench.backends.sam2.settings.SETTING_NAMES`) for another backend when they ask
    for sam2's own behaviour (the official preset, no override); refuse them otherwise."""
    from .sam2.settings import SETTING_NAMES, video_settings  # torch-free

    given = {k: kw.pop(k) for k in ("memory_preset", *SETTING_NAMES) if k in kw}
    if given and not video_settings(given.pop("memory_preset", None), **given).is_default:
        raise ConfigError(
            f"SAM 2 memory presets and video settings ({', '.join(SETTING_NAMES)}) apply to the "
            f"'sam2' video backend only, not to {name!r}. Use backend='sam2', or leave them unset."
        )
    return kw


def make_image_backend(
    backend: str = "auto",
    model: str | None = None,
    checkpoint: str | None = None,
    device: str = "auto",
    image_size: int | None = None,
    **kw,
) -> ImageBackend:
    """Build an image backend.

    Parameters
    ----------
    backend : {"auto", "sam2", "sam", "transformers", "classical"}
        "auto" follows the rules of :data:`BACKENDS` (SAM 2 when a checkpoint for ``model`` (or
        any) is present, else classical); "sam" is SAM v1
        (:func:`workbench.backends.sam.factory.make_sam1_image_backend`); "transformers" the
        Hugging Face models (:func:`workbench.backends.transformers.make_transformers_image_backend`).
    model : str, optional
        SAM 2 registry name (e.g. ``"sam2.1_hiera_tiny"``, ``"medsam2"``), for "sam" a model type
        (``"vit_b"`` default, ``"vit_l"``, ``"vit_h"``), for "transformers" a name or model id
        (``"hf_sam2.1_hiera_tiny"``, ``"facebook/sam2.1-hiera-tiny"``, ``"edgetam"``,
        ``"sam3_tracker"``, ``"sam3"``); ignored by classical.
    checkpoint : str, optional
        None (resolve from ``$SAM2_CHECKPOINT_DIR``), a file path (for transformers a model
        folder), or ``"random"`` (untrained).
    device : str
        Torch device for SAM / SAM 2: ``"auto"`` (default: CUDA when available, else CPU),
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``; the chosen device is ``backend.info.device``.
    image_size : int, optional
        Model input size in pixels; None: the size the model was trained at
        (:attr:`~workbench.backends.registry.ModelSpec.image_size`: 1024, MedSAM2 512, SAM 3
        1008); smaller for tests.
    **kw
        Backend settings, e.g. ``precision`` (``"auto"`` default: bf16 autocast on CUDA GPUs
        that support it, fp32 otherwise; recorded in ``backend.info.extra["precision"]``).

    Raises
    ------
    UnknownNameError, CheckpointError
    """
    name, model = _choose(backend, model, checkpoint)
    if name == "classical":
        from .classical import make_classical_image_backend

        return make_classical_image_backend(**_classical_kw(kw))
    if name == "sam":
        from .sam.factory import make_sam1_image_backend

        return make_sam1_image_backend(
            model=model or "vit_b", checkpoint=checkpoint, device=device, image_size=image_size or 1024, **kw
        )
    if name == "transformers":
        from .transformers.factory import make_transformers_image_backend

        return make_transformers_image_backend(
            model=model or "hf_sam2.1_hiera_tiny", checkpoint=checkpoint, device=device, image_size=image_size, **kw
        )
    from .sam2.factory import make_sam2_image_backend

    return make_sam2_image_backend(
        model=model or "sam2.1_hiera_tiny", checkpoint=checkpoint, device=device, image_size=image_size, **kw
    )


def make_video_backend(
    backend: str = "auto",
    model: str | None = None,
    checkpoint: str | None = None,
    device: str = "auto",
    image_size: int | None = None,
    **kw,
) -> VideoBackend:
    """Build a video backend; parameters as :func:`make_image_backend`.

    SAM 2's memory/runtime settings are keyword settings too: ``memory_preset``
    (``"official"`` default, ``"interactive"``, or a
    :class:`~workbench.backends.sam2.settings.SAM2VideoSettings`) and the overrides
    ``max_cond_frames_in_attn``, ``add_all_frames_to_correct_as_cond``,
    ``clear_non_cond_mem_around_input``, ``non_overlap_masks``, ``apply_postprocessing`` (see
    :mod:`workbench.backends.sam2.settings`). The classical backend accepts only their defaults.

    Raises ``BackendError`` for ``"sam"`` (SAM v1 has no video predictor; use "sam2" or
    "classical"); ``ConfigError`` for SAM 2 video settings given to another backend."""
    name, model = _choose(backend, model, checkpoint)
    if name == "sam":
        from .sam.factory import make_sam1_video_backend

        return make_sam1_video_backend()
    if name == "classical":
        from .classical import make_classical_video_backend

        return make_classical_video_backend(**_classical_kw(_without_sam2_video_settings(kw, name)))
    if name == "transformers":
        from .transformers.factory import make_transformers_video_backend

        return make_transformers_video_backend(
            model=model or "hf_sam2.1_hiera_tiny",
            checkpoint=checkpoint,
            device=device,
            image_size=image_size,
            **_without_sam2_video_settings(kw, name),
        )
    from .sam2.factory import make_sam2_video_backend

    return make_sam2_video_backend(
        model=model or "sam2.1_hiera_tiny", checkpoint=checkpoint, device=device, image_size=image_size, **kw
    )


def available_backends(checkpoint_dir=None) -> list[tuple[str, str | None]]:
    """``(backend, model)`` pairs runnable here: classical always, SAM 2 for every
    checkpoint present in the checkpoint directory, transformers for every model folder there."""
    from .registry import available_models

    pairs: list[tuple[str, str | None]] = [("classical", None)]
    pairs += [("sam2", m) for m in available_models(checkpoint_dir, backend="sam2")]
    pairs += [("transformers", m) for m in available_models(checkpoint_dir, backend="transformers")]
    return pairs


__all__ = [
    "BACKENDS",
    "CAPABILITIES",
    "ConceptPrompts",
    "ImageBackend",
    "MaskGenerator",
    "MaskLogits",
    "MemoryIntrospection",
    "PolicySwitchable",
    "Snapshotable",
    "VideoBackend",
    "available_backends",
    "make_image_backend",
    "make_video_backend",
    "supports",
]
