"""The transformers backend family on real DAVIS frames: protocols, errors, strict loading from
Hugging Face model folders, EdgeTAM, the SAM 3 tracker and SAM 3 concept prompts.

Every model is untrained (random weights; nothing here says anything about accuracy) and small:
SAM 2.1 tiny at 256 px, EdgeTAM (RepViT-M1) at 256 px, SAM 3 with a 2-layer ViT at 224 px.
Models are saved with ``save_pretrained`` (config.json + model.safetensors) into a checkpoint
folder laid out like the Hub's model ids and loaded back through the factories, as a user's
downloaded folders are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from workbench.backends import (
    ConceptPrompts,
    ImageBackend,
    MaskLogits,
    Snapshotable,
    VideoBackend,
    make_image_backend,
    make_video_backend,
    supports,
)
from workbench.backends.registry import sha256_file
from workbench.backends.transformers.concept import small_clip_tokenizer
from workbench.errors import (
    BackendError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    ConfigError,
    PromptError,
)
from workbench.io.images import read_image, read_palette_mask
from workbench.sessions.capabilities import supports_concepts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frames(davis_dir: Path) -> list[np.ndarray]:
    files = sorted((davis_dir / "JPEGImages" / "dog").glob("*.jpg"))[:3]
    return [read_image(f) for f in files]


@pytest.fixture(scope="module")
def first_mask(davis_dir: Path) -> np.ndarray:
    return read_palette_mask(davis_dir / "Annotations" / "dog" / "00000.png") > 0


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory) -> Path:
    """A checkpoint folder with untrained models saved under their Hugging Face model ids."""
    folder = tmp_path_factory.mktemp("hf_checkpoints")
    for model, size in (("hf_sam2.1_hiera_tiny", 256), ("edgetam", 256)):
        backend = make_video_backend("transformers", model, checkpoint="random", device="cpu", image_size=size)
        backend.model.save_pretrained(folder / backend.info.extra["model_id"])
    sam3 = make_video_backend("transformers", "sam3", checkpoint="random", device="cpu", image_size=224)
    target = folder / "facebook" / "sam3"
    sam3._concepts.video_model().save_pretrained(target)  # detector + tracker, as facebook/sam3
    sam3._concepts.tokenizer().save_pretrained(target)
    # a download by `hf download --local-dir` records the Hub commit beside the files
    meta = folder / "facebook" / "sam2.1-hiera-tiny" / ".cache" / "huggingface" / "download"
    meta.mkdir(parents=True)
    (meta / "model.safetensors.metadata").write_text("0123456789abcdef0123456789abcdef01234567\nsha\n1\n")
    return folder


@pytest.fixture(scope="module")
def sam2_image(ckpt_dir, frames):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAM2_CHECKPOINT_DIR", str(ckpt_dir))
        backend = make_image_backend("transformers", "facebook/sam2.1-hiera-tiny", device="cpu")
    backend.set_image(frames[0])
    return backend


def test_loaded_from_the_checkpoint_folder_with_model_id_and_revision(sam2_image, ckpt_dir) -> None:
    info = sam2_image.info
    folder = ckpt_dir / "facebook" / "sam2.1-hiera-tiny"
    assert isinstance(sam2_image, ImageBackend) and info.backend == "transformers" and not info.untrained
    assert info.model == "hf_sam2.1_hiera_tiny" and info.checkpoint == str(folder) and info.image_size == 256
    assert info.checkpoint_sha256 == sha256_file(folder / "model.safetensors")
    assert info.extra["model_id"] == "facebook/sam2.1-hiera-tiny" and info.extra["model_class"] == "Sam2Model"
    assert info.extra["revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert not supports(sam2_image, ConceptPrompts) and not supports_concepts(sam2_image)


def test_image_prompts_give_masks_of_the_frame_size(sam2_image, frames, first_mask) -> None:
    h, w = frames[0].shape[:2]
    ys, xs = np.nonzero(first_mask)
    pred = sam2_image.predict(point_coords=[[xs.mean(), ys.mean()]], point_labels=[1])
    assert pred.masks.shape == (3, h, w) and pred.masks.dtype == bool
    assert pred.low_res_logits.shape == (3, 64, 64) and pred.iou_predictions.shape == (3,)
    again = sam2_image.predict(
        box=[xs.min(), ys.min(), xs.max(), ys.max()], mask_input=pred.low_res_logits[:1], multimask_output=False
    )
    assert again.masks.shape == (1, h, w) and pred.untrained is False


def test_bad_prompts_raise_the_errors_of_every_backend(sam2_image, frames) -> None:
    classical = make_image_backend("classical")
    classical.set_image(frames[0])
    bad = [
        dict(point_coords=[[10, 10]], point_labels=[2]),
        dict(point_coords=[[10000, 10]], point_labels=[1]),
        dict(point_coords=[[10, 10]]),
        dict(box=[50, 50, 10, 10]),
        dict(box=[0, 0, 10000, 10]),
        {},
    ]
    for prompt in bad:
        with pytest.raises(PromptError) as ours:
            sam2_image.predict(**prompt)
        with pytest.raises(PromptError) as theirs:
            classical.predict(**prompt)
        assert str(ours.value) == str(theirs.value), prompt
    with pytest.raises(PromptError, match=r"\(1, 64, 64\)"):
        sam2_image.predict(point_coords=[[10, 10]], point_labels=[1], mask_input=np.zeros((1, 256, 256)))
    fresh = make_image_backend("transformers", "hf_sam2.1_hiera_tiny", checkpoint="random", image_size=256)
    with pytest.raises(BackendError, match="set_image"):
        fresh.predict(point_coords=[[10, 10]], point_labels=[1])
    with pytest.raises(ConfigError, match="float32"):
        make_image_backend("transformers", "hf_sam2.1_hiera_tiny", checkpoint="random", precision="bf16")


def test_strict_loading_refuses_wrong_or_incomplete_folders(ckpt_dir, tmp_path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="hf download facebook/sam2.1-hiera-small"):
        make_image_backend("transformers", "hf_sam2.1_hiera_small", checkpoint_dir=tmp_path)
    only_bin = tmp_path / "pickled"
    only_bin.mkdir()
    (only_bin / "config.json").write_text(json.dumps({"model_type": "sam2_video"}))
    (only_bin / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(CheckpointNotFoundError, match="safetensors only"):
        make_image_backend("transformers", "hf_sam2.1_hiera_tiny", checkpoint=str(only_bin))
    # EdgeTAM's folder given for a SAM 2 model: another model type
    with pytest.raises(CheckpointMismatchError, match="edgetam_video"):
        make_image_backend(
            "transformers", "hf_sam2.1_hiera_tiny", checkpoint=str(ckpt_dir / "yonigozlan" / "EdgeTAM-hf")
        )


@pytest.mark.parametrize("model", ["hf_sam2.1_hiera_tiny", "edgetam", "sam3_tracker"])
def test_video_tracking_through_the_real_loading_path(model, ckpt_dir, frames, first_mask) -> None:
    backend = make_video_backend("transformers", model, device="cpu", checkpoint_dir=ckpt_dir)
    assert isinstance(backend, VideoBackend) and not backend.info.untrained
    assert supports(backend, Snapshotable) and supports(backend, MaskLogits)
    h, w = frames[0].shape[:2]
    backend.init_state(frames)
    assert backend.num_frames == 3 and backend.frame_size == (h, w)
    first = backend.add_mask(0, 1, first_mask)
    assert first.obj_ids == [1] and (first.masks[0] == first_mask).mean() > 0.98
    backend.add_points(0, 2, [[20, 20]], [1])
    snap = backend.snapshot()
    tracked = list(backend.propagate_logits())
    assert [f.frame_idx for f in tracked] == [0, 1, 2]
    for f in tracked:
        assert f.obj_ids == [1, 2] and f.masks.shape == (2, h, w)
        assert np.array_equal(f.masks, f.logits > 0) and f.object_scores is not None
    backend.remove_object(2)
    again = list(backend.propagate(start_frame_idx=1, max_frame_num_to_track=1))
    assert [f.frame_idx for f in again] == [1, 2] and all(f.obj_ids == [1] for f in again)
    # object 1 is tracked on its own: removing object 2 leaves its masks as they were
    assert np.array_equal(again[1].masks[0], tracked[2].masks[0])
    backend.restore(snap)
    assert backend.obj_ids == [1, 2]
    with pytest.raises(PromptError, match="frame_idx"):
        backend.add_points(3, 1, [[10, 10]], [1])
    with pytest.raises(PromptError, match="like the video frames"):
        backend.add_mask(0, 1, first_mask[:10])
    with pytest.raises(PromptError, match="not tracked"):
        backend.remove_object(9)
    backend.reset()
    with pytest.raises(BackendError, match="No object prompted"):
        list(backend.propagate())


def test_sam3_concept_prompts_find_instances_on_an_image(ckpt_dir, frames) -> None:
    backend = make_image_backend("transformers", "sam3", device="cpu", checkpoint_dir=ckpt_dir)
    assert supports(backend, ConceptPrompts) and supports_concepts(backend)
    assert backend.info.extra["model_id"] == "facebook/sam3" and backend.info.image_size == 224
    h, w = frames[0].shape[:2]
    found = backend.segment_concept(frames[0], "dog", threshold=0.0)
    assert found.text == "dog" and len(found) == 20 and not found.untrained  # loaded weights (random ones)
    assert found.masks.shape == (20, h, w) and found.boxes.shape == (20, 4) and found.scores.shape == (20,)
    assert np.all(np.diff(found.scores) <= 0) and np.all((found.scores >= 0) & (found.scores <= 1))
    assert np.all(found.boxes[:, 2] >= found.boxes[:, 0]) and np.all(found.boxes[:, 3] >= found.boxes[:, 1])
    strict = backend.segment_concept(frames[0], "dog", threshold=float(found.scores[2]))
    assert 1 <= len(strict) <= 3 and np.array_equal(strict.masks, found.masks[: len(strict)])
    with pytest.raises(PromptError, match="noun phrase"):
        backend.segment_concept(frames[0], "  ")
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        backend.segment_concept(frames[0], "dog", threshold=2)
    # the same backend still takes points (the SAM 3 tracker)
    backend.set_image(frames[0])
    assert backend.predict(point_coords=[[100, 100]], point_labels=[1]).masks.shape == (3, h, w)


def test_sam3_concept_tracking_keeps_identities(ckpt_dir, frames) -> None:
    backend = make_video_backend("transformers", "sam3", device="cpu", checkpoint_dir=ckpt_dir)
    tracked = list(backend.track_concept(frames, "dog"))
    assert [f.frame_idx for f in tracked] == [0, 1, 2]
    ids = [f.obj_ids for f in tracked]
    assert ids[0] and all(set(ids[0]) <= set(i) for i in ids[1:])  # instances found on frame 0 keep their ids
    for f in tracked:
        assert f.masks.shape == (len(f.obj_ids), *frames[0].shape[:2]) and len(f.object_scores) == len(f.obj_ids)


def test_small_tokenizer_is_clip_style() -> None:
    tok = small_clip_tokenizer()
    ids = tok("a cat", padding="max_length", max_length=32)["input_ids"]
    assert len(ids) == 32 and ids[0] == tok.convert_tokens_to_ids("<|startoftext|>")
    assert tok.convert_tokens_to_ids("cat</w>") in ids
