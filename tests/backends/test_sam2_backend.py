"""SAM 2 backends on real data: checkpoint round trip and safety, image prompts, video tracking.

No official weights are available offline, so models are random (``checkpoint="random"``) or
random weights saved in the official format and loaded back through the real resolve + load
path. Everything runs hiera-tiny at image_size=256 on CPU; models are shared per module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.backends.base import ImageBackend, VideoBackend  # noqa: E402
from workbench.backends.registry import sha256_file  # noqa: E402
from workbench.backends.sam2 import (  # noqa: E402
    SAM2ImageBackend,
    SAM2VideoBackend,
    build_sam2_model,
    make_sam2_image_backend,
    make_sam2_video_backend,
    save_checkpoint,
)
from workbench.backends.sam2.loading import resolve_precision  # noqa: E402
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

SIZE = 256
N_FRAMES = 4


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# -- shared fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grabcut_image(data_dir: Path) -> np.ndarray:
    files = sorted((data_dir / "images" / "grabcut" / "images").glob("*.jpg"))
    assert files, "no GrabCut images under WORKBENCH_DATA_DIR"
    return read_image(files[0])


@pytest.fixture(scope="module")
def random_image_backend() -> SAM2ImageBackend:
    return make_sam2_image_backend("sam2.1_hiera_tiny", checkpoint="random", image_size=SIZE, seed=0)


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory, random_image_backend) -> Path:
    """Random tiny weights saved under the official file name, as a user's checkpoint folder."""
    folder = tmp_path_factory.mktemp("checkpoints")
    save_checkpoint(random_image_backend.model, folder / "sam2.1_hiera_tiny.pt")
    return folder


