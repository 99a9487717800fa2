"""Box helpers of detector prompting: mask boxes, pairwise IoU, the new-object rule and the
Hungarian matching (checked against brute force over all one-to-one assignments)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workbench.metrics.boxes import box_iou, mask_box, match_by_iou, unmatched_boxes


def test_mask_box_spans_the_pixel_edges_and_empty_masks_have_none():
    m = np.zeros((10, 12), bool)
    assert mask_box(m) is None
    m[3, 4] = True
    np.testing.assert_array_equal(mask_box(m), [4, 3, 5, 4])
    m[6:9, 2:7] = True
    box = mask_box(m)
    assert box.dtype == np.float32
    np.testing.assert_array_equal(box, [2, 3, 7, 9])


def test_box_iou_matches_pixel_counting():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = np.sort(rng.integers(0, 30, (2, 2)), axis=0).T.reshape(-1)[[0, 2, 1, 3]]  # x0 y0 x1 y1
        b = np.sort(rng.integers(0, 30, (2, 2)), axis=0).T.reshape(-1)[[0, 2, 1, 3]]
        ma, mb = np.zeros((30, 30), bool), np.zeros((30, 30), bool)
        ma[a[1] : a[3], a[0] : a[2]] = True
        mb[b[1] : b[3], b[0] : b[2]] = True
        union = (ma | mb).sum()
        expected = (ma & mb).sum() / union if union else 0.0
        assert box_iou(a, b)[0, 0] == pytest.approx(expected)
    assert box_iou(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)


def test_unmatched_boxes_counts_new_boxes_as_tracked():
    tracked = np.array([[0, 0, 10, 10]], np.float32)
    boxes = np.array(
        [
            [1, 1, 10, 10],  # the tracked object (IoU 0.81)
            [50, 50, 60, 60],  # new
            [51, 50, 61, 60],  # the same new object again (IoU 0.82 with the previous)
            [0, 0, 30, 30],  # IoU 0.11 with the tracked one: new at 0.3, not at 0.1
        ],
        np.float32,
    )
    assert unmatched_boxes(boxes, tracked, 0.3) == [1, 3]
    assert unmatched_boxes(boxes, tracked, 0.1) == [1]
    assert unmatched_boxes(boxes, np.zeros((0, 4)), 0.3) == [0, 1, 3]


def test_match_by_iou_maximises_the_summed_iou():
    rng = np.random.default_rng(1)
    for p, g in [(3, 3), (4, 2), (2, 5)]:
        table = rng.random((p, g)) * (rng.random((p, g)) > 0.3)
        pairs = match_by_iou(table)
        k = min(p, g)  # IoUs are >= 0: a best matching may as well have k pairs
        best = max(
            sum(table[r, c] for r, c in zip(rows, cols))
            for rows in itertools.permutations(range(p), k)
            for cols in itertools.permutations(range(g), k)
        )
        assert sum(table[r, c] for r, c in pairs) == pytest.approx(best)
        assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
        assert all(table[r, c] > 0 for r, c in pairs)
    assert match_by_iou(np.array([[0.0, 0.0]])) == []
    assert match_by_iou(np.zeros((0, 2))) == []
