"""Real-browser tests: the demo notebooks run in JupyterLab inside headless Chromium.

* quickstart: a mouse click on the PromptCanvas at a known image pixel reaches the kernel as a
  prompt at exactly that pixel, and the object's overlay appears there on screen (screenshots
  before / after) while the background far from it stays untouched;
* video annotator: the next-frame button and the slider's keyboard move the kernel's frame
  index and the frame label together, and the canvas shows another frame;
* dashboard: the plotly figures render with the runs' legend entries.

The kernel is inspected through a second client on the same kernel (:class:`KernelProbe`).
Screenshots are written to ``reports/browser/`` (CI artifacts).
"""

from __future__ import annotations

import base64
import io
import time

import cv2
import numpy as np
import pytest
from labdriver import wait_until
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(420)]


# -- helpers ------------------------------------------------------------------------------------------
def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _shot(locator, size: tuple[int, int]) -> tuple[np.ndarray, bytes]:
    """Screenshot of an element as (H, W, 3) uint8 RGB resampled to ``size`` = (W, H) image
    pixels (identity at zoom 1), and the PNG bytes."""
    data = locator.screenshot()
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if img.size != size:
        img = img.resize(size, Image.BILINEAR)
    return np.asarray(img), data


def _array(probe, expr: str, dtype, shape) -> np.ndarray:
    """A numpy array evaluated in the kernel (sent as base64 bytes)."""
    b64 = probe.eval(
        f"__import__('base64').b64encode(__import__('numpy').ascontiguousarray({expr}).tobytes()).decode()", timeout=60
    )
    return np.frombuffer(base64.b64decode(b64), dtype).reshape(shape)


def _distance_inside(mask: np.ndarray) -> np.ndarray:
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)


