"""Promptable video segmentation (PVS): SAM 2's interactive video protocol, offline and online.

Source: Ravi et al., "SAM 2: Segment Anything in Images and Videos", arXiv 2408.00714 — §6.1
(promptable video segmentation) and Appendix F.1 (details of the interactive offline and online
evaluation). Meta released no code for it; this module follows the text, and every
choice the text leaves open is a documented parameter of :class:`PVSSettings`.

A simulated annotator corrects a video object frame by frame:

* **an interaction** is ``clicks_per_frame`` (the paper's N_click = 3) clicks on one frame from
  the RITM simulated user of :class:`~workbench.protocols.clicks.ClickSimulator`: each click is
  at the centre of the largest error region (distance-transform maximum) between the ground
  truth and the frame's current mask. On an untracked frame the first click therefore lands at
  the centre of the object (the paper's initial click); on a tracked frame all clicks correct
  the propagated mask (the paper's correction clicks). Every click re-sends all the clicks of
  this interaction (``clear_old_points=True``) and the backend answers with the frame's new
  mask; the previous mask logits of that frame are fed back by the backend itself (SAM 2's
  ``add_new_points_or_box`` uses the frame's last output as mask input; the classical backend
  passes its current mask as ``mask_input``). The interaction stops early when no error is
  left on the frame.
* **offline** (several passes over the video): interact on the object's first frame, propagate
  through the whole video, then repeatedly pick the not yet annotated frame with the lowest J
  (IoU) of the current prediction, interact there and propagate through the whole video again
  with all interactions so far, until ``max_annotated_frames`` (N_frame = 8) frames are
  annotated. "Through the whole video" is forward from the earliest annotated frame to the last
  frame, then backward from it to frame 0 when it is not frame 0 (an object appearing later):
  SAM 2's video predictor tracks one direction per call, and the two passes reach every frame.
* **online** (one pass): interact on the object's first frame and track forward; the annotator
  stops at the first frame whose J falls below ``iou_threshold`` (the paper's 0.75), interacts
  there and tracking continues forward from that frame (earlier frames keep their masks), until
  ``max_annotated_frames`` frames are annotated.

Choices where the paper is silent (parameters and behaviour, all documented here):

* Frame selection uses J with void pixels excluded (DAVIS ``db_eval_iou``: an empty ground
  truth and an empty mask give 1) on every frame of the video; ties go to the earliest frame.
  Offline picks only frames not annotated yet (the paper's "new frame"); it stops early when
  every remaining frame has J = 1. Online stops when no later frame falls below the threshold.
* The curve: ``J&F`` after k = 1 .. ``max_annotated_frames`` annotated frames, where k is the
  annotator's budget. Offline, it is the prediction after round k. Online, the single pass is
  scored as if the budget were k: after the k-th interaction the object is tracked forward to
  the end of the video (which is also how the next frame below the threshold is found); as
  tracking is causal, the frames before the next annotated frame are exactly the single
  pass's. When the annotator stopped early (no frame left to correct) the last value is carried
  forward. The paper's summary number is the average of the curve over k = 1 .. 8
  (:attr:`PVSRun.average`).
* Scoring: DAVIS J and F of every object's own mask (:func:`evaluate_vos_arrays`) on every
  frame by default: no frame is given as a ground-truth mask here (each annotated frame holds
  the model's answer to the clicks), and the annotator may pick any frame, so leaving out the
  first and last frame as the semi-supervised evaluations do (davis2017-evaluation,
  ``sav_benchmark.py``) would leave some interactions unscored; ``skip_first_last=True`` does
  it anyway. The video's numbers are
  the mean over its objects, a dataset's the mean over all objects (DAVIS global statistics).
* Several objects: each object is annotated and tracked on its own (the backend is reset
  between objects), as the paper does for videos with several objects; masks of different
  objects are not merged and may overlap. An object's first interaction is on the first frame
  it appears on (frame 0 for DAVIS objects present from the start). Frames before it are scored
  too, unlike the VOS protocol's ``prompt_frames`` rule: offline tracking reaches them backward
  and a false positive there is an error the annotator may correct (an empty mask on an empty
  ground truth scores J = F = 1).
* Tracking policies (SAMURAI, SAM2Long) keep their state across the passes of one object, as
  in an interactive session (:mod:`workbench.backends.sam2.policies`); it is reset with each
  object.
* SAM 2's official settings turn a correction on an already tracked frame into a
  non-conditioning output that the next propagation overwrites; PVS runs of the ``sam2``
  backend therefore default to the ``interactive`` memory preset
  (:mod:`workbench.backends.sam2.settings`, :class:`workbench.protocols.specs.PVSRunSpec`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import VideoBackend
from ..errors import ConfigError, DataError, PromptError, UnknownNameError
from ..metrics.davis import jaccard_stack
from ..metrics.vos_eval import evaluate_vos_arrays
from ..types import Click, clicks_to_prompt
from .clicks import ClickSimulator
from .vos import VOID_ID, first_appearances

PVS_MODES = ("offline", "online")
"""Annotator modes: several passes with the worst frame corrected each time, or one pass."""

__all__ = ["PVS_MODES", "PVSObjectRun", "PVSRound", "PVSRun", "PVSSettings", "run_pvs_sequence"]


@dataclass(frozen=True)
class PVSSettings:
    """Parameters of the PVS protocol (defaults: the SAM 2 paper, Appendix F.1).

    Attributes
    ----------
    mode : {"offline", "online"}
        Several passes, each correcting the frame with the lowest J, or a single forward pass
        that stops at frames below ``iou_threshold``. Default ``"offline"``.
    max_annotated_frames : int
        Most frames annotated per object (N_frame; the curve has this many points). Default 8.
    clicks_per_frame : int
        Clicks per interaction (N_click). Default 3.
    iou_threshold : float
        Online mode: a frame whose J (IoU) is below this value stops the pass. Default 0.75.
        Not used offline.
    skip_first_last : bool
        Score without the first and last frame, as the semi-supervised DAVIS / SA-V evaluations
        do (videos then need at least 3 frames). Default False: every frame is scored (see the
        module docstring).

    Raises
    ------
    UnknownNameError
        ``mode`` is not one of :data:`PVS_MODES`.
    ConfigError
        ``max_annotated_frames`` or ``clicks_per_frame`` below 1 (or not integers),
        ``iou_threshold`` outside [0, 1], ``skip_first_last`` not a bool.
    """

    mode: str = "offline"
    max_annotated_frames: int = 8
    clicks_per_frame: int = 3
    iou_threshold: float = 0.75
    skip_first_last: bool = False

    def __post_init__(self):
        if self.mode not in PVS_MODES:
            raise UnknownNameError("PVS mode", self.mode, PVS_MODES)
        for name in ("max_annotated_frames", "clicks_per_frame"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1; got {value!r}.")
            object.__setattr__(self, name, int(value))
        thr = self.iou_threshold
        if isinstance(thr, bool) or not isinstance(thr, (int, float, np.floating)) or not 0.0 <= float(thr) <= 1.0:
            raise ConfigError(f"iou_threshold must be a number in [0, 1] (the paper uses 0.75); got {thr!r}.")
        object.__setattr__(self, "iou_threshold", float(thr))
        if not isinstance(self.skip_first_last, bool):
            raise ConfigError(f"skip_first_last must be True or False; got {self.skip_first_last!r}.")


@dataclass
class PVSRound:
    """One interaction and the propagation after it.

    Attributes
    ----------
    frame_idx : int
        The annotated frame.
    clicks : list of Click
        Clicks given there, in order (row/column); ``clicks_per_frame`` unless the frame had no
        error left.
    J_before, J_after : float
        J of that frame's mask before the interaction (0 for a frame never tracked that holds
        the object) and right after its last click.
    interact_s : float
        Seconds of the interaction (click simulation and the backend's answers).
    propagate_s : float
        Seconds of the propagation after it.
    frames_tracked : int
        Frames the propagation yielded.
    """

    frame_idx: int
    clicks: list[Click]
    J_before: float
    J_after: float
    interact_s: float
    propagate_s: float
    frames_tracked: int


@dataclass
class PVSObjectRun:
    """One object of one video under the PVS protocol.

    Attributes
    ----------
    obj_id : int
        Ground-truth id.
    first_frame : int
        First frame the object appears on (its first interaction).
    rounds : list of PVSRound
        The interactions, in order (at most ``max_annotated_frames``).
    J, F : list of float
        J-Mean and F-Mean of the object after k = 1 .. ``max_annotated_frames`` annotated
        frames (the last value carried forward when the annotator stopped early).
    frame_J : list of list of float
        J of every frame (all T frames, void excluded) of the prediction after each round:
        what the annotator chose the next frame from.
    masks : np.ndarray
        ``(T, H, W)`` bool, the object's final prediction.
    """

    obj_id: int
    first_frame: int
    rounds: list[PVSRound] = field(default_factory=list)
    J: list[float] = field(default_factory=list)
    F: list[float] = field(default_factory=list)
    frame_J: list[list[float]] = field(default_factory=list)
    masks: np.ndarray | None = None

    @property
    def JF(self) -> list[float]:
        """J&F after k annotated frames: ``(J + F) / 2`` for k = 1 .. ``max_annotated_frames``."""
        return [(j + f) / 2.0 for j, f in zip(self.J, self.F)]

    @property
    def annotated_frames(self) -> list[int]:
        """The annotated frames in the order they were annotated."""
        return [r.frame_idx for r in self.rounds]

    @property
    def num_clicks(self) -> int:
        """Clicks given over all interactions."""
        return sum(len(r.clicks) for r in self.rounds)


@dataclass
class PVSRun:
    """Result of one video.

    Attributes
    ----------
    sequence : str
    settings : PVSSettings
    num_frames : int
    objects : list of PVSObjectRun
        One per ground-truth object, ids ascending.
    """

    sequence: str
    settings: PVSSettings
    num_frames: int
    objects: list[PVSObjectRun]

    def curve(self) -> dict[str, list[float]]:
        """The video's curve: ``J-Mean``, ``F-Mean`` and ``J&F-Mean`` after k = 1 ..
        ``max_annotated_frames`` annotated frames, each the mean over the objects (J&F the mean
        of the two)."""
        j = np.mean([o.J for o in self.objects], axis=0)
        f = np.mean([o.F for o in self.objects], axis=0)
        return {"J-Mean": j.tolist(), "F-Mean": f.tolist(), "J&F-Mean": ((j + f) / 2.0).tolist()}

    @property
    def average(self) -> float:
        """The paper's summary number: the mean of the video's J&F curve over k = 1 .. N."""
        return float(np.mean(self.curve()["J&F-Mean"]))


def _frame_J(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None) -> np.ndarray:
    """J of every frame, ``(T,)`` float64 (``db_eval_iou`` semantics, void excluded)."""
    return np.asarray(jaccard_stack(gt, pred, void), dtype=np.float64)


def _interact(
    backend: VideoBackend,
    frame_idx: int,
    obj_id: int,
    gt: np.ndarray,
    void: np.ndarray | None,
    current: np.ndarray,
    n_clicks: int,
) -> tuple[list[Click], np.ndarray]:
    """Up to ``n_clicks`` clicks of the RITM user on one frame, each answered by the backend."""
    sim = ClickSimulator(gt, ignore_mask=void, on_no_error="raise")
    mask = current
    for _ in range(n_clicks):
        try:
            sim.next_click(mask)
        except PromptError:  # nothing left to correct on this frame
            break
        coords, labels = clicks_to_prompt(sim.clicks)
        mask = backend.add_points(frame_idx, obj_id, coords, labels, clear_old_points=True).mask_of(obj_id)
    return sim.clicks, mask


def _propagate(backend: VideoBackend, obj_id: int, pred: np.ndarray, passes: list[tuple[int, bool]]) -> int:
    """Run the ``(start_frame_idx, reverse)`` passes, writing the object's masks into ``pred``."""
    n = 0
    for start, reverse in passes:
        for fm in backend.propagate(start_frame_idx=start, reverse=reverse):
            if fm.masks.shape[1:] != pred.shape[1:]:
                raise DataError(f"backend returned masks of size {fm.masks.shape[1:]}, GT is {pred.shape[1:]}.")
            pred[fm.frame_idx] = fm.mask_of(obj_id)
            n += 1
    return n


def _next_frame(settings: PVSSettings, js: np.ndarray, annotated: list[int]) -> int | None:
    """The frame the annotator corrects next, or None when it stops (see the module docstring)."""
    if settings.mode == "offline":
        free = np.ones(js.shape[0], dtype=bool)
        free[annotated] = False
        if not free.any():
            return None
        scores = np.where(free, js, np.inf)
        t = int(np.argmin(scores))  # first of the lowest
        return t if scores[t] < 1.0 else None
    later = np.flatnonzero(js[annotated[-1] + 1 :] < settings.iou_threshold)
    return int(annotated[-1] + 1 + later[0]) if later.size else None


def _run_object(
    backend: VideoBackend,
    gt: np.ndarray,
    void: np.ndarray | None,
    obj_id: int,
    first: int,
    settings: PVSSettings,
    sequence: str,
) -> PVSObjectRun:
    backend.reset()
    run = PVSObjectRun(obj_id=obj_id, first_frame=first)
    pred = np.zeros(gt.shape, dtype=bool)
    frame: int | None = first
    annotated: list[int] = []
    while frame is not None:
        vf = None if void is None else void[frame]
        before = float(_frame_J(gt[frame : frame + 1], pred[frame : frame + 1], None if vf is None else vf[None])[0])
        t0 = time.perf_counter()
        clicks, mask = _interact(backend, frame, obj_id, gt[frame], vf, pred[frame], settings.clicks_per_frame)
        t1 = time.perf_counter()
        pred[frame] = mask
        after = float(_frame_J(gt[frame : frame + 1], mask[None], None if vf is None else vf[None])[0])
        annotated.append(frame)
        if settings.mode == "offline":
            start = min(annotated)
            passes = [(start, False)] + ([(start, True)] if start > 0 else [])
        else:
            passes = [(frame, False)]
        n = _propagate(backend, obj_id, pred, passes)
        t2 = time.perf_counter()
        run.rounds.append(PVSRound(frame, clicks, before, after, t1 - t0, t2 - t1, n))
        ev = evaluate_vos_arrays(
            {obj_id: gt}, {obj_id: pred}, void=void, skip_first_last=settings.skip_first_last, sequence=sequence
        )
        stats = ev.per_object[f"{sequence}_{obj_id}"]
        run.J.append(float(stats["J-Mean"]))
        run.F.append(float(stats["F-Mean"]))
        js = _frame_J(gt, pred, void)
        run.frame_J.append(js.tolist())
        frame = None if len(annotated) >= settings.max_annotated_frames else _next_frame(settings, js, annotated)
    missing = settings.max_annotated_frames - len(run.J)
    run.J += [run.J[-1]] * missing
    run.F += [run.F[-1]] * missing
    run.masks = pred
    return run


def run_pvs_sequence(
    backend: VideoBackend,
    frames,
    gt: np.ndarray,
    settings: PVSSettings | None = None,
    sequence: str = "",
) -> PVSRun:
    """Run the PVS protocol on one video (see the module docstring for every rule).

    Parameters
    ----------
    backend : VideoBackend
    frames : str, Path or sequence of (H, W, 3) uint8 arrays
        What ``backend.init_state`` accepts (a JPEG folder for DAVIS).
    gt : np.ndarray
        ``(T, H, W)`` uint8 ground-truth ids (0 background, 255 void).
    settings : PVSSettings, optional
        Protocol parameters; default the paper's (offline, 8 frames, 3 clicks).
    sequence : str
        Name used in keys and messages.

    Returns
    -------
    PVSRun
        Every object's rounds (frames, clicks, times), curve and final masks.

    Raises
    ------
    DataError
        Frame and annotation counts or sizes differ, the annotations hold no object, or fewer
        than 3 frames with ``skip_first_last``.
    """
    settings = settings if settings is not None else PVSSettings()
    if gt.ndim != 3:
        raise DataError(f"{sequence}: gt must be (T, H, W) ids; got shape {gt.shape}.")
    backend.init_state(frames)
    if backend.num_frames != gt.shape[0]:
        raise DataError(f"{sequence}: {backend.num_frames} frames but {gt.shape[0]} annotations.")
    if settings.skip_first_last and gt.shape[0] < 3:
        raise DataError(
            f"{sequence}: {gt.shape[0]} frames; scoring without the first and last frame needs at least 3 "
            "(use skip_first_last=False to score every frame)."
        )
    firsts = first_appearances(gt)
    if not firsts:
        raise DataError(f"{sequence}: the annotations hold no object to annotate on any frame.")
    void = gt == VOID_ID
    void_or_none = void if void.any() else None
    objects = [
        _run_object(backend, gt == obj_id, void_or_none, obj_id, first, settings, sequence)
        for obj_id, first in firsts.items()
    ]
    backend.reset()
    return PVSRun(sequence, settings, int(gt.shape[0]), objects)
