"""PromptCanvas driven headlessly, through the messages a browser would send, on a real GrabCut
image with the weight-free classical backend (``sync=True``): exact pixel coordinates at any
zoom, the mask layer's PNG as sent, undo/redo/clear keys, candidates with predicted and true
IoU, box drags, errors in the status line, segment everything + pick, video frames, async mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.backends import make_image_backend, make_video_backend
from workbench.backends.classical.everything import classical_generate_masks
from workbench.errors import ConfigError, PromptError, UnknownNameError
from workbench.io.images import read_image, read_palette_mask
from workbench.metrics.image import iou
from workbench.sessions import SetMask, VideoSession, action_from_json, default_color
from workbench.widgets import (
    DrawRecorder,
    MaskableImageSession,
    PromptCanvas,
    canvas_to_image,
    click_button,
    client_to_canvas,
    image_to_canvas,
    image_to_client,
    send_key,
    send_mouse,
    set_from_frontend,
)

ITEM = "106024"


@pytest.fixture(scope="module")
def grabcut(data_dir: Path):
    root = data_dir / "images" / "grabcut"
    image = read_image(root / "images" / f"{ITEM}.jpg")
    gt = read_palette_mask(root / "masks" / f"{ITEM}.png")
    return image, gt == 255, gt == 128


@pytest.fixture(scope="module")
def backend():
    return make_image_backend("classical")


@pytest.fixture()
def pc(grabcut, backend):
    image, gt, ignore = grabcut
    return PromptCanvas(backend, image, gt, gt_ignore=ignore, sync=True)


def _inside(mask: np.ndarray) -> tuple[int, int]:
    """(col, row) of the object pixel closest to the mask centroid."""
    ys, xs = np.nonzero(mask)
    k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    return int(xs[k]), int(ys[k])


def _browser_xy(pc: PromptCanvas, col: float, row: float) -> tuple[float, float]:
    """The (x, y) ipycanvas' frontend reports for a click on the centre of image pixel
    (col, row) with the canvas shown at its current CSS size."""
    css_w, css_h = float(pc.canvas.layout.width[:-2]), float(pc.canvas.layout.height[:-2])
    u, v = image_to_client(col, row, css_w / pc.width_px)
    return client_to_canvas(u, v, css_w, css_h, pc.width_px, pc.height_px)


def _overlay(rec: DrawRecorder, pc: PromptCanvas) -> np.ndarray:
    """RGBA of the last mask-layer image sent, checking the layer was cleared first."""
    cmds = rec.on(pc.mask_layer)
    k = max(i for i, c in enumerate(cmds) if c.name == "putImageData")
    assert k > 0 and cmds[k - 1].name == "clear", [c.name for c in cmds]
    rgba = cmds[k].image()
    assert rgba.shape == (pc.height_px, pc.width_px, 4)
    return rgba


def _assert_overlay(rgba: np.ndarray, masks_colors: list, opacity: float) -> None:
    covered = np.zeros(rgba.shape[:2], bool)
    for mask, color in masks_colors:
        assert (rgba[mask][:, :3] == np.array(color, np.uint8)).all()
        assert (rgba[mask][:, 3] == round(opacity * 255)).all()
        covered |= mask
    assert (rgba[~covered][:, 3] == 0).all()


# -- coordinates -----------------------------------------------------------------------------------
@pytest.mark.parametrize("zoom", [0.3, 0.5, 0.937, 1.0, 1.7, 3.2])
def test_browser_coordinates_map_to_exact_pixels(zoom):
    w, h = 854, 480
    for col, row in [(0, 0), (w - 1, h - 1), (417, 233), (1, h - 2)]:
        u, v = image_to_client(col, row, zoom)
        x, y = client_to_canvas(u, v, w * zoom, h * zoom, w, h)
        assert canvas_to_image(x, y, w, h) == (col, row)
        # the exact left/top edge of the pixel belongs to it too
        x, y = client_to_canvas(col * zoom, row * zoom, w * zoom, h * zoom, w, h)
        assert canvas_to_image(x, y, w, h) == (col, row)
    assert image_to_canvas(3, 4) == (3.5, 4.5)
    for bad in [(-0.01, 5), (w, 5), (5, h + 0.5), (float("nan"), 1)]:
        with pytest.raises(PromptError):
            canvas_to_image(*bad, w, h)


def test_canvas_stays_native_and_clicks_land_on_pixels_at_every_zoom(pc, grabcut):
    _, gt, _ = grabcut
    assert (pc.canvas.width, pc.canvas.height) == (pc.width_px, pc.height_px) == (gt.shape[1], gt.shape[0])
    col, row = _inside(gt)
    for k, zoom in enumerate([0.5, 1.7, 0.8]):
        pc.zoom = zoom
        assert pc.canvas.layout.width == f"{pc.width_px * zoom:.0f}px"
        assert (pc.canvas.width, pc.canvas.height) == (pc.width_px, pc.height_px)
        target = (col + 7 * k, row - 3 * k)
        send_mouse(pc.canvas, "mouse_down", *_browser_xy(pc, *target))
        p = pc.session.prompt_of(1)
        assert p.point_coords[-1].tolist() == [float(target[0]), float(target[1])], pc.status_text
        assert p.num_points == k + 1 and p.point_labels.tolist() == [1] * (k + 1)
        assert pc.state == "ready" and pc.last_error is None
    assert pc.session.mask_of(1).any()
    # zoom buttons change the CSS size only
    before = pc.zoom
    click_button(pc.zoom_in_button)
    assert pc.zoom == pytest.approx(before * 1.25) and pc.canvas.width == pc.width_px


# -- mask layer, opacity, style --------------------------------------------------------------------
def test_mask_layer_png_has_object_colour_exactly_at_mask_pixels(pc, grabcut):
    _, gt, _ = grabcut
    with DrawRecorder() as rec:
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(*_inside(gt)))
    mask = pc.session.masks[1]
    assert mask.any() and iou(mask, gt) > 0.5
    assert rec.messages == 1  # one batched message: mask layer + prompt layer
    _assert_overlay(_overlay(rec, pc), [(mask, default_color(1))], 0.5)
    # the click marker: one positive circle at the pixel centre on the prompt layer
    circles = rec.last("fillCircles", pc.prompt_layer)
    col, row = _inside(gt)
    assert circles.args[0].tolist() == [col + 0.5] and circles.args[1].tolist() == [row + 0.5]

    with DrawRecorder() as rec:
        set_from_frontend(pc.opacity_slider, value=0.8)
    _assert_overlay(_overlay(rec, pc), [(mask, default_color(1))], 0.8)

    with DrawRecorder() as rec:
        set_from_frontend(pc.style_buttons, index=1)  # "outline"
    assert pc.style_buttons.value == "outline"
    rgba = _overlay(rec, pc)
    edge = rgba[..., 3] == 255
    assert edge.any() and not (edge & ~mask).any() and (rgba[edge][:, :3] == default_color(1)).all()
    assert edge.sum() < 0.5 * mask.sum() and (rgba[~edge][:, 3] == 0).all()


def test_undo_redo_keys_restore_the_previous_overlay(pc, grabcut):
    _, gt, _ = grabcut
    col, row = _inside(gt)
    with DrawRecorder() as rec:
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col, row))
    first = _overlay(rec, pc)
    ys, xs = np.nonzero(pc.session.mask_of(1) & ~gt)
    neg = (int(xs[len(xs) // 2]), int(ys[len(ys) // 2])) if len(xs) else (2, 2)
    send_key(pc.canvas, "n")
    assert pc.mode == "negative"
    with DrawRecorder() as rec:
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(*neg))
    second = _overlay(rec, pc)
    assert pc.session.prompt_of(1).point_labels.tolist() == [1, 0]
    assert not np.array_equal(first, second)
    with DrawRecorder() as rec:
        send_key(pc.canvas, "z")
    assert np.array_equal(_overlay(rec, pc), first)
    assert pc.session.prompt_of(1).num_points == 1
    with DrawRecorder() as rec:
        send_key(pc.canvas, "y")
    assert np.array_equal(_overlay(rec, pc), second)
    with DrawRecorder() as rec:
        send_key(pc.canvas, "z", ctrl=True)
    assert np.array_equal(_overlay(rec, pc), first)
    assert pc.status_text.startswith("ready")


def test_candidates_show_predicted_and_true_iou_and_select(pc, grabcut):
    _, gt, ignore = grabcut
    send_mouse(pc.canvas, "mouse_down", *image_to_canvas(*_inside(gt)))
    s, panel = pc.session, pc.candidate_panel
    assert panel.shown == 3 and panel.layout.display is None
    pred, true = s.iou_predictions, s.true_iou
    assert true is not None and len(true) == 3
    for i in range(3):
        assert panel.images[i].value[:2] == b"\xff\xd8"  # JPEG thumbnail
        assert panel.buttons[i].description == f"#{i + 1} pred {pred[i]:.2f} · IoU {true[i]:.2f}"
        assert true[i] == pytest.approx(iou(s.candidates[i], gt, ignore))
    assert panel.buttons[s.selected].button_style == "success"
    other = (s.selected + 1) % 3
    with DrawRecorder() as rec:
        click_button(panel.buttons[other])
    assert s.selected == other and np.array_equal(s.masks[1], s.candidates[other])
    assert panel.buttons[other].button_style == "success"
    _assert_overlay(_overlay(rec, pc), [(s.candidates[other], default_color(1))], 0.5)
    # a second click asks for a single mask: the strip hides
    send_mouse(pc.canvas, "mouse_down", *image_to_canvas(2, 2))
    assert s.prompt_of(1).point_labels.tolist() == [1, 1] and panel.shown == 0


def test_escape_clears_the_active_object(pc, grabcut):
    _, gt, _ = grabcut
    send_mouse(pc.canvas, "mouse_down", *image_to_canvas(*_inside(gt)))
    assert 1 in pc.session.masks
    with DrawRecorder() as rec:
        send_key(pc.canvas, "Escape")
    assert pc.session.prompt_of(1).is_empty and 1 not in pc.session.masks
    assert (_overlay(rec, pc)[..., 3] == 0).all()
    assert rec.last("fillCircles", pc.prompt_layer) is None  # markers gone
    send_key(pc.canvas, "z")  # undo the clear
    assert pc.session.prompt_of(1).num_points == 1


# -- box drag ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("zoom", [1.0, 0.6])
def test_box_drag_gives_an_xyxy_box(pc, grabcut, zoom):
    _, gt, _ = grabcut
    ys, xs = np.nonzero(gt)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    pc.zoom = zoom
    set_from_frontend(pc.mode_buttons, index=2)
    assert pc.mode == "box"
    with DrawRecorder() as rec:
        send_mouse(pc.canvas, "mouse_down", *_browser_xy(pc, x1, y1))  # drag from bottom-right
        send_mouse(pc.canvas, "mouse_move", *_browser_xy(pc, (x0 + x1) // 2, (y0 + y1) // 2))
        rubber = rec.last("strokeRect", pc.prompt_layer)
        assert rubber is not None and rubber.args[2:] == [x1 - (x0 + x1) // 2, y1 - (y0 + y1) // 2]
        send_mouse(pc.canvas, "mouse_up", *_browser_xy(pc, x0, y0))
    assert pc.session.prompt_of(1).box.tolist() == [x0, y0, x1, y1], pc.status_text
    mask = pc.session.masks[1]
    assert iou(mask, gt) > 0.5 and not mask[:, : max(x0 - 5, 0)].any()
    drawn = rec.last("strokeRect", pc.prompt_layer)
    assert drawn.args == [x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0]


def test_box_drag_leaving_the_canvas_ends_at_the_border(pc):
    send_key(pc.canvas, "b")
    send_mouse(pc.canvas, "mouse_down", 10.5, 20.5)
    send_mouse(pc.canvas, "mouse_out", pc.width_px + 30, -4)
    assert pc.session.prompt_of(1).box.tolist() == [10, 0, pc.width_px - 1, 20]


# -- errors -----------------------------------------------------------------------------------------
def test_errors_show_in_the_status_line_and_raise_nothing(pc, grabcut):
    send_mouse(pc.canvas, "mouse_down", pc.width_px + 3, 10)  # outside the image
    assert pc.state == "error" and isinstance(pc.last_error, PromptError)
    assert "PromptError" in pc.status_text and "outside" in pc.status_text
    assert pc.session.prompt_of(1).is_empty
    send_key(pc.canvas, "z")
    assert "Nothing to undo" in pc.status_text
    send_key(pc.canvas, "b")
    send_mouse(pc.canvas, "mouse_down", 50, 50)
    send_mouse(pc.canvas, "mouse_up", 50, 80)  # zero width
    assert "Drag to draw a box" in pc.status_text and pc.session.prompt_of(1).box is None
    with pytest.raises(PromptError):  # the public method raises; only handlers catch
        pc.click(-1, 5)

    class Failing:
        def __init__(self, inner):
            self.inner = inner

        def set_image(self, image):
            self.inner.set_image(image)

        def predict(self, **kw):
            raise RuntimeError("GPU on fire")

    image, gt, _ = grabcut
    bad = PromptCanvas(Failing(make_image_backend("classical")), image, gt, sync=True)
    send_mouse(bad.canvas, "mouse_down", *image_to_canvas(*_inside(gt)))
    assert "RuntimeError: GPU on fire" in bad.status_text and bad.state == "error"
    assert bad.session.prompt_of(1).is_empty and not bad.session.can_undo
    send_mouse(bad.canvas, "mouse_down", *image_to_canvas(*_inside(gt)))  # still usable
    assert "GPU on fire" in bad.status_text


# -- segment everything + pick -----------------------------------------------------------------------
def test_classical_generator_records_match_sam2_format(grabcut):
    image, _, _ = grabcut
    recs = classical_generate_masks(image, points_per_side=16)
    assert 3 <= len(recs) <= 256
    areas = [r["area"] for r in recs]
    assert areas == sorted(areas, reverse=True)
    for r in recs:
        seg = r["segmentation"]
        assert seg.dtype == bool and seg.shape == image.shape[:2] and r["area"] == seg.sum() > 0
        x, y, w, h = r["bbox"]
        ys, xs = np.nonzero(seg)
        assert [x, y, w, h] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert 0.55 <= r["predicted_iou"] <= 1 and 0.5 <= r["stability_score"] <= 1
        assert r["crop_box"] == [0, 0, image.shape[1], image.shape[0]] and len(r["point_coords"]) == 1
    # no two kept masks overlap by more than the NMS threshold
    for i in range(min(len(recs), 12)):
        for j in range(i + 1, min(len(recs), 12)):
            assert iou(recs[i]["segmentation"], recs[j]["segmentation"]) <= 0.7 + 1e-9
    fewer = classical_generate_masks(image, points_per_side=16, pred_iou_thresh=0.7)
    assert len(fewer) < len(recs)
    with pytest.raises(UnknownNameError, match="points_per_side"):
        classical_generate_masks(image, points_per_sid=8)
    with pytest.raises(ConfigError):
        classical_generate_masks(image, pred_iou_thresh=1.5)


def test_segment_everything_then_pick_a_mask_into_an_object(pc, grabcut):
    _, gt, _ = grabcut
    panel = pc.everything_panel
    assert panel.controls["crop_n_layers"].disabled and panel.controls["use_m2m"].disabled
    set_from_frontend(panel.controls["points_per_side"], value=16)
    with DrawRecorder() as rec:
        click_button(panel.run_button)
    assert pc.state == "ready", pc.status_text
    recs = panel.records
    assert len(recs) >= 3 and pc.mode == "pick" and f"{len(recs)}</b> masks" in panel.summary.value
    # the mask most like the object, clicked where it is the topmost mask
    i = int(np.argmax([iou(r["segmentation"], gt) for r in recs]))
    col, row = _inside(panel._index == i)
    assert panel.record_at(col, row) == i
    print(  # noqa: T201 - shown with -s
        f"\nclassical everything: {len(recs)} masks, best IoU with the GrabCut object "
        f"{iou(recs[i]['segmentation'], gt):.3f}"
    )
    rgba = _overlay(rec, pc)
    assert (rgba[row, col, :3] == panel._colors[i]).all() and rgba[row, col, 3] > 0
    n_objects = len(pc.session.objects)
    with DrawRecorder() as rec:
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col, row))
    assert len(pc.session.objects) == n_objects + 1, pc.status_text
    oid = pc.session.active_obj_id
    assert np.array_equal(pc.session.masks[oid], recs[i]["segmentation"]) and i in panel.picked
    assert (_overlay(rec, pc)[row, col, :3] == default_color(oid)).all()
    assert pc.object_dropdown.value == oid and len(pc.object_dropdown.options) == n_objects + 1
    # a later click on the picked object refines the picked mask (its logits are the mask input)
    send_key(pc.canvas, "p")
    send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col, row))
    assert pc.session.result(oid).used_mask_input
    send_key(pc.canvas, "z")
    send_key(pc.canvas, "z")
    send_key(pc.canvas, "z")
    assert len(pc.session.objects) == n_objects


def test_set_mask_is_logged_and_replayable(grabcut, backend):
    image, gt, _ = grabcut
    s = MaskableImageSession(backend, image, gt)
    s.set_mask(gt, 1)
    assert np.array_equal(s.masks[1], gt) and np.isnan(s.result(1).iou_predictions[0])
    rec = s.log[-1].to_json()
    assert rec["type"] == "SetMask" and isinstance(rec["mask"], dict)
    again = MaskableImageSession(backend, image, gt)
    again.apply(action_from_json(rec))
    assert isinstance(again.log[-1], SetMask) and np.array_equal(again.masks[1], gt)
    s.undo()
    assert 1 not in s.masks
    with pytest.raises(PromptError):
        s.set_mask(np.zeros_like(gt))


# -- video frames, async mode, overhead ------------------------------------------------------------------
@pytest.fixture(scope="module")
def davis_frames(data_dir: Path):
    d = data_dir / "davis2016" / "JPEGImages" / "blackswan"
    gt = read_palette_mask(data_dir / "davis2016" / "Annotations" / "blackswan" / "00000.png") > 0
    return [read_image(d / f"{i:05d}.jpg") for i in range(3)], gt


def test_video_frame_canvas_prompts_the_shown_frame(davis_frames):
    frames, gt = davis_frames
    s = VideoSession(make_video_backend("classical"), frames)
    pc = PromptCanvas(s, frame_idx=1, sync=True)
    assert (pc.width_px, pc.height_px) == (854, 480)
    col, row = _inside(gt)
    with DrawRecorder() as rec:
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col, row))
    assert s.prompt_of(1, 1).point_coords.tolist() == [[col, row]], pc.status_text
    _assert_overlay(_overlay(rec, pc), [(s.masks_at(1)[1], default_color(1))], 0.5)
    with DrawRecorder() as rec:
        pc.set_frame(0)
    assert (_overlay(rec, pc)[..., 3] == 0).all() and rec.last("putImageData", pc.image_layer) is not None
    send_key(pc.canvas, "Escape")  # nothing on frame 0: a no-op, no error
    assert (1, 1) in s.prompts


def test_async_mode_redraws_when_the_worker_is_done(grabcut, backend):
    image, gt, _ = grabcut
    pc = PromptCanvas(backend, image, gt, sync=False)
    done = []
    pc.on_change(done.append)
    col, row = _inside(gt)
    try:
        with DrawRecorder() as rec:
            send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col, row))
            send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col + 4, row + 2))  # may supersede
            assert pc.session.worker.wait_idle(60)
        assert pc.session.prompt_of(1).point_coords.tolist() == [[col, row], [col + 4, row + 2]]
        assert pc.state == "ready", pc.status_text
        assert pc._pending == [] and done and set(done) == {"predicting"}
        _assert_overlay(_overlay(rec, pc), [(pc.session.masks[1], default_color(1))], 0.5)
        steps = len(pc.session.timeline)  # 1 (clicks merged) or 2 (the first had started)
        send_key(pc.canvas, "z")
        assert pc.session.worker.wait_idle(60) and done[-1] == "undoing"
        assert len(pc.session.timeline) == steps - 1 and pc.session.prompt_of(1).num_points == steps - 1
        pc.session.remove_object(1)  # no object left: the click is refused before it is queued
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col, row))
        assert "add one first" in pc.status_text and pc._pending == []
    finally:
        pc.session.close()


def test_widget_overhead_on_a_davis_frame(davis_frames, backend):
    frames, gt = davis_frames
    pc = PromptCanvas(backend, frames[0], gt, sync=True)
    col, row = _inside(gt)
    times = []
    for dx, dy in [(0, 0), (15, 5), (-20, 8)]:
        send_mouse(pc.canvas, "mouse_down", *image_to_canvas(col + dx, row + dy))
        assert pc.state == "ready", pc.status_text
        times.append(dict(pc.last_timings))
    print(  # noqa: T201 - shown with -s
        "\nPromptCanvas overhead on 854x480 (ms):",
        [(round(t["overhead"], 2), round(t["model"], 1)) for t in times],
    )
    assert all(np.isfinite(t["overhead"]) and t["overhead"] > 0 for t in times)