# -- 1. quickstart: click -> prompt at that pixel -> overlay on screen ----------------------------------
def test_quickstart_click_on_canvas(open_notebook, screenshot_dir):
    nb, probe = open_notebook("quickstart.ipynb")
    page = nb.page
    nb.run_all()
    nb.wait_all_run()
    canvas_el = page.locator(".wb-prompt-canvas .wb-canvas").first
    canvas_el.wait_for(state="visible")
    canvas_el.scroll_into_view_if_needed()

    h, w = probe.eval("list(item.image.shape[:2])")
    assert probe.eval("item.gt is not None"), "quickstart should use a GrabCut image with ground truth"
    assert probe.eval("len(canvas.session.prompt_of().point_coords)") == 2  # the notebook's simulated clicks
    image = _array(probe, "item.image", np.uint8, (h, w, 3))
    gt = _array(probe, "item.gt", np.bool_, (h, w))
    box = canvas_el.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 50

    # clear the notebook's prompts through the toolbar: the canvas shows the bare image
    page.locator(".wb-prompt-canvas button", has_text="clear").first.click()
    probe.wait_for(
        "canvas.state == 'ready' and canvas.session.prompt_of().is_empty and not canvas.session.masks", timeout=60
    )

    def bare_image():
        shot, data = _shot(canvas_el, (w, h))
        err = np.abs(shot.astype(np.int16) - image).mean()
        return (shot, data) if err < 8 else None  # JPEG layer (quality 92) + browser scaling

    before, before_png = wait_until(bare_image, 30, what="canvas showing the bare image after 'clear'")
    (screenshot_dir / "quickstart-before.png").write_bytes(before_png)

    # a known object pixel well inside the ground truth, away from the notebook's clicks (image centre)
    dist = _distance_inside(gt)
    rows, cols = np.nonzero(dist >= 12)
    k = int(np.argmin(rows))  # the topmost interior pixel
    x, y = int(cols[k]), int(rows[k])
    box = canvas_el.bounding_box()
    cx = box["x"] + (x + 0.5) * box["width"] / w
    cy = box["y"] + (y + 0.5) * box["height"] / h
    page.mouse.click(cx, cy)

    probe.wait_for("canvas.state == 'ready' and len(canvas.session.prompt_of().point_coords) == 1", timeout=60)
    prompt = probe.eval(
        "{'xy': canvas.session.prompt_of().point_coords.tolist(), "
        "'labels': canvas.session.prompt_of().point_labels.tolist(), "
        "'obj': canvas.session.active_obj_id}"
    )
    assert prompt["xy"] == [[x, y]], f"clicked image pixel (x={x}, y={y}); the kernel got {prompt['xy']}"
    assert prompt["labels"] == [1]
    obj = prompt["obj"]
    mask = _array(probe, f"canvas.session.masks[{obj}]", np.bool_, (h, w))
    color = np.array(probe.eval(f"list(canvas.session.objects[{obj}].color)"), np.float32)
    alpha = float(probe.eval("canvas.opacity_slider.value"))
    assert mask[y, x] and mask.sum() > 1000, "the click should segment the object under it"

    zoom = box["width"] / w  # CSS pixels per image pixel
    yy, xx = np.mgrid[:h, :w]
    far_from_click = np.hypot(xx - x, yy - y) > 12 / zoom  # outside the click marker
    inside = (_distance_inside(mask) > 4) & far_from_click
    outside = (_distance_inside(~mask) > 20) & far_from_click
    assert inside.sum() > 200 and outside.sum() > 10_000
    expected = before.astype(np.float32) * (1 - alpha) + color * alpha

    def overlay_drawn():
        shot, data = _shot(canvas_el, (w, h))
        err = np.abs(shot.astype(np.float32) - expected)[inside].mean()
        return (shot, data) if err < 20 else None

    try:
        after, _after_png = wait_until(overlay_drawn, 30, what="object overlay on the canvas")
    finally:
        (screenshot_dir / "quickstart-after.png").write_bytes(canvas_el.screenshot())
        page.screenshot(path=str(screenshot_dir / "quickstart-page.png"))
    a, b = after.astype(np.float32), before.astype(np.float32)
    toward = np.linalg.norm(b - color, axis=-1) - np.linalg.norm(a - color, axis=-1)
    assert np.median(toward[inside]) > 0.3 * alpha * np.median(np.linalg.norm(b - color, axis=-1)[inside])
    assert np.abs(a - b)[outside].mean() < 2.0, "background far from the object changed"
    assert np.percentile(np.abs(a - b)[outside].max(axis=-1), 99.9) < 20
    # the positive-click marker (green) is drawn at the clicked pixel
    marker = a[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 3).mean(0)
    assert marker[1] > 150 and marker[1] > marker[0] + 60, f"no green click marker at the click: {marker}"


