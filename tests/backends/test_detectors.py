"""Detectors: the ground-truth detector's noise on real DAVIS annotations, the detector spec's
checks, the torchvision adapter (untrained model on a real frame, weights saved and loaded back
strictly) and the optional Ultralytics adapter."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from workbench.backends.detectors import DetectorSpec, GroundTruthDetector, make_detector
from workbench.errors import BackendError, CheckpointMismatchError, ConfigError, DataError, UnknownNameError
from workbench.io.frames import FrameSource
from workbench.io.images import read_palette_mask
from workbench.metrics.boxes import mask_box
from workbench.types import Detections, Detector

SEQS = ("blackswan", "dog")


@pytest.fixture(scope="module")
def annotations(davis_dir: Path) -> dict[str, np.ndarray]:
    out = {}
    for seq in SEQS:
        files = sorted((davis_dir / "Annotations" / seq).glob("*.png"))
        out[seq] = np.stack([read_palette_mask(f) for f in files])
    return out


def _true_boxes(gt: np.ndarray) -> list[np.ndarray]:
    return [mask_box(gt[t] == 1) for t in range(gt.shape[0])]


# --------------------------------------------------------------------------- ground truth
def test_noiseless_gt_detector_gives_the_annotation_boxes(annotations):
    gt = annotations["dog"]
    det = make_detector(DetectorSpec(), annotations=gt, key="dog")
    assert isinstance(det, Detector) and det.info.backend == "gt" and not det.info.untrained
    for t, box in enumerate(_true_boxes(gt)):
        d = det.detect(None, frame_idx=t)
        assert d.boxes.dtype == np.float32 and d.scores.dtype == np.float32 and d.labels.dtype == np.int64
        if box is None:
            assert len(d) == 0
        else:
            np.testing.assert_array_equal(d.boxes, box[None])
            assert d.scores.tolist() == [1.0] and d.labels.tolist() == [0]


def test_miss_rate_drops_about_that_fraction_of_boxes(annotations):
    present = missed = 0
    for seq, gt in annotations.items():
        det = GroundTruthDetector(gt, miss_rate=0.5, seed=1, key=seq)
        for t, box in enumerate(_true_boxes(gt)):
            if box is not None:
                present += 1
                missed += len(det.detect(None, t)) == 0
        assert all(len(GroundTruthDetector(gt, miss_rate=1.0, key=seq).detect(None, t)) == 0 for t in range(len(gt)))
    assert present > 80
    assert 0.35 < missed / present < 0.65  # binomial(n > 80, 0.5): beyond 3 sigma otherwise


def test_jitter_is_gaussian_in_units_of_the_box_size(annotations):
    jitter, rel = 0.1, []
    for seq, gt in annotations.items():
        h, w = gt.shape[1:]
        det = GroundTruthDetector(gt, jitter=jitter, seed=2, key=seq)
        for t, box in enumerate(_true_boxes(gt)):
            if box is None:
                continue
            (noisy,) = det.detect(None, t).boxes
            size = np.array([box[2] - box[0], box[3] - box[1]] * 2)[[0, 1, 0, 1]]
            inside = (noisy > 0) & (noisy < np.array([w, h, w, h]))  # clipped coordinates say nothing
            rel += list(((noisy - box) / size)[inside])
    rel = np.array(rel)
    assert len(rel) > 300
    assert abs(rel.mean()) < 0.02 and rel.std() == pytest.approx(jitter, rel=0.15)


def test_false_positives_are_poisson_boxes_inside_the_frame(annotations):
    counts, sides = [], []
    for seq, gt in annotations.items():
        h, w = gt.shape[1:]
        det = GroundTruthDetector(gt, false_positives=2.0, seed=3, key=seq)
        for t, box in enumerate(_true_boxes(gt)):
            d = det.detect(None, t)
            fp = d.boxes[1:] if box is not None else d.boxes
            if box is not None:
                np.testing.assert_array_equal(d.boxes[0], box)  # true boxes first, unmoved
            counts.append(len(fp))
            assert (fp[:, :2] >= 0).all() and (fp[:, 2] <= w).all() and (fp[:, 3] <= h).all()
            sides += list((fp[:, 2] - fp[:, 0]) / w)
    assert np.mean(counts) == pytest.approx(2.0, abs=0.45) and np.var(counts) == pytest.approx(2.0, abs=1.0)
    assert max(sides) <= 0.30 + 1e-6 and np.median(sides) > 0.1


def test_gt_noise_depends_on_seed_sequence_and_frame_only(annotations):
    gt = annotations["blackswan"]
    spec = DetectorSpec(jitter=0.2, miss_rate=0.3, false_positives=1.0, seed=5)
    a = make_detector(spec, gt, "blackswan")
    b = make_detector(spec, gt, "blackswan")
    forward = [a.detect(None, t).boxes for t in range(len(gt))]
    backward = [b.detect(None, t).boxes for t in reversed(range(len(gt)))][::-1]
    for x, y in zip(forward, backward):
        np.testing.assert_array_equal(x, y)
    other = make_detector(DetectorSpec(jitter=0.2, miss_rate=0.3, false_positives=1.0, seed=6), gt, "blackswan")
    assert any(not np.array_equal(x, other.detect(None, t).boxes) for t, x in enumerate(forward))
    # adding false boxes leaves the true boxes' draws alone
    no_fp = make_detector(DetectorSpec(jitter=0.2, miss_rate=0.3, seed=5), gt, "blackswan")
    for t, x in enumerate(forward):
        y = no_fp.detect(None, t).boxes
        np.testing.assert_array_equal(x[: len(y)], y)


def test_gt_detector_refuses_bad_calls(annotations, davis_dir):
    gt = annotations["blackswan"]
    det = make_detector(DetectorSpec(), gt, "blackswan")
    with pytest.raises(ConfigError, match="frame's index"):
        det.detect(None)
    with pytest.raises(ConfigError, match="frame's index"):
        det.detect(None, len(gt))
    with pytest.raises(DataError, match="annotations are"):
        det.detect(np.zeros((10, 10, 3), np.uint8), 0)
    frame = FrameSource(davis_dir / "JPEGImages" / "blackswan")[0]
    assert len(det.detect(frame, 0)) == 1
    with pytest.raises(ConfigError, match="annotations"):
        make_detector(DetectorSpec())
    with pytest.raises(DataError):
        GroundTruthDetector(gt[0])


# --------------------------------------------------------------------------- spec
def test_detector_spec_checks_and_round_trips():
    spec = DetectorSpec(jitter=0.1, miss_rate=0.2, false_positives=0.5, mode="per_frame", classes=[1, 3])
    assert spec.classes == (1, 3)
    assert DetectorSpec.from_value(spec.to_dict()) == spec
    assert spec.tag == "perframe-gt-j0.1-m0.2-fp0.5"
    assert spec.noise_label == "jitter 0.1 · miss 0.2 · fp 0.5" and DetectorSpec().noise_label == "no noise"
    tv = DetectorSpec(kind="torchvision")
    assert tv.model == "fasterrcnn_mobilenet_v3_large_320_fpn" and tv.untrained
    assert tv.card()["weights_sha256"] == "untrained" and DetectorSpec().card()["weights_sha256"] == "none"
    assert tv.tag == "track10-torchvision-fasterrcnn_mobilenet_v3_large_320_fpn"
    for bad in (
        dict(kind="gt", weights="x.pt"),
        dict(kind="torchvision", jitter=0.1),
        dict(miss_rate=1.5),
        dict(jitter=-0.1),
        dict(detect_interval=0),
        dict(iou_threshold=0.0),
        dict(kind="ultralytics", num_classes=3),
        dict(classes=["a"]),
    ):
        with pytest.raises(ConfigError):
            DetectorSpec(**bad)
    with pytest.raises(UnknownNameError, match="detect_track"):
        DetectorSpec(mode="track")
    with pytest.raises(UnknownNameError, match="torchvision"):
        DetectorSpec(kind="yolo")
    with pytest.raises(UnknownNameError, match="jitter"):
        DetectorSpec.from_value({"jiter": 0.1})


def test_detections_are_checked_filtered_and_clipped():
    d = Detections([[5, 5, 20, 30], [0, 0, 4, 4], [-10, 8, 50, 9.5]], [0.4, 0.9, 0.6], [1, 2, 1])
    f = d.filter(0.5)
    assert f.scores.tolist() == [pytest.approx(0.9), pytest.approx(0.6)] and f.labels.tolist() == [2, 1]
    assert d.filter(0.0, classes=[1]).labels.tolist() == [1, 1]
    c = d.clipped(9, 40)
    np.testing.assert_array_equal(c.boxes, [[5, 5, 20, 9], [0, 0, 4, 4], [0, 8, 40, 9]])
    assert len(d.clipped(8, 40)) == 2  # the third box has no pixel row left
    with pytest.raises(DataError, match="XYXY"):
        Detections([[5, 5, 1, 1]], [1], [0])
    with pytest.raises(DataError, match="as many"):
        Detections([[0, 0, 1, 1]], [1, 1], [0])
    assert len(Detections.empty()) == 0


# --------------------------------------------------------------------------- torchvision
@pytest.fixture(scope="module")
def frame(davis_dir: Path) -> np.ndarray:
    return FrameSource(davis_dir / "JPEGImages" / "dog")[0]


@pytest.mark.slow
def test_untrained_torchvision_detector_on_a_real_frame(frame, tmp_path):
    torch = pytest.importorskip("torch")
    from workbench.backends.detectors.torchvision_models import TorchvisionDetector

    det = TorchvisionDetector(weights=None, device="cpu", score_threshold=0.0, seed=0)
    assert det.info.untrained and det.info.checkpoint_sha256 == "untrained" and det.info.backend == "torchvision"
    out = det.detect(frame)
    h, w = frame.shape[:2]
    assert 0 < len(out) <= 100  # the model keeps at most 100 boxes per image
    assert out.boxes.dtype == np.float32 and out.boxes.shape == (len(out), 4)
    assert out.scores.dtype == np.float32 and out.labels.dtype == np.int64
    assert (out.boxes[:, 2] > out.boxes[:, 0]).all() and (out.boxes[:, [0, 2]] <= w).all()
    assert (out.boxes[:, [1, 3]] <= h).all() and (np.diff(out.scores) <= 0).all()
    assert ((out.labels >= 0) & (out.labels < 91)).all()
    # weights saved and loaded back (bare, or under "model" as torchvision's references save them)
    path = tmp_path / "frcnn.pt"
    torch.save(det.net.state_dict(), path)
    torch.save({"model": det.net.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    again = TorchvisionDetector(weights=path, device="cpu", score_threshold=0.0, seed=123)
    assert not again.info.untrained and len(again.info.checkpoint_sha256) == 64
    back = again.detect(frame)
    np.testing.assert_allclose(back.boxes, out.boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(back.labels, out.labels)
    wrapped = TorchvisionDetector(weights=tmp_path / "ckpt.pt", device="cpu", seed=123).net.state_dict()
    other = TorchvisionDetector(weights=None, device="cpu", seed=1).net.state_dict()
    mine = det.net.state_dict()
    assert all(torch.equal(wrapped[k], v) for k, v in mine.items())
    assert not all(torch.equal(other[k], v) for k, v in mine.items())  # the seed makes the random weights
    with pytest.raises(CheckpointMismatchError, match="num_classes"):
        TorchvisionDetector(weights=path, num_classes=3, device="cpu")
    with pytest.raises(UnknownNameError, match="fasterrcnn_resnet50_fpn"):
        TorchvisionDetector("yolo", device="cpu")
    with pytest.raises(DataError):
        det.detect(frame.astype(np.float32))


@pytest.mark.slow
def test_torchvision_weights_are_loaded_strictly_and_safely(tmp_path):
    torch = pytest.importorskip("torch")
    from workbench.backends.detectors.torchvision_models import TorchvisionDetector
    from workbench.errors import UnsafeCheckpointError

    small = TorchvisionDetector("ssdlite320_mobilenet_v3_large", device="cpu")
    path = tmp_path / "ssd.pt"
    torch.save(small.net.state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match="missing key"):
        make_detector(DetectorSpec(kind="torchvision", weights=str(path), device="cpu"))
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": small.net.state_dict(), "spec": DetectorSpec()}, pickled)
    with pytest.raises(UnsafeCheckpointError):
        TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights=pickled, device="cpu")
    spec = DetectorSpec(kind="torchvision", model="ssdlite320_mobilenet_v3_large", weights=str(path), device="cpu")
    assert make_detector(spec) is make_detector(spec)  # built once per process and settings
    assert spec.card()["weights_sha256"] == make_detector(spec).info.checkpoint_sha256


# --------------------------------------------------------------------------- ultralytics (optional extra)
HAS_ULTRALYTICS = importlib.util.find_spec("ultralytics") is not None


@pytest.mark.skipif(HAS_ULTRALYTICS, reason="ultralytics is installed: the missing-extra message cannot be shown")
def test_ultralytics_detector_without_the_extra_says_how_to_install_it():
    with pytest.raises(BackendError, match=r"sam2-workbench\[yolo\]"):
        make_detector(DetectorSpec(kind="ultralytics"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_ULTRALYTICS, reason="ultralytics (optional extra [yolo]) is not installed here")
def test_untrained_yolo_detector_on_a_real_frame(frame):
    det = make_detector(DetectorSpec(kind="ultralytics", model="yolov8n.yaml", device="cpu", score_threshold=0.0))
    assert det.info.untrained and det.info.backend == "ultralytics"
    out = det.detect(frame)
    assert out.boxes.dtype == np.float32 and out.boxes.shape == (len(out), 4) and out.labels.dtype == np.int64
    assert (out.boxes[:, [0, 2]] <= frame.shape[1]).all() and (out.boxes[:, [1, 3]] <= frame.shape[0]).all()