@pytest.fixture(scope="module")
def image_backend(ckpt_dir, grabcut_image) -> SAM2ImageBackend:
    """Loaded through the real path: $SAM2_CHECKPOINT_DIR → resolve → safe load; image set."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAM2_CHECKPOINT_DIR", str(ckpt_dir))
        backend = make_sam2_image_backend("sam2.1_hiera_t", checkpoint=None, image_size=SIZE)
    backend.set_image(grabcut_image)
    return backend


@pytest.fixture(scope="module")
def blackswan(tmp_path_factory, data_dir: Path):
    """First frames of DAVIS blackswan in a temp JPEG folder, their RGB arrays and GT of frame 0."""
    seq = data_dir / "davis2016"
    folder = tmp_path_factory.mktemp("blackswan")
    for i in range(N_FRAMES):
        shutil.copy(seq / "JPEGImages" / "blackswan" / f"{i:05d}.jpg", folder / f"{i:05d}.jpg")
    frames = [read_image(folder / f"{i:05d}.jpg") for i in range(N_FRAMES)]
    gt0 = read_palette_mask(seq / "Annotations" / "blackswan" / "00000.png") == 1
    return folder, frames, gt0


@pytest.fixture(scope="module")
def video_backend() -> SAM2VideoBackend:
    return make_sam2_video_backend("tiny", checkpoint="random", image_size=SIZE)


# -- checkpoints ----------------------------------------------------------------------------
@pytest.mark.slow
def test_official_format_round_trip_is_bit_identical(random_image_backend, image_backend, ckpt_dir, grabcut_image):
    path = ckpt_dir / "sam2.1_hiera_tiny.pt"
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(raw) == {"model"}
    a, b = random_image_backend.model.state_dict(), image_backend.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    info = image_backend.info
    assert info.checkpoint == str(path) and info.checkpoint_sha256 == sha256_file(path)
    assert not info.untrained and info.image_size == SIZE and info.model == "sam2.1_hiera_tiny"
    assert random_image_backend.info.untrained and random_image_backend.info.checkpoint_sha256 == "untrained"

    random_image_backend.set_image(grabcut_image)
    pts, lbl = np.array([[240.0, 160.0]]), np.array([1])
    p_rand, p_load = random_image_backend.predict(pts, lbl), image_backend.predict(pts, lbl)
    assert np.array_equal(p_rand.masks, p_load.masks)
    assert np.array_equal(p_rand.low_res_logits, p_load.low_res_logits)
    assert np.array_equal(p_rand.iou_predictions, p_load.iou_predictions)
    assert p_rand.untrained and not p_load.untrained


@pytest.mark.slow
def test_seed_controls_random_weights_and_leaves_global_rng_alone(random_image_backend):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    net1, info1 = build_sam2_model("tiny", "random", image_size=SIZE, seed=1)
    after = torch.rand(3)
    assert torch.equal(before, after)  # the build did not consume the caller's RNG
    w0 = random_image_backend.model.sam_mask_decoder.iou_prediction_head.layers[0].weight
    w1 = net1.sam_mask_decoder.iou_prediction_head.layers[0].weight
    assert not torch.equal(w0, w1) and info1.extra["seed"] == 1


@pytest.mark.slow
def test_checkpoint_keys_do_not_depend_on_image_size(ckpt_dir):
    net, info = build_sam2_model("sam2.1_hiera_tiny", ckpt_dir / "sam2.1_hiera_tiny.pt", image_size=1024)
    assert net.image_size == 1024 and info.image_size == 1024


def test_missing_checkpoint_fails_before_building(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(CheckpointNotFoundError, match="workbench checkpoints download sam2.1_hiera_small"):
        build_sam2_model("small", checkpoint=None, image_size=SIZE)
    with pytest.raises(CheckpointNotFoundError, match="random"):
        build_sam2_model("small", checkpoint=tmp_path / "nope.pt", image_size=SIZE)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"image_size": 250}, ConfigError),
        ({"image_size": 32}, ConfigError),
        ({"mode": "audio"}, UnknownNameError),
        ({"device": "cuda:7" if torch.cuda.is_available() else "cuda"}, BackendError),
        ({"device": "tpu"}, BackendError),
        ({"vos_optimized": True}, ConfigError),
    ],
)
def test_bad_build_options_are_refused(kwargs, error):
    with pytest.raises(error):
        build_sam2_model("tiny", checkpoint="random", **{"image_size": SIZE, **kwargs})


def test_bf16_is_refused_on_cpu():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    with pytest.raises(BackendError, match="150x"):
        resolve_precision("bf16", cpu)
    with pytest.raises(UnknownNameError):
        resolve_precision("fp16", cpu)


@pytest.mark.slow
def test_wrong_keys_and_shapes_are_reported(tmp_path, random_image_backend, ckpt_dir):
    sd = {k: v.clone() for k, v in random_image_backend.model.state_dict().items()}
    dropped = "sam_mask_decoder.iou_token.weight"
    sd.pop(dropped)
    sd["extra.layer.weight"] = torch.zeros(2)
    torch.save({"model": sd}, tmp_path / "keys.pt")
    with pytest.raises(CheckpointMismatchError) as err:
        build_sam2_model("tiny", tmp_path / "keys.pt", image_size=SIZE)
    msg = str(err.value)
    assert dropped in msg and "extra.layer.weight" in msg and "configs/sam2.1/sam2.1_hiera_t.yaml" in msg

    # a SAM 2.1 file loaded as SAM 2: the real-world mix-up (2.1 has extra tensors)
    with pytest.raises(CheckpointMismatchError, match="no_obj_embed_spatial|obj_ptr_tpos_proj"):
        build_sam2_model("sam2_hiera_tiny", ckpt_dir / "sam2.1_hiera_tiny.pt", image_size=SIZE)

    sd = {k: v.clone() for k, v in random_image_backend.model.state_dict().items()}
    sd["no_mem_embed"] = torch.zeros(1, 1, 7)
    torch.save({"model": sd}, tmp_path / "shape.pt")
    with pytest.raises(CheckpointMismatchError, match="no_mem_embed.*differ|differ.*no_mem_embed"):
        build_sam2_model("tiny", tmp_path / "shape.pt", image_size=SIZE)


@pytest.mark.slow
def test_corrupt_and_foreign_files_are_refused(tmp_path, ckpt_dir):
    data = (ckpt_dir / "sam2.1_hiera_tiny.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 3])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("not a checkpoint at all")
    for name in ("trunc.pt", "empty.pt", "text.pt"):
        with pytest.raises(CheckpointFormatError, match="download it again"):
            build_sam2_model("tiny", tmp_path / name, image_size=SIZE)
    torch.save({"state_dict": {"a": torch.zeros(1)}}, tmp_path / "layout.pt")
    with pytest.raises(CheckpointFormatError, match=r"\{'model': state_dict\}"):
        build_sam2_model("tiny", tmp_path / "layout.pt", image_size=SIZE)


class _Payload:
    """Unpickling this would create a marker file: proves the loader never runs pickled code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_code_is_refused_and_never_run(tmp_path, random_image_backend):
    marker = tmp_path / "pwned"
    sd = random_image_backend.model.state_dict()
    torch.save({"model": sd, "evil": _Payload(marker)}, tmp_path / "evil.pt")
    from workbench.backends.sam2.loading import load_checkpoint

    with pytest.raises(UnsafeCheckpointError, match="(?i)refusing to load a checkpoint containing pickled code"):
        load_checkpoint(random_image_backend.model, tmp_path / "evil.pt")
    assert not marker.exists()
    assert issubclass(UnsafeCheckpointError, CheckpointError)