# -- 2. video annotator: frame controls move the kernel's frame ---------------------------------------
def test_video_annotator_frame_controls(open_notebook, screenshot_dir):
    nb, probe = open_notebook("video_annotator.ipynb")
    page = nb.page
    nb.run_all()
    nb.wait_all_run(timeout=300)
    root = page.locator(".wb-video-annotator").first
    root.wait_for(state="visible")
    n = probe.eval("ann.session.num_frames")
    assert n == 8  # max_frames injected by conftest
    label = page.locator(".wb-video-annotator .wb-frame-label span.wb-frame-idx").first
    canvas_el = page.locator(".wb-video-annotator .wb-canvas").first
    canvas_el.scroll_into_view_if_needed()

    def frame_state():
        return probe.eval("ann.frame_idx"), int(label.get_attribute("data-frame"))

    start = probe.eval("ann.frame_idx")
    assert start == n // 2  # the notebook's timeline cell moves there
    assert wait_until(lambda: frame_state() == (start, start), 20, what="label at the start frame")
    shot0 = canvas_el.screenshot()

    next_button = page.locator(".wb-video-annotator .wb-next-frame").first
    for k in (1, 2):
        next_button.click()
        wait_until(
            lambda k=k: frame_state() == (start + k, start + k), 30, what=f"kernel and label at frame {start + k}"
        )
    assert label.inner_text().strip() == f"frame {start + 2}"

    # the slider's handle takes the keyboard: one step back
    handle = page.locator(".wb-video-annotator .wb-frame-slider .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    wait_until(lambda: frame_state() == (start + 1, start + 1), 30, what="kernel and label after ArrowLeft")
    assert probe.eval("ann.frame_slider.value") == start + 1

    # the canvas shows another frame (image layer resent; blackswan swims)
    wait_until(
        lambda: np.abs(_png(canvas_el.screenshot()).astype(np.int16) - _png(shot0)).mean() > 1.0,
        30,
        what="canvas showing a different frame",
    )
    # the propagated mask of the shown frame is there
    assert (
        probe.eval(f"ann.frame_idx == {start + 1} and any(bool(m.any()) for m in ann.canvas.target.masks().values())")
        is True
    )
    root.screenshot(path=str(screenshot_dir / "video_annotator.png"))

    # the timeline's name column: the object label and its "mean J" line do not overlap, as
    # laid out (ink boxes) and as rendered on screen (rows of ink separated by blank rows)
    boxes = probe.eval(
        "[__import__('workbench.widgets.video.timeline', fromlist=['x']).text_box("
        "t, b[0], b[1], sc) for t, b, sc, _ in ann.timeline.gutter_texts(ann.timeline.data, 0)]"
    )
    assert len(boxes) == 2, "ground truth is given: the row shows a mean J line"
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
    assert ay1 <= by0 or by1 <= ay0 or ax1 <= bx0 or bx1 <= ax0, f"label {boxes[0]} overlaps mean J {boxes[1]}"
    tl = page.locator(".wb-timeline").first
    tl.scroll_into_view_if_needed()
    w, h = probe.eval("ann.timeline.width_px"), probe.eval("ann.timeline.rgb.shape[0]")
    shot, png = _shot(tl, (w, h))
    (screenshot_dir / "video_timeline.png").write_bytes(png)
    row0 = probe.eval("ann.timeline.row_y(0)")
    column = shot[
        row0 : row0 + 36, 17 : probe.eval("__import__('workbench.widgets.video.timeline', fromlist=['x']).GUTTER")
    ]
    ink = (column.min(axis=2) < 160).any(axis=1)  # rows holding dark text pixels
    runs, prev = [], False
    for y, on in enumerate(ink):
        if on and not prev:
            runs.append([y, y])
        if on:
            runs[-1][1] = y
        prev = on
    assert len(runs) >= 2, f"expected the label and the mean J line as separate rows of ink, got {runs}"


# -- 3. dashboard: plotly figures with the runs ---------------------------------------------------------
def test_dashboard_plots(open_notebook, lab_root, screenshot_dir):
    from workbench.runners import run_image_benchmark, run_vos_benchmark

    reports = lab_root / "reports"  # the notebook's default reports_root (kernel cwd = lab root)
    t0 = time.perf_counter()
    vos = run_vos_benchmark(backend="classical", sequences=1, max_frames=4, reports_root=reports, progress=False)
    img = run_image_benchmark(
        backend="classical", dataset="grabcut", subset=2, max_clicks=3, reports_root=reports, progress=False
    )
    assert time.perf_counter() - t0 < 120

    nb, probe = open_notebook("dashboard.ipynb")
    page = nb.page
    nb.run_all()
    nb.wait_all_run()
    assert sorted(probe.eval("dash.runs['run_id'].tolist()")) == sorted([vos.name, img.name])
    n_figures = probe.eval("len(dash.figures)")
    plots = page.locator(".js-plotly-plot")
    try:
        wait_until(lambda: plots.count() >= n_figures, 60, what=f"{n_figures} plotly figures")
        plots.first.scroll_into_view_if_needed()
    finally:
        page.screenshot(path=str(screenshot_dir / "dashboard.png"))
    from workbench.widgets.dashboard import FIGURES

    assert n_figures == len(FIGURES) == 7  # every figure is drawn, the PVS curve included
    assert plots.count() >= n_figures
    legends = {t.strip() for t in page.locator(".js-plotly-plot .legendtext").all_text_contents()}
    for name in probe.eval("dash.runs['legend'].tolist()"):
        assert any(name in t for t in legends), f"run {name!r} missing from the legends {sorted(legends)}"
    # the static export cell wrote its page
    assert (reports / "dashboard" / "dashboard.html").is_file()
