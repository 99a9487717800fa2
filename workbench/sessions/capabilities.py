"""What a session asks of its backend beyond the protocol: the one place that probes.

Sessions are typed against :class:`workbench.backends.ImageBackend` /
:class:`~workbench.backends.VideoBackend`. Optional members -- an own "segment everything"
generator, snapshot/restore of the model state, the :class:`~workbench.types.ModelInfo`
(test doubles may lack it) -- are probed only by the functions here.

Capabilities are the declared protocols of :mod:`workbench.backends.base`
(:class:`~workbench.backends.base.MaskGenerator`, :class:`~workbench.backends.base.Snapshotable`,
:class:`~workbench.backends.base.PolicySwitchable`, :class:`~workbench.backends.base.MemoryIntrospection`)
tested with :func:`~workbench.backends.base.supports`; nothing else in :mod:`workbench.sessions`
asks a backend what it can do.
"""

from __future__ import annotations

from typing import TypeGuard

from ..backends.base import ConceptPrompts, MaskGenerator, MemoryIntrospection, PolicySwitchable, Snapshotable, supports
from ..types import ModelInfo


def _supports_masks(backend: object) -> TypeGuard[MaskGenerator]:
    """True when ``backend`` has its own "segment everything" generator
    (``generate_masks(image, **params) -> records``)."""
    return supports(backend, MaskGenerator)


def _supports_snapshots(backend: object) -> TypeGuard[Snapshotable]:
    """True when ``backend`` can copy and put back its model state (``snapshot()`` /
    ``restore(snapshot)``), which exact undo of a video session needs."""
    return supports(backend, Snapshotable)


def supports_concepts(backend: object) -> TypeGuard[ConceptPrompts]:
    """True when ``backend`` takes text concept prompts (SAM 3 through transformers:
    ``segment_concept`` / ``track_concept``); widgets show a text box only then."""
    return supports(backend, ConceptPrompts)


def _low_res_size(backend) -> int:
    """Side of the backend's low-resolution logits (``ImageBackend.low_res_size``; 256, SAM's at
    1024, for test doubles without it)."""
    return int(getattr(backend, "low_res_size", 256))


def _supports_policies(backend: object) -> TypeGuard[PolicySwitchable]:
    """True when ``backend`` can switch tracking policy (SAM 2: ``"sam2"``, ``"samurai"``, ...)."""
    return supports(backend, PolicySwitchable)


def _supports_memory_trace(backend: object) -> TypeGuard[MemoryIntrospection]:
    """True when ``backend`` says which memories fed each prediction (SAM 2 video: ``memory_trace``)."""
    return supports(backend, MemoryIntrospection)


def _model_info(backend) -> ModelInfo | None:
    """``backend.info`` (a :class:`~workbench.types.ModelInfo`), None when the backend has none
    (test doubles)."""
    return getattr(backend, "info", None)


def _info_field(backend, name: str, default=None):
    """One field of ``backend.info``; ``default`` without info or without the field."""
    return getattr(_model_info(backend), name, default)


def backend_name(backend) -> str:
    """``backend.info.backend`` (``"sam2"``, ``"classical"``, ...), ``""`` without info."""
    return str(_info_field(backend, "backend", "") or "")


def backend_label(backend) -> str:
    """``"<backend> · <model> · <device> · <precision>"`` from ``backend.info`` (precision when
    the backend records one, e.g. ``fp32`` / ``bf16`` for SAM 2), else the class name."""
    info = _model_info(backend)
    if info is None:
        return type(backend).__name__
    precision = (info.extra or {}).get("precision")
    return f"{info.backend} · {info.model} · {info.device}" + (f" · {precision}" if precision else "")


_SAM2_DEFAULTS = {
    "max_cond_frames_in_attn": -1,
    "add_all_frames_to_correct_as_cond": False,
    "clear_non_cond_mem_around_input": False,
    "non_overlap_masks": False,
    "apply_postprocessing": True,
}
"""sam2's own values of the video settings (``SAM2VideoPredictor`` / ``build_sam2_video_predictor``
defaults; :mod:`workbench.backends.sam2.settings`)."""


def backend_video_settings(backend) -> str:
    """``"memory preset <name>"`` plus the SAM 2 video settings in effect that differ from sam2's
    defaults, from ``backend.info.extra`` (``memory_preset`` / ``video_settings``, recorded by
    the SAM 2 video backend), e.g. ``"memory preset interactive (add_all_frames_to_correct_as_cond=True)"``;
    ``""`` for backends without them."""
    extra = getattr(_model_info(backend), "extra", None) or {}
    preset = extra.get("memory_preset")
    if preset is None:
        return ""
    values = extra.get("video_settings") or {}
    changed = [
        f"{k}={v}" for k, v in values.items() if k in _SAM2_DEFAULTS and v is not None and v != _SAM2_DEFAULTS[k]
    ]
    return f"memory preset {preset}" + (f" ({', '.join(changed)})" if changed else "")


def backend_untrained(backend) -> bool:
    """``backend.info.untrained`` (False without info)."""
    return bool(_info_field(backend, "untrained", False))


def backend_info_json(backend) -> dict:
    """The backend's :class:`~workbench.types.ModelInfo` as a JSON-ready dict (for the record of
    a save or an autosave); ``{}`` without info."""
    if _model_info(backend) is None:
        return {}
    return {
        k: _info_field(backend, k)
        for k in ("backend", "model", "checkpoint", "checkpoint_sha256", "image_size", "device", "untrained")
    }


__all__ = [
    "backend_info_json",
    "backend_label",
    "backend_name",
    "backend_untrained",
    "backend_video_settings",
    "supports_concepts",
]
