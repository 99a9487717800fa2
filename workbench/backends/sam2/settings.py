"""Named memory/runtime settings of the SAM 2 video predictor, with presets (torch-free).

``SAM2VideoPredictor`` (sam2 1.1.0) has a few settings that change what it tracks but not its
weights. Four are attributes read while tracking, so the backend can set them on a built
predictor; one is a flag of the builder:

==========================================  ====================================================
setting                                     meaning (source: ``sam2/sam2_video_predictor.py``,
                                            ``sam2/modeling/sam2_base.py``, ``sam2/build_sam.py``)
==========================================  ====================================================
``max_cond_frames_in_attn``                 Conditioning (prompted) frames the memory attention
                                            uses when tracking a frame: the temporally closest N;
                                            ``-1`` all of them (``SAM2Base``; the SAM 2.1 configs
                                            leave it at -1).
``add_all_frames_to_correct_as_cond``       A frame that receives a correction click after
                                            tracking becomes a conditioning frame (True) instead
                                            of a non-conditioning one (False, sam2's default):
                                            with False, the next propagation through that frame
                                            recomputes and overwrites the corrected output
                                            (facebookresearch/sam2 issues #546, #719, #731).
``clear_non_cond_mem_around_input``         After a correction, drop the non-conditioning
                                            memories within ``num_maskmem`` frames around it.
``non_overlap_masks``                       Output logits at video resolution pass
                                            ``_apply_non_overlapping_constraints``: on every
                                            pixel only the object with the highest logit keeps
                                            its score (first object on ties), the others are
                                            clamped to <= -10. ``tools/vos_inference.py`` builds
                                            with True for DAVIS PNGs (False for one PNG per
                                            object).
``apply_postprocessing``                    Builder flag (``build_sam2_video_predictor``): True
                                            (sam2's default) adds dynamic multimask fallback
                                            (stability delta 0.05, threshold 0.98),
                                            ``binarize_mask_from_pts_for_mem_enc=true`` and
                                            ``fill_hole_area=8``. ``tools/vos_inference.py`` runs
                                            with False. Needs a rebuild (not settable later).
==========================================  ====================================================

Presets (:data:`MEMORY_PRESETS`):

* ``"official"`` (default): sets nothing; every value is the checkpoint's config value as
  ``build_sam2_video_predictor`` makes it (``max_cond_frames_in_attn=-1``, the three flags
  False, ``apply_postprocessing=True``): the workbench's behaviour before presets existed.
* ``"interactive"``: ``add_all_frames_to_correct_as_cond=True`` (nothing else), so that a
  refinement click on an already tracked frame sticks through later propagations, as in
  SAM 2's web demo and SAM 3's video predictor (facebookresearch/sam3 PR #108).

Any setting given explicitly overrides the preset. To reproduce ``tools/vos_inference.py``
(DAVIS PNGs) use ``non_overlap_masks=True, apply_postprocessing=False`` (its ``main()``).

Not to be confused with the backend's ``memory`` option (``"bounded"`` / ``"full"``: where
per-frame tracking outputs are stored, :mod:`workbench.backends.sam2.memory`), which never
changes a mask.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...errors import ConfigError, UnknownNameError

__all__ = [
    "MEMORY_PRESETS",
    "PRESET_VALUES",
    "RUNTIME_SETTINGS",
    "SETTING_NAMES",
    "SAM2VideoSettings",
    "video_settings",
]

RUNTIME_SETTINGS = (
    "max_cond_frames_in_attn",
    "add_all_frames_to_correct_as_cond",
    "clear_non_cond_mem_around_input",
    "non_overlap_masks",
)
"""Settings that are attributes of a built ``SAM2VideoPredictor`` (set by the backend)."""
SETTING_NAMES = (*RUNTIME_SETTINGS, "apply_postprocessing")
"""Every named setting: the runtime ones plus the builder flag ``apply_postprocessing``."""

PRESET_VALUES: dict[str, dict[str, Any]] = {
    "official": {},
    "interactive": {"add_all_frames_to_correct_as_cond": True},
}
"""What each preset sets (settings it leaves out keep the checkpoint config's value)."""
MEMORY_PRESETS = tuple(PRESET_VALUES)
"""Preset names: ``"official"`` (default) and ``"interactive"``."""

BUILD_DEFAULTS: dict[str, Any] = {"apply_postprocessing": True}
"""Builder flags as ``build_sam2_video_predictor`` sets them by default."""


@dataclass(frozen=True, kw_only=True)
class SAM2VideoSettings:
    """A preset plus explicit overrides of SAM 2's video settings (see the module docstring).

    Attributes
    ----------
    preset : {"official", "interactive"}
        Named starting point. Default ``"official"``.
    max_cond_frames_in_attn : int or None
        ``-1`` (all conditioning frames) or a positive count; None: the preset's value.
    add_all_frames_to_correct_as_cond, clear_non_cond_mem_around_input, non_overlap_masks : bool or None
        None: the preset's value.
    apply_postprocessing : bool or None
        Builder flag (a model is built with it); None: the preset's value (True).

    Raises
    ------
    UnknownNameError
        Unknown preset.
    ConfigError
        A value of the wrong type (the flags must be bools) or ``max_cond_frames_in_attn`` not
        -1 or >= 1.
    """

    preset: str = "official"
    max_cond_frames_in_attn: int | None = None
    add_all_frames_to_correct_as_cond: bool | None = None
    clear_non_cond_mem_around_input: bool | None = None
    non_overlap_masks: bool | None = None
    apply_postprocessing: bool | None = None

    def __post_init__(self):
        if self.preset not in PRESET_VALUES:
            raise UnknownNameError("SAM 2 memory preset", self.preset, MEMORY_PRESETS)
        n = self.max_cond_frames_in_attn
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral):
                raise ConfigError(
                    f"max_cond_frames_in_attn must be an integer (-1 for all conditioning frames, or >= 1); got {n!r}."
                )
            n = int(n)
            if n != -1 and n < 1:
                raise ConfigError(f"max_cond_frames_in_attn must be -1 (all conditioning frames) or >= 1; got {n}.")
            object.__setattr__(self, "max_cond_frames_in_attn", n)
        for name in SETTING_NAMES[1:]:
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{name} must be True, False or None (the preset's value); got {value!r}.")

    @property
    def overrides(self) -> dict[str, Any]:
        """The settings given explicitly (not None)."""
        return {name: getattr(self, name) for name in SETTING_NAMES if getattr(self, name) is not None}

    @property
    def requested(self) -> dict[str, Any]:
        """What this asks for: the preset's values, then the overrides. Settings absent here keep
        the checkpoint config's value (``apply_postprocessing``: the builder's default True)."""
        return {**PRESET_VALUES[self.preset], **self.overrides}

    @property
    def build_flags(self) -> dict[str, Any]:
        """Builder flags to build the model with (``apply_postprocessing``)."""
        return {**BUILD_DEFAULTS, **{k: v for k, v in self.requested.items() if k in BUILD_DEFAULTS}}

    @property
    def runtime(self) -> dict[str, Any]:
        """The predictor attributes to set (:data:`RUNTIME_SETTINGS` that are requested)."""
        return {k: v for k, v in self.requested.items() if k in RUNTIME_SETTINGS}

    @property
    def is_default(self) -> bool:
        """True for ``SAM2VideoSettings()`` (official preset, no override): sam2's own behaviour."""
        return self == SAM2VideoSettings()

    def to_dict(self) -> dict[str, Any]:
        """``preset`` plus the overrides (JSON-able); :func:`video_settings` reads it back."""
        return {"preset": self.preset, **self.overrides}


def video_settings(
    value: SAM2VideoSettings | str | Mapping[str, Any] | None = None, **overrides: Any
) -> SAM2VideoSettings:
    """A :class:`SAM2VideoSettings` from a preset name, a settings object, a dict of its fields
    (e.g. :meth:`SAM2VideoSettings.to_dict`) or None (the official preset), with ``overrides``
    (setting names of :data:`SETTING_NAMES`; None values are ignored) applied on top.

    Raises
    ------
    UnknownNameError
        Unknown preset or setting name.
    ConfigError
        Bad value, or ``value`` of another type.
    """
    if value is None:
        base: dict[str, Any] = {}
    elif isinstance(value, SAM2VideoSettings):
        base = {f.name: getattr(value, f.name) for f in fields(value)}
    elif isinstance(value, str):
        base = {"preset": value}
    elif isinstance(value, Mapping):
        base = dict(value)
    else:
        raise ConfigError(
            f"memory_preset must be a preset name ({', '.join(MEMORY_PRESETS)}), a SAM2VideoSettings "
            f"or a dict of its fields; got {type(value).__name__}."
        )
    valid = ["preset", *SETTING_NAMES]
    for key in [*base, *overrides]:
        if key not in valid:
            raise UnknownNameError("SAM 2 video setting", key, valid)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return SAM2VideoSettings(**base)
