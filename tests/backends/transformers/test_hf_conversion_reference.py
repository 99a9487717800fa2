"""The workbench's SAM 2 converter against the conversion script that ``transformers`` ships.

``tests/data/hf_conversion/reference.json`` records what transformers' own
``convert_sam2_video_to_hf.py`` (source repository; the PyPI wheel does not ship it) wrote for the
golden random SAM 2.1-tiny checkpoint: every tensor's SHA-256, dtype and shape, and the config.
The workbench converter must write the same tensors, bit for bit, under the same names, and the
same config for the same model; the parity test against the official ``sam2`` package
(``test_hf_parity.py``) then holds for a folder made by transformers' script as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from workbench.backends.loading import safe_torch_load
from workbench.backends.transformers import convert_sam2_checkpoint, convert_state_dict

REFERENCE = Path(__file__).parents[2] / "data" / "hf_conversion"
CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def _reference() -> dict:
    return json.loads((REFERENCE / "reference.json").read_text())


def _load_recipe():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_reference", REFERENCE / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digest(tensor) -> str:
    import hashlib

    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def test_renamed_state_dict_is_the_reference_tensor_for_tensor(golden_sam2_checkpoint: Path) -> None:
    reference = _reference()["tensors"]
    ours = convert_state_dict(safe_torch_load(golden_sam2_checkpoint)["model"])
    assert sorted(ours) == sorted(reference)
    for key, value in ours.items():
        assert _digest(value) == reference[key]["sha256"], key
        assert list(value.shape) == reference[key]["shape"], key


def test_converted_folder_matches_the_reference_files(golden_sam2_checkpoint: Path, tmp_path: Path) -> None:
    reference = _reference()
    out = convert_sam2_checkpoint(golden_sam2_checkpoint, CONFIG, tmp_path / "sam2.1-hiera-tiny")
    # transformers' script also saves the processor (processor_config.json); the workbench's
    # backends build their own pre-processing, so only the model files are compared
    assert {"config.json", "model.safetensors"} <= set(reference["files"])
    assert _load_recipe().tensor_digests(out / "model.safetensors") == reference["tensors"]
    config = json.loads((out / "config.json").read_text())
    for skip in ("transformers_version",):
        config.pop(skip, None)
        reference["config"].pop(skip, None)
    assert config == reference["config"]


def test_a_changed_tensor_is_caught(golden_sam2_checkpoint: Path) -> None:
    """The comparison above can fail: one perturbed weight changes its digest."""
    state = safe_torch_load(golden_sam2_checkpoint)["model"]
    key = "sam_mask_decoder.iou_prediction_head.layers.0.weight"
    state[key] = state[key].clone()
    state[key][0, 0] += 1e-6
    ours = convert_state_dict(state)
    reference = _reference()["tensors"]
    changed = [k for k, v in ours.items() if _digest(v) != reference[k]["sha256"]]
    assert changed == ["mask_decoder.iou_prediction_head.proj_in.weight"]
