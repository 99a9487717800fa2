"""Detector-prompted VOS (:mod:`workbench.protocols.detect`) on real DAVIS frames with the
ground-truth detector: detect-then-track (Det-SAM2) and per-frame boxes (YOLO-SAM2) on the
weight-free backend, the new-object rule, matching to the annotations, false objects, misses;
and both modes on SAM 2 with random weights at a small size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.backends.classical import FlowVideoBackend
from workbench.backends.detectors import DetectorSpec, make_detector
from workbench.io.frames import FrameSource
from workbench.io.images import read_palette_mask
from workbench.metrics.boxes import mask_box
from workbench.protocols.detect import UNMATCHED_ID, run_detector_sequence

SEQ, N, LATER = "blackswan", 6, 2


@pytest.fixture(scope="module")
def frames(davis_dir: Path) -> list[np.ndarray]:
    src = FrameSource(davis_dir / "JPEGImages" / SEQ)
    return [src[t] for t in range(N)]


@pytest.fixture(scope="module")
def gt(davis_dir: Path) -> np.ndarray:
    return np.stack([read_palette_mask(davis_dir / "Annotations" / SEQ / f"{t:05d}.png") for t in range(N)])


@pytest.fixture(scope="module")
def late(gt) -> np.ndarray:
    """The swan annotated only from frame 2 on (as an object entering the video)."""
    ids = gt.copy()
    ids[:LATER] = 0
    return ids


def _run(frames, gt, backend=None, **spec):
    spec = DetectorSpec(**spec)
    return run_detector_sequence(backend or FlowVideoBackend(), frames, gt, make_detector(spec, gt, SEQ), spec, SEQ)


def test_detect_then_track_without_noise_tracks_the_detected_box(frames, gt):
    run = _run(frames, gt, detect_interval=3)
    assert run.prompt == "detector" and run.mode == "detect_track" and run.obj_ids == [1]
    assert run.matches == [{"obj_id": 1, "frame": 0, "gt_id": 1, "iou": pytest.approx(run.matches[0]["iou"])}]
    assert run.prompt_frames == {1: 0} and run.unmatched == 0
    assert run.detection_frames == 2 and run.detections == 2  # frames 0 and 3; the box on 3 is the tracked swan
    # the same as prompting the box by hand and propagating once: the chunks at frame 3 change nothing
    ref = FlowVideoBackend()
    ref.init_state(frames)
    ref.add_box(0, 1, mask_box(gt[0] == 1))
    expected = np.stack([fm.masks[0] for fm in ref.propagate(0)])
    np.testing.assert_array_equal(run.pred == 1, expected)
    assert run.matches[0]["iou"] == pytest.approx(
        (expected[0] & (gt[0] == 1)).sum() / (expected[0] | (gt[0] == 1)).sum()
    )
    assert set(np.unique(run.pred)) <= {0, 1}
    jf = run.evaluation.global_["J&F-Mean"]
    assert 0.3 < jf <= 1.0


def test_detect_then_track_adds_an_object_when_it_is_first_detected(frames, late):
    run = _run(frames, late, detect_interval=2)
    assert run.obj_ids == [1]
    assert [(m["obj_id"], m["frame"], m["gt_id"]) for m in run.matches] == [(1, LATER, 1)]
    assert run.prompt_frames == {1: LATER} and run.detection_frames == 3  # frames 0, 2, 4
    assert run.detections == 2  # nothing on frame 0; on frame 4 the swan is already tracked
    assert not run.pred[:LATER].any()
    assert all((run.pred[t] == 1).any() for t in range(LATER, N))


def test_false_boxes_become_unmatched_objects(frames, gt):
    run = _run(frames, gt, false_positives=2.0, seed=4, detect_interval=2)
    assert run.objects == len(run.matches) > 1 and run.unmatched == run.objects - 1
    assert [m["gt_id"] for m in run.matches if m["gt_id"] is not None] == [1]
    assert (run.pred == UNMATCHED_ID).any()
    first = next(m for m in run.matches if m["gt_id"] == 1)
    assert first["frame"] == 0 and first["iou"] > max(m["iou"] for m in run.matches if m["gt_id"] is None)
    # scoring uses only the matched object: the swan's J equals its own pixels' IoU
    t = 2
    swan, ann = run.pred[t] == 1, gt[t] == 1
    assert run.evaluation.per_frame[SEQ][1]["J"][t - 1] == pytest.approx((swan & ann).sum() / (swan | ann).sum())


def test_a_detector_that_misses_everything_prompts_nothing(frames, gt):
    run = _run(frames, gt, miss_rate=1.0)
    assert run.objects == 0 and run.num_frames == 0 and not run.pred.any()
    assert run.evaluation.global_["J-Mean"] == 0.0
    per_frame = _run(frames, gt, miss_rate=1.0, mode="per_frame")
    assert per_frame.objects == 0 and not per_frame.pred.any()


def test_per_frame_boxes_segment_every_frame_alone(frames, gt):
    run = _run(frames, gt, mode="per_frame")
    assert run.mode == "per_frame" and run.detection_frames == N and run.num_frames == N
    assert [(m["frame"], m["obj_id"], m["gt_id"]) for m in run.matches] == [(t, 1, 1) for t in range(N)]
    for t in (0, 3):  # the box of frame t alone, without memory of other frames
        alone = FlowVideoBackend()
        alone.init_state(frames)
        np.testing.assert_array_equal(run.pred[t] == 1, alone.add_box(t, 1, mask_box(gt[t] == 1)).masks[0])


def test_per_frame_misses_leave_frames_empty_and_false_boxes_are_matched_per_frame(frames, gt):
    run = _run(frames, gt, mode="per_frame", miss_rate=0.5, false_positives=1.0, seed=7)
    det = make_detector(DetectorSpec(miss_rate=0.5, false_positives=1.0, seed=7), gt, SEQ)
    found = [det.detect(None, t) for t in range(N)]
    assert run.detections == sum(len(d) for d in found) and run.objects == run.detections
    for t, d in enumerate(found):
        true_box = mask_box(gt[t] == 1)
        has_swan = any(np.array_equal(b, true_box) for b in d.boxes)
        mine = [m for m in run.matches if m["frame"] == t]
        assert len(mine) == len(d)
        if not len(d):
            assert not run.pred[t].any()
        if not has_swan and len(d) and not any(m["gt_id"] == 1 for m in mine):
            assert not (run.pred[t] == 1).any()
        assert sum(m["gt_id"] == 1 for m in mine) <= 1
    assert any(not len(d) for d in found) and run.unmatched > 0  # the seed gives both cases


@pytest.fixture(scope="module")
def sam2_backend():
    pytest.importorskip("torch")
    from workbench.backends import make_video_backend

    return make_video_backend("sam2", checkpoint="random", image_size=256, device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["detect_track", "per_frame"])
def test_both_modes_run_on_untrained_sam2(frames, gt, sam2_backend, mode):
    assert sam2_backend.info.untrained  # UNTRAINED: the masks are meaningless, only the flow is checked
    n = 3
    run = _run(frames[:n], gt[:n], sam2_backend, mode=mode, detect_interval=2)
    assert run.pred.shape == gt[:n].shape and run.pred.dtype == np.uint8
    assert set(run.evaluation.per_frame[SEQ]) == {1}
    assert set(np.unique(run.pred)) <= {0, 1, UNMATCHED_ID}
    if mode == "detect_track":
        assert run.matches[0]["obj_id"] == 1 and run.matches[0]["frame"] == 0
        assert {m["frame"] for m in run.matches} <= {0, 2} and run.detection_frames == 2
        assert run.num_frames == 3 + 1  # frames 0-2, then frame 2 again (the last detection frame)
    else:
        assert [(m["frame"], m["obj_id"]) for m in run.matches] == [(0, 1), (1, 1), (2, 1)]
        assert run.num_frames == n
    assert sam2_backend.obj_ids == []  # reset after the sequence
