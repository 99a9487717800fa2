""" "Add objects from detector": the video session's method and the annotator's button, driven
headlessly on real DAVIS frames with the ground-truth detector and the weight-free backend."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.backends import make_video_backend
from workbench.backends.detectors import DetectorSpec, make_detector
from workbench.errors import ConfigError, PromptError
from workbench.io.images import read_palette_mask
from workbench.metrics.boxes import mask_box
from workbench.sessions import VideoSession
from workbench.widgets import VideoAnnotator, click_button

SEQ, N = "blackswan", 5


@pytest.fixture(scope="module")
def frames_dir(davis_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("video") / SEQ
    out.mkdir()
    for i in range(N):
        shutil.copy(davis_dir / "JPEGImages" / SEQ / f"{i:05d}.jpg", out / f"{i:05d}.jpg")
    return out


@pytest.fixture(scope="module")
def gt(davis_dir: Path) -> np.ndarray:
    return np.stack([read_palette_mask(davis_dir / "Annotations" / SEQ / f"{i:05d}.png") for i in range(N)])


def test_session_adds_one_box_prompted_object_per_detection(frames_dir, gt):
    detector = make_detector(DetectorSpec(false_positives=2.0, seed=1), gt, SEQ)
    found = detector.detect(None, 2)
    assert len(found) >= 2  # the swan and false boxes (seeded)
    session = VideoSession(make_video_backend("classical"), frames_dir, first_object=None)
    added = session.add_objects_from_detector(2, detector)
    assert added == list(range(1, len(found) + 1)) and session.active_obj_id == added[-1]
    for oid, box in zip(added, found.boxes):
        np.testing.assert_allclose(session.prompt_of(2, oid).box, box)
        assert session.objects[oid].name == "detection 0 (1.00)"
    swan = session.masks_at(2)[added[0]]
    assert (swan & (gt[2] == 1)).sum() / (swan | (gt[2] == 1)).sum() > 0.3
    # the Det-SAM2 rule: no new object where one already is (the swan's box matches its mask)
    assert session.add_objects_from_detector(2, make_detector(DetectorSpec(), gt, SEQ), iou_threshold=0.3) == []
    for _ in range(2 * len(added)):  # two steps per object: add, box
        session.undo()
    assert session.obj_ids == [] and not session.prompts
    with pytest.raises(PromptError, match="frame_idx"):
        session.add_objects_from_detector(N, detector)
    with pytest.raises(ConfigError, match="frame's index"):
        session.add_objects_from_detector(0, make_detector(DetectorSpec(), gt[:0], SEQ))
    session.close()


def test_annotator_button_adds_objects_and_reports_in_the_status_line(frames_dir, gt, tmp_path):
    ann = VideoAnnotator(
        make_video_backend("classical"),
        frames_dir,
        gt=gt,
        sync=True,
        image_format="png",
        output_dir=tmp_path,
        first_object=None,
    )
    click_button(ann.detect_button)  # no detector yet: an error in the status line, nothing raised
    assert ann.state == "error" and "No detector" in ann.status_text and ann.session.obj_ids == []
    with pytest.raises(ConfigError, match="detect"):
        ann.set_detector(object())
    ann.set_detector(make_detector(DetectorSpec(), gt, SEQ))
    ann.set_frame(1)
    click_button(ann.detect_button)
    assert ann.state == "ready" and ann.last_detected == [1]
    assert "added 1 object from the detector on frame 1" in ann.status_text
    np.testing.assert_allclose(ann.session.prompt_of(1, 1).box, mask_box(gt[1] == 1))
    assert len(ann.object_list.options) == 1 and ann.object_list.value == 1  # the object panel follows
    assert ann.add_objects_from_detector(frame_idx=3, iou_threshold=0.3) == [2]  # nothing tracked on 3 yet
    ann.propagate("forward", start_frame_idx=1)
    assert ann.add_objects_from_detector(frame_idx=4, iou_threshold=0.3) == []
    assert "found no new object on frame 4" in ann.status_text
    ann.close()
