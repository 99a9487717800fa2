"""SAM 2's memory/runtime settings as named backend settings with presets: what each preset
sets on the predictor, overrides, the builder flag ``apply_postprocessing``, where they are
recorded (ModelInfo, run spec, run card) and who refuses them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.backends import make_video_backend
from workbench.backends.sam2.settings import (
    MEMORY_PRESETS,
    PRESET_VALUES,
    RUNTIME_SETTINGS,
    SAM2VideoSettings,
    video_settings,
)
from workbench.errors import ConfigError, UnknownNameError
from workbench.protocols.specs import VOSRunSpec, spec_from_dict
from workbench.runners.executors import BackendSpec

SAM2_OWN = {
    "max_cond_frames_in_attn": -1,
    "add_all_frames_to_correct_as_cond": False,
    "clear_non_cond_mem_around_input": False,
    "non_overlap_masks": False,
    "apply_postprocessing": True,
}
"""sam2 1.1.0's values (SAM2Base / SAM2VideoPredictor defaults, sam2.1 configs, builder default)."""


# -- the settings object (no model) ---------------------------------------------------------------------
def test_presets_and_overrides():
    assert MEMORY_PRESETS == ("official", "interactive")
    assert PRESET_VALUES == {"official": {}, "interactive": {"add_all_frames_to_correct_as_cond": True}}
    official = SAM2VideoSettings()
    assert official.is_default and official.requested == {} and official.build_flags == {"apply_postprocessing": True}
    s = video_settings("interactive", non_overlap_masks=True, apply_postprocessing=False, max_cond_frames_in_attn=None)
    assert s.requested == {
        "add_all_frames_to_correct_as_cond": True,
        "non_overlap_masks": True,
        "apply_postprocessing": False,
    }
    assert s.runtime == {"add_all_frames_to_correct_as_cond": True, "non_overlap_masks": True}
    assert s.build_flags == {"apply_postprocessing": False} and not s.is_default
    assert video_settings(s.to_dict()) == s == video_settings(s)
    # an override beats the preset
    assert video_settings("interactive", add_all_frames_to_correct_as_cond=False).runtime == {
        "add_all_frames_to_correct_as_cond": False
    }


@pytest.mark.parametrize(
    "kw, error, needle",
    [
        ({"preset": "fast"}, UnknownNameError, "interactive, official"),
        ({"max_cond_frames_in_attn": 0}, ConfigError, "-1"),
        ({"max_cond_frames_in_attn": True}, ConfigError, "integer"),
        ({"non_overlap_masks": 1}, ConfigError, "True, False or None"),
    ],
)
def test_bad_settings_are_refused(kw, error, needle):
    with pytest.raises(error, match=needle):
        SAM2VideoSettings(**kw)


def test_unknown_setting_names_and_types():
    with pytest.raises(UnknownNameError, match="apply_postprocessing"):
        video_settings(None, memory="bounded")  # the storage mode is not one of these settings
    with pytest.raises(ConfigError, match="preset name"):
        video_settings(3)


