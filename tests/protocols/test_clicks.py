"""Simulated user (RITM Clicker) and the interactive click protocol."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import distance_transform_edt

from workbench.errors import ConfigError, DataError, PromptError, UnknownNameError
from workbench.io.images import read_image, read_palette_mask
from workbench.protocols.clicks import (
    ClickRun,
    ClickSimulator,
    miou_curve,
    run_click_protocol,
    run_click_protocol_many,
    summarize_click_runs,
)
from workbench.types import Click, ImagePrediction, ModelInfo


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def grabcut_dir(data_dir: Path) -> Path:
    return data_dir / "images" / "grabcut"


@pytest.fixture(scope="module")
def golden_clicks(golden_dir: Path) -> tuple[Path, dict]:
    root = golden_dir / "ritm_clicks" / "grabcut"
    return root, json.loads((root / "expected.json").read_text())


def _load(grabcut_dir: Path, image_id: str):
    image = read_image(grabcut_dir / "images" / f"{image_id}.jpg")
    labels = read_palette_mask(grabcut_dir / "masks" / f"{image_id}.png")
    return image, labels > 128, labels == 128


# ----------------------------------------------------------------------------- test backends
def _disk(shape, y, x, radius):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - y) ** 2 + (cols - x) ** 2 <= radius**2


class DiskBackend:
    """Deterministic backend: union of disks around positive clicks minus disks around
    negative ones. Multimask returns radii (r/2, r, 2r) with confidences (0.2, 0.9, 0.5), so
    the middle one is chosen. Logits encode (call number, mask index) to trace mask_input."""

    info = ModelInfo(backend="test", model="disks")

    def __init__(self, radius: int = 25, low_res: int = 16):
        self.radius, self.low_res = radius, low_res
        self.calls: list[dict] = []
        self.images: list[tuple] = []

    def set_image(self, image):
        self.shape = image.shape[:2]
        self.images.append(image.shape)

    def _mask(self, coords, labels, radius):
        mask = np.zeros(self.shape, dtype=bool)
        for (x, y), label in zip(coords, labels):  # SAM order: x, y
            disk = _disk(self.shape, y, x, radius)
            mask = mask | disk if label == 1 else mask & ~disk
        return mask

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True):
        self.calls.append(
            dict(
                point_coords=np.array(point_coords),
                point_labels=np.array(point_labels),
                box=box,
                mask_input=None if mask_input is None else np.array(mask_input),
                multimask_output=multimask_output,
            )
        )
        radii = (self.radius // 2, self.radius, 2 * self.radius) if multimask_output else (self.radius,)
        conf = (0.2, 0.9, 0.5) if multimask_output else (0.7,)
        n = len(self.calls)
        logits = np.stack([np.full((self.low_res, self.low_res), 10.0 * n + i, np.float32) for i in range(len(radii))])
        return ImagePrediction(
            masks=np.stack([self._mask(point_coords, point_labels, r) for r in radii]),
            iou_predictions=np.array(conf, np.float32),
            low_res_logits=logits,
        )


class ScriptedBackend:
    """Returns a fixed mask per call (clicks ignored). With multimask, adds an empty and a
    perfect candidate with lower confidence: the scripted mask stays chosen, the oracle is 1."""

    info = ModelInfo(backend="test", model="scripted")

    def __init__(self, masks, perfect):
        self.masks, self.perfect, self.n = masks, perfect, 0

    def set_image(self, image):
        pass

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True):
        mask = self.masks[min(self.n, len(self.masks) - 1)]
        self.n += 1
        if multimask_output:
            masks = np.stack([mask, np.zeros_like(mask), self.perfect])
            conf = np.array([0.9, 0.1, 0.2], np.float32)
        else:
            masks, conf = mask[None], np.array([0.5], np.float32)
        return ImagePrediction(
            masks=masks, iou_predictions=conf, low_res_logits=np.zeros((len(conf), 8, 8), np.float32)
        )


# ----------------------------------------------------------------------------- golden
def test_golden_ritm_clicks_grabcut(golden_clicks, grabcut_dir):
    root, expected = golden_clicks
    assert len(expected["cases"]) >= 10
    for case in expected["cases"]:
        labels = read_palette_mask(grabcut_dir / case["mask"])
        sim = ClickSimulator.from_label_mask(labels)
        for step in case["steps"]:
            pred = read_palette_mask(root / step["pred"]) > 127
            click = sim.next_click(pred)
            want = Click(step["row"], step["col"], step["is_positive"])
            assert click == want, f"{case['mask']} {step['pred']}: {click} != {want}"
        assert len(sim.clicks) == len(case["steps"])


# ----------------------------------------------------------------------------- simulator
def test_simulator_errors_and_reset(grabcut_dir):
    _, gt, ignore = _load(grabcut_dir, "124080")
    with pytest.raises(DataError):
        ClickSimulator(gt, ignore[:-1])
    with pytest.raises(DataError):
        ClickSimulator(gt[None])
    with pytest.raises(DataError):
        ClickSimulator.from_label_mask(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(UnknownNameError, match="raise"):
        ClickSimulator(gt, on_no_error="ignore")
    sim = ClickSimulator(gt, ignore)
    with pytest.raises(DataError):
        sim.next_click(np.zeros((10, 10), bool))
    first = sim.next_click(np.zeros_like(gt))
    assert first.is_positive and gt[first.y, first.x] and not ignore[first.y, first.x]
    sim.reset()
    assert sim.clicks == [] and sim.next_click(np.zeros_like(gt)) == first
    # Perfect prediction (the ignore band may be anything): RITM's (0, 0) negative, or raise.
    perfect = gt | ignore
    assert sim.next_click(perfect) == Click(0, 0, False)
    with pytest.raises(PromptError):
        ClickSimulator(gt, ignore, on_no_error="raise").next_click(perfect)


# ----------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("mode", ["first", "always", "never"])
def test_protocol_calls(grabcut_dir, golden_clicks, mode):
    image, gt, ignore = _load(grabcut_dir, "106024")
    backend = DiskBackend()
    run = run_click_protocol(backend, image, gt, ignore, max_clicks=5, multimask=mode)
    calls = backend.calls
    assert backend.images == [image.shape] and len(calls) == 5
    assert len(run.clicks) == len(run.ious) == len(run.oracle_ious) == len(run.latencies_s) == 5
    assert all(s >= 0 for s in run.latencies_s)
    # First click from an empty prediction: the golden's first click for this mask.
    step0 = golden_clicks[1]["cases"][0]
    assert step0["mask"] == "masks/106024.png"
    assert run.clicks[0] == Click(step0["steps"][0]["row"], step0["steps"][0]["col"], True)
    want_flags = {"first": [True] + [False] * 4, "always": [True] * 5, "never": [False] * 5}[mode]
    assert [c["multimask_output"] for c in calls] == want_flags
    assert calls[0]["mask_input"] is None
    for k, call in enumerate(calls):
        # Accumulated clicks, in x, y order.
        assert call["point_coords"].tolist() == [[c.x, c.y] for c in run.clicks[: k + 1]]
        assert call["point_labels"].tolist() == [int(c.is_positive) for c in run.clicks[: k + 1]]
        assert call["box"] is None
        if k:
            chosen = 1 if want_flags[k - 1] else 0  # most confident mask of the previous call
            assert call["mask_input"].shape == (1, 16, 16)
            assert np.all(call["mask_input"] == 10.0 * k + chosen)
    # The chosen disk of the first call is centred on the first click (x, y not swapped).
    r = backend.radius
    c0 = run.clicks[0]
    chosen0 = _disk(gt.shape, c0.y, c0.x, r)
    inter, union = (chosen0 & gt).sum(), (chosen0 | gt).sum()
    assert run.ious[0] == pytest.approx(inter / union)
    if want_flags[0]:
        cands = [_disk(gt.shape, c0.y, c0.x, rad) for rad in (r // 2, r, 2 * r)]
        best = max((m & gt).sum() / (m | gt).sum() for m in cands)
        assert run.oracle_ious[0] == pytest.approx(best) and best > run.ious[0]
    assert all(o >= i - 1e-12 for o, i in zip(run.oracle_ious, run.ious))
    if mode == "never":
        assert run.oracle_ious == run.ious
    # Later clicks follow the errors of the chosen mask.
    assert len(set(run.clicks)) == 5


def test_protocol_noc_by_hand(grabcut_dir):
    image, gt, ignore = _load(grabcut_dir, "124080")  # has an ignore band
    assert ignore.any()
    area = int(gt.sum())
    flat = np.flatnonzero(gt)

    def remove(n):
        m = gt.copy()
        m.flat[flat[:n]] = False
        return m

    n88 = math.ceil(0.12 * area)
    masks = [np.zeros_like(gt), remove(area // 2), remove(n88), gt | ignore]  # ignore not scored
    by_hand = [0.0, (area - area // 2) / area, (area - n88) / area, 1.0]
    assert 0.85 < by_hand[2] < 0.90 and by_hand[1] == pytest.approx(0.5, abs=1e-4)

    run = run_click_protocol(ScriptedBackend(masks, gt), image, gt, ignore, max_clicks=6, multimask="never")
    assert run.ious == pytest.approx([*by_hand, 1.0, 1.0])
    assert run.noc(0.85) == 3 and run.noc(0.90) == 4 and run.noc(run.ious[1]) == 2  # >=
    assert run.noc(0.0) == 1 and run.noc(1.01) == 20 and run.noc(1.01, max_clicks=6) == 6
    assert run.noc(0.90, max_clicks=3) == 3  # only the first 3 clicks count

    run = run_click_protocol(ScriptedBackend(masks, gt), image, gt, ignore, multimask="always", stop_at_iou=0.95)
    assert len(run) == 4 and run.ious == pytest.approx(by_hand)
    assert run.oracle_ious == pytest.approx([1.0] * 4)  # the perfect candidate
    assert run.iou_at(3) == pytest.approx(by_hand[2])
    assert run.iou_at(4) == run.iou_at(10) == run.iou_at(20) == 1.0  # carried forward
    assert run.noc(0.90) == 4
    with pytest.raises(ConfigError):
        run.iou_at(0)

    early = run_click_protocol(ScriptedBackend(masks, gt), image, gt, ignore, stop_at_iou=0.86)
    assert len(early) == 3 and early.noc(0.85) == 3
    with pytest.raises(ConfigError, match="stop_at_iou"):
        early.noc(0.90)  # stopped before 0.90 could be reached: unknown, not 20


def test_protocol_rejects_bad_input(grabcut_dir):
    image, gt, _ignore = _load(grabcut_dir, "106024")
    with pytest.raises(UnknownNameError, match="always"):
        run_click_protocol(DiskBackend(), image, gt, multimask="sometimes")
    with pytest.raises(DataError):
        run_click_protocol(DiskBackend(), image[:-1], gt)
    with pytest.raises(ConfigError):
        run_click_protocol(DiskBackend(), image, gt, max_clicks=0)


def test_summaries_by_hand():
    a = ClickRun(
        clicks=[Click(0, 0, True)] * 4,
        ious=[0.0, 0.5, 0.88, 1.0],
        oracle_ious=[0.5, 0.5, 0.9, 1.0],
        latencies_s=[1.0] * 4,
        stop_at_iou=0.95,
    )
    b = ClickRun(clicks=[Click(0, 0, True)] * 20, ious=[0.3] * 20, oracle_ious=[0.4] * 20, latencies_s=[2.0] * 20)
    s = summarize_click_runs([a, b])
    assert s["NoC@85"] == 11.5 and s["NoC@90"] == 12.0
    assert s[">=20@85"] == 1 and s[">=20@90"] == 1
    assert s["mIoU@1"] == pytest.approx(0.15) and s["mIoU@3"] == pytest.approx(0.59)
    assert s["mIoU@5"] == pytest.approx(0.65) and s["oracle-mIoU@1"] == pytest.approx(0.45)
    assert s["oracle-mIoU@5"] == pytest.approx(0.7)
    assert s["n_images"] == 2 and s["mean_latency_s"] == pytest.approx(44 / 24)
    np.testing.assert_allclose(miou_curve([a, b], 5), [0.15, 0.4, 0.59, 0.65, 0.65])
    assert miou_curve([a, b], 20).shape == (20,)
    with pytest.raises(DataError):
        summarize_click_runs([])


def test_protocol_many(grabcut_dir):
    items = [_load(grabcut_dir, i) for i in ("106024", "124080")]
    runs = run_click_protocol_many(DiskBackend(), items, max_clicks=3)
    assert [len(r) for r in runs] == [3, 3]
    s = summarize_click_runs(runs, max_clicks=3)
    assert set(s) >= {"NoC@85", "NoC@90", ">=3@85", "mIoU@1", "mIoU@3", "mIoU@5", "oracle-mIoU@1"}
    assert 1 <= s["NoC@85"] <= 3


# ----------------------------------------------------------------------------- properties
def _edt(region):
    return distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]


shapes = st.tuples(st.integers(3, 14), st.integers(3, 14))


@st.composite
def scenes(draw):
    shape = draw(shapes)
    gt = draw(arrays(bool, shape))
    ignore = draw(arrays(bool, shape)) & draw(st.booleans())
    preds = draw(st.lists(arrays(bool, shape), min_size=1, max_size=5))
    return gt, ignore, preds


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_click_properties(scene):
    gt, ignore, preds = scene
    sim = ClickSimulator(gt, ignore)
    clicked: set[tuple[int, int]] = set()
    for pred in preds:
        fn, fp = gt & ~pred & ~ignore, ~gt & pred & ~ignore
        not_clicked = np.ones_like(gt)
        for y, x in clicked:
            not_clicked[y, x] = False
        fn_d, fp_d = _edt(fn) * not_clicked, _edt(fp) * not_clicked
        click = sim.next_click(pred)
        if fn_d.max() == 0 and fp_d.max() == 0:  # nothing left to click: RITM's fallback
            assert click == Click(0, 0, False)
            clicked.add((0, 0))  # remembered as clicked, like any other click
            continue
        pos = (click.y, click.x)
        assert pos not in clicked and not ignore[pos]
        assert (fn if click.is_positive else fp)[pos]
        # Independent check (scipy EDT): farthest from the error boundary, ties negative,
        # first maximum in row-major order.
        assert click.is_positive == (fn_d.max() > fp_d.max() + 1e-6)
        dist = fn_d if click.is_positive else fp_d
        first = np.flatnonzero(dist >= dist.max() - 1e-6)[0]
        assert np.ravel_multi_index(pos, gt.shape) == first
        clicked.add(pos)
    assert len(sim.clicks) == len(preds)
