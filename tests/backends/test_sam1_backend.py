"""SAM (v1) image backend on real GrabCut images: official-format checkpoint round trip and
safety, prompts and mask feedback, the click protocol shared with SAM 2, factory dispatch.

No official weights are available offline: the model is vit_b at image_size=256 with random
weights, saved in the official format (a bare state dict) under the official file name and
loaded back through the real resolve + load path. One random and one loaded model per module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")

from workbench.backends import BACKENDS, make_image_backend, make_video_backend  # noqa: E402
from workbench.backends.base import ImageBackend  # noqa: E402
from workbench.backends.registry import (  # noqa: E402
    available_models,
    get_spec,
    list_specs,
    sha256_file,
)
from workbench.backends.sam import (  # noqa: E402
    SAM1ImageBackend,
    build_sam1_model,
    load_sam1_checkpoint,
    make_sam1_image_backend,
    save_sam1_checkpoint,
)
from workbench.errors import (  # noqa: E402
    BackendError,
    CheckpointError,
    CheckpointFormatError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    ConfigError,
    DataError,
    PromptError,
    UnknownNameError,
    UnsafeCheckpointError,
)
from workbench.io.images import read_image, read_palette_mask  # noqa: E402
from workbench.protocols.clicks import run_click_protocol  # noqa: E402

SIZE = 256
LOW = SIZE // 4
OFFICIAL = "sam_vit_b_01ec64.pth"


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grabcut(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First GrabCut image with its object mask and ignore band (128)."""
    folder = data_dir / "images" / "grabcut"
    files = sorted((folder / "images").glob("*.jpg"))
    assert files, "no GrabCut images under WORKBENCH_DATA_DIR"
    labels = read_palette_mask(folder / "masks" / f"{files[0].stem}.png")
    return read_image(files[0]), labels > 128, labels == 128


@pytest.fixture(scope="module")
def random_backend() -> SAM1ImageBackend:
    return make_sam1_image_backend("vit_b", checkpoint="random", image_size=SIZE, seed=0)


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory, random_backend) -> Path:
    folder = tmp_path_factory.mktemp("sam1_checkpoints")
    save_sam1_checkpoint(random_backend.model, folder / OFFICIAL)
    return folder


