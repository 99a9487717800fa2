"""The weight-free classical backend (GrabCut images, DIS-flow video) on real data.

Thresholds are set below values measured on this data (see each test); IoU is computed here
with numpy, GrabCut's 128 band excluded.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.backends.base import ImageBackend, VideoBackend
from workbench.backends.classical import (
    FlowVideoBackend,
    GrabCutImageBackend,
    make_classical_image_backend,
    make_classical_video_backend,
    resolve_overlaps,
)
from workbench.errors import BackendError, DataError, PromptError
from workbench.io.images import read_image, read_palette_mask

# Every 5th image of the 50 (sorted ids): not hand-picked.
EVERY_5TH = ["106024", "189080", "24077", "376043", "banana1", "bush", "flower", "music", "person5", "sheep"]


def _iou(pred: np.ndarray, gt_png: np.ndarray) -> float:
    valid = gt_png != 128
    gt = gt_png == 255
    union = np.count_nonzero((pred | gt) & valid)
    return np.count_nonzero(pred & gt & valid) / union if union else 1.0


def _plain_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def _box(gt_png: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(gt_png == 255)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def _center_click(region: np.ndarray) -> tuple[int, int]:
    """(x, y) of the distance-transform maximum of a bool region."""
    dt = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dt)), dt.shape)
    return int(x), int(y)


@pytest.fixture(scope="module")
def grabcut(data_dir: Path):
    root = data_dir / "images" / "grabcut"

    def load(image_id: str) -> tuple[np.ndarray, np.ndarray]:
        path = next((root / "images").glob(f"{image_id}.*"))
        return read_image(path), read_palette_mask(root / "masks" / f"{image_id}.png")

    return load


@pytest.fixture(scope="module")
def backend() -> GrabCutImageBackend:
    return make_classical_image_backend()


# -- image backend ---------------------------------------------------------------------------------
def test_protocol_and_info(backend):
    assert isinstance(backend, ImageBackend)
    assert backend.info.backend == "classical" and backend.info.model == "grabcut"
    assert backend.info.checkpoint_sha256 == "none" and not backend.info.untrained
    video = make_classical_video_backend()
    assert isinstance(video, VideoBackend)
    assert video.info.model == "dis-flow" and video.num_frames == 0 and video.obj_ids == []


@pytest.mark.slow  # 2-5 s (10 images), more on a busy machine
def test_box_prompt_iou(backend, grabcut):
    # Measured: mean 0.856, median 0.927 on these 10 (0.845 on all 50), 0.05-0.4 s per predict.
    ious = []
    for image_id in EVERY_5TH:
        img, gt = grabcut(image_id)
        backend.set_image(img)
        pred = backend.predict(box=_box(gt), multimask_output=False)
        assert pred.masks.shape == (1, *gt.shape) and pred.masks.dtype == bool
        ious.append(_iou(pred.masks[0], gt))
    assert np.mean(ious) >= 0.80
    assert np.median(ious) >= 0.88


@pytest.mark.slow  # 3-7 s (10 images)
def test_single_click_beats_trivial_masks(backend, grabcut):
    # Measured: mean 0.733 (best candidate) vs 0.213 for the full mask and 0 for the empty one.
    ious, full = [], []
    for image_id in EVERY_5TH:
        img, gt = grabcut(image_id)
        backend.set_image(img)
        x, y = _center_click(gt == 255)
        pred = backend.predict(np.array([[x, y]], np.float32), np.array([1], np.int32))
        ious.append(_iou(pred.masks[pred.best()], gt))
        full.append(_iou(np.ones(gt.shape, bool), gt))
    assert np.mean(ious) >= 0.65
    assert np.mean(ious) >= np.mean(full) + 0.35


def test_multimask_candidates(backend, grabcut):
    img, gt = grabcut("banana1")
    backend.set_image(img)
    x, y = _center_click(gt == 255)
    pred = backend.predict(np.array([[x, y]]), np.array([1]), multimask_output=True)
    assert pred.masks.shape == (3, *gt.shape)
    assert pred.iou_predictions.shape == (3,) and pred.iou_predictions.dtype == np.float32
    assert np.all((pred.iou_predictions >= 0) & (pred.iou_predictions <= 1))
    assert pred.low_res_logits.shape == (3, 256, 256) and pred.low_res_logits.dtype == np.float32
    for a, b in [(0, 1), (0, 2), (1, 2)]:  # measured: 1304, 10960 and 12192 pixels differ
        assert np.count_nonzero(pred.masks[a] != pred.masks[b]) > 500
    single = backend.predict(np.array([[x, y]]), np.array([1]), multimask_output=False)
    assert single.masks.shape == (1, *gt.shape) and single.iou_predictions.shape == (1,)
    np.testing.assert_array_equal(single.masks[0], pred.masks[0])  # seeded: reproducible


def test_low_res_logits_round_trip(backend, grabcut):
    img, gt = grabcut("sheep")
    backend.set_image(img)
    first = backend.predict(box=_box(gt), multimask_output=False)
    h, w = gt.shape
    up = cv2.resize(first.low_res_logits[0], (w, h), interpolation=cv2.INTER_LINEAR) > 0
    assert _plain_iou(up, first.masks[0]) >= 0.9
    again = backend.predict(mask_input=first.low_res_logits[0:1], multimask_output=False)
    assert _plain_iou(again.masks[0], first.masks[0]) >= 0.85


@pytest.mark.parametrize("image_id", ["fullmoon", "scissors", "tennis"])
def test_negative_click_with_mask_input_refines(backend, grabcut, image_id):
    # Measured IoU one click -> plus a negative click at the largest false positive:
    # fullmoon 0.726 -> 0.981, scissors 0.578 -> 0.655, tennis 0.421 -> 0.565 (over all 50
    # images the change ranges from -0.11 to +0.26; these are chosen cases with a clear error).
    img, gt = grabcut(image_id)
    backend.set_image(img)
    x, y = _center_click(gt == 255)
    first = backend.predict(np.array([[x, y]]), np.array([1]))
    best = first.best()
    fp = first.masks[best] & (gt == 0)
    assert fp.any()
    nx, ny = _center_click(fp)
    second = backend.predict(
        np.array([[x, y], [nx, ny]]),
        np.array([1, 0]),
        mask_input=first.low_res_logits[best : best + 1],
        multimask_output=False,
    )
    assert _iou(second.masks[0], gt) >= _iou(first.masks[best], gt) + 0.03
    assert not second.masks[0][ny, nx]


def test_only_negative_clicks_give_empty_mask(backend, grabcut):
    img, _ = grabcut("flower")
    backend.set_image(img)
    pred = backend.predict(np.array([[10, 10]]), np.array([0]))
    assert not pred.masks.any() and np.all(pred.iou_predictions == 0)


def test_prompt_validation(grabcut):
    be = GrabCutImageBackend()
    with pytest.raises(BackendError, match="set_image"):
        be.predict(box=np.array([0, 0, 5, 5]))
    with pytest.raises(DataError, match="uint8"):
        be.set_image(np.zeros((20, 20, 3), np.float32))
    with pytest.raises(DataError):
        be.set_image(np.zeros((20, 20), np.uint8))
    img, _ = grabcut("flower")  # 600 x 450 (W x H)
    be.set_image(img)
    with pytest.raises(PromptError, match="No prompt"):
        be.predict()
    with pytest.raises(PromptError, match=r"0 <= x < 600 and 0 <= y < 450"):
        be.predict(np.array([[10, 500]]), np.array([1]))
    with pytest.raises(PromptError, match="point_labels"):
        be.predict(np.array([[10, 10]]))
    with pytest.raises(PromptError, match="entries"):
        be.predict(np.array([[10, 10], [20, 20]]), np.array([1]))
    with pytest.raises(PromptError, match="1 .positive. or 0"):
        be.predict(np.array([[10, 10]]), np.array([2]))
    with pytest.raises(PromptError, match=r"\(N, 2\)"):
        be.predict(np.array([[10, 10, 3]]), np.array([1]))
    with pytest.raises(PromptError, match="XYXY"):
        be.predict(box=np.array([100, 100, 50, 200]))
    with pytest.raises(PromptError, match="leaves"):
        be.predict(box=np.array([0, 0, 700, 200]))
    with pytest.raises(PromptError, match="mask_input"):
        be.predict(mask_input=np.zeros((2, 256, 256), np.float32))
    be.reset_image()
    with pytest.raises(BackendError):
        be.predict(box=np.array([0, 0, 5, 5]))


def test_tiny_box_does_not_crash():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    be = GrabCutImageBackend()
    be.set_image(img)
    pred = be.predict(box=np.array([10, 10, 12, 12]))
    assert pred.masks.shape == (3, 60, 80)
    full = be.predict(box=np.array([0, 0, 80, 60]))
    assert full.masks.shape == (3, 60, 80)


# -- video backend ---------------------------------------------------------------------------------
N_FRAMES = 13


@pytest.fixture(scope="module")
def blackswan(davis_dir: Path):
    frames = [read_image(davis_dir / "JPEGImages" / "blackswan" / f"{i:05d}.jpg") for i in range(N_FRAMES)]
    gts = [read_palette_mask(davis_dir / "Annotations" / "blackswan" / f"{i:05d}.png") > 0 for i in range(N_FRAMES)]
    return frames, gts


def test_forward_propagation_from_mask(blackswan):
    # Measured: mean IoU 0.915 over frames 1-14, about 0.07 s per frame (854 x 480, 1 object).
    frames, gts = blackswan
    be = FlowVideoBackend()
    be.init_state(frames)
    assert be.num_frames == N_FRAMES
    fm = be.add_mask(0, 1, gts[0])
    assert fm.frame_idx == 0 and fm.obj_ids == [1]
    np.testing.assert_array_equal(fm.mask_of(1), gts[0])
    out = list(be.propagate())
    assert [f.frame_idx for f in out] == list(range(N_FRAMES))
    assert all(f.masks.shape == (1, 480, 854) and f.masks.dtype == bool for f in out)
    ious = [_plain_iou(f.masks[0], gts[f.frame_idx]) for f in out[1:]]
    assert np.mean(ious) >= 0.85 and min(ious) >= 0.75


def test_reverse_propagation_from_later_prompt(blackswan):
    frames, gts = blackswan
    be = FlowVideoBackend()
    be.init_state(frames)
    last = N_FRAMES - 1
    be.add_mask(last, 1, gts[last])
    out = list(be.propagate(reverse=True))
    assert [f.frame_idx for f in out] == list(range(last, -1, -1))
    ious = [_plain_iou(f.masks[0], gts[f.frame_idx]) for f in out[1:]]
    assert np.mean(ious) >= 0.85
    # max_frame_num_to_track counts frames after the start, as SAM 2 does
    assert [f.frame_idx for f in be.propagate(start_frame_idx=5, max_frame_num_to_track=3)] == [5, 6, 7, 8]


def test_box_prompt_and_later_prompt_reset(blackswan):
    frames, gts = blackswan
    be = FlowVideoBackend()
    be.init_state(frames[:8])
    ys, xs = np.nonzero(gts[0])
    fm = be.add_box(0, 3, np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]))
    # Measured 0.508: GrabCut keeps the wall and water between neck and body ...
    assert _plain_iou(fm.mask_of(3), gts[0]) >= 0.4
    x, y = _center_click(fm.mask_of(3) & ~gts[0])
    fm = be.add_points(0, 3, np.array([[x, y]]), np.array([0]), clear_old_points=False)
    # ... one negative click there, refining the box result, gives 0.909.
    assert _plain_iou(fm.mask_of(3), gts[0]) >= 0.85
    reset = np.zeros_like(gts[5])
    reset[100:200, 100:300] = True
    be.add_mask(5, 3, reset)
    out = {f.frame_idx: f for f in be.propagate(start_frame_idx=0)}
    np.testing.assert_array_equal(out[5].mask_of(3), reset)  # the track restarts from the prompt
    assert _plain_iou(out[6].mask_of(3), gts[6]) < 0.3 and out[6].mask_of(3).any()


def test_points_prompt_and_refinement(blackswan):
    frames, gts = blackswan
    be = FlowVideoBackend()
    be.init_state(frames[:3])
    x, y = _center_click(gts[0])
    first = be.add_points(0, 1, np.array([[x, y]]), np.array([1]))
    assert first.mask_of(1)[y, x]
    more = be.add_points(0, 1, np.array([[5, 5]]), np.array([0]), clear_old_points=False)
    assert not more.mask_of(1)[5, 5] and more.mask_of(1)[y, x]


def test_two_objects_never_overlap_and_remove(blackswan):
    frames, gts = blackswan
    be = FlowVideoBackend()
    be.init_state(frames[:6])
    be.add_mask(0, 1, gts[0])
    # The water right of the swan; GrabCut's result there touches the swan's tail (67 pixels
    # measured), so the overlap rule is exercised on frame 0.
    fm = be.add_box(0, 2, np.array([450, 150, 800, 400], np.float32))
    assert be.obj_ids == [1, 2]
    assert not (fm.masks[0] & fm.masks[1]).any() and fm.masks[1].any()
    out = list(be.propagate())
    for f in out:
        assert f.obj_ids == [1, 2] and not (f.masks[0] & f.masks[1]).any()
        assert f.masks[0].any() and f.masks[1].any()
    be.remove_object(2)
    assert be.obj_ids == [1]
    assert all(f.masks.shape[0] == 1 for f in be.propagate(max_frame_num_to_track=2))
    with pytest.raises(PromptError, match="Tracked ids"):
        be.remove_object(2)
    be.reset()
    assert be.obj_ids == [] and be.num_frames == 6


def test_resolve_overlaps_rule():
    a = np.zeros((1, 20, 20), bool)
    a[0, 2:18, 2:12] = True
    b = np.zeros((1, 20, 20), bool)
    b[0, 2:18, 8:18] = True
    both = np.concatenate([a, b])
    out = resolve_overlaps(both, [0, 0])
    assert not (out[0] & out[1]).any() and (out[0] | out[1]).sum() == (a | b).sum()
    out = resolve_overlaps(both, [0, 1])  # prompted object wins
    np.testing.assert_array_equal(out[1], b[0])


def test_video_errors(blackswan, davis_dir):
    _frames, gts = blackswan
    be = FlowVideoBackend()
    with pytest.raises(BackendError, match="init_state"):
        be.add_mask(0, 1, gts[0])
    be.init_state(davis_dir / "JPEGImages" / "blackswan")  # lazy folder source
    assert be.num_frames == 50
    with pytest.raises(BackendError, match="No object"):
        next(iter(be.propagate()))
    with pytest.raises(PromptError, match=r"\[0, 49\]"):
        be.add_mask(50, 1, gts[0])
    with pytest.raises(PromptError, match="480, 854"):
        be.add_mask(0, 1, gts[0][:100])
    with pytest.raises(PromptError, match="outside"):
        be.add_points(0, 1, np.array([[900, 10]]), np.array([1]))
    with pytest.raises(PromptError):
        be.add_box(0, 1, np.array([10, 10, 5, 20]))