def test_settings_import_no_torch():
    code = (
        "import sys; import workbench.protocols.specs, workbench.runners.executors, "
        "workbench.backends.sam2.settings; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_vos_spec_fields_params_and_backend_spec():
    spec = VOSRunSpec.from_settings(
        backend="sam2",
        memory_preset="interactive",
        non_overlap_masks=True,
        track_objects_appearing_later=True,
        per_object_png=True,
    )
    assert spec.video_settings == video_settings("interactive", non_overlap_masks=True)
    assert spec_from_dict(spec.to_dict()) == spec
    params = spec.params()
    assert params["memory_preset"] == "interactive" and params["non_overlap_masks"] is True
    assert params["track_objects_appearing_later"] is True and params["per_object_png"] is True
    # defaults stay out of the card params (cards of earlier runs still match), and specs stored
    # before these fields existed still load
    default = VOSRunSpec(sequences=["dog"])
    assert not set(default.params()) & {*VOSRunSpec.VIDEO_FIELDS, *VOSRunSpec.MODE_FIELDS}
    old = {k: v for k, v in default.to_dict().items() if k not in (*VOSRunSpec.VIDEO_FIELDS, *VOSRunSpec.MODE_FIELDS)}
    assert spec_from_dict(old) == default
    b = BackendSpec.for_run(spec)
    assert b.video_settings == spec.video_settings
    assert json.loads(json.dumps(b.request()))["video_settings"] == {"preset": "interactive", "non_overlap_masks": True}
    assert (
        BackendSpec.for_run(default).video_settings is None
        and "video_settings" not in BackendSpec.for_run(default).request()
    )


def test_other_backends_refuse_all_but_the_defaults():
    with pytest.raises(ConfigError, match="'sam2' video backend only"):
        VOSRunSpec(memory_preset="interactive")  # classical
    with pytest.raises(ConfigError, match="per_object_png must be True or False"):
        VOSRunSpec(per_object_png="yes")
    with pytest.raises(ConfigError, match="'sam2' video backend only"):
        make_video_backend("classical", memory_preset="interactive")
    assert make_video_backend("classical", memory_preset="official", non_overlap_masks=None).info.backend == "classical"


# -- on the predictor (random weights, 256 px) ------------------------------------------------------------
def _predictor_values(backend) -> dict:
    p = backend.predictor
    return {k: getattr(p, k) for k in RUNTIME_SETTINGS}


@pytest.mark.slow
def test_presets_are_applied_to_the_predictor_and_recorded():
    pytest.importorskip("torch")
    kw = dict(model="sam2.1_hiera_tiny", checkpoint="random", device="cpu", image_size=256)
    official = make_video_backend("sam2", **kw)
    assert _predictor_values(official) == {k: SAM2_OWN[k] for k in RUNTIME_SETTINGS}  # the config, untouched
    assert official.info.extra["memory_preset"] == "official"
    assert official.info.extra["video_settings"] == SAM2_OWN
    assert official.predictor.binarize_mask_from_pts_for_mem_enc is True  # apply_postprocessing=True build
    assert official.info.extra["memory"] == "bounded"  # the storage mode is another, unrelated setting

    interactive = make_video_backend("sam2", memory_preset="interactive", **kw)
    assert _predictor_values(interactive) == {
        **{k: SAM2_OWN[k] for k in RUNTIME_SETTINGS},
        "add_all_frames_to_correct_as_cond": True,
    }
    assert interactive.info.extra["memory_preset"] == "interactive"

    tool = make_video_backend(
        "sam2",
        memory_preset="interactive",
        max_cond_frames_in_attn=2,
        clear_non_cond_mem_around_input=True,
        non_overlap_masks=True,
        apply_postprocessing=False,
        **kw,
    )
    assert _predictor_values(tool) == {
        "max_cond_frames_in_attn": 2,
        "add_all_frames_to_correct_as_cond": True,
        "clear_non_cond_mem_around_input": True,
        "non_overlap_masks": True,
    }
    p = tool.predictor  # built without sam2's post-processing overrides
    assert p.binarize_mask_from_pts_for_mem_enc is False and p.sam_mask_decoder.dynamic_multimask_via_stability is False
    assert tool.info.extra["video_settings"]["apply_postprocessing"] is False
    assert tool.info.extra["apply_postprocessing"] is False

    from workbench.backends.sam2 import SAM2VideoBackend
    from workbench.sessions.capabilities import backend_video_settings

    assert backend_video_settings(official) == "memory preset official"
    assert backend_video_settings(interactive) == "memory preset interactive (add_all_frames_to_correct_as_cond=True)"
    with pytest.raises(ConfigError, match="apply_postprocessing=True"):
        SAM2VideoBackend(p, tool.info, video_settings=SAM2VideoSettings())  # asks for a build it does not have