@pytest.fixture(scope="module")
def backend(ckpt_dir, grabcut) -> SAM1ImageBackend:
    """Loaded through the real path: $SAM2_CHECKPOINT_DIR → official name → safe load; image set."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAM2_CHECKPOINT_DIR", str(ckpt_dir))
        b = make_image_backend("sam", model="vit_b", checkpoint=None, image_size=SIZE)
    b.set_image(grabcut[0])
    return b


# -- registry, factory, options (no model built) --------------------------------------------------
def test_official_sam1_checkpoints_are_listed_apart_from_sam2(tmp_path):
    specs = list_specs(backend="sam")
    assert [(s.size, s.filename) for s in specs] == [
        ("vit_b", "sam_vit_b_01ec64.pth"),
        ("vit_l", "sam_vit_l_0b3195.pth"),
        ("vit_h", "sam_vit_h_4b8939.pth"),
    ]
    assert all(s.url == "https://dl.fbaipublicfiles.com/segment_anything/" + s.filename for s in specs)
    assert all(s.family == "sam" for s in specs)
    for alias in ("vit_b", "sam_vit_b", "SAM_VIT_B_01EC64.pth", "facebook/sam-vit-base", "base"):
        assert get_spec(alias, backend="sam").name == "sam_vit_b"
    assert get_spec("default", backend="sam").size == "vit_h"  # segment_anything's "default" is ViT-H
    with pytest.raises(UnknownNameError, match="vit_b"):
        get_spec("sam2.1_hiera_tiny", backend="sam")
    (tmp_path / OFFICIAL).write_bytes(b"x")
    assert available_models(tmp_path, backend="sam") == ["vit_b"]
    assert available_models(tmp_path) == []  # SAM 2 lookups ignore SAM 1 files


def test_missing_checkpoint_names_file_folder_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(CheckpointNotFoundError) as err:
        make_image_backend("sam", model="vit_l", image_size=SIZE)
    msg = str(err.value)
    assert "sam_vit_l_0b3195.pth" in msg and str(tmp_path) in msg
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth" in msg and "random" in msg
    with pytest.raises(CheckpointNotFoundError, match="random"):
        build_sam1_model("vit_b", tmp_path / "nope.pth", image_size=SIZE)


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        ({"image_size": 250}, ConfigError, "multiple of 16"),
        ({"image_size": 32}, ConfigError, "at least 64"),
        ({"model": "vit_x"}, UnknownNameError, "vit_b"),
        ({"device": "tpu"}, BackendError, "cpu"),
        ({"precision": "bf16"}, ConfigError, "mask_threshold"),
    ],
)
def test_bad_options_are_refused_before_building(kwargs, error, needle):
    with pytest.raises(error, match=needle):
        make_sam1_image_backend(**{"model": "vit_b", "checkpoint": "random", "image_size": SIZE, **kwargs})


def test_factory_dispatch_and_no_video():
    assert "sam" in BACKENDS and "sam2" in BACKENDS
    with pytest.raises(BackendError, match="sam2.*classical|classical.*sam2"):
        make_video_backend("sam", model="vit_b", checkpoint="random")


# -- checkpoints ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_official_format_round_trip_is_bit_identical(random_backend, backend, ckpt_dir, grabcut):
    path = ckpt_dir / OFFICIAL
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert isinstance(raw, dict) and "model" not in raw and "image_encoder.pos_embed" in raw  # bare state dict
    a, b = random_backend.model.state_dict(), backend.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert backend.model.image_encoder.img_size == SIZE and backend.predictor.transform.target_length == SIZE

    info = backend.info
    assert info.backend == "sam" and info.model == "sam_vit_b" and info.image_size == SIZE
    assert info.checkpoint == str(path) and info.checkpoint_sha256 == sha256_file(path)
    assert not info.untrained and info.extra["layout"] == "state_dict"
    assert random_backend.info.untrained and random_backend.info.checkpoint_sha256 == "untrained"

    random_backend.set_image(grabcut[0])
    pts, lbl = np.array([[240.0, 160.0]]), np.array([1])
    p_rand, p_load = random_backend.predict(pts, lbl), backend.predict(pts, lbl)
    assert np.array_equal(p_rand.masks, p_load.masks)
    assert np.array_equal(p_rand.low_res_logits, p_load.low_res_logits)
    assert np.array_equal(p_rand.iou_predictions, p_load.iou_predictions)
    assert p_rand.untrained and not p_load.untrained


@pytest.mark.slow
def test_model_dict_layout_is_accepted(tmp_path, random_backend):
    torch.save({"model": random_backend.model.state_dict()}, tmp_path / "wrapped.pth")
    assert load_sam1_checkpoint(random_backend.model, tmp_path / "wrapped.pth") == "model"


@pytest.mark.slow
def test_wrong_keys_and_shapes_are_reported(tmp_path, random_backend):
    net = random_backend.model
    sd = dict(net.state_dict())
    dropped = "mask_decoder.iou_token.weight"
    sd.pop(dropped)
    sd["extra.layer.weight"] = torch.zeros(2)
    torch.save(sd, tmp_path / "keys.pth")
    with pytest.raises(CheckpointMismatchError) as err:
        load_sam1_checkpoint(net, tmp_path / "keys.pth", get_spec("vit_b", backend="sam"))
    msg = str(err.value)
    assert dropped in msg and "extra.layer.weight" in msg and "vit_b" in msg

    torch.save({"model": {"sam_mask_decoder.iou_token.weight": torch.zeros(1, 256)}}, tmp_path / "sam2.pt")
    with pytest.raises(CheckpointMismatchError, match="sam2"):
        load_sam1_checkpoint(net, tmp_path / "sam2.pt")

    # official 1024 weights in a smaller model: the position embeddings differ in shape
    sd = dict(net.state_dict())
    sd["image_encoder.pos_embed"] = torch.zeros(1, 64, 64, 768)
    torch.save(sd, tmp_path / "size.pth")
    with pytest.raises(CheckpointMismatchError, match="pos_embed.*image_size=1024"):
        load_sam1_checkpoint(net, tmp_path / "size.pth")
    assert torch.equal(
        net.state_dict()["mask_decoder.iou_token.weight"],
        random_backend.model.state_dict()["mask_decoder.iou_token.weight"],
    )


@pytest.mark.slow
def test_corrupt_and_foreign_files_are_refused(tmp_path, ckpt_dir, random_backend):
    with open(ckpt_dir / OFFICIAL, "rb") as f:
        (tmp_path / "trunc.pth").write_bytes(f.read(8 << 20))
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("not a checkpoint at all")
    for name in ("trunc.pth", "empty.pth", "text.pth"):
        with pytest.raises(CheckpointFormatError, match="download it again"):
            build_sam1_model("vit_b", tmp_path / name, image_size=SIZE)
    torch.save({"state_dict": {"a": torch.zeros(1)}, "epoch": 3}, tmp_path / "layout.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    for name in ("layout.pth", "list.pth"):
        with pytest.raises(CheckpointFormatError, match="state dict of tensors"):
            load_sam1_checkpoint(random_backend.model, tmp_path / name)


class _Payload:
    """Unpickling this would create a marker file: proves the loader never runs pickled code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.slow
