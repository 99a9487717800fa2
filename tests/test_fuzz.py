"""Fuzzing (hypothesis): loaders return a valid array or raise a WorkbenchError — never another
exception — and the metrics give finite values in range on any masks.

Inputs are derandomized by default so CI always tries the same ones; set
``WORKBENCH_FUZZ=explore`` for fresh random inputs and 10x more examples. With
``WORKBENCH_FUZZ_REPORT=<file.json>`` the count of inputs per category and outcome is written
there at the end of the module.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from workbench.errors import WorkbenchError
from workbench.io import FrameSource, read_image, read_palette_mask, write_palette_mask
from workbench.io.images import read_mask
from workbench.metrics import davis as md
from workbench.metrics import image as mi
from workbench.metrics.vos_eval import evaluate_vos_arrays
from workbench.runners.vos_eval import evaluate_vos

_EXPLORE = os.environ.get("WORKBENCH_FUZZ", "") == "explore"
FUZZ = settings(
    max_examples=1000 if _EXPLORE else 100,
    deadline=None,
    derandomize=not _EXPLORE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TALLY: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _fuzz_report():
    yield
    path = os.environ.get("WORKBENCH_FUZZ_REPORT")
    if path:
        rows: dict[str, dict[str, int]] = {}
        for (category, outcome), n in sorted(TALLY.items()):
            rows.setdefault(category, {})[outcome] = n
        Path(path).write_text(json.dumps(rows, indent=1))


def _outcome(category: str, fn, *args):
    """Run ``fn(*args)``: return its result, or None after a WorkbenchError; any other
    exception propagates (and fails the test). Pillow's decompression-bomb limit is lowered
    to 1 Mpixel meanwhile, so a damaged header claiming a huge image fails fast."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 1_000_000
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Pillow's DecompressionBombWarning
            out = fn(*args)
    except WorkbenchError:
        TALLY[category, "WorkbenchError"] += 1
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    TALLY[category, "valid"] += 1
    return out


def _check_image(arr, hw=None):
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and arr.size > 0
    if hw is not None:
        assert arr.shape[:2] == hw


def _check_ids(arr, hw=None):
    assert arr.dtype == np.uint8 and arr.ndim == 2 and arr.size > 0
    if hw is not None:
        assert arr.shape == hw


# -- image and mask loaders ---------------------------------------------------------------------
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF"]


@FUZZ
@given(prefix=st.sampled_from(MAGIC), body=st.binary(max_size=3000), suffix=st.sampled_from([".png", ".jpg", ".tif"]))
def test_random_bytes(prefix, body, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(prefix + body)
        for reader, check in ((read_image, _check_image), (read_palette_mask, _check_ids)):
            out = _outcome("random bytes", reader, path)
            if out is not None:
                check(out)


# (mode, array dtype, channels, formats Pillow can write it in)
MODES = [
    ("1", bool, 0, ["PNG", "TIFF", "BMP"]),
    ("L", np.uint8, 0, ["PNG", "JPEG", "TIFF", "BMP", "GIF"]),
    ("P", np.uint8, 0, ["PNG", "TIFF", "BMP", "GIF"]),
    ("RGB", np.uint8, 3, ["PNG", "JPEG", "TIFF", "BMP"]),
    ("RGBA", np.uint8, 4, ["PNG", "TIFF"]),
    ("LA", np.uint8, 2, ["PNG"]),
    ("I;16", np.uint16, 0, ["PNG", "TIFF"]),
    ("I", np.int32, 0, ["PNG", "TIFF"]),
    ("F", np.float32, 0, ["TIFF"]),
    ("CMYK", np.uint8, 4, ["JPEG", "TIFF"]),
]


@st.composite
def encoded_images(draw):
    mode, dtype, ch, formats = draw(st.sampled_from(MODES))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    shape = (h, w, ch) if ch else (h, w)
    if dtype is bool:
        arr = draw(arrays(bool, shape))
    elif dtype is np.float32:
        arr = draw(arrays(np.float32, shape, elements=st.one_of(st.floats(-1e6, 1e6, width=32), st.just(np.nan))))
    else:
        info = np.iinfo(dtype)
        arr = draw(arrays(dtype, shape, elements=st.integers(max(info.min, -70000), min(info.max, 70000))))
    img = Image.frombytes(mode, (w, h), arr.tobytes()) if mode in ("P", "CMYK") else Image.fromarray(arr)
    assert img.mode == mode
    if mode == "P":
        img.putpalette(draw(st.binary(min_size=768, max_size=768)))
    fmt = draw(st.sampled_from(formats))
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)
    return mode, fmt, (h, w), buf.getvalue(), arr


