"""Text concept prompts in the widgets: the canvas and the annotator show a text box only for a
backend that takes them (SAM 3 through transformers, untrained here at 224 px); the instances
found fill the segment-everything panel and are picked into objects like generated masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.backends import make_image_backend, make_video_backend
from workbench.errors import ConfigError
from workbench.io.images import read_image
from workbench.widgets import PromptCanvas, VideoAnnotator, click_button, set_from_frontend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image(data_dir: Path) -> np.ndarray:
    return read_image(data_dir / "images" / "grabcut" / "images" / "106024.jpg")


def test_no_text_box_without_concept_prompts(image) -> None:
    pc = PromptCanvas(make_image_backend("classical"), image, sync=True)
    assert pc.concept_text is None and pc.concept_bar is None and not pc.session.takes_text
    with pytest.raises(ConfigError, match="takes no text prompts"):
        pc.find_concept("flower")
    with pytest.raises(ConfigError, match="SAM 3"):
        pc.session.find_concept(image, "flower")


def test_canvas_text_box_finds_instances_and_picks_one(image) -> None:
    pytest.importorskip("transformers")
    backend = make_image_backend("transformers", "sam3", checkpoint="random", image_size=224, device="cpu")
    pc = PromptCanvas(backend, image, sync=True)
    assert pc.concept_bar in pc.children and pc.session.takes_text
    set_from_frontend(pc.concept_text, value="flower")
    set_from_frontend(pc.concept_threshold, value=0.0)
    click_button(pc.concept_button)
    records = pc.everything_panel.records
    assert pc.last_error is None and len(records) == 20 and pc.mode == "pick"
    assert [r["area"] for r in records] == sorted((r["area"] for r in records), reverse=True)
    # the smallest (topmost) instance under one of its own pixels becomes an object with its mask
    smallest = records[-1]["segmentation"]
    ys, xs = np.nonzero(smallest)
    k = len(ys) // 2
    i = pc.everything_panel.record_at(int(xs[k]), int(ys[k]))
    pc.pick(int(xs[k]), int(ys[k]))
    oid = pc.session.active_obj_id
    assert np.array_equal(pc.session.mask_of(oid), records[i]["segmentation"])


def test_annotator_shows_the_text_box_for_sam3_only(davis_dir: Path) -> None:
    pytest.importorskip("transformers")
    frames = davis_dir / "JPEGImages" / "dog"
    plain = VideoAnnotator(make_video_backend("classical"), frames, max_frames=2, sync=True)
    try:
        assert plain.canvas.concept_bar is None
    finally:
        plain.close()
    backend = make_video_backend("transformers", "sam3", checkpoint="random", image_size=224, device="cpu")
    a = VideoAnnotator(backend, frames, max_frames=2, sync=True)
    try:
        assert a.canvas.concept_bar in a.canvas.children and a.canvas.everything_panel is None
        # without a pick panel every instance found becomes an object prompted with its mask
        ids = a.canvas.find_concept("dog", threshold=0.25)
        assert a.canvas.last_error is None and 1 <= len(ids) <= 20
        assert list(a.session.objects)[-len(ids) :] == ids and a.session.objects[ids[0]].name == "dog 1"
        assert set(a.session.prompted_frames()) == {0}
        a.propagate("forward")
        assert a.session.tracked_frames == [0, 1]
    finally:
        a.close()