def test_pickled_code_is_refused_and_never_run(tmp_path, random_backend):
    marker = tmp_path / "pwned"
    torch.save({"image_encoder.pos_embed": torch.zeros(1), "evil": _Payload(marker)}, tmp_path / "evil.pth")
    with pytest.raises(UnsafeCheckpointError, match="(?i)refusing to load a checkpoint containing pickled code"):
        load_sam1_checkpoint(random_backend.model, tmp_path / "evil.pth")
    assert not marker.exists()
    assert issubclass(UnsafeCheckpointError, CheckpointError)


# -- predictions ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_prediction_shapes_mask_feedback_and_box(backend, grabcut):
    image = grabcut[0]
    assert isinstance(backend, ImageBackend) and backend.image_shape == image.shape[:2]
    h, w = image.shape[:2]
    pts, lbl = np.array([[w / 2, h / 2], [10.0, 10.0]]), np.array([1, 0])
    p = backend.predict(pts, lbl)
    assert p.masks.shape == (3, h, w) and p.masks.dtype == bool
    assert p.iou_predictions.shape == (3,) and p.iou_predictions.dtype == np.float32
    assert p.low_res_logits.shape == (3, LOW, LOW) and p.low_res_logits.dtype == np.float32

    i = p.best()
    fed = backend.predict(pts, lbl, mask_input=p.low_res_logits[i : i + 1], multimask_output=False)
    assert fed.masks.shape == (1, h, w) and fed.low_res_logits.shape == (1, LOW, LOW)
    plain = backend.predict(pts, lbl, multimask_output=False)
    assert not np.allclose(fed.low_res_logits, plain.low_res_logits)  # the mask input is used

    box = backend.predict(box=np.array([w * 0.2, h * 0.2, w * 0.8, h * 0.9]), multimask_output=False)
    assert box.masks.shape == (1, h, w)
    assert not np.allclose(box.low_res_logits, plain.low_res_logits)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({}, "No prompt"),
        ({"point_coords": [[10, 10]]}, "together"),
        ({"point_coords": [[10, 10]], "point_labels": [2]}, "1 (positive) or 0"),
        ({"point_coords": [[10, 400]], "point_labels": [1]}, "(row, col)"),
        ({"box": [100, 10, 50, 60]}, "x0 <= x1"),
        ({"mask_input": np.zeros((1, 256, 256), np.float32)}, f"(1, {LOW}, {LOW})"),
    ],
)
def test_bad_prompts_raise_the_sam2_prompt_errors(backend, kwargs, needle):
    with pytest.raises(PromptError) as err:
        backend.predict(**kwargs)
    assert needle in str(err.value)


@pytest.mark.slow
def test_call_order_and_image_checks(backend):
    fresh = SAM1ImageBackend(backend.model, backend.info)  # shares weights, no image yet
    with pytest.raises(BackendError, match="set_image"):
        fresh.predict(np.array([[1.0, 1.0]]), np.array([1]))
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 4), np.uint8)):
        with pytest.raises(DataError):
            fresh.set_image(bad)


@pytest.mark.slow
def test_click_protocol_runs_with_sam1(backend, grabcut):
    image, gt, ignore = grabcut
    run = run_click_protocol(backend, image, gt, ignore, max_clicks=3)
    assert len(run.clicks) == len(run.ious) == len(run.latencies_s) == 3
    assert run.clicks[0].is_positive and gt[run.clicks[0].y, run.clicks[0].x]
    assert all(0.0 <= v <= 1.0 for v in run.ious + run.oracle_ious)
    assert all(o >= i for i, o in zip(run.ious, run.oracle_ious))


@pytest.mark.slow
def test_generate_masks_with_the_official_generator(random_backend, grabcut):
    img = grabcut[0][:160, :200].copy()
    recs = random_backend.generate_masks(img, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    assert recs, "thresholds at 0 must keep some masks"
    areas = [r["area"] for r in recs]
    assert areas == sorted(areas, reverse=True)
    for r in recs:
        assert r["segmentation"].shape == img.shape[:2] and int(r["segmentation"].sum()) == r["area"]
    with pytest.raises(UnknownNameError, match="points_per_side"):
        random_backend.generate_masks(img, use_m2m=True)  # a SAM 2 option
    with pytest.raises(ConfigError, match="points_per_side"):
        random_backend.generate_masks(img, points_per_side=0)


@pytest.mark.slow
def test_seed_controls_random_weights_and_leaves_global_rng_alone(random_backend):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    net1, info1 = build_sam1_model("vit_b", "random", image_size=SIZE, seed=1)
    assert torch.equal(before, torch.rand(3))  # the build did not consume the caller's RNG
    w0 = random_backend.model.mask_decoder.iou_prediction_head.layers[0].weight
    w1 = net1.mask_decoder.iou_prediction_head.layers[0].weight
    assert not torch.equal(w0, w1) and info1.extra["seed"] == 1 and info1.untrained
