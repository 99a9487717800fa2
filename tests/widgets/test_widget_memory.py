"""The annotator's memory view driven headlessly (browser messages, ``sync=True``): random-weight
SAM 2.1-tiny at 64 px on the first 4 DAVIS blackswan frames, one click on the swan, then tracked
with each policy. The panel must show what each policy attended on the shown frame, follow the
frame and the selected object, and report errors in the status line."""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.backends import make_video_backend
from workbench.errors import BackendError
from workbench.io.images import read_palette_mask
from workbench.widgets import VideoAnnotator, click_button, send_mouse, set_from_frontend

pytest.importorskip("torch")

SEQ = "blackswan"


def _attr(ann: VideoAnnotator, name: str) -> str:
    """A ``data-*`` attribute of the panel's details."""
    m = re.search(rf"{name}='([^']*)'", ann.memory.details.value)
    assert m, ann.memory.details.value
    return m.group(1)


def _marks(ann: VideoAnnotator, css: str) -> list[int]:
    return [int(f) for f in re.findall(rf"class='{css}' data-frame='(\d+)'", ann.memory.strip.value)]


def _show(ann: VideoAnnotator, frame: int) -> None:
    set_from_frontend(ann.frame_slider, value=frame)


@pytest.mark.slow
def test_memory_view_shows_what_each_policy_attended(davis_dir):
    ann = VideoAnnotator(
        make_video_backend("sam2", checkpoint="random", image_size=64),
        davis_dir / "JPEGImages" / SEQ,
        sync=True,
        max_frames=4,
        image_format="png",
    )
    try:
        assert not ann.memory.toggle.disabled and ann.memory.body.layout.display == "none"
        set_from_frontend(ann.memory.toggle, value=True)
        assert ann.memory.body.layout.display == "" and "no prediction here yet" in ann.memory.details.value

        gt = read_palette_mask(davis_dir / "Annotations" / SEQ / "00000.png") == 1
        ys, xs = np.nonzero(gt)
        send_mouse(ann.canvas.canvas, "mouse_down", float(np.median(xs)) + 0.5, float(np.median(ys)) + 0.5)
        assert ann.session.prompted_frames() == [0]
        assert "prompted frame" in ann.memory.details.value and _attr(ann, "data-non-cond") == ""
        assert ann.memory.trace.is_cond_frame and ann.memory.trace.memory_frames == ()

        expected = {  # frame 3 with one prompt on frame 0
            "sam2": ("1 2", "0 2 1"),  # the frames right behind; all recent pointers
            "samurai": ("2", "0 2 1"),  # no frame confident enough: only the one right behind
            "sam2long": ("1 2", "0 2"),  # the best pathway's frames; pointers stop before the oldest
        }
        for policy, (non_cond, ptrs) in expected.items():
            if policy == "samurai":
                ann.set_policy("samurai", {"memory_bank_iou_threshold": 0.9})
            else:
                set_from_frontend(ann.policy_dropdown, index=ann.policy_dropdown.options.index(policy))
            click_button(ann.propagate_buttons["forward"])
            assert ann.state == "ready", ann.status_text
            _show(ann, 3)
            assert _attr(ann, "data-frame") == "3" and _attr(ann, "data-policy") == policy
            assert _attr(ann, "data-cond") == "0" and _attr(ann, "data-non-cond") == non_cond
            assert _attr(ann, "data-obj-ptr") == ptrs
            assert _marks(ann, "wb-mem-cond") == [0]
            assert _marks(ann, "wb-mem-non-cond") == sorted(int(f) for f in non_cond.split())
            assert _marks(ann, "wb-mem-cursor") == [3]
            assert "UNTRAINED" in ann.memory.details.value and "object_score_logit" in ann.memory.details.value
            own = {"sam2": "pred_iou_0", "samurai": "best_iou_score", "sam2long": "pathway_score_0"}[policy]
            assert own in ann.memory.details.value
            # it follows the frame
            _show(ann, 2)
            assert _attr(ann, "data-frame") == "2" and _marks(ann, "wb-mem-cursor") == [2]
            assert _attr(ann, "data-non-cond") == "1" and ann.memory.trace.frame_idx == 2
            x3 = re.search(r"class='wb-mem-cursor' data-frame='2' x='([\d.]+)'", ann.memory.strip.value)
            assert float(x3.group(1)) == pytest.approx(ann.timeline.x_of(2), abs=0.06)  # under the timeline

        # it follows the selected object: a new object has no prediction yet
        ann.add_object("second")
        assert _attr(ann, "data-obj") == "2" and "no prediction here yet" in ann.memory.details.value

        # errors go to the status line, the frame still changes
        def broken(frame_idx, obj_id=None):
            raise BackendError("trace store unavailable")

        ann.session.memory_trace = broken
        _show(ann, 1)
        assert ann.frame_idx == 1 and ann.state == "error" and "trace store unavailable" in ann.status_text
        del ann.session.memory_trace

        set_from_frontend(ann.object_list, index=0)  # back to the swan
        assert _attr(ann, "data-obj") == "1" and _attr(ann, "data-frame") == "1"
        set_from_frontend(ann.memory.toggle, value=False)
        assert ann.memory.body.layout.display == "none" and ann.memory.trace is None
        trace = ann.show_memory()
        assert ann.memory.toggle.value and (trace.frame_idx, trace.obj_id, trace.policy) == (1, 1, "sam2long")
    finally:
        ann.close()


def test_memory_toggle_is_off_for_backends_without_a_memory(davis_dir):
    ann = VideoAnnotator(make_video_backend("classical"), davis_dir / "JPEGImages" / SEQ, sync=True, max_frames=2)
    try:
        assert ann.memory.toggle.disabled and "records no memories" in ann.memory.toggle.tooltip
    finally:
        ann.close()
