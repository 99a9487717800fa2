"""VideoAnnotator driven headlessly (the messages a browser sends) on 8 real DAVIS blackswan
frames with ground truth, weight-free classical video backend, ``sync=True``: scrubbing, clicks on
any frame, propagation both ways with progress, cancel, refinement + re-propagation, objects,
the timeline (data checked against independently computed J), exports read back, an mp4 source,
errors in the status line, async mode; papermill runs of the quickstart and video notebooks."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import Future
from pathlib import Path

import av
import nbformat
import numpy as np
import pytest

from workbench.backends import make_image_backend, make_video_backend
from workbench.errors import ConfigError, DataError, PromptError, UnknownNameError
from workbench.io.export import load_coco_rle
from workbench.io.frames import FrameSource
from workbench.io.images import read_image, read_palette_mask
from workbench.metrics.image import iou
from workbench.protocols.clicks import ClickSimulator
from workbench.sessions import ImageSession, VideoSession, default_color
from workbench.widgets import (
    DrawRecorder,
    TimelineStrip,
    VideoAnnotator,
    click_button,
    send_key,
    send_mouse,
    set_from_frontend,
    simulate_clicks,
    snapshot,
)
from workbench.widgets.video.timeline import AXIS_H, BAND, ROW_H

SEQ = "blackswan"
N = 8
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


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


@pytest.fixture()
def ann(frames_dir, gt, tmp_path):
    a = VideoAnnotator(
        make_video_backend("classical"), frames_dir, gt=gt, sync=True, image_format="png", output_dir=tmp_path / "out"
    )
    yield a
    a.close()


def _inside(mask: np.ndarray) -> tuple[int, int]:
    """(col, row) of the object pixel closest to the mask centroid."""
    ys, xs = np.nonzero(mask)
    k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    return int(xs[k]), int(ys[k])


def _click_browser(a: VideoAnnotator, col: int, row: int) -> None:
    send_mouse(a.canvas.canvas, "mouse_down", col + 0.5, row + 0.5)


def _masks(a: VideoAnnotator, oid: int = 1) -> dict[int, np.ndarray]:
    return {f: m[oid] for f in range(a.session.num_frames) if oid in (m := a.session.masks_at(f))}


# -- scrubbing -------------------------------------------------------------------------------------------
def test_scrubber_play_steps_and_keys_show_the_frame(ann):
    with DrawRecorder() as rec:
        set_from_frontend(ann.frame_slider, value=3)
    assert ann.frame_idx == ann.canvas.target.frame_idx == ann.timeline.frame_idx == 3
    sent = rec.last("putImageData", ann.canvas.image_layer).image()[..., :3]
    assert np.array_equal(sent, ann.session.frame(3)) and not np.array_equal(sent, ann.session.frame(2))
    assert "data-frame='3'" in ann.frame_label.value and ann.timeline.readout_text().startswith("frame 3")
    cursor = rec.last("fillRect", ann.timeline.canvas[1])
    assert cursor.args[0] == pytest.approx(ann.timeline.x_of(3))

    set_from_frontend(ann.play, value=5)  # the play widget drives the slider
    assert ann.frame_slider.value == 5 and ann.frame_idx == 5
    click_button(ann.next_button)
    assert ann.frame_idx == 6
    click_button(ann.prev_button)
    click_button(ann.prev_button)
    assert ann.frame_idx == 4
    for key, shift, want in [
        (".", False, 5),
        (",", False, 4),
        ("ArrowRight", False, 5),
        ("ArrowLeft", False, 4),
        (">", False, 7),
        ("ArrowLeft", True, 0),
        ("End", False, 7),
        ("Home", False, 0),
        (",", False, 0),
    ]:
        send_key(ann.canvas.canvas, key, shift=shift)
        assert (ann.frame_idx, ann.frame_slider.value) == (want, want), key
    send_key(ann.canvas.canvas, "n")  # the canvas keeps its own keys
    assert ann.canvas.mode == "negative"
    assert ann.state == "ready" and ann.last_error is None


# -- prompting and propagation ------------------------------------------------------------------------
def test_click_on_frame_2_prompts_the_selected_object(ann, gt):
    set_from_frontend(ann.frame_slider, value=2)
    col, row = _inside(gt[2] == 1)
    _click_browser(ann, col, row)
    p = ann.session.prompts[(2, 1)]
    assert p.point_coords.tolist() == [[col, row]] and p.point_labels.tolist() == [1]
    assert ann.session.tracked_frames == [2]
    assert iou(ann.session.masks_at(2)[1], gt[2] == 1) > 0.3
    d = ann.timeline.data
    assert d.prompted[0].tolist() == [f == 2 for f in range(N)]
    assert d.tracked[0].tolist() == [f == 2 for f in range(N)] and np.isnan(d.j[0, 3])
    assert ann.status_text.startswith("ready")


def test_propagate_both_fills_every_frame_and_the_timeline(ann, gt):
    ann.click(*_inside(gt[2] == 1), frame_idx=2)
    with DrawRecorder() as rec:
        click_button(ann.propagate_buttons["both"])
    assert ann.last_error is None, ann.status_text
    res = ann.last_propagation
    assert res.frames == [2, 3, 4, 5, 6, 7, 2, 1, 0] and not res.cancelled
    assert ann.progress.value == ann.progress.max == 9 and ann.progress.bar_style == "success"
    assert "propagated 9 frames" in ann.status_text
    assert ann.session.tracked_frames == list(range(N))
    d, masks = ann.timeline.data, _masks(ann)
    assert d.obj_ids == [1] and d.tracked.all()
    for f in range(N):
        assert d.present[0, f] == masks[f].any() and d.area[0, f] == masks[f].sum()
        assert d.j[0, f] == pytest.approx(iou(masks[f], gt[f] == 1, gt[f] == 255), abs=1e-12)
    assert np.isnan(d.score).all()  # the classical backend reports no object score
    assert np.nanmean(d.j[0]) > 0.3 and d.mean_j(1) == pytest.approx(np.mean(d.j[0]))
    # the strip as sent: presence band in the object's colour on every frame
    strip = rec.last("putImageData", ann.timeline.canvas[0]).image()[..., :3]
    y = (BAND[0] + BAND[1]) // 2
    for f in range(N):
        assert strip[y, int(ann.timeline.cell_center(f))].tolist() == list(default_color(1))
    assert np.array_equal(strip, ann.timeline.rgb)
    assert f"J {d.j[0, ann.frame_idx]:.3f}" in ann.timeline.readout_text()
    table = d.to_dataframe()
    assert len(table) == N and table["J"].tolist() == pytest.approx(d.j[0].tolist())
    # the canvas shows the propagated mask of the shown frame
    assert snapshot(ann).size == (ann.session.width, ann.session.height)


def test_cancel_mid_propagation_leaves_a_consistent_state(ann, gt):
    ann.click(*_inside(gt[2] == 1), frame_idx=2)
    seen = []

    def cancel_after_3(done, total, f):
        seen.append((done, total, f))
        assert not ann.cancel_button.disabled and ann.propagate_buttons["forward"].disabled
        if done == 3:
            click_button(ann.cancel_button)

    res = ann.propagate("forward", progress=cancel_after_3)
    assert res.cancelled and res.frames == [2, 3, 4] and seen == [(1, 6, 2), (2, 6, 3), (3, 6, 4)]
    assert (ann.progress.value, ann.progress.max, ann.progress.bar_style) == (3, 6, "warning")
    assert "cancelled after 3 of 6 frames" in ann.status_text and ann.state == "ready"
    assert ann.session.tracked_frames == [2, 3, 4]
    assert ann.timeline.data.tracked[0].tolist() == [f in (2, 3, 4) for f in range(N)]
    assert ann.cancel_button.disabled and not any(b.disabled for b in ann.propagate_buttons.values())
    res = ann.propagate("forward")  # a new propagation runs to the end
    assert not res.cancelled and ann.session.tracked_frames == list(range(2, N))
    assert ann.timeline.data.tracked[0, 2:].all()


def test_refinement_click_mid_video_then_repropagation_changes_later_frames(ann, gt):
    ann.click(*_inside(gt[0] == 1), frame_idx=0)
    ann.propagate("forward")
    before = _masks(ann)
    sim = ClickSimulator(gt[4] == 1, gt[4] == 255)
    c = sim.next_click(before[4])
    set_from_frontend(ann.frame_slider, value=4)
    send_key(ann.canvas.canvas, "p" if c.is_positive else "n")
    _click_browser(ann, c.x, c.y)
    p = ann.session.prompts[(4, 1)]
    assert p.point_coords.tolist() == [[c.x, c.y]] and p.point_labels.tolist() == [int(c.is_positive)]
    refined = ann.session.masks_at(4)[1]
    assert not np.array_equal(refined, before[4])
    assert ann.timeline.data.prompted[0].tolist() == [f in (0, 4) for f in range(N)]
    set_from_frontend(ann.from_current, value=True)  # re-propagate from the shown frame
    click_button(ann.propagate_buttons["forward"])
    assert ann.last_propagation.frames == [4, 5, 6, 7]
    after = _masks(ann)
    for f in range(4):
        assert np.array_equal(after[f], before[f])
    assert np.array_equal(after[4], refined)
    for f in (5, 6, 7):
        assert not np.array_equal(after[f], before[f]), f
        assert ann.timeline.data.j[0, f] == pytest.approx(iou(after[f], gt[f] == 1, gt[f] == 255), abs=1e-12)


# -- objects and timeline ---------------------------------------------------------------------------------
def test_objects_add_rename_select_remove_through_the_widgets(ann, gt):
    click_button(ann.add_button)
    s = ann.session
    assert s.obj_ids == [1, 2] and s.active_obj_id == 2 and ann.object_list.value == 2
    assert [label for label, _ in ann.object_list.options] == ["1: object 1", "2: object 2"]
    assert ann.object_name.value == "object 2"
    set_from_frontend(ann.object_name, value="water")
    click_button(ann.rename_button)
    assert s.objects[2].name == "water" and ann.object_list.options[1][0] == "2: water"
    set_from_frontend(ann.object_list, index=0)
    assert s.active_obj_id == 1 and ann.object_name.value == "object 1"
    _click_browser(ann, *_inside(gt[0] == 1))
    set_from_frontend(ann.object_list, index=1)
    _click_browser(ann, 40, 440)  # water, bottom left
    assert set(s.prompts) == {(0, 1), (0, 2)}
    d = ann.timeline.data
    assert d.obj_ids == [1, 2] and d.names == ["object 1", "water"] and d.tracked[:, 0].all()
    assert np.isnan(d.j[1]).all()  # id 2 is not in the ground truth
    assert ann.timeline.canvas.height == 2 * ROW_H + AXIS_H
    click_button(ann.remove_button)  # the selected object: water
    assert s.obj_ids == [1] and (0, 2) not in s.prompts and ann.object_list.options == (("1: object 1", 1),)
    assert ann.timeline.data.obj_ids == [1] and ann.timeline.canvas.height == ROW_H + AXIS_H
    send_key(ann.canvas.canvas, "z")  # undo the removal
    assert s.obj_ids == [1, 2] and [v for _, v in ann.object_list.options] == [1, 2]
    assert ann.timeline.data.obj_ids == [1, 2]


def test_timeline_click_and_drag_move_the_scrubber(ann):
    tl = ann.timeline
    send_mouse(tl.canvas, "mouse_down", tl.cell_center(5), 10)
    assert ann.frame_slider.value == 5 and ann.frame_idx == 5
    send_mouse(tl.canvas, "mouse_move", tl.cell_center(6), 20)
    assert ann.frame_idx == 6
    send_mouse(tl.canvas, "mouse_up", tl.cell_center(6), 20)
    send_mouse(tl.canvas, "mouse_move", tl.cell_center(2), 20)  # no button held: no jump
    assert ann.frame_idx == 6
    send_mouse(tl.canvas, "mouse_down", tl.x_of(7) + 0.01, 5)
    assert ann.frame_idx == 7
    send_mouse(tl.canvas, "mouse_down", 3, 5)  # the name column maps to frame 0
    assert ann.frame_idx == 0 and ann.last_error is None


# -- exports ----------------------------------------------------------------------------------------------
def test_export_buttons_write_files_that_read_back(ann, gt, tmp_path):
    ann.click(*_inside(gt[0] == 1), frame_idx=0)
    ann.propagate("forward")
    out = tmp_path / "exports"
    set_from_frontend(ann.output_dir_text, value=str(out))
    click_button(ann.export_buttons["davis"])
    folder = out / "davis" / SEQ
    assert sorted(p.name for p in folder.iterdir()) == [f"{f:05d}.png" for f in range(N)]
    assert str(folder.resolve()) in ann.status_text and ann.last_error is None
    for f in range(N):
        assert np.array_equal(read_palette_mask(folder / f"{f:05d}.png"), ann.session.label_map_at(f))
    click_button(ann.export_buttons["coco"])
    coco = load_coco_rle(out / f"{SEQ}_coco_rle.json")
    assert str((out / f"{SEQ}_coco_rle.json").resolve()) in ann.status_text
    for f in range(N):
        assert np.array_equal(coco[f][1], ann.session.masks_at(f)[1])
    click_button(ann.export_buttons["mp4"])
    mp4 = out / f"{SEQ}_overlay.mp4"
    assert str(mp4.resolve()) in ann.status_text and ann.last_export["mp4"] == mp4
    video = FrameSource(mp4)
    assert len(video) == N and video[3].shape == (480, 854, 3)
    assert np.abs(video[3].astype(int) - ann.session.frame(3)).mean() > 1  # the overlay is drawn


# -- sources, constructor, errors -------------------------------------------------------------------------
def test_mp4_source_is_decoded_on_demand(frames_dir, tmp_path, gt):
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 854, 480, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(read_image(frames_dir / f"{i:05d}.jpg"), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    a = VideoAnnotator(make_video_backend("classical"), path, sync=True, image_format="png")
    try:
        assert a.session.num_frames == 6 and a.video_name == "clip" and a.gt is None
        with DrawRecorder() as rec:
            set_from_frontend(a.frame_slider, value=4)
        sent = rec.last("putImageData", a.canvas.image_layer).image()[..., :3]
        assert np.array_equal(sent, FrameSource(path)[4])
        a.click(*_inside(gt[0] == 1), frame_idx=0)
        a.propagate("forward")
        assert a.session.tracked_frames == list(range(6)) and a.timeline.data.present[0].all()
        assert a.timeline.data.j is None
    finally:
        a.close()


def test_max_frames_links_the_first_frames_and_reads_the_gt_folder(davis_dir):
    folder = davis_dir / "JPEGImages" / SEQ
    a = VideoAnnotator(
        make_video_backend("classical"), folder, gt=davis_dir / "Annotations" / SEQ, max_frames=5, sync=True
    )
    files = a.session.frames.frame_files
    assert a.session.num_frames == 5 and a.gt.shape == (5, 480, 854) and a.video_name == SEQ
    assert [f.resolve() for f in files] == [(folder / f"{i:05d}.jpg").resolve() for i in range(5)]
    assert np.array_equal(a.session.frame(4), read_image(folder / "00004.jpg"))
    assert np.array_equal(a.gt[4], read_palette_mask(davis_dir / "Annotations" / SEQ / "00004.png"))
    a.close()
    assert not files[0].parent.exists()


def test_constructor_refuses_bad_inputs(frames_dir, gt, davis_dir):
    backend = make_video_backend("classical")
    with pytest.raises(ConfigError, match="needs the video"):
        VideoAnnotator(backend)
    session = VideoSession(backend, frames_dir)
    with pytest.raises(ConfigError, match="only with a backend"):
        VideoAnnotator(session, frames_dir)
    image = read_image(frames_dir / "00000.jpg")
    with pytest.raises(ConfigError, match="PromptCanvas"):
        VideoAnnotator(ImageSession(make_image_backend("classical"), image))
    with pytest.raises(DataError, match="frames"):
        VideoAnnotator(session, gt=gt[:3])
    with pytest.raises(ConfigError, match="max_frames"):
        VideoAnnotator(make_video_backend("classical"), frames_dir, max_frames=0)
    a = VideoAnnotator(session, sync=True, frame_idx=3)  # a session of one's own is fine
    assert a.frame_idx == 3 and a.video_name == SEQ and a.session is session
    a.close()
    assert isinstance(TimelineStrip(session).data.obj_ids, list)


def test_errors_show_in_the_status_line_and_public_methods_raise(ann):
    click_button(ann.propagate_buttons["forward"])
    assert ann.state == "error" and isinstance(ann.last_error, PromptError)
    assert "Nothing to propagate" in ann.status_text
    click_button(ann.export_buttons["davis"])
    assert isinstance(ann.last_error, DataError) and "No label maps" in ann.status_text
    set_from_frontend(ann.object_name, value="   ")
    click_button(ann.rename_button)
    assert "Type a name" in ann.status_text and ann.session.objects[1].name == "object 1"
    set_from_frontend(ann.output_dir_text, value="")
    click_button(ann.export_buttons["coco"])
    assert isinstance(ann.last_error, ConfigError) and "output folder" in ann.status_text
    _click_browser(ann, 400, 300)  # a success clears the error
    assert ann.state == "ready" and ann.last_error is None
    with pytest.raises(PromptError):
        ann.set_frame(N)
    with pytest.raises(UnknownNameError):
        ann.propagate("sideways")
    with pytest.raises(PromptError):
        ann.rename_object(1, "")


def test_async_mode_runs_model_calls_off_the_main_thread(frames_dir, gt, tmp_path):
    a = VideoAnnotator(make_video_backend("classical"), frames_dir, gt=gt, output_dir=tmp_path)
    try:
        clicks = simulate_clicks(a, 1, frame_idx=2)  # waits for the worker
        assert (2, 1) in a.session.prompts and [c.is_positive for c in clicks] == [True]
        threads = []
        fut = a.propagate("both", progress=lambda *_: threads.append(threading.current_thread().name))
        assert isinstance(fut, Future)
        a.wait(timeout=120)
        assert threads and threading.main_thread().name not in threads
        assert a.progress.value == a.progress.max == 9 and a.timeline.data.tracked.all()
        assert not a.propagate_buttons["both"].disabled and a.cancel_button.disabled
        fut = a.export_davis()
        a.wait(timeout=60)
        assert len(fut.result()) == N and "wrote 8 DAVIS PNGs" in a.status_text
    finally:
        a.close()


# -- notebooks (papermill) --------------------------------------------------------------------------------
def _run_notebook(name: str, params: dict, cwd: Path) -> nbformat.NotebookNode:
    import papermill as pm

    out = cwd / f"{name}.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out),
        parameters=params,
        kernel_name="python3",
        cwd=str(cwd),
        progress_bar=False,
        execution_timeout=300,
    )
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    return nb


def _has_png(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path, data_dir):
    image = data_dir / "images" / "grabcut" / "images" / "106024.jpg"
    nb = _run_notebook("quickstart", {"image_path": str(image), "backend": "classical"}, tmp_path)
    assert _has_png(nb) >= 1
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "IoU" in text


@pytest.mark.slow
def test_video_notebook_runs_and_exports_under_reports(tmp_path, davis_dir, monkeypatch):
    # one reports root: the notebook's kernel (started elsewhere) writes where the variable says
    monkeypatch.setenv("WORKBENCH_REPORTS_DIR", str(tmp_path / "reports"))
    nb = _run_notebook(
        "video_annotator",
        {
            "video": str(davis_dir / "JPEGImages" / SEQ),
            "gt": str(davis_dir / "Annotations" / SEQ),
            "backend": "classical",
            "max_frames": 6,
        },
        tmp_path,
    )
    assert _has_png(nb) >= 2
    pngs = sorted((tmp_path / "reports" / "annotations" / SEQ / "davis" / SEQ).glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(6)]
    assert all(read_palette_mask(p).max() == 1 for p in pngs)