# -- image backend --------------------------------------------------------------------------
@pytest.mark.slow
def test_image_prediction_shapes_and_mask_feedback(image_backend, grabcut_image):
    assert isinstance(image_backend, ImageBackend)
    h, w = grabcut_image.shape[:2]
    pts, lbl = np.array([[w / 2, h / 2], [10.0, 10.0]]), np.array([1, 0])
    p = image_backend.predict(pts, lbl)
    assert p.masks.shape == (3, h, w) and p.masks.dtype == bool
    assert p.iou_predictions.shape == (3,) and p.iou_predictions.dtype == np.float32
    assert p.low_res_logits.shape == (3, SIZE // 4, SIZE // 4) and p.low_res_logits.dtype == np.float32
    # the full-size masks are the thresholded upsampled logits
    up = torch.nn.functional.interpolate(
        torch.from_numpy(p.low_res_logits)[None], (SIZE, SIZE), mode="bilinear", align_corners=False
    )
    assert up.shape[-1] == SIZE

    i = p.best()
    fed = image_backend.predict(pts, lbl, mask_input=p.low_res_logits[i : i + 1], multimask_output=False)
    assert fed.masks.shape == (1, h, w) and fed.low_res_logits.shape == (1, SIZE // 4, SIZE // 4)
    plain = image_backend.predict(pts, lbl, multimask_output=False)
    assert not np.allclose(fed.low_res_logits, plain.low_res_logits)  # the mask input is used

    box = image_backend.predict(box=np.array([w * 0.2, h * 0.2, w * 0.8, h * 0.9]))
    assert box.masks.shape == (3, h, w)
    assert not np.array_equal(box.low_res_logits, p.low_res_logits)
    both = image_backend.predict(pts[:1], lbl[:1], box=np.array([0, 0, w, h]), multimask_output=False)
    assert both.masks.shape == (1, h, w)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({}, "No prompt"),
        ({"point_coords": [[10, 10]]}, "together"),
        ({"point_coords": [[10, 10, 3]], "point_labels": [1]}, "(N, 2)"),
        ({"point_coords": [[10, 10]], "point_labels": [2]}, "1 (positive) or 0"),
        ({"point_coords": [[10, 10], [20, 20]], "point_labels": [1]}, "match"),
        ({"point_coords": [[-1, 10]], "point_labels": [1]}, "outside"),
        ({"point_coords": [[10, 400]], "point_labels": [1]}, "(row, col)"),
        ({"point_coords": [[np.nan, 10]], "point_labels": [1]}, "NaN"),
        ({"box": [100, 10, 50, 60]}, "x0 <= x1"),
        ({"box": [0, 0, 10]}, "(4,)"),
        ({"box": [0, 0, 5000, 10]}, "outside"),
        ({"mask_input": np.zeros((1, 256, 256), np.float32)}, "(1, 64, 64)"),
    ],
)
def test_bad_prompts_raise_prompt_error(image_backend, kwargs, needle):
    with pytest.raises(PromptError) as err:
        image_backend.predict(**kwargs)
    assert needle in str(err.value)


@pytest.mark.slow
def test_image_call_order_and_input_checks(random_image_backend, image_backend):
    fresh = SAM2ImageBackend(image_backend.model, image_backend.info)  # shares weights, no image yet
    with pytest.raises(BackendError, match="set_image"):
        fresh.predict(np.array([[1.0, 1.0]]), np.array([1]))
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 4), np.uint8)):
        with pytest.raises(DataError):
            fresh.set_image(bad)
    with pytest.raises(ConfigError, match="Valid options"):
        make_sam2_image_backend(checkpoint="random", image_size=SIZE, offload_video_to_cpu=True)


@pytest.mark.slow
def test_generate_masks_with_the_official_generator(random_image_backend, grabcut_image):
    img = grabcut_image[:160, :200].copy()
    recs = random_image_backend.generate_masks(
        img, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, min_mask_region_area=20
    )
    assert recs, "thresholds at 0 must keep some masks"
    areas = [r["area"] for r in recs]
    assert areas == sorted(areas, reverse=True)
    for r in recs:
        seg = r["segmentation"]
        assert seg.shape == img.shape[:2] and seg.dtype == bool and int(seg.sum()) == r["area"]
        x, y, bw, bh = r["bbox"]
        assert x >= 0 and y >= 0 and x + bw <= img.shape[1] and y + bh <= img.shape[0]
    with pytest.raises(UnknownNameError, match="points_per_side"):
        random_image_backend.generate_masks(img, points_per_sid=4)
    with pytest.raises(ConfigError):
        random_image_backend.generate_masks(img, pred_iou_thresh=1.5)


