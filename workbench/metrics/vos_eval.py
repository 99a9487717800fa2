"""Semi-supervised video object segmentation evaluation in the DAVIS protocol.

Reproduces ``davis2017-evaluation`` (``DAVISEvaluation.evaluate`` with
``task='semi-supervised'``, then ``db_statistics``) with the workbench's own code:

* objects of a sequence are the ids present in its first ground-truth frame (0 is background,
  255 void); each result id is scored against the same ground-truth id;
* the first and last frame of every sequence are left out (the first is the given mask);
* per object: J and F per frame, then mean / recall / decay of each
  (:func:`~workbench.metrics.davis.db_statistics`);
* global numbers are means over all objects of all sequences of the per-object statistics,
  and ``J&F-Mean = (J-Mean + F-Mean) / 2``.

Difference from the reference: pixels labelled 255 (void) in the ground truth are excluded
from J and F here; the reference zeroes them before computing its void mask, so it scores
them as background. The DAVIS 2016/2017 480p annotations used in benchmarks hold no void
pixels, so both give the same numbers there.

The folder evaluator (``evaluate_vos``: DAVIS layouts, palette PNGs) lives in
:mod:`workbench.runners.vos_eval`; this module holds the pure-array scoring.

SA-V scoring (:func:`evaluate_sav_arrays`, :class:`SAVEvaluation`) reproduces SAM 2's
``sav_dataset/sav_evaluator.py`` (``sav_dataset/utils/sav_benchmark.py``, adapted there from
vos-benchmark) for its per-object layout (one binary PNG folder per object): see
:func:`sav_object_scores`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .davis import db_statistics, jaccard_stack
from .image import as_mask, boundary_prf_stack

__all__ = [
    "GLOBAL_COLUMNS",
    "SAV_COLUMNS",
    "SAVEvaluation",
    "VOSEvaluation",
    "evaluate_sav_arrays",
    "evaluate_vos_arrays",
    "global_stats",
    "sav_object_scores",
    "write_sav_csvs",
    "write_vos_csvs",
]

GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
"""Columns of ``global_results.csv`` and keys of :attr:`VOSEvaluation.global_`."""
_OBJECT_KEYS = GLOBAL_COLUMNS[1:]


@dataclass
class VOSEvaluation:
    """Result of a DAVIS-style evaluation.

    Attributes
    ----------
    global_ : dict[str, float]
        Keys exactly :data:`GLOBAL_COLUMNS`: ``J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean,
        F-Recall, F-Decay`` (fractions in [0, 1]; decays may be negative).
    per_object : dict[str, dict[str, float]]
        ``"<seq>_<obj_id>"`` → ``J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay``.
    per_frame : dict[str, dict[int, dict[str, list[float]]]]
        ``seq`` → ``obj_id`` → ``{"J": [...], "F": [...]}`` for the scored frames
        (frames 1 .. n-2 of the sequence in the DAVIS protocol).
    frames : dict[str, list[str]]
        ``seq`` → names (file stems) of the scored frames, aligned with ``per_frame``.
    bound_th : float
        Boundary tolerance used for F.
    """

    global_: dict[str, float]
    per_object: dict[str, dict[str, float]]
    per_frame: dict[str, dict[int, dict[str, list[float]]]]
    frames: dict[str, list[str]] = field(default_factory=dict)
    bound_th: float = 0.008

    @classmethod
    def merge(cls, parts: list[VOSEvaluation]) -> VOSEvaluation:
        """Combine per-sequence evaluations into one (global numbers recomputed over all
        objects, as davis2017-evaluation averages them)."""
        per_object, per_frame, frames = {}, {}, {}
        for part in parts:
            per_object.update(part.per_object)
            per_frame.update(part.per_frame)
            frames.update(part.frames)
        bound_th = parts[0].bound_th if parts else 0.008
        return cls(global_stats(per_object), per_object, per_frame, frames, bound_th)


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------
def _object_stats(j: np.ndarray, f: np.ndarray, reference_quirk: bool) -> dict[str, float]:
    jm, jr, jd = db_statistics(j, reference_quirk)
    fm, fr, fd = db_statistics(f, reference_quirk)
    return {"J-Mean": jm, "J-Recall": jr, "J-Decay": jd, "F-Mean": fm, "F-Recall": fr, "F-Decay": fd}


def global_stats(per_object: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """DAVIS global numbers: every statistic averaged over objects, ``J&F-Mean`` the mean of
    J-Mean and F-Mean (davis2017-evaluation ``evaluation_method.py``)."""
    if not per_object:
        return {k: float("nan") for k in GLOBAL_COLUMNS}
    out = {k: float(np.mean([o[k] for o in per_object.values()])) for k in _OBJECT_KEYS}
    return {"J&F-Mean": (out["J-Mean"] + out["F-Mean"]) / 2.0, **out}


def _as_objects(masks, name: str) -> dict[int, np.ndarray]:
    if isinstance(masks, Mapping):
        objs = {int(k): as_mask(v, f"{name}[{k}]") for k, v in masks.items()}
    else:
        objs = {1: as_mask(masks, name)}
    for k, v in objs.items():
        if v.ndim != 3:
            raise DataError(f"{name}[{k}] must be a (T, H, W) mask stack; got shape {v.shape}.")
    return objs


def evaluate_vos_arrays(
    gt_masks,
    pred_masks,
    void=None,
    bound_th: float = 0.008,
    skip_first_last: bool = True,
    sequence: str = "sequence",
    frame_names: list[str] | None = None,
    reference_quirk: bool = False,
    prompt_frames: Mapping[int, int] | None = None,
) -> VOSEvaluation:
    """Score in-memory per-object mask stacks of one sequence (DAVIS J and F).

    Parameters
    ----------
    gt_masks, pred_masks : mapping ``obj_id -> (T, H, W)`` bool array, or one ``(T, H, W)``
        array (taken as object 1)
        Ground truth and prediction of every object, frames in order, row/column indexed.
        Both must hold the same object ids.
    void : ``(T, H, W)`` bool array or None
        Pixels not scored for any object (DAVIS void label 255).
    bound_th : float
        Boundary tolerance for F (fraction of the diagonal if < 1, else pixels).
    skip_first_last : bool
        Leave out the first and last frame, as the DAVIS semi-supervised protocol does (the
        first frame is the given mask). Needs T >= 3.
    sequence : str
        Name used for the keys of the result (``"<sequence>_<obj_id>"``).
    frame_names : list of str or None
        Names of the T frames (default ``"00000"``, ``"00001"``, …).
    reference_quirk : bool
        Decay with davis2017-evaluation's uint8 bug (see :func:`db_statistics`).
    prompt_frames : mapping ``obj_id -> frame`` or None
        The frame each object was prompted on, for objects that first appear after frame 0
        (SAM 2's ``--track_object_appearing_later_in_video``). An object is scored only on the
        frames AFTER its prompt frame: that frame is the given annotation, as frame 0 is in
        DAVIS, and before it the object does not exist yet (empty ground truth and empty
        prediction would otherwise count as J = F = 1 and inflate every statistic; the
        YouTube-VOS evaluation likewise starts each object after its first frame). Its J and F
        lists keep one entry per scored frame of the sequence, NaN on the frames it is not
        scored on; an object with no frame left is not scored (left out of ``per_object``).
        None (default): every object from the first scored frame, the DAVIS protocol.

    Returns
    -------
    VOSEvaluation
        For this one sequence; ``per_frame[sequence][obj_id]`` has the J and F lists.

    Raises
    ------
    DataError
        Object ids differ, shapes differ, masks are not binary or too few frames.
    """
    gts, preds = _as_objects(gt_masks, "gt_masks"), _as_objects(pred_masks, "pred_masks")
    if set(gts) != set(preds):
        raise DataError(
            f"Prediction object ids {sorted(preds)} differ from ground-truth ids {sorted(gts)}; "
            "give one prediction stack per ground-truth object (empty stacks for lost objects)."
        )
    if not gts:
        raise DataError("No objects to evaluate: gt_masks is empty.")
    shape = next(iter(gts.values())).shape
    for k in gts:
        if gts[k].shape != shape or preds[k].shape != shape:
            raise DataError(
                f"Object {k}: ground truth {gts[k].shape} and prediction {preds[k].shape} must "
                f"both have the sequence shape {shape} (T, H, W)."
            )
    v = None if void is None else as_mask(void, "void")
    if v is not None and v.shape != shape:
        raise DataError(f"void shape {v.shape} differs from the mask stacks' shape {shape}.")
    names = [f"{t:05d}" for t in range(shape[0])] if frame_names is None else list(frame_names)
    if len(names) != shape[0]:
        raise DataError(f"{len(names)} frame names given for {shape[0]} frames.")
    sl = slice(None)
    if skip_first_last:
        if shape[0] < 3:
            raise DataError(
                f"Sequence {sequence!r} has {shape[0]} frames; leaving out the first and last "
                "needs at least 3 (pass skip_first_last=False to score every frame)."
            )
        sl = slice(1, -1)
    vs = None if v is None else v[sl]
    scored_idx = np.arange(shape[0])[sl]
    per_object: dict[str, dict[str, float]] = {}
    per_frame: dict[int, dict[str, list[float]]] = {}
    for k in sorted(gts):
        g, p = gts[k][sl], preds[k][sl]
        j = jaccard_stack(g, p, vs)
        f = boundary_prf_stack(p, g, vs, bound_th)[2]
        if prompt_frames is not None and k in prompt_frames:
            after = scored_idx > int(prompt_frames[k])
            j, f = np.where(after, j, np.nan), np.where(after, f, np.nan)
            per_frame[k] = {"J": j.tolist(), "F": f.tolist()}
            if after.any():
                per_object[f"{sequence}_{k}"] = _object_stats(j[after], f[after], reference_quirk)
            continue
        per_frame[k] = {"J": j.tolist(), "F": f.tolist()}
        per_object[f"{sequence}_{k}"] = _object_stats(j, f, reference_quirk)
    return VOSEvaluation(
        global_=global_stats(per_object),
        per_object=per_object,
        per_frame={sequence: per_frame},
        frames={sequence: names[sl]},
        bound_th=bound_th,
    )


# --------------------------------------------------------------------------------------------
# CSV output
# --------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return "nan" if isinstance(x, float) and math.isnan(x) else repr(float(x))


def write_vos_csvs(evaluation: VOSEvaluation, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``global_results.csv`` and ``per_sequence_results.csv`` (davis2017-evaluation's
    file names and columns; values at full float precision, not rounded).

    ``global_results.csv``: one row, columns :data:`GLOBAL_COLUMNS`.
    ``per_sequence_results.csv``: columns ``Sequence,J-Mean,F-Mean``, one row per object,
    ``Sequence`` = ``<seq>_<obj_id>``.

    Returns
    -------
    (global_path, per_sequence_path) : tuple of Path
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g_path, s_path = out / "global_results.csv", out / "per_sequence_results.csv"
    with g_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(GLOBAL_COLUMNS)
        w.writerow([_fmt(evaluation.global_[k]) for k in GLOBAL_COLUMNS])
    with s_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("Sequence", "J-Mean", "F-Mean"))
        for name, st in evaluation.per_object.items():
            w.writerow((name, _fmt(st["J-Mean"]), _fmt(st["F-Mean"])))
    return g_path, s_path


# --------------------------------------------------------------------------------------------
# SA-V (sav_evaluator.py) scoring of per-object masks
# --------------------------------------------------------------------------------------------
SAV_COLUMNS = ("J&F", "J", "F")
"""Numbers of the SA-V evaluator, in percent (as it prints them)."""


def sav_object_scores(
    gt: np.ndarray, pred: np.ndarray, bound_th: float = 0.008, skip_first_last: bool = True
) -> dict[str, Any] | None:
    """J and F of ONE object of the per-object (SA-V) layout, as ``sav_evaluator.py`` scores it.

    ``VideoEvaluator`` runs one ``Evaluator`` per object folder on the binary masks (PNG > 0):

    * frames: the object's ground-truth frames in name order, first and last left out when
      ``skip_first_last`` (``all_frames[1:-1]``);
    * a frame is counted from the first evaluated frame on which the ground truth OR the
      prediction is not empty (``Evaluator.feed_frame`` scores the objects seen so far);
    * J = ``|A ∩ B| / (|A| + |B| - |A ∩ B|)``, 1 when both are empty (``get_iou``);
    * F: boundaries by ``_seg2bmap`` (:func:`~workbench.metrics.image.boundary_map`), each
      dilated by a disk of radius ``ceil(bound_th * norm((H, W)))`` (``np.linalg.norm``), the
      davis2017 precision/recall rules (P=R=1 when both have no boundary);
    * the object's J and F are the means over its counted frames, times 100;
    * an object whose ground truth is empty on every evaluated frame has no score (the
      reference stops with an assertion; None here).

    Parameters
    ----------
    gt, pred : (T, H, W) bool
        The object's ground truth and prediction on its T ground-truth frames.
    bound_th : float
        Boundary tolerance, fraction of the diagonal (the reference's 0.008).
    skip_first_last : bool
        Leave out the first and last frame (SA-V val/test; ``--do_not_skip_first_and_last_frame``
        turns it off).

    Returns
    -------
    dict or None
        ``{"J": float, "F": float, "J&F": float, "frames": list of int, "J_frames": list,
        "F_frames": list}`` (percent; ``frames`` are indices into the T frames), or None.

    Raises
    ------
    DataError
        Shapes differ or are not (T, H, W).
    """
    g, p = as_mask(gt, "gt"), as_mask(pred, "pred")
    if g.shape != p.shape or g.ndim != 3:
        raise DataError(
            f"SA-V scoring needs (T, H, W) ground truth and prediction of one shape; got {g.shape} and {p.shape}."
        )
    idx = np.arange(g.shape[0])
    if skip_first_last:
        idx = idx[1:-1]
    if idx.size == 0:
        return None
    g, p = g[idx], p[idx]
    seen = np.logical_or(g.any(axis=(1, 2)), p.any(axis=(1, 2)))
    if not g.any():
        return None
    start = int(np.argmax(seen))
    g, p = g[start:], p[start:]
    j = jaccard_stack(g, p, None)
    radius = float(np.ceil(bound_th * np.linalg.norm(g.shape[1:]))) if bound_th < 1 else float(bound_th)
    f = boundary_prf_stack(p, g, None, max(radius, 1.0))[2]
    jm, fm = float(np.mean(j.tolist()) * 100), float(np.mean(f.tolist()) * 100)
    return {
        "J": jm,
        "F": fm,
        "J&F": (jm + fm) / 2,
        "frames": idx[start:].tolist(),
        "J_frames": j.tolist(),
        "F_frames": f.tolist(),
    }


@dataclass
class SAVEvaluation:
    """Result of an SA-V style evaluation (``sav_evaluator.py``), numbers in percent.

    Attributes
    ----------
    global_ : dict[str, float]
        :data:`SAV_COLUMNS`: ``J`` and ``F`` are means over every scored object of every
        sequence (``benchmark``: ``np.array(all_iou).mean()``), ``J&F`` their mean.
    per_object : dict[str, dict[str, dict[str, float]]]
        ``seq`` → object name (the folder name, e.g. ``"001"``) → ``J&F``, ``J``, ``F``.
    per_frame : dict[str, dict[str, dict[str, list]]]
        ``seq`` → object → ``frames`` (indices of the counted frames), ``J``, ``F`` per frame
        (fractions).
    skipped : dict[str, list[str]]
        ``seq`` → objects without a score (ground truth empty on every evaluated frame).
    bound_th : float
    """

    global_: dict[str, float]
    per_object: dict[str, dict[str, dict[str, float]]]
    per_frame: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    bound_th: float = 0.008


def sav_global(per_object: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """Global SA-V numbers from per-object ones (``benchmark`` of ``sav_benchmark.py``)."""
    js = [o["J"] for objs in per_object.values() for o in objs.values()]
    fs = [o["F"] for objs in per_object.values() for o in objs.values()]
    if not js:
        return {k: float("nan") for k in SAV_COLUMNS}
    gj, gf = float(np.array(js).mean()), float(np.array(fs).mean())
    return {"J&F": (gj + gf) / 2, "J": gj, "F": gf}


def evaluate_sav_arrays(
    gt: Mapping[str, np.ndarray],
    pred: Mapping[str, np.ndarray],
    sequence: str = "sequence",
    bound_th: float = 0.008,
    skip_first_last: bool = True,
) -> SAVEvaluation:
    """Score one sequence's objects as ``sav_evaluator.py`` does (see :func:`sav_object_scores`).

    Parameters
    ----------
    gt, pred : mapping ``object name -> (T, H, W) bool``
        Every ground-truth object (its folder name, e.g. ``"001"``) and its prediction on the
        object's frames. ``pred`` may hold more objects (ignored, as in the reference).

    Raises
    ------
    DataError
        A ground-truth object without prediction, or shapes that differ.
    """
    missing = sorted(set(gt) - set(pred))
    if missing:
        raise DataError(
            f"{sequence}: no prediction for object(s) {missing}; the per-object layout needs a folder "
            "of masks for every ground-truth object."
        )
    per_object: dict[str, dict[str, float]] = {}
    per_frame: dict[str, dict[str, list]] = {}
    skipped = []
    for name in sorted(gt):
        r = sav_object_scores(gt[name], pred[name], bound_th, skip_first_last)
        if r is None:
            skipped.append(name)
            continue
        per_object[name] = {"J&F": r["J&F"], "J": r["J"], "F": r["F"]}
        per_frame[name] = {"frames": r["frames"], "J": r["J_frames"], "F": r["F_frames"]}
    objs = {sequence: per_object}
    return SAVEvaluation(
        sav_global(objs), objs, {sequence: per_frame}, {sequence: skipped} if skipped else {}, bound_th
    )


def write_sav_csvs(evaluation: SAVEvaluation, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``global_results.csv`` (columns :data:`SAV_COLUMNS`, percent) and
    ``per_object_results.csv`` (``sequence,obj,J&F,J,F``), full float precision (the reference
    prints one decimal).

    Returns
    -------
    (global_path, per_object_path) : tuple of Path
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g_path, o_path = out / "global_results.csv", out / "per_object_results.csv"
    with g_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SAV_COLUMNS)
        w.writerow([_fmt(evaluation.global_[k]) for k in SAV_COLUMNS])
    with o_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("sequence", "obj", *SAV_COLUMNS))
        for seq, objs in evaluation.per_object.items():
            for name, st in objs.items():
                w.writerow((seq, name, *(_fmt(st[k]) for k in SAV_COLUMNS)))
    return g_path, o_path
