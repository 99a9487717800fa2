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

from safetensors.torch import load_file

from workbench.backends.loading import safe_torch_load
from workbench.backends.transformers import convert_sam2_checkpoint, convert_state_dict

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"


def test_renamed_state_dict_is_the_reference_tensor_for_tensor(
    golden_sam2_checkpoint: Path, hf_recipe, hf_reference: dict
) -> None:
    ours = convert_state_dict(safe_torch_load(golden_sam2_checkpoint)["model"])
    assert hf_recipe.tensor_digests(ours) == hf_reference["tensors"]


def test_converted_folder_matches_the_reference_files(
    golden_sam2_checkpoint: Path, tmp_path: Path, hf_recipe, hf_reference: dict
) -> None:
    out = convert_sam2_checkpoint(golden_sam2_checkpoint, CONFIG, tmp_path / "sam2.1-hiera-tiny")
    # transformers' script also saves the processor (processor_config.json); the workbench's
    # backends build their own pre-processing, so only the model files are compared
    assert {"config.json", "model.safetensors"} <= set(hf_reference["files"])
    assert hf_recipe.tensor_digests(load_file(out / "model.safetensors")) == hf_reference["tensors"]
    config = json.loads((out / "config.json").read_text())
    skip = "transformers_version"
    assert {k: v for k, v in config.items() if k != skip} == {
        k: v for k, v in hf_reference["config"].items() if k != skip
    }


def test_a_changed_tensor_is_caught(golden_sam2_checkpoint: Path, hf_recipe, hf_reference: dict) -> None:
    """The comparison above can fail: one perturbed weight changes its digest."""
    state = safe_torch_load(golden_sam2_checkpoint)["model"]
    key = "sam_mask_decoder.iou_prediction_head.layers.0.weight"
    state[key] = state[key].clone()
    state[key][0, 0] += 1e-6
    ours = hf_recipe.tensor_digests(convert_state_dict(state))
    reference = hf_reference["tensors"]
    changed = [k for k, d in ours.items() if d["sha256"] != reference[k]["sha256"]]
    assert changed == ["mask_decoder.iou_prediction_head.proj_in.weight"]
