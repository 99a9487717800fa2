"""The PVS protocol (SAM 2's interactive video evaluation) on real DAVIS frames with the
classical backend: offline and online frame choice, clicks per interaction, the curve, objects
annotated independently, and refused settings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workbench.backends import make_video_backend
from workbench.errors import ConfigError, DataError, UnknownNameError
from workbench.io.datasets import load_davis
from workbench.io.frames import FrameSource
from workbench.metrics.davis import jaccard_stack
from workbench.metrics.vos_eval import evaluate_vos_arrays
from workbench.protocols.clicks import ClickSimulator
from workbench.protocols.pvs import PVSSettings, run_pvs_sequence
from workbench.protocols.vos import run_vos_sequence


def _clip(davis_dir, name: str, n: int, size: tuple[int, int] = (427, 240)):
    """The first ``n`` frames and annotations of a DAVIS sequence resized to ``size`` (W, H;
    default half size: the protocol's logic does not depend on the size, GrabCut's time does)."""
    item = load_davis(davis_dir, [name])[0]
    src = FrameSource(item.frames_dir)
    frames = [cv2.resize(src[i], size, interpolation=cv2.INTER_AREA) for i in range(n)]
    gt = np.stack([cv2.resize(g, size, interpolation=cv2.INTER_NEAREST) for g in item.load_annotations()[:n]])
    return frames, gt


@pytest.fixture(scope="module")
def backend():
    return make_video_backend("classical")


@pytest.fixture(scope="module")
def blackswan(davis_dir):
    return _clip(davis_dir, "blackswan", 10)


@pytest.fixture(scope="module")
def offline(backend, blackswan):
    frames, gt = blackswan
    return run_pvs_sequence(backend, frames, gt, PVSSettings(max_annotated_frames=4), "blackswan")


def test_offline_corrects_the_worst_new_frame_with_three_clicks(offline, blackswan):
    _frames, gt = blackswan
    (obj,) = offline.objects
    assert obj.obj_id == 1 and obj.first_frame == 0
    frames = obj.annotated_frames
    assert len(frames) == 4 and frames[0] == 0 and len(set(frames)) == 4
    assert [len(r.clicks) for r in obj.rounds] == [3, 3, 3, 3] and obj.num_clicks == 12
    first = ClickSimulator(gt[0] == 1).next_click(np.zeros(gt.shape[1:], bool))
    assert obj.rounds[0].clicks[0] == first and first.is_positive  # the centre of the object
    for k in range(1, 4):
        js = np.asarray(obj.frame_J[k - 1])
        free = [t for t in range(len(js)) if t not in frames[:k]]
        assert frames[k] == min(free, key=lambda t: (js[t], t))  # lowest J, earliest on ties
        assert js[frames[k]] < 1.0 and obj.rounds[k].J_before == pytest.approx(js[frames[k]])
    for k, r in enumerate(obj.rounds):
        assert r.frames_tracked == gt.shape[0]  # the whole video after every interaction
        assert obj.frame_J[k][r.frame_idx] == pytest.approx(r.J_after)  # the correction is kept
        assert r.interact_s > 0 and r.propagate_s > 0
    assert obj.masks is not None and obj.masks.shape == gt.shape
    final = evaluate_vos_arrays({1: gt == 1}, {1: obj.masks}, gt == 255, skip_first_last=False, sequence="b").global_
    assert obj.J[-1] == pytest.approx(final["J-Mean"]) and obj.F[-1] == pytest.approx(final["F-Mean"])


def test_offline_curve_starts_at_the_three_click_vos_prediction(offline, backend, blackswan):
    frames, gt = blackswan
    vos = run_vos_sequence(backend, frames, gt, "clicks3", "blackswan")
    assert offline.objects[0].rounds[0].clicks == vos.prompt_clicks[1]
    assert offline.objects[0].frame_J[0] == pytest.approx(jaccard_stack(gt == 1, vos.pred == 1, gt == 255).tolist())
    every_frame = evaluate_vos_arrays({1: gt == 1}, {1: vos.pred == 1}, skip_first_last=False).global_
    curve = offline.curve()
    assert len(curve["J&F-Mean"]) == 4
    assert curve["J&F-Mean"][0] == pytest.approx(every_frame["J&F-Mean"])  # every frame is scored
    assert offline.average == pytest.approx(np.mean(curve["J&F-Mean"]))
    assert curve["J&F-Mean"][-1] > curve["J&F-Mean"][0]  # correcting the worst frames helps here


def test_online_pass_stops_below_the_threshold_and_keeps_earlier_frames(backend, blackswan):
    frames, gt = blackswan
    settings = PVSSettings(mode="online", iou_threshold=0.9, max_annotated_frames=4)
    run = run_pvs_sequence(backend, frames, gt, settings, "blackswan")
    (obj,) = run.objects
    stops = obj.annotated_frames
    assert stops[0] == 0 and stops == sorted(set(stops)) and len(stops) >= 3  # one forward pass
    for k in range(1, len(stops)):
        js = np.asarray(obj.frame_J[k - 1])
        between = js[stops[k - 1] + 1 : stops[k]]
        assert js[stops[k]] < 0.9 and (between >= 0.9).all()  # the first frame below the threshold
        assert obj.frame_J[k][: stops[k]] == obj.frame_J[k - 1][: stops[k]]  # earlier frames untouched
        assert obj.rounds[k].frames_tracked == gt.shape[0] - stops[k]
    if len(stops) < 4:  # the annotator stopped: nothing left below the threshold, the curve carried on
        assert (np.asarray(obj.frame_J[-1])[stops[-1] + 1 :] >= 0.9).all()
        assert obj.JF[len(stops) :] == [obj.JF[len(stops) - 1]] * (4 - len(stops))
    assert all(len(r.clicks) == 3 for r in obj.rounds)
    never = run_pvs_sequence(backend, frames[:5], gt[:5], PVSSettings(mode="online", iou_threshold=0.0), "blackswan")
    assert never.objects[0].annotated_frames == [0] and len(set(never.curve()["J&F-Mean"])) == 1


def test_objects_are_annotated_independently_and_later_ones_from_their_first_frame(backend, davis_dir):
    frames, gt = _clip(davis_dir, "blackswan", 4, (214, 120))
    cols = np.flatnonzero((gt[0] == 1).any(axis=0))
    split = (cols[0] + cols[-1]) // 2
    two = gt.copy()
    two[:, :, split:][two[:, :, split:] == 1] = 2  # the swan's left and right halves as two objects
    two[:2][two[:2] == 2] = 0  # the right half appears on frame 2
    settings = PVSSettings(max_annotated_frames=2)
    both = run_pvs_sequence(backend, frames, two, settings, "halves")
    assert [(o.obj_id, o.first_frame) for o in both.objects] == [(1, 0), (2, 2)]
    later = both.objects[1]
    assert later.annotated_frames[0] == 2 and later.rounds[0].frames_tracked == 4 - 2 + 3  # forward, then back
    for obj_id in (1, 2):
        alone = np.where(two == obj_id, obj_id, 0).astype(np.uint8)
        (single,) = run_pvs_sequence(backend, frames, alone, settings, "halves").objects
        obj = both.objects[obj_id - 1]
        assert single.annotated_frames == obj.annotated_frames and single.JF == obj.JF
        assert np.array_equal(single.masks, obj.masks)
    curve = both.curve()["J&F-Mean"]
    assert curve == pytest.approx([(a + b) / 2 for a, b in zip(both.objects[0].JF, both.objects[1].JF)])


def test_bad_settings_and_videos_are_refused(backend, davis_dir):
    with pytest.raises(UnknownNameError, match="offline"):
        PVSSettings(mode="batch")
    for bad in (
        {"max_annotated_frames": 0},
        {"clicks_per_frame": 1.5},
        {"iou_threshold": 1.2},
        {"skip_first_last": "yes"},
    ):
        with pytest.raises(ConfigError):
            PVSSettings(**bad)
    frames, gt = _clip(davis_dir, "dog", 3)
    with pytest.raises(DataError, match="skip_first_last=False"):
        run_pvs_sequence(backend, frames[:2], gt[:2], PVSSettings(skip_first_last=True))
    two = run_pvs_sequence(backend, frames[:2], gt[:2], PVSSettings(max_annotated_frames=2))
    assert two.objects[0].annotated_frames == [0, 1] and len(two.objects[0].JF) == 2
    with pytest.raises(DataError, match="no object"):
        run_pvs_sequence(backend, frames, np.zeros_like(gt))
    with pytest.raises(DataError, match="3 frames but 2 annotations"):
        run_pvs_sequence(backend, frames, gt[:2])