@FUZZ
@given(sample=encoded_images(), damage=st.sampled_from(["none", "truncate", "flip"]), data=st.data())
def test_random_small_images_in_random_modes(sample, damage, data):
    mode, fmt, hw, blob, arr = sample
    if damage == "truncate":
        blob = blob[: data.draw(st.integers(0, max(0, len(blob) - 1)))]
    elif damage == "flip":
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob = blob[:pos] + bytes([blob[pos] ^ data.draw(st.integers(1, 255))]) + blob[pos + 1 :]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"img.{fmt.lower()}"
        path.write_bytes(blob)
        category = f"small images ({damage})"
        image = _outcome(category, read_image, path)
        if image is not None:
            _check_image(image, hw if damage == "none" else None)
        ids = _outcome(category, read_palette_mask, path)
        if ids is not None:
            _check_ids(ids, hw if damage == "none" else None)
            if damage == "none" and mode in ("P", "L") and fmt in ("PNG", "TIFF", "BMP"):
                np.testing.assert_array_equal(ids, arr)  # lossless id masks come back exactly
        mask = _outcome(category, read_mask, path)
        if mask is not None:
            assert mask.dtype == bool and mask.ndim == 2
    if damage == "none" and mode in ("1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK"):
        assert image is not None  # every undamaged mode converts


@FUZZ
@given(ids=arrays(np.uint8, st.tuples(st.integers(1, 16), st.integers(1, 16))), data=st.data())
def test_random_palettes_keep_the_ids(ids, data):
    # A palette as long as the ids need (Pillow's PNG writer packs indices into as few bits as
    # the palette length allows, so ids beyond a short palette would not survive writing).
    n = data.draw(st.integers(int(ids.max()) + 1, 256))
    palette = data.draw(st.binary(min_size=3 * n, max_size=3 * n))
    with tempfile.TemporaryDirectory() as tmp:
        img = Image.fromarray(ids, "P")
        img.putpalette(palette)
        img.save(Path(tmp) / "m.png")
        out = _outcome("random palettes", read_palette_mask, Path(tmp) / "m.png")
        assert out is not None
        np.testing.assert_array_equal(out, ids)
        write_palette_mask(Path(tmp) / "w.png", ids)
        np.testing.assert_array_equal(read_palette_mask(Path(tmp) / "w.png"), ids)


# -- frame folders and results folders ----------------------------------------------------------
@FUZZ
@given(
    names=st.lists(
        st.sampled_from(
            ["0", "00000", "1", "00001", "2", "00002", "3", "7", "12", "frame", "a5b", "x10y2", ".hidden3"]
        ),
        min_size=0,
        max_size=6,
    ),
    exts=st.lists(st.sampled_from([".jpg", ".png", ".JPG", ".txt", ".jpeg"]), min_size=6, max_size=6),
    sizes=st.lists(st.sampled_from([(6, 8), (6, 8), (7, 8)]), min_size=6, max_size=6),
    allow_gaps=st.booleans(),
    check_sizes=st.booleans(),
    broken=st.integers(-1, 5),
)
def test_random_frame_folders(names, exts, sizes, allow_gaps, check_sizes, broken):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, (stem, ext, hw) in enumerate(zip(names, exts, sizes)):
            path = folder / f"{stem}{ext}"
            if i == broken:
                path.write_bytes(b"\xff\xd8\xff broken")
            else:
                Image.fromarray(np.full((*hw, 3), 40 * i, np.uint8)).save(path, format="PNG")

        def read_all():
            src = FrameSource(folder, allow_gaps=allow_gaps, check_sizes=check_sizes)
            return [src[i] for i in range(len(src))]

        frames = _outcome("frame folders", read_all)
        if frames is not None:
            assert frames and all(f.shape == frames[0].shape and f.dtype == np.uint8 for f in frames)


