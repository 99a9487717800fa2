"""SAM2Long's memory tree as plain Python: growing and pruning pathways, choosing memory frames.

SAM2Long (Ding et al., "SAM2Long: Enhancing SAM 2 for Long Video Segmentation with a
Training-Free Memory Tree", arXiv 2410.16268) keeps ``num_pathway`` hypotheses ("memory
pathways") per object. On every tracked frame each pathway runs SAM 2's decoder with its own
memory; each of the decoder's candidate masks extends its pathway by one node, scored by the
accumulated log predicted IoU, and the best ``num_pathway`` extensions survive (paper §3.2, eq. 2).
When the decoder is unsure whether the object is there (every pathway's |object-score logit|
at most ``uncertainty``), the survivors are instead chosen to be *diverse* (paper §3.2,
"uncertainty handling"). Each pathway reads its memory from the frames whose stored candidate it
picked, skipping frames whose candidate looked unreliable (IoU at most ``iou_thre`` or object
absent, paper §3.3).

These rules are written here from the paper and from the reference implementation,
Mark12Ding/SAM2Long @ 7193b77fa0c8827e0520ab281acd2cf394ab898e (file and function named at
each rule), with the same arithmetic, so that the tracks agree bit for bit. Nothing here
imports torch: numbers in, numbers out (:func:`expand_and_prune`, :func:`plan_memory`),
so the rules can be unit-tested on synthetic numbers. The predictor side is in
:mod:`.sam2long`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LOG_EPS = 1e-5
"""Added to a predicted IoU before its log (reference: ``np.log(ious[0, j].item() + 1e-5)``)."""

DIVERSITY_DECIMALS = 2
"""Uncertain frames keep candidates whose signed IoU differs at this many decimals
(reference: ``round(score[3], 2)``)."""


@dataclass(frozen=True, slots=True)
class Extension:
    """One surviving candidate: it becomes stored slot ``slot`` of the frame and pathway
    ``slot`` of the tree after the frame.

    Attributes
    ----------
    slot : int
        Position among the survivors (0 = best score; the output pathway).
    parent : int
        Pathway (before the frame) whose decoder call produced the candidate.
    candidate : int
        Index of the candidate mask among that call's multimask outputs.
    score : float
        Accumulated score of the new pathway: parent's score + log(IoU + 1e-5).
    signed_iou : float
        Predicted IoU, negated when the parent call's object-score logit is <= 0.
    """

    slot: int
    parent: int
    candidate: int
    score: float
    signed_iou: float


def expand_and_prune(
    acc_scores: Sequence[float],
    candidate_ious: Sequence[Sequence[float]],
    object_scores: Sequence[float],
    num_pathway: int,
    uncertainty: float,
) -> list[Extension]:
    """Grow every pathway by each of its candidates and keep the best ``num_pathway``.

    Reference: ``SAM2VideoPredictor._run_single_frame_inference`` of SAM2Long's
    ``sam2/sam2_video_predictor.py`` (the ``else`` branch, frames after the first tracked one).

    * score of candidate j of pathway p: ``acc_scores[p] + log(iou[p][j] + 1e-5)`` (natural log,
      numpy's, as the reference);
    * candidates are ranked by score, highest first; ties keep the order pathway-major,
      candidate-minor (Python's stable ``sorted(..., reverse=True)``);
    * *certain* frame (``max_p |object_scores[p]| > uncertainty``): the first ``num_pathway``
      of the ranking;
    * *uncertain* frame otherwise: walk the ranking and keep a candidate only if its signed IoU
      (IoU, negated when its pathway's object-score logit is <= 0) rounded to 2 decimals was
      not kept yet, up to ``num_pathway``; if fewer survive, add, for each pathway
      ``0 .. num_pathway - 1`` that has no survivor, its best-ranked candidate (duplicates
      allowed), until ``num_pathway``.

    Parameters
    ----------
    acc_scores : sequence of float
        Accumulated score of each pathway before this frame.
    candidate_ious : sequence of sequences of float
        ``candidate_ious[p][j]``: predicted IoU of candidate ``j`` of pathway ``p``'s decoder
        call (the float32 values as Python floats).
    object_scores : sequence of float
        Object-score logit of each pathway's decoder call.
    num_pathway : int
        Pathways kept.
    uncertainty : float
        Threshold on |object-score logit| below which (or at which) a frame is uncertain.

    Returns
    -------
    list of Extension
        The survivors in slot order (slot 0 = output pathway).
    """
    if not (len(acc_scores) == len(candidate_ious) == len(object_scores)) or not acc_scores:
        raise ValueError(
            "acc_scores, candidate_ious and object_scores need one entry per pathway "
            f"(got {len(acc_scores)}, {len(candidate_ious)}, {len(object_scores)})."
        )
    ranked: list[tuple[int, int, float, float]] = []
    for p, (acc, ious, obj) in enumerate(zip(acc_scores, candidate_ious, object_scores)):
        for j, iou in enumerate(ious):
            score = acc + np.log(float(iou) + LOG_EPS)
            ranked.append((p, j, float(score), float(iou) if obj > 0 else -float(iou)))
    ranked = sorted(ranked, key=lambda c: c[2], reverse=True)
    if max(abs(float(s)) for s in object_scores) > uncertainty:
        kept = ranked[:num_pathway]
    else:
        kept, seen = [], set()
        for cand in ranked:
            key = round(cand[3], DIVERSITY_DECIMALS)
            if key not in seen:
                kept.append(cand)
                seen.add(key)
            if len(kept) == num_pathway:
                break
        if len(kept) < num_pathway:  # most candidates alike: keep every pathway alive instead
            parents = {c[0] for c in kept}
            for p in range(num_pathway):
                if p not in parents:
                    best = next((c for c in ranked if c[0] == p), None)
                    if best is not None:
                        kept.append(best)
                if len(kept) == num_pathway:
                    break
    return [Extension(slot, p, j, score, signed) for slot, (p, j, score, signed) in enumerate(kept)]


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """Which stored candidates one pathway attends to on one frame.

    Attributes
    ----------
    memory : tuple of (t_pos, frame, slot)
        Non-conditioning memory frames, oldest first; ``t_pos`` in ``1 .. num_maskmem - 1``
        selects the temporal encoding (``num_maskmem - 1`` = most recent).
    pointers : tuple of (t_diff, frame, slot)
        Non-conditioning object pointers, most recent first; ``t_diff`` is their temporal
        position (rank among the reliable frames, 1 = most recent).
    """

    memory: tuple[tuple[int, int, int], ...]
    pointers: tuple[tuple[int, int, int], ...]


def plan_memory(
    frame_idx: int,
    step: int,
    root: int,
    picks: Mapping[int, int],
    reliable: Callable[[int, int], bool],
    num_maskmem: int,
    max_obj_ptrs: int,
) -> MemoryPlan:
    """Memory frames and object pointers of one pathway on ``frame_idx``.

    Reference: ``SAM2Base._prepare_memory_conditioned_features`` of SAM2Long's
    ``sam2/modeling/sam2_base.py`` (the ``valid_indices`` selection):

    * walk the tree's frames from ``frame_idx - step`` back to ``root`` (inclusive) and keep
      those whose picked candidate is reliable (``reliable(frame, slot)``: stored IoU
      > ``iou_thre`` and object-score logit > 0), stopping once ``max_obj_ptrs - 1`` are kept;
      the frame right behind (``frame_idx - step``) is always added;
    * memory: the last ``num_maskmem - 1`` of them, the most recent at ``t_pos = num_maskmem - 1``;
    * object pointers: ``t_diff = 1, 2, ...`` on the most recent ones, stopping *before* the
      oldest kept frame (reference: ``if -t_diff <= -len(valid_indices): break``), and at most
      ``max_obj_ptrs - 1``.

    Temporal positions are ranks among the kept frames, not distances in frames (as in the
    reference). ``step`` is +1 when tracking forward, -1 backward (the reference tracks
    forward only; backward mirrors it).

    Parameters
    ----------
    frame_idx : int
        Frame being tracked.
    step : int
        +1 or -1.
    root : int
        First frame of the tree (the first tracked frame after the prompt).
    picks : mapping of int to int
        The pathway's stored-candidate choice per frame.
    reliable : callable
        ``reliable(frame, slot) -> bool``.
    num_maskmem : int
        SAM 2's ``num_maskmem`` (7: conditioning frame + 6).
    max_obj_ptrs : int
        ``min(num_frames, max_obj_ptrs_in_encoder)``.
    """
    if step not in (1, -1):
        raise ValueError(f"step must be +1 or -1; got {step}.")
    last = frame_idx - step
    valid: list[int] = []
    f = last
    while (f - root) * step >= 0:
        if reliable(f, picks.get(f, 0)):
            valid.insert(0, f)
        if len(valid) >= max_obj_ptrs - 1:
            break
        f -= step
    if last not in valid:
        valid.append(last)
    memory = []
    for t_pos in range(1, num_maskmem):
        idx = t_pos - num_maskmem
        if idx < -len(valid):
            continue
        memory.append((t_pos, valid[idx], picks.get(valid[idx], 0)))
    pointers = []
    for t_diff in range(1, max_obj_ptrs):
        if t_diff >= len(valid):
            break
        frame = valid[-t_diff]
        pointers.append((t_diff, frame, picks.get(frame, 0)))
    return MemoryPlan(tuple(memory), tuple(pointers))


__all__ = ["DIVERSITY_DECIMALS", "LOG_EPS", "Extension", "MemoryPlan", "expand_and_prune", "plan_memory"]
