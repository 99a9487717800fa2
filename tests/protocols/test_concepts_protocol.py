"""Text-prompted VOS (:mod:`workbench.protocols.concepts`) on real DAVIS ground truth.

The model side is scripted: a concept tracker whose instances are known masks (the annotated
swan, a false object, a later duplicate of the swan), so the matching, relabelling and scoring
are checked against exact expectations; SAM 3 itself (random weights) runs the same protocol in
``tests/backends/transformers/test_hf_runs.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from workbench.backends.base import ConceptPrompts, supports
from workbench.backends.classical import FlowVideoBackend
from workbench.errors import ConfigError, DataError, PromptError
from workbench.io.images import read_palette_mask
from workbench.metrics.vos_eval import evaluate_vos_arrays
from workbench.protocols.concepts import run_text_sequence
from workbench.protocols.matching import UNMATCHED_ID
from workbench.types import ConceptPrediction, FrameMasks

SEQ, N = "blackswan", 5


@pytest.fixture(scope="module")
def gt(davis_dir: Path) -> np.ndarray:
    return np.stack([read_palette_mask(davis_dir / "Annotations" / SEQ / f"{t:05d}.png") for t in range(N)])


class ScriptedConcepts(FlowVideoBackend):
    """A video backend whose ``track_concept`` yields given instances: ``{obj_id: (T, H, W) bool}``."""

    def __init__(self, instances: dict[int, np.ndarray]):
        super().__init__()
        self.instances = instances
        self.asked: list[str] = []

    def segment_concept(self, image: np.ndarray, text: str, threshold: float = 0.5) -> ConceptPrediction:
        raise NotImplementedError

    def track_concept(self, video, text: str, max_frame_num_to_track: int | None = None) -> Iterator[FrameMasks]:
        self.asked.append(text)
        ids = sorted(self.instances)
        for t in range(next(iter(self.instances.values())).shape[0]):
            present = [o for o in ids if self.instances[o][t].any()]
            masks = (
                np.stack([self.instances[o][t] for o in present])
                if present
                else np.zeros((0, *self.instances[ids[0]].shape[1:]), bool)
            )
            yield FrameMasks(frame_idx=t, obj_ids=present, masks=masks, object_scores=np.ones(len(present), np.float32))


def test_instances_are_matched_on_their_first_frame_and_scored_as_davis(gt) -> None:
    swan = gt == 1
    false_obj = np.zeros_like(swan)
    false_obj[2:, :40, :60] = True  # appears on frame 2, away from the swan
    assert not (false_obj & swan).any()
    duplicate = np.zeros_like(swan)
    duplicate[3:] = swan[3:]  # the swan found again on frame 3 under a new identity
    backend = ScriptedConcepts({7: swan, 3: false_obj, 9: duplicate})
    assert supports(backend, ConceptPrompts)
    run = run_text_sequence(backend, [np.zeros((*gt.shape[1:], 3), np.uint8)] * N, gt, "  swan ", SEQ)
    assert backend.asked == ["swan"] and run.text == "swan" and run.prompt == "text"
    assert run.obj_ids == [1] and run.num_frames == N
    assert run.matches == [
        {"obj_id": 7, "frame": 0, "gt_id": 1, "iou": 1.0},
        {"obj_id": 3, "frame": 2, "gt_id": None, "iou": 0.0},
        {"obj_id": 9, "frame": 3, "gt_id": None, "iou": 0.0},
    ]
    assert run.objects == 3 and run.unmatched == 2 and run.prompt_frames == {1: 0}
    # the swan (id 7 beats the duplicate 9 on shared pixels) keeps its ground-truth id; the false object is 254
    np.testing.assert_array_equal(run.pred == 1, swan)
    np.testing.assert_array_equal(run.pred == UNMATCHED_ID, false_obj)
    stats = run.evaluation.per_object[f"{SEQ}_1"]
    assert stats["J-Mean"] == 1.0 and stats["F-Mean"] == 1.0


def test_an_instance_found_late_is_scored_on_every_frame(gt) -> None:
    """No annotation prompts the run: frames before the instance appears count as misses."""
    swan = gt == 1
    late = swan.copy()
    late[:2] = False
    run = run_text_sequence(ScriptedConcepts({5: late}), [None] * N, gt, "swan", SEQ)
    assert run.prompt_frames == {1: 2}
    expected = evaluate_vos_arrays({1: swan}, {1: late}, void=gt == 255, sequence=SEQ)
    assert run.evaluation.per_object == expected.per_object
    assert run.evaluation.per_object[f"{SEQ}_1"]["J-Mean"] < 1.0


def test_nothing_found_scores_zero_and_bad_input_is_refused(gt) -> None:
    empty = np.zeros_like(gt, dtype=bool)
    run = run_text_sequence(ScriptedConcepts({1: empty}), [None] * N, gt, "swan", SEQ)
    assert run.matches == [] and run.evaluation.per_object[f"{SEQ}_1"]["J-Mean"] == 0.0
    with pytest.raises(ConfigError, match="concept prompts"):
        run_text_sequence(FlowVideoBackend(), [None] * N, gt, "swan", SEQ)
    with pytest.raises(PromptError, match="noun phrase"):
        run_text_sequence(ScriptedConcepts({1: gt == 1}), [None] * N, gt, " ", SEQ)
    with pytest.raises(DataError, match="frames"):
        run_text_sequence(ScriptedConcepts({1: (gt == 1)[:3]}), [None] * N, gt, "swan", SEQ)
    with pytest.raises(DataError, match="size"):
        run_text_sequence(ScriptedConcepts({1: (gt == 1)[:, :100]}), [None] * N, gt, "swan", SEQ)
