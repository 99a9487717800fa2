"""The VOS protocol's modes with the weight-free backend (fast): objects tracked together or
separately from the frame they appear on, per-object masks, and the logit merge of separately
tracked objects (checked against sam2's own ``_apply_non_overlapping_constraints``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.backends.classical import FlowVideoBackend
from workbench.errors import DataError, UnknownNameError
from workbench.io.frames import FrameSource
from workbench.io.images import read_palette_mask
from workbench.io.label_maps import merge_object_masks
from workbench.protocols.vos import MISSING_LOGIT, first_appearances, merge_object_logits, run_vos_sequence

SEQ, N, LATER = "blackswan", 5, 2


@pytest.fixture(scope="module")
def frames(davis_dir: Path) -> list[np.ndarray]:
    src = FrameSource(davis_dir / "JPEGImages" / SEQ)
    return [src[t] for t in range(N)]


@pytest.fixture(scope="module")
def gt(davis_dir: Path) -> np.ndarray:
    """The swan (1) on every frame and a box (2) that overlaps it, annotated from frame 2 on."""
    ids = np.stack([read_palette_mask(davis_dir / "Annotations" / SEQ / f"{t:05d}.png") for t in range(N)])
    for t in range(LATER, N):
        ids[t, 150:300, 250:450][ids[t, 150:300, 250:450] == 0] = 2
    return ids


def test_merge_object_logits_equals_sam2_non_overlap_constraint():
    torch = pytest.importorskip("torch")
    from sam2.modeling.sam2_base import SAM2Base

    rng = np.random.default_rng(0)
    t_, h, w, ids = 4, 9, 11, [1, 3, 7]
    logits = rng.normal(0, 1, (len(ids), t_, h, w)).astype(np.float32)
    logits[1, :, :3] = logits[0, :, :3]  # exact ties: the lower id must win
    logits[2, :2] = MISSING_LOGIT  # object 7 not tracked on frames 0-1
    logits[:, 3, 0, 0] = MISSING_LOGIT  # no object at all on a pixel
    best = np.full((t_, h, w), MISSING_LOGIT, np.float32)
    winner = np.full((t_, h, w), ids[0], np.uint8)
    for k, obj_id in enumerate(ids):
        for t in range(t_):
            if logits[k, t].max() > MISSING_LOGIT:
                merge_object_logits(best, winner, t, obj_id, logits[k, t])
    ours = np.where(best > 0, winner, 0)
    for t in range(t_):
        s = SAM2Base._apply_non_overlapping_constraints(None, torch.from_numpy(logits[:, t, None].copy()))
        theirs = merge_object_masks({obj_id: (s[k, 0] > 0).numpy() for k, obj_id in enumerate(ids)})
        np.testing.assert_array_equal(ours[t], theirs)


def test_joint_tracking_merges_with_the_lower_id_on_top(frames, gt):
    both = gt.copy()
    both[:, 150:300, 250:450][both[:, 150:300, 250:450] == 0] = 2  # object 2 already on frame 0
    run = run_vos_sequence(FlowVideoBackend(), frames, both, sequence=SEQ, per_object=True)
    assert run.obj_ids == [1, 2] and run.prompt_frames == {1: 0, 2: 0}
    np.testing.assert_array_equal(run.pred, merge_object_masks(run.object_masks))
    assert set(run.evaluation.per_frame[SEQ]) == {1, 2}
    plain = run_vos_sequence(FlowVideoBackend(), frames, both, sequence=SEQ)
    assert plain.object_masks is None
    np.testing.assert_array_equal(plain.pred, run.pred)


def test_objects_appearing_later_are_tracked_from_their_first_frame(frames, gt):
    assert first_appearances(gt) == {1: 0, 2: LATER}
    with pytest.raises(DataError, match="track_objects_appearing_later"):
        run_vos_sequence(FlowVideoBackend(), frames, np.where(gt == 1, 0, gt).astype(np.uint8), sequence=SEQ)
    run = run_vos_sequence(
        FlowVideoBackend(), frames, gt, sequence=SEQ, track_objects_appearing_later=True, per_object=True
    )
    assert run.prompt_frames == {1: 0, 2: LATER} and run.obj_ids == [1, 2]
    assert not run.object_masks[2][:LATER].any() and run.object_masks[2][LATER:].any()
    assert run.num_frames == N + (N - LATER)  # each object tracked alone
    assert set(run.evaluation.per_frame[SEQ]) == {1, 2}
    # without MaskLogits the separate tracks are merged as masks: the lower id where they overlap
    merged = run_vos_sequence(FlowVideoBackend(), frames, gt, sequence=SEQ, track_objects_appearing_later=True)
    np.testing.assert_array_equal(merged.pred, merge_object_masks(run.object_masks))
    assert not (merged.pred[:LATER] == 2).any()


def test_unknown_prompt_is_refused_before_loading(frames, gt):
    with pytest.raises(UnknownNameError, match="VOS prompt"):
        run_vos_sequence(FlowVideoBackend(), frames, gt, prompt="scribble")