# -- video backend --------------------------------------------------------------------------
@pytest.mark.slow
def test_video_mask_and_point_prompts_propagate_both_ways(video_backend, blackswan):
    folder, frames, gt0 = blackswan
    v = video_backend
    assert isinstance(v, VideoBackend)
    with pytest.raises(BackendError, match="init_state"):
        v.add_points(0, 1, np.array([[1.0, 1.0]]), np.array([1]))
    v.init_state(folder)
    h, w = frames[0].shape[:2]
    assert v.num_frames == N_FRAMES and v.frame_size == (h, w) and v.obj_ids == []
    with pytest.raises(BackendError, match="No object"):
        list(v.propagate())

    fm = v.add_mask(0, 1, gt0)
    assert fm.obj_ids == [1] and fm.masks.shape == (1, h, w) and fm.masks.dtype == bool
    # a mask prompt is used as the output on its frame (use_mask_input_as_output_without_sam)
    assert _iou(fm.mask_of(1), gt0) > 0.9
    fm = v.add_points(0, 2, np.array([[100.0, 80.0]]), np.array([1]))
    assert fm.obj_ids == [1, 2] and fm.masks.shape == (2, h, w)

    fwd = list(v.propagate())
    assert [f.frame_idx for f in fwd] == list(range(N_FRAMES))
    for f in fwd:
        assert f.obj_ids == [1, 2] and f.masks.shape == (2, h, w) and f.masks.dtype == bool
    bwd = list(v.propagate(start_frame_idx=N_FRAMES - 1, reverse=True))
    assert [f.frame_idx for f in bwd] == list(range(N_FRAMES - 1, -1, -1))
    assert all(f.obj_ids == [1, 2] and f.masks.shape == (2, h, w) for f in bwd)
    assert _iou(bwd[-1].mask_of(1), gt0) > 0.9  # frame 0 keeps its prompt

    with pytest.raises(PromptError, match="Tracked ids"):
        v.remove_object(7)
    v.remove_object(2)
    assert v.obj_ids == [1]
    assert [f.obj_ids for f in v.propagate(max_frame_num_to_track=1)] == [[1], [1]]

    for bad in (
        lambda: v.add_points(N_FRAMES, 1, [[1, 1]], [1]),
        lambda: v.add_mask(0, 1, gt0[:-1]),
        lambda: v.add_box(0, 3, [10, 10, 5, 20]),
        lambda: v.propagate(start_frame_idx=-1),
    ):
        with pytest.raises(PromptError):
            bad()
    fm = v.add_box(1, 3, np.array([300, 100, 600, 400]))
    assert fm.obj_ids == [1, 3] and fm.frame_idx == 1
    v.reset()
    assert v.obj_ids == [] and v.num_frames == N_FRAMES


@pytest.mark.slow
def test_video_inputs_other_than_jpeg_folders(video_backend, blackswan, tmp_path):
    import av
    from PIL import Image

    folder, frames, gt0 = blackswan
    v = video_backend
    v.init_state(folder)  # official JPEG loader
    official = v.inference_state["images"].clone()
    assert official.shape == (N_FRAMES, 3, SIZE, SIZE)

    v.init_state(frames)  # arrays: same preprocessing as the reference loader, bit for bit
    assert torch.equal(v.inference_state["images"], official)

    png = tmp_path / "png"
    png.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(png / f"frame_{i:03d}.png")
    v.init_state(png)
    assert torch.equal(v.inference_state["images"], official)

    lazy = SAM2VideoBackend(v.predictor, v.info, lazy_frames=True, offload_video_to_cpu=True, offload_state_to_cpu=True)
    lazy.init_state(frames)
    assert lazy.num_frames == N_FRAMES
    assert lazy.inference_state["offload_video_to_cpu"] and lazy.inference_state["offload_state_to_cpu"]
    assert lazy.inference_state["storage_device"].type == "cpu" and lazy.info.extra["offload_state_to_cpu"]
    assert all(torch.equal(lazy.inference_state["images"][i], official[i]) for i in range(N_FRAMES))

    mp4 = tmp_path / "blackswan.mp4"
    with av.open(str(mp4), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "18"}
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode())
    v.init_state(mp4)
    assert v.num_frames == N_FRAMES and v.frame_size == frames[0].shape[:2]
    # lossy H.264, but the same content after the same preprocessing
    assert float((v.inference_state["images"] - official).abs().mean()) < 0.1
    fm = v.add_mask(0, 5, gt0)
    assert fm.masks.shape == (1, *gt0.shape)
    v.close()
    assert v.num_frames == 0