GT_IDS = np.zeros((4, 8, 10), np.uint8)
GT_IDS[:, 1:4, 1:5] = 1
GT_IDS[:, 5:8, 6:10] = 2
GT_IDS[1:3, 0, :] = 255  # a void row in two frames


@pytest.fixture(scope="module")
def small_gt(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gt")
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "val.txt").write_text("seq\n")
    for t, m in enumerate(GT_IDS):
        write_palette_mask(root / "Annotations" / "seq" / f"{t:05d}.png", m)
    return root


FRAME_KINDS = ["palette", "palette", "palette", "missing", "rgb", "gray", "wrong size", "jpg", "bytes", "extra id"]


@settings(FUZZ, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(st.sampled_from(FRAME_KINDS), min_size=4, max_size=4),
    layout=st.sampled_from(["ok", "ok", "nested", "flat", "renamed seq", "no seq"]),
    ids=arrays(np.uint8, (4, 8, 10), elements=st.sampled_from([0, 0, 1, 2])),
    extra=st.integers(3, 255),
)
def test_random_results_folders(small_gt, kinds, layout, ids, extra):
    with tempfile.TemporaryDirectory() as tmp:
        res = Path(tmp)
        seq_dir = {
            "ok": res / "seq",
            "nested": res / "method" / "seq",
            "flat": res,
            "renamed seq": res / "Seq",
            "no seq": res / "other",
        }[layout]
        seq_dir.mkdir(parents=True, exist_ok=True)
        for t, kind in enumerate(kinds):
            m, path = ids[t].copy(), seq_dir / f"{t:05d}.png"
            if kind == "missing":
                continue
            if kind == "extra id":
                m[0, 0] = extra
            if kind in ("palette", "extra id"):
                write_palette_mask(path, m)
            elif kind == "rgb":
                Image.fromarray(np.dstack([m * 100, m * 50, m * 0])).save(path)
            elif kind == "gray":
                Image.fromarray(m).save(path)
            elif kind == "wrong size":
                write_palette_mask(path, m[:, :-1])
            elif kind == "jpg":
                Image.fromarray(m * 100).save(path.with_suffix(".jpg"))
            else:
                path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(m[0]))
        ev = _outcome("results folders", evaluate_vos, small_gt, res)
    if ev is not None:
        assert set(ev.per_object) == {"seq_1", "seq_2"}
        for k, v in ev.global_.items():
            assert math.isfinite(v), k
            assert (-1.0 <= v <= 1.0) if "Decay" in k else (0.0 <= v <= 1.0), (k, v)


# -- metrics ------------------------------------------------------------------------------------
@st.composite
def mask_pairs(draw, ndim=2, min_t=1):
    shape = tuple(draw(st.integers(min_t if i == 0 and ndim == 3 else 1, 12)) for i in range(ndim))

    def one():
        kind = draw(st.sampled_from(["random", "empty", "full", "random"]))
        if kind == "empty":
            return np.zeros(shape, bool)
        if kind == "full":
            return np.ones(shape, bool)
        return draw(arrays(bool, shape))

    ignore = draw(st.one_of(st.none(), st.just(np.zeros(shape, bool)), arrays(bool, shape)))
    return one(), one(), ignore


def _in01(x) -> bool:
    return bool(np.all(np.isfinite(x)) and np.all((np.asarray(x) >= 0) & (np.asarray(x) <= 1)))


