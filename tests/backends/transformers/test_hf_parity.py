"""SAM 2.1 through ``transformers`` against the official ``sam2`` package on the same weights.

No trained weights exist here, so both sides load one random SAM 2.1-tiny checkpoint in the
official format, at 256 px: the official backend reads the ``.pt`` file, the transformers
backend a Hugging Face model folder converted from that file by
:func:`workbench.backends.transformers.convert_sam2_checkpoint`, whose tensors are checked here
to be, bit for bit, those that transformers' own ``convert_sam2_video_to_hf.py`` writes for this
checkpoint (``tests/data/hf_conversion/reference.json``; the script is in transformers' source
repository only, not in its wheel). The same prompts on a DAVIS frame, and the same first-frame
masks of two objects propagated over DAVIS frames, must give masks with IoU >= 0.999 per frame
and per object, and logits within the tolerances below (measured maximum differences are
written to the test report). Random weights: every mask here is UNTRAINED.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors.torch import load_file

from workbench.backends.sam2 import build_sam2_model, make_sam2_image_backend, save_checkpoint
from workbench.backends.sam2.video import SAM2VideoBackend
from workbench.backends.transformers import (
    convert_sam2_checkpoint,
    make_transformers_image_backend,
    make_transformers_video_backend,
)
from workbench.io.images import read_image, read_palette_mask

SIZE = 256
N_FRAMES = 4
MIN_IOU = 0.999
IMAGE_LOGIT_ATOL = 1e-4
"""Low-resolution logits of the image models (measured ~3e-7: the same float32 operations)."""
VIDEO_LOGIT_ATOL = 2e-3
"""Frame-size logits of tracked frames (measured ~4e-4: the memory attention sums in another order)."""

pytestmark = pytest.mark.slow


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, hf_recipe, hf_reference: dict) -> tuple[Path, Path]:
    """(official ``.pt``, converted Hugging Face folder) of one random SAM 2.1-tiny."""
    folder = tmp_path_factory.mktemp("hf_parity")
    net, _ = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=SIZE, mode="video", seed=0)
    pt = save_checkpoint(net, folder / "sam2.1_hiera_tiny.pt")
    hf = convert_sam2_checkpoint(
        pt, "configs/sam2.1/sam2.1_hiera_t.yaml", folder / "facebook" / "sam2.1-hiera-tiny", SIZE
    )
    # the same weights that transformers' own conversion script writes (see the module docstring)
    assert hf_recipe.tensor_digests(load_file(hf / "model.safetensors")) == hf_reference["tensors"]
    return pt, hf


@pytest.fixture(scope="module")
def sequence(davis_dir: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """First frames of DAVIS blackswan, its first ground-truth mask and a second object (a
    background rectangle)."""
    files = sorted((davis_dir / "JPEGImages" / "blackswan").glob("*.jpg"))[:N_FRAMES]
    frames = [read_image(f) for f in files]
    gt = read_palette_mask(davis_dir / "Annotations" / "blackswan" / "00000.png") > 0
    other = np.zeros_like(gt)
    other[20:200, 20:300] = True
    other &= ~gt
    assert gt.any() and other.any()
    return frames, gt, other


def test_converted_folder_is_the_hugging_face_layout(checkpoints) -> None:
    _, hf = checkpoints
    assert sorted(p.name for p in hf.iterdir()) == ["config.json", "model.safetensors"]


def test_image_prompts_match_the_official_predictor(checkpoints, sequence, record_property) -> None:
    pt, hf = checkpoints
    frames, gt, _ = sequence
    official = make_sam2_image_backend("sam2.1_hiera_tiny", checkpoint=str(pt), device="cpu", image_size=SIZE)
    ours = make_transformers_image_backend("hf_sam2.1_hiera_tiny", checkpoint=str(hf), device="cpu")
    assert ours.info.image_size == SIZE and ours.info.untrained is False
    image = frames[0]
    official.set_image(image)
    ours.set_image(image)
    ys, xs = np.nonzero(gt)
    inside = np.array([[xs.mean(), ys.mean()]])
    outside = np.array([[20.0, 20.0]])
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)
    prompts = {
        "one click": dict(point_coords=inside, point_labels=np.array([1])),
        "two clicks": dict(point_coords=np.vstack([inside, outside]), point_labels=np.array([1, 0])),
        "box": dict(box=box),
        "box + click": dict(box=box, point_coords=inside, point_labels=np.array([1])),
    }
    worst_iou, worst_diff = 1.0, 0.0
    for name, prompt in prompts.items():
        for multimask in (True, False):
            a = official.predict(**prompt, multimask_output=multimask)
            b = ours.predict(**prompt, multimask_output=multimask)
            assert a.masks.shape == b.masks.shape, name
            for k in range(len(a.masks)):
                worst_iou = min(worst_iou, _iou(a.masks[k], b.masks[k]))
            worst_diff = max(worst_diff, float(np.abs(a.low_res_logits - b.low_res_logits).max()))
            np.testing.assert_allclose(b.iou_predictions, a.iou_predictions, atol=IMAGE_LOGIT_ATOL)
    # a mask prompt fed back, as in iterative refinement
    first = official.predict(**prompts["one click"])
    a = official.predict(**prompts["two clicks"], mask_input=first.low_res_logits[:1], multimask_output=False)
    b = ours.predict(**prompts["two clicks"], mask_input=first.low_res_logits[:1], multimask_output=False)
    worst_iou = min(worst_iou, _iou(a.masks[0], b.masks[0]))
    worst_diff = max(worst_diff, float(np.abs(a.low_res_logits - b.low_res_logits).max()))
    record_property("image_min_iou", worst_iou)
    record_property("image_max_logit_diff", worst_diff)
    assert worst_iou >= MIN_IOU
    assert worst_diff <= IMAGE_LOGIT_ATOL


def test_propagated_masks_match_the_official_predictor(checkpoints, sequence, record_property) -> None:
    pt, hf = checkpoints
    frames, gt, other = sequence
    net, info = build_sam2_model("sam2.1_hiera_tiny", checkpoint=str(pt), image_size=SIZE, mode="video")
    official = SAM2VideoBackend(net, info)
    ours = make_transformers_video_backend("hf_sam2.1_hiera_tiny", checkpoint=str(hf), device="cpu")
    for backend in (official, ours):
        backend.init_state(frames)
        backend.add_mask(0, 1, gt)
        first = backend.add_mask(0, 2, other)
        assert first.obj_ids == [1, 2]
    ref = list(official.propagate_logits())
    got = list(ours.propagate_logits())
    assert [f.frame_idx for f in got] == [f.frame_idx for f in ref] == list(range(N_FRAMES))
    worst_iou, worst_diff = 1.0, 0.0
    for a, b in zip(ref, got):
        assert a.obj_ids == b.obj_ids == [1, 2]
        for k in range(2):
            iou = _iou(a.masks[k], b.masks[k])
            assert iou >= MIN_IOU, f"frame {a.frame_idx} object {a.obj_ids[k]}: IoU {iou:.6f}"
            worst_iou = min(worst_iou, iou)
        worst_diff = max(worst_diff, float(np.abs(a.logits - b.logits).max()))
    record_property("video_min_iou", worst_iou)
    record_property("video_max_logit_diff", worst_diff)
    assert worst_diff <= VIDEO_LOGIT_ATOL
    # the first frame is the mask prompt itself on both sides
    assert (got[0].masks[0] == gt).mean() > 0.99
