"""Image metrics: hand-computed cases, ignore masks, input checks and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.errors import DataError
from workbench.metrics import (
    boundary_f,
    boundary_map,
    boundary_prf,
    class_mean_iou,
    confusion,
    dice,
    iou,
    mean_iou,
    pixel_accuracy,
)
from workbench.metrics.image import boundary_radius


def _block(shape, rows, cols):
    m = np.zeros(shape, dtype=bool)
    m[rows, cols] = True
    return m


# --------------------------------------------------------------------------------------------
# hand-computed cases
# --------------------------------------------------------------------------------------------
def test_region_metrics_hand_computed():
    pred = _block((4, 4), slice(0, 2), slice(0, 2))  # 4 pixels
    gt = _block((4, 4), slice(0, 2), slice(0, 3))  # 6 pixels, contains pred
    assert confusion(pred, gt) == (4, 0, 2, 10)
    assert iou(pred, gt) == pytest.approx(4 / 6)
    assert dice(pred, gt) == pytest.approx(8 / 10)
    assert pixel_accuracy(pred, gt) == pytest.approx(14 / 16)
    # 0/1 integer input is accepted like bool
    assert iou(pred.astype(np.uint8), gt.astype(float)) == pytest.approx(4 / 6)


def test_ignore_mask_removes_pixels():
    pred = _block((4, 4), slice(0, 2), slice(0, 2))
    gt = _block((4, 4), slice(0, 2), slice(0, 3))
    ignore = _block((4, 4), slice(None), slice(2, 3))  # column 2 holds the two misses
    assert confusion(pred, gt, ignore) == (4, 0, 0, 8)
    assert iou(pred, gt, ignore) == 1.0
    assert dice(pred, gt, ignore) == 1.0
    assert pixel_accuracy(pred, gt, ignore) == 1.0
    # ignoring a true-positive pixel lowers IoU: 3 / 5
    ign2 = _block((4, 4), slice(0, 1), slice(0, 1))
    assert iou(pred, gt, ign2) == pytest.approx(3 / 5)


def test_empty_conventions():
    z = np.zeros((5, 5), bool)
    one = _block((5, 5), slice(1, 2), slice(1, 2))
    assert iou(z, z) == 1.0 and dice(z, z) == 1.0 and boundary_f(z, z) == 1.0
    assert iou(z, one) == 0.0 and dice(one, z) == 0.0
    assert boundary_f(z, one) == 0.0 and boundary_f(one, z) == 0.0
    assert pixel_accuracy(one, z, ignore=np.ones((5, 5), bool)) == 1.0


def test_input_errors():
    a = np.zeros((4, 4), bool)
    with pytest.raises(DataError, match=r"\(4, 5\)"):
        iou(a, np.zeros((4, 5), bool))
    with pytest.raises(DataError, match="Threshold"):
        dice(a, np.full((4, 4), 255, np.uint8))
    with pytest.raises(DataError, match="Ignore mask shape"):
        iou(a, a, ignore=np.zeros((3, 3), bool))
    with pytest.raises(DataError, match="2 predictions"):
        mean_iou([a, a], [a])
    with pytest.raises(DataError, match="need"):
        boundary_f(np.zeros((2, 4, 4), bool), np.zeros((2, 4, 4), bool))


def test_mean_iou_and_class_mean_iou():
    pred = _block((4, 4), slice(0, 2), slice(0, 2))
    gt = _block((4, 4), slice(0, 2), slice(0, 3))
    assert mean_iou([pred, gt], [gt, gt]) == pytest.approx((4 / 6 + 1) / 2)
    # per-class IoU of label maps: class 0: 10/12, class 1: 4/6 -> mean 0.75
    assert class_mean_iou(pred.astype(int), gt.astype(int)) == pytest.approx((10 / 12 + 4 / 6) / 2)
    assert class_mean_iou(pred.astype(int), gt.astype(int), labels=[1]) == pytest.approx(4 / 6)


def test_boundary_map_mixed_2x2_blocks():
    # a pixel is a boundary pixel iff the 2x2 block it starts (edge-replicated) is mixed:
    # a 10x10 square gives 11*11 - 9*9 = 40 such blocks, a single pixel 4.
    sq = _block((40, 40), slice(5, 15), slice(5, 15))
    assert boundary_map(sq).sum() == 40
    assert boundary_map(_block((40, 40), slice(30, 31), slice(30, 31))).sum() == 4
    # shapes with leading frame axes are processed frame by frame
    stack = np.stack([sq, np.zeros_like(sq)])
    assert boundary_map(stack).sum(axis=(1, 2)).tolist() == [40, 0]


def test_boundary_f_hand_computed():
    gt = _block((40, 40), slice(5, 15), slice(5, 15))
    pred = gt.copy()
    pred[30, 30] = True  # a far blob: 4 unmatched predicted boundary pixels
    p, r, f = boundary_prf(pred, gt, bound_th=2)
    assert p == pytest.approx(40 / 44) and r == 1.0
    assert f == pytest.approx(20 / 21)  # 2 * (40/44) / (1 + 40/44)
    # the blob within the tolerance is matched
    near = gt.copy()
    near[16, 10] = True
    assert boundary_f(near, gt, bound_th=3) == 1.0
    # ignoring the blob restores F = 1
    ign = _block((40, 40), slice(28, 33), slice(28, 33))
    assert boundary_f(pred, gt, bound_th=2, ignore=ign) == 1.0


def test_boundary_radius_davis():
    assert boundary_radius((480, 854)) == 8.0  # ceil(0.008 * 979.6)
    assert boundary_radius((480, 854), 3) == 3.0
    with pytest.raises(DataError):
        boundary_radius((10, 10), -1)


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------
@st.composite
def mask_pairs(draw, with_ignore=False):
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    a = draw(arrays(bool, (h, w)))
    b = draw(arrays(bool, (h, w)))
    if with_ignore:
        return a, b, draw(arrays(bool, (h, w)))
    return a, b


@settings(max_examples=150, deadline=None)
@given(mask_pairs())
def test_iou_dice_properties(pair):
    a, b = pair
    j = iou(a, b)
    assert 0.0 <= j <= 1.0
    assert j == iou(b, a)
    assert dice(a, b) == pytest.approx(2 * j / (1 + j))
    assert iou(a, a) == dice(a, a) == pixel_accuracy(a, a) == 1.0
    c = confusion(a, b)
    assert c.total == a.size and c.tp == np.count_nonzero(a & b)


@settings(max_examples=150, deadline=None)
@given(mask_pairs(with_ignore=True))
def test_ignore_equals_removing_pixels(triple):
    a, b, ig = triple
    keep = ~ig
    assert iou(a, b, ig) == iou(a[keep], b[keep])
    assert dice(a, b, ig) == dice(a[keep], b[keep])
    assert pixel_accuracy(a, b, ig) == pixel_accuracy(a[keep], b[keep])


@settings(max_examples=100, deadline=None)
@given(mask_pairs(), st.sampled_from([0.008, 0.2, 1, 2]))
def test_boundary_f_properties(pair, th):
    a, b = pair
    assert boundary_f(a, a, bound_th=th) == 1.0
    f = boundary_f(a, b, bound_th=th)
    assert 0.0 <= f <= 1.0
    assert f == pytest.approx(boundary_f(b, a, bound_th=th))