@FUZZ
@given(pair=mask_pairs(), bound_th=st.sampled_from([0.008, 0.1, 0.5, 1.0, 2.0, 30.0]), as_int=st.booleans())
def test_image_metrics_on_random_masks(pair, bound_th, as_int):
    pred, gt, ignore = pair
    if as_int:
        pred, gt = pred.astype(np.uint8), gt.astype(np.int64)
    TALLY["image metrics", "valid"] += 1
    j, d = mi.iou(pred, gt, ignore), mi.dice(pred, gt, ignore)
    assert _in01(j) and _in01(d) and d == pytest.approx(2 * j / (1 + j))
    assert _in01(mi.pixel_accuracy(pred, gt, ignore))
    p, r, f = mi.boundary_prf(pred, gt, bound_th, ignore)
    assert _in01([p, r, f]) and f == pytest.approx(mi.boundary_f(pred, gt, bound_th, ignore))
    assert _in01(mi.mean_iou([pred, gt], [gt, pred], [ignore, ignore]))
    cm = mi.class_mean_iou(pred.astype(int), gt.astype(int), ignore=ignore)
    if ignore is not None and ignore.all():
        assert math.isnan(cm)  # no pixel scored: no class to average (iou gives 1.0 there)
    else:
        assert _in01(cm)
    if not np.asarray(ignore if ignore is not None else False).any():
        if not pred.any() and not gt.any():
            assert j == 1.0 and f == 1.0  # empty vs empty is perfect (DAVIS convention)
        if pred.astype(bool).all() and not gt.any():
            assert j == 0.0


@FUZZ
@given(pair=mask_pairs(ndim=3, min_t=1))
def test_davis_measures_on_random_stacks(pair):
    gt, pred, void = pair
    TALLY["davis measures", "valid"] += 1
    j = md.db_eval_iou(gt, pred, void)
    f = md.db_eval_boundary(gt, pred, void)
    assert j.shape == f.shape == (gt.shape[0],) and _in01(j) and _in01(f)
    assert _in01(md.global_accuracy(gt, pred, void))
    mean, recall, decay = md.db_statistics(j)
    assert _in01([mean, recall]) and math.isfinite(decay) and -1 <= decay <= 1


@FUZZ
@given(t=st.integers(3, 7), h=st.integers(1, 10), w=st.integers(1, 10), n_obj=st.integers(1, 3), data=st.data())
def test_evaluate_vos_arrays_on_random_objects(t, h, w, n_obj, data):
    def stack():
        kind = data.draw(st.sampled_from(["random", "empty", "full"]))
        if kind == "random":
            return data.draw(arrays(bool, (t, h, w)))
        return np.full((t, h, w), kind == "full")

    gts = {k: stack() for k in range(1, n_obj + 1)}
    preds = {k: stack() for k in gts}
    void = data.draw(st.one_of(st.none(), arrays(bool, (t, h, w))))
    quirk = data.draw(st.booleans())
    ev = _outcome("evaluate_vos_arrays", evaluate_vos_arrays, gts, preds, void, 0.008, True, "s", None, quirk)
    assert ev is not None
    for k, v in ev.global_.items():
        assert math.isfinite(v), k
        assert (-1.0 <= v <= 1.0) if "Decay" in k else (0.0 <= v <= 1.0), (k, v)
    for obj in ev.per_frame["s"].values():
        assert len(obj["J"]) == len(obj["F"]) == t - 2 and _in01(obj["J"]) and _in01(obj["F"])


# -- metric edge cases found by fuzzing (fixed) --------------------------------------------------
def test_boundary_measures_on_zero_size_masks():
    empty = np.zeros((0, 5), bool)
    with contextlib.suppress(WorkbenchError):
        assert _in01(mi.boundary_f(empty, empty))


def test_boundary_tolerance_nan_is_refused_with_data_error():
    m = np.zeros((4, 4), bool)
    with pytest.raises(WorkbenchError):
        mi.boundary_f(m, m, bound_th=float("nan"))
