"""DAVIS results-folder evaluation (``workbench eval vos``), reproducing davis2017-evaluation.

Layouts
-------
Ground truth (``gt_root``): ``Annotations/<seq>/%05d.png`` or ``Annotations/480p/<seq>/...``
(palette PNGs), sequences from ``ImageSets/val.txt`` or ``ImageSets/2017/val.txt``, else
every folder of ``Annotations``. Results (``results_dir``): ``<seq>/<frame>.png`` palette
PNGs with the ground truth's frame names and size (frames 1 .. n-2 are required).

Scoring is :func:`workbench.metrics.vos_eval.evaluate_vos_arrays`; this module reads the folders.

Per-object layout (SA-V, ``tools/vos_inference.py --per_obj_png_file``): results
``<seq>/<obj_id:03d>/<frame>.png``, one binary PNG folder per object (values 0/1; > 0 is the
object). :func:`evaluate_vos_per_object` scores it as SAM 2's ``sav_dataset/sav_evaluator.py``
does (:func:`workbench.metrics.vos_eval.sav_object_scores`): J and F per object in percent,
global means over objects. The ground truth is either in that layout too
(``<gt>/<seq>/<obj>/<frame>.png``, as SA-V ships it) or DAVIS id maps
(``Annotations/<seq>/<frame>.png``), split into one object per id (folders ``%03d``; every
frame of the sequence is a frame of every object), which is what the reference scores after
converting DAVIS annotations to its per-object layout. :func:`detect_layout` tells the two
results layouts apart (``workbench eval vos --layout auto``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFoundError, ResultsFormatError, UnknownNameError
from ..io.images import read_palette_mask
from ..metrics.vos_eval import (
    SAVEvaluation,
    VOSEvaluation,
    evaluate_sav_arrays,
    evaluate_vos_arrays,
    global_stats,
    sav_global,
    write_sav_csvs,
    write_vos_csvs,
)

__all__ = [
    "LAYOUTS",
    "DavisGroundTruth",
    "detect_layout",
    "evaluate_vos",
    "evaluate_vos_cli",
    "evaluate_vos_per_object",
    "load_davis_gt",
]

LAYOUTS = ("auto", "davis", "per-object")
"""Results layouts of ``workbench eval vos --layout``: one id map per frame (DAVIS), one PNG
folder per object (SA-V), or ``auto`` (:func:`detect_layout`)."""
_PER_OBJECT_LAYOUT = (
    "Expected per-object (SA-V) results layout: <results_dir>/<sequence>/<obj_id:03d>/<frame>.png, one binary "
    "PNG per object and ground-truth frame (> 0 is the object), as tools/vos_inference.py --per_obj_png_file "
    "writes."
)

VOID_ID = 255
_RESULTS_LAYOUT = (
    "Expected DAVIS results layout: <results_dir>/<sequence>/<frame>.png, one palette PNG per "
    "ground-truth frame (same name and size as the annotation; 0 = background, object ids as "
    "in the first annotation frame)."
)


@dataclass
class DavisGroundTruth:
    """A DAVIS ground-truth folder: where its annotations are and which sequences it holds.

    Build it with :func:`load_davis_gt`. With ``keep_in_memory=True`` the decoded
    annotations are cached, so several result sets can be scored against one read.
    """

    root: Path
    annotations: Path
    sequences: list[str]
    keep_in_memory: bool = False
    _cache: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict, repr=False)

    def frame_files(self, seq: str) -> list[Path]:
        """Annotation PNGs of ``seq``, sorted by name."""
        folder = self.annotations / seq
        if not folder.is_dir():
            raise DatasetNotFoundError(
                f"No annotation folder for sequence {seq!r}: {folder} does not exist. "
                f"Sequences found under {self.annotations}: {', '.join(_subdirs(self.annotations)) or '(none)'}."
            )
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
        if not files:
            raise DatasetNotFoundError(f"Annotation folder {folder} holds no .png frames.")
        return files

    def read(self, seq: str) -> tuple[list[str], np.ndarray]:
        """Frame names and ``(T, H, W)`` uint8 id maps of ``seq`` (0 bg, 255 void).

        Raises
        ------
        DatasetNotFoundError, DataError
            Missing folder, unreadable frame, or frames of different sizes.
        """
        if seq in self._cache:
            return self._cache[seq]
        files = self.frame_files(seq)
        first = read_palette_mask(files[0])
        ids = np.empty((len(files), *first.shape), dtype=np.uint8)
        ids[0] = first
        for t, path in enumerate(files[1:], start=1):
            m = read_palette_mask(path)
            if m.shape != first.shape:
                raise DataError(f"Annotation {path} is {m.shape}, but {files[0]} is {first.shape}.")
            ids[t] = m
        out = ([p.stem for p in files], ids)
        if self.keep_in_memory:
            self._cache[seq] = out
        return out


def _subdirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def load_davis_gt(
    gt_root: str | Path, sequences: str | Iterable[str] | None = None, keep_in_memory: bool = False
) -> DavisGroundTruth:
    """Locate a DAVIS ground-truth folder and choose its sequences.

    Parameters
    ----------
    gt_root : path
        Folder holding ``Annotations/`` (optionally with a ``480p`` level) and ``ImageSets/``.
    sequences : str, iterable of str, or None
        Sequences to evaluate. None: ``ImageSets/val.txt``, else ``ImageSets/2017/val.txt``,
        else every folder of the annotations directory.
    keep_in_memory : bool
        Cache decoded annotations (for scoring several result sets).

    Raises
    ------
    DatasetNotFoundError
        No ``Annotations`` folder, or a listed sequence has no annotation folder.
    UnknownNameError
        A requested sequence is not in the dataset.
    """
    root = Path(gt_root)
    ann = root / "Annotations"
    if (ann / "480p").is_dir():
        ann = ann / "480p"
    if not ann.is_dir():
        raise DatasetNotFoundError(
            f"No Annotations folder in {root}. Point gt_root at a DAVIS folder holding "
            "Annotations/<seq>/%05d.png (or Annotations/480p/<seq>/...)."
        )
    available = _subdirs(ann)
    default: list[str] | None = None
    for listing in (root / "ImageSets" / "val.txt", root / "ImageSets" / "2017" / "val.txt"):
        if listing.is_file():
            default = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
            break
    if default is None:
        default = available
    if sequences is None:
        chosen = default
        missing = [s for s in chosen if s not in available]
        if missing:
            raise DatasetNotFoundError(
                f"Sequences listed in ImageSets have no annotation folder under {ann}: {', '.join(missing)}."
            )
    else:
        chosen = [sequences] if isinstance(sequences, str) else list(sequences)
        for s in chosen:
            if s not in available:
                raise UnknownNameError("sequence", s, available)
    if not chosen:
        raise DatasetNotFoundError(f"No sequences to evaluate under {ann}.")
    return DavisGroundTruth(root=root, annotations=ann, sequences=list(chosen), keep_in_memory=keep_in_memory)


def _missing_sequence_hint(results_dir: Path, seq: str) -> str:
    """Why ``results_dir/seq`` may be missing: nested one level deeper, flat PNGs, other names."""
    subs = _subdirs(results_dir)
    nested = [s for s in subs if (results_dir / s / seq).is_dir()]
    nested += [f"{s}/480p" for s in subs if (results_dir / s / "480p" / seq).is_dir()]
    if nested:
        return (
            f"The results seem nested one level deeper: {results_dir / nested[0] / seq} exists; pass "
            f"{results_dir / nested[0]} as the results folder."
        )
    if any(results_dir.glob("*.png")):
        return "The results folder holds PNG files directly; put each sequence's frames in a subfolder named after it."
    return f"Sequence folders found: {', '.join(subs[:10]) or '(none)'}{' …' if len(subs) > 10 else ''}."


def _missing_frame_hint(folder: Path, name: str) -> str:
    """Why ``folder/name.png`` may be missing: other extension, other numbering, or gone."""
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    same_stem = [n for n in present if Path(n).stem == name]
    if same_stem:
        return f"Found {same_stem[0]} instead: results must be PNG files ({name}.png)."
    if not present:
        return "The sequence folder is empty."
    return (
        f"The folder holds {len(present)} file(s), e.g. {', '.join(present[:3])}; result files must carry "
        "the ground-truth frame names (e.g. 00001.png, zero-padded to 5 digits for DAVIS)."
    )


def _read_results(results_dir: Path, seq: str, names: list[str], shape: tuple[int, int]) -> np.ndarray:
    folder = results_dir / seq
    if not folder.is_dir():
        raise ResultsFormatError(
            f"Results for sequence {seq!r} not found: {folder} is missing. "
            f"{_missing_sequence_hint(results_dir, seq)} {_RESULTS_LAYOUT}"
        )
    out = np.empty((len(names), *shape), dtype=np.uint8)
    for t, name in enumerate(names):
        path = folder / f"{name}.png"
        if not path.is_file():
            raise ResultsFormatError(
                f"Missing results frame {path}. {_missing_frame_hint(folder, name)} {_RESULTS_LAYOUT}"
            )
        try:
            m = read_palette_mask(path)
        except DataError as exc:
            raise ResultsFormatError(f"Cannot use results frame {path}: {exc} {_RESULTS_LAYOUT}") from exc
        if m.shape != shape:
            raise ResultsFormatError(
                f"Results frame {path} is {m.shape[1]}x{m.shape[0]} (WxH) but the annotation is "
                f"{shape[1]}x{shape[0]}; save results at the ground-truth resolution. {_RESULTS_LAYOUT}"
            )
        out[t] = m
    return out


def evaluate_vos(
    gt_root: str | Path | DavisGroundTruth,
    results_dir: str | Path,
    sequences: str | Iterable[str] | None = None,
    bound_th: float = 0.008,
    reference_quirk: bool = False,
) -> VOSEvaluation:
    """Evaluate a DAVIS results folder (semi-supervised protocol, as davis2017-evaluation).

    Parameters
    ----------
    gt_root : path or DavisGroundTruth
        DAVIS folder (see module docstring) or a preloaded :func:`load_davis_gt`.
    results_dir : path
        ``<results_dir>/<seq>/<frame>.png`` palette PNGs.
    sequences : str, iterable of str, or None
        Subset of sequences; default from ``ImageSets`` (see :func:`load_davis_gt`).
    bound_th : float
        Boundary tolerance for F. Default 0.008 (the reference's).
    reference_quirk : bool
        Decay with the reference's uint8 bug (only matters past 256 frames).

    Returns
    -------
    VOSEvaluation

    Raises
    ------
    ResultsFormatError
        A results sequence folder or frame is missing, unreadable, of the wrong size, or
        holds ids that are not objects of the first annotation frame.
    DatasetNotFoundError, UnknownNameError, DataError
        Problems with the ground truth or the sequence selection.
    """
    if isinstance(gt_root, DavisGroundTruth):
        gt = gt_root
        seqs = gt.sequences if sequences is None else load_davis_gt(gt.root, sequences).sequences
    else:
        gt = load_davis_gt(gt_root, sequences)
        seqs = gt.sequences
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ResultsFormatError(f"Results folder {results_dir} does not exist. {_RESULTS_LAYOUT}")
    per_object: dict[str, dict[str, float]] = {}
    per_frame: dict[str, dict[int, dict[str, list[float]]]] = {}
    frames: dict[str, list[str]] = {}
    for seq in seqs:
        names, ids = gt.read(seq)
        if len(names) < 3:
            raise DataError(f"Sequence {seq!r} has {len(names)} annotated frames; DAVIS scoring needs at least 3.")
        obj_ids = [int(i) for i in np.unique(ids[0]) if i not in (0, VOID_ID)]
        mid_names, gt_mid = names[1:-1], ids[1:-1]
        res = _read_results(results_dir, seq, mid_names, ids.shape[1:])
        present = np.flatnonzero(np.bincount(res.reshape(-1), minlength=256)).tolist()
        extra = sorted(set(present) - set(obj_ids) - {0})
        if extra:
            void = " (255 is the void label, which results must not use)" if VOID_ID in extra else ""
            raise ResultsFormatError(
                f"Results of sequence {seq!r} hold ids {extra} that are not objects of the first "
                f"annotation frame (objects: {obj_ids or 'none'}){void}. Map the predicted ids to the "
                f"annotation's object ids, or set unknown ids to 0. {_RESULTS_LAYOUT}"
            )
        void = gt_mid == VOID_ID
        ev = (
            evaluate_vos_arrays(
                {k: gt_mid == k for k in obj_ids},
                {k: res == k for k in obj_ids},
                void=void if void.any() else None,
                bound_th=bound_th,
                skip_first_last=False,
                sequence=seq,
                frame_names=mid_names,
                reference_quirk=reference_quirk,
            )
            if obj_ids
            else VOSEvaluation({}, {}, {seq: {}}, {seq: mid_names}, bound_th)
        )
        per_object.update(ev.per_object)
        per_frame.update(ev.per_frame)
        frames.update(ev.frames)
    return VOSEvaluation(
        global_=global_stats(per_object), per_object=per_object, per_frame=per_frame, frames=frames, bound_th=bound_th
    )


def detect_layout(results_dir: str | Path) -> str:
    """``"per-object"`` when the results' sequence folders hold object folders and no PNG,
    else ``"davis"``.

    Raises
    ------
    ResultsFormatError
        The folder does not exist or holds no sequence folder.
    """
    results_dir = Path(results_dir)
    seqs = _subdirs(results_dir)
    if not results_dir.is_dir() or not seqs:
        raise ResultsFormatError(
            f"Results folder {results_dir} does not exist or holds no sequence folder. {_RESULTS_LAYOUT}"
        )
    for seq in seqs:
        folder = results_dir / seq
        if any(p.suffix.lower() == ".png" for p in folder.iterdir()):
            return "davis"
        if _subdirs(folder):
            return "per-object"
    return "davis"


def _read_binary(path: Path, what: str) -> np.ndarray:
    """A PNG as ``(H, W)`` bool (> 0), refusing more than one object (SA-V's check)."""
    try:
        m = read_palette_mask(path)
    except DataError as exc:
        raise ResultsFormatError(f"Cannot use {what} {path}: {exc} {_PER_OBJECT_LAYOUT}") from exc
    if np.count_nonzero(np.bincount(m.reshape(-1), minlength=256)[1:]) > 1:
        raise ResultsFormatError(
            f"{what} {path} holds more than one object id; the per-object layout has one "
            f"binary mask per PNG. {_PER_OBJECT_LAYOUT}"
        )
    return m > 0


def _per_object_gt(gt: DavisGroundTruth, seq: str) -> dict[str, tuple[list[str], np.ndarray]]:
    """Ground-truth objects of ``seq``: ``name -> (frame names, (T, H, W) bool)``."""
    folder = gt.annotations / seq
    objs = _subdirs(folder) if folder.is_dir() else []
    if objs and not any(p.suffix.lower() == ".png" for p in folder.iterdir()):
        out = {}
        for name in objs:
            files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() == ".png")
            if not files:
                raise DatasetNotFoundError(f"Ground-truth object folder {folder / name} holds no .png frames.")
            out[name] = ([p.stem for p in files], np.stack([_read_binary(p, "ground-truth mask") for p in files]))
        return out
    names, ids = gt.read(seq)
    present = sorted(int(i) for i in np.unique(ids) if i not in (0, VOID_ID))
    return {f"{k:03d}": (names, ids == k) for k in present}


def evaluate_vos_per_object(
    gt_root: str | Path | DavisGroundTruth,
    results_dir: str | Path,
    sequences: str | Iterable[str] | None = None,
    bound_th: float = 0.008,
    skip_first_last: bool = True,
) -> SAVEvaluation:
    """Evaluate a per-object (SA-V) results folder as SAM 2's ``sav_evaluator.py`` does.

    Parameters
    ----------
    gt_root : path or DavisGroundTruth
        A folder with ``Annotations/`` (or the annotations folder itself, SA-V's
        ``Annotations_6fps``) holding per-object folders ``<seq>/<obj>/<frame>.png`` or DAVIS id
        maps ``<seq>/<frame>.png`` (see the module docstring); sequences from ``ImageSets`` as
        :func:`load_davis_gt`, else every folder.
    results_dir : path
        ``<results_dir>/<seq>/<obj>/<frame>.png``, a folder for every ground-truth object (the
        same name) with a PNG for each of its evaluated frames.
    sequences : str, iterable of str, or None
        Subset of sequences.
    bound_th : float
        Boundary tolerance (the reference's 0.008).
    skip_first_last : bool
        Leave out each object's first and last ground-truth frame (the reference's default).

    Returns
    -------
    SAVEvaluation
        Percent numbers, as the reference prints them.

    Raises
    ------
    ResultsFormatError
        Missing results sequence, object or frame, wrong size, or a PNG with several ids.
    DatasetNotFoundError, UnknownNameError, DataError
        Problems with the ground truth or the sequence selection.
    """
    if isinstance(gt_root, DavisGroundTruth):
        gt = gt_root if sequences is None else load_davis_gt(gt_root.root, sequences)
    else:
        gt = _per_object_gt_root(Path(gt_root), sequences)
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ResultsFormatError(f"Results folder {results_dir} does not exist. {_PER_OBJECT_LAYOUT}")
    per_object: dict[str, dict[str, dict[str, float]]] = {}
    per_frame: dict[str, dict[str, dict[str, list]]] = {}
    skipped: dict[str, list[str]] = {}
    for seq in gt.sequences:
        objects = _per_object_gt(gt, seq)
        folder = results_dir / seq
        if not folder.is_dir():
            raise ResultsFormatError(
                f"Results for sequence {seq!r} not found: {folder} is missing. "
                f"{_missing_sequence_hint(results_dir, seq)} {_PER_OBJECT_LAYOUT}"
            )
        gts, preds = {}, {}
        for name, (names, stack) in objects.items():
            obj_dir = folder / name
            if not obj_dir.is_dir():
                raise ResultsFormatError(
                    f"No results folder {obj_dir} for object {name} of sequence {seq!r}; found "
                    f"{', '.join(_subdirs(folder)) or '(none)'}. {_PER_OBJECT_LAYOUT}"
                )
            wanted = range(1, len(names) - 1) if skip_first_last else range(len(names))
            pred = np.zeros(stack.shape, dtype=bool)
            for t in wanted:
                path = obj_dir / f"{names[t]}.png"
                if not path.is_file():
                    raise ResultsFormatError(
                        f"Missing results frame {path}. {_missing_frame_hint(obj_dir, names[t])} {_PER_OBJECT_LAYOUT}"
                    )
                m = _read_binary(path, "results mask")
                if m.shape != stack.shape[1:]:
                    raise ResultsFormatError(
                        f"Results frame {path} is {m.shape[1]}x{m.shape[0]} (WxH) but the annotation is "
                        f"{stack.shape[2]}x{stack.shape[1]}; save results at the ground-truth resolution."
                    )
                pred[t] = m
            gts[name], preds[name] = stack, pred
        ev = evaluate_sav_arrays(gts, preds, sequence=seq, bound_th=bound_th, skip_first_last=skip_first_last)
        per_object.update(ev.per_object)
        per_frame.update(ev.per_frame)
        skipped.update(ev.skipped)
    return SAVEvaluation(sav_global(per_object), per_object, per_frame, skipped, bound_th)


def _per_object_gt_root(root: Path, sequences) -> DavisGroundTruth:
    """:func:`load_davis_gt` for a folder with ``Annotations/``; else ``root`` is the annotations
    folder itself (SA-V's ``Annotations_6fps``) and its folders are the sequences."""
    if (root / "Annotations").is_dir():
        return load_davis_gt(root, sequences)
    available = _subdirs(root)
    if not available:
        raise DatasetNotFoundError(
            f"No sequences under {root}: point gt_root at a folder holding Annotations/ or "
            "<sequence>/<obj>/<frame>.png folders."
        )
    chosen = available if sequences is None else ([sequences] if isinstance(sequences, str) else list(sequences))
    for seq in chosen:
        if seq not in available:
            raise UnknownNameError("sequence", seq, available)
    return DavisGroundTruth(root=root, annotations=root, sequences=list(chosen))


def evaluate_vos_cli(
    gt_root: str | Path,
    results: str | Path,
    out: str | Path,
    sequences: str | Iterable[str] | None = None,
    bound_th: float = 0.008,
    layout: str = "auto",
) -> VOSEvaluation | SAVEvaluation:
    """``workbench eval vos --gt-root DIR --results DIR --out DIR [--layout L]``: evaluate and
    write the CSVs into ``out``.

    ``layout`` ``"davis"``: :func:`evaluate_vos` (davis2017-evaluation) and
    :func:`write_vos_csvs`; ``"per-object"``: :func:`evaluate_vos_per_object` (SA-V's
    ``sav_evaluator.py``) and :func:`write_sav_csvs`; ``"auto"`` (default): as
    :func:`detect_layout` finds the results.

    Raises
    ------
    UnknownNameError
        Unknown ``layout``.
    """
    if layout not in LAYOUTS:
        raise UnknownNameError("results layout", layout, LAYOUTS)
    if layout == "auto":
        layout = detect_layout(results)
    if layout == "per-object":
        sav = evaluate_vos_per_object(gt_root, results, sequences=sequences, bound_th=bound_th)
        write_sav_csvs(sav, out)
        return sav
    ev = evaluate_vos(gt_root, results, sequences=sequences, bound_th=bound_th)
    write_vos_csvs(ev, out)
    return ev
