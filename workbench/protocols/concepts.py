"""Text-prompted video object segmentation: a noun phrase replaces the first-frame annotation.

SAM 3 (Carion et al., "SAM 3: Segment Anything with Concepts", arXiv 2511.16719) takes a *concept
prompt*, a short noun phrase such as ``"swan"``, detects every instance of it and tracks the
instances through the video with identities (``transformers``' ``Sam3VideoModel``:
``add_text_prompt`` then ``propagate_in_video_iterator`` from frame 0; reached through the
:class:`~workbench.backends.base.ConceptPrompts` capability's ``track_concept``). Detection and
tracking thresholds are the model config's (``score_threshold_detection``, ``new_det_thresh``,
...), as SAM 3's own video predictor uses them.

Scoring against DAVIS ground truth, as for detector prompts: the instances carry no
ground-truth id, so each is matched to the annotated objects on the first frame it appears on
(its creation frame) by mask IoU, one-to-one (Hungarian), in time order
(:mod:`workbench.protocols.matching`); where instances overlap, the one that appeared first
keeps the pixel. Every annotated object is scored with DAVIS J and F on
frames 1..T-2 (an object no instance matches is scored against an empty mask); instances that
match nothing are false objects (:data:`~workbench.protocols.matching.UNMATCHED_ID` pixels).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..backends.base import ConceptPrompts, VideoBackend, supports
from ..errors import ConfigError, DataError, PromptError
from ..io.label_maps import merge_object_masks
from ..metrics.vos_eval import evaluate_vos_arrays
from .matching import MatchedVOSRun, match_created
from .vos import VOID_ID, first_appearances

__all__ = ["TEXT_PROMPT", "ConceptVOSRun", "run_text_sequence"]

TEXT_PROMPT = "text"
"""The ``prompt`` of a VOS run whose objects come from a text concept prompt (``VOSRunSpec.text_prompt``)."""


@dataclass
class ConceptVOSRun(MatchedVOSRun):
    """Result of one text-prompted sequence (:class:`~workbench.protocols.matching.MatchedVOSRun`
    plus the phrase).

    Attributes
    ----------
    text : str
        The noun phrase.

    ``matches`` holds one entry per tracked instance, in order of first appearance, ``obj_id``
    being the model's instance id and ``frame`` the first frame its mask is not empty.
    """

    text: str = ""


def run_text_sequence(backend: VideoBackend, frames, gt: np.ndarray, text: str, sequence: str = "") -> ConceptVOSRun:
    """Track every instance of ``text`` through a sequence, match the instances to the
    annotations and score with DAVIS J and F (see the module docstring).

    Parameters
    ----------
    backend : VideoBackend
        With the :class:`~workbench.backends.base.ConceptPrompts` capability (SAM 3 through
        ``transformers``: ``make_video_backend("transformers", "sam3")``).
    frames : str, Path or sequence of (H, W, 3) uint8 arrays
        The video (a JPEG folder for DAVIS), as ``track_concept`` accepts it.
    gt : (T, H, W) uint8 array
        Ground-truth ids (0 background, 255 void), used only to score.
    text : str
        The noun phrase, e.g. ``"swan"``.
    sequence : str
        Name used in keys and messages.

    Returns
    -------
    ConceptVOSRun
        ``prompt`` ``"text"``; ``obj_ids`` every annotated object (scored); ``pred`` the
        ground-truth-numbered id map; ``num_frames`` and ``propagate_seconds`` count tracking
        (detection included: SAM 3 detects on every frame); ``prompt_frames`` ground-truth id
        -> creation frame of the instance matched to it.

    Raises
    ------
    ConfigError
        The backend takes no concept prompts.
    PromptError
        An empty phrase.
    DataError
        Frame and annotation counts or sizes differ; the annotations hold no object.
    """
    if not supports(backend, ConceptPrompts):
        raise ConfigError(
            "prompt='text' needs a video backend with text concept prompts (backend='transformers', "
            "model='sam3'); this backend has none. Use another prompt or that backend."
        )
    if not isinstance(text, str) or not text.strip():
        raise PromptError(f"A text prompt is a non-empty noun phrase such as 'swan'; got {text!r}.")
    gt_objects = list(first_appearances(gt))
    if not gt_objects:
        raise DataError(f"{sequence}: the annotations hold no object to score.")
    shape = gt.shape[1:]
    ids = np.zeros(gt.shape, dtype=np.int32)
    number: dict[int, int] = {}  # the model's instance id -> 1, 2, ... in order of first appearance
    created: dict[int, int] = {}
    seen: set[int] = set()
    start = time.perf_counter()
    for fm in cast(ConceptPrompts, backend).track_concept(frames, text.strip()):  # frames 0, 1, ... in order
        t = int(fm.frame_idx)
        if not 0 <= t < gt.shape[0]:
            raise DataError(f"{sequence}: tracking yielded frame {t}, but there are {gt.shape[0]} annotations.")
        if fm.masks.shape[1:] != tuple(shape):
            raise DataError(f"{sequence}: backend returned masks of size {fm.masks.shape[1:]}, GT is {tuple(shape)}.")
        seen.add(t)
        for obj_id, mask in zip(fm.obj_ids, fm.masks):
            if mask.any():
                k = number.setdefault(int(obj_id), len(number) + 1)
                created[k] = min(created.get(k, t), t)
        kept = {number[int(o)]: m for o, m in zip(fm.obj_ids, fm.masks) if int(o) in number}
        ids[t] = merge_object_masks(kept, shape, np.int32)  # the lower number wins overlaps
    seconds = time.perf_counter() - start
    if len(seen) != gt.shape[0]:
        raise DataError(f"{sequence}: tracking covered {len(seen)} frames, but there are {gt.shape[0]} annotations.")
    pred, matches, prompt_frames = match_created(ids, gt, created, gt_objects)
    model_id = {k: o for o, k in number.items()}
    matches = [{**m, "obj_id": model_id[m["obj_id"]]} for m in matches]
    evaluation = evaluate_vos_arrays(
        {g: gt == g for g in gt_objects}, {g: pred == g for g in gt_objects}, void=gt == VOID_ID, sequence=sequence
    )
    return ConceptVOSRun(
        sequence,
        TEXT_PROMPT,
        gt_objects,
        pred,
        evaluation,
        len(seen),
        seconds,
        prompt_frames=prompt_frames,
        text=text.strip(),
        matches=matches,
    )
