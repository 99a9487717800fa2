"""DAVIS results-folder evaluation (``workbench eval vos``), reproducing davis2017-evaluation.

Layouts
-------
Ground truth (``gt_root``): ``Annotations/<seq>/%05d.png`` or ``Annotations/480p/<seq>/...``
(palette PNGs), sequences from ``ImageSets/val.txt`` or ``ImageSets/2017/val.txt``, else
every folder of ``Annotations``. Results (``results_dir``): ``<seq>/<frame>.png`` palette
PNGs with the ground truth's frame names and size (frames 1 .. n-2 are required).

Scoring is :func:`workbench.metrics.vos_eval.evaluate_vos_arrays`; this module reads the folders.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetNotFoundError, ResultsFormatError, UnknownNameError
from ..io.images import read_palette_mask
from ..metrics.vos_eval import VOSEvaluation, evaluate_vos_arrays, global_stats, write_vos_csvs

__all__ = ["DavisGroundTruth", "evaluate_vos", "evaluate_vos_cli", "load_davis_gt"]

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


def load_davis_gt(gt_root: str | Path, sequences: str | Iterable[str] | None = None,
                  keep_in_memory: bool = False) -> DavisGroundTruth:
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
                f"Sequences listed in ImageSets have no annotation folder under {ann}: "
                f"{', '.join(missing)}."
            )
    else:
        chosen = [sequences] if isinstance(sequences, str) else list(sequences)
        for s in chosen:
            if s not in available:
                raise UnknownNameError("sequence", s, available)
    if not chosen:
        raise DatasetNotFoundError(f"No sequences to evaluate under {ann}.")
    return DavisGroundTruth(root=root, annotations=ann, sequences=list(chosen),
                            keep_in_memory=keep_in_memory)


def _missing_sequence_hint(results_dir: Path, seq: str) -> str:
    """Why ``results_dir/seq`` may be missing: nested one level deeper, flat PNGs, other names."""
    subs = _subdirs(results_dir)
    nested = [s for s in subs if (results_dir / s / seq).is_dir()]
    nested += [f"{s}/480p" for s in subs if (results_dir / s / "480p" / seq).is_dir()]
    if nested:
        return (f"The results seem nested one level deeper: {results_dir / nested[0] / seq} exists; pass "
                f"{results_dir / nested[0]} as the results folder.")
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
    return (f"The folder holds {len(present)} file(s), e.g. {', '.join(present[:3])}; result files must carry "
            "the ground-truth frame names (e.g. 00001.png, zero-padded to 5 digits for DAVIS).")


def _read_results(results_dir: Path, seq: str, names: list[str], shape: tuple[int, int]) -> np.ndarray:
    folder = results_dir / seq
    if not folder.is_dir():
        raise ResultsFormatError(f"Results for sequence {seq!r} not found: {folder} is missing. "
                                 f"{_missing_sequence_hint(results_dir, seq)} {_RESULTS_LAYOUT}")
    out = np.empty((len(names), *shape), dtype=np.uint8)
    for t, name in enumerate(names):
        path = folder / f"{name}.png"
        if not path.is_file():
            raise ResultsFormatError(f"Missing results frame {path}. {_missing_frame_hint(folder, name)} "
                                     f"{_RESULTS_LAYOUT}")
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


def evaluate_vos(gt_root: str | Path | DavisGroundTruth, results_dir: str | Path,
                 sequences: str | Iterable[str] | None = None, bound_th: float = 0.008,
                 reference_quirk: bool = False) -> VOSEvaluation:
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
        ev = evaluate_vos_arrays(
            {k: gt_mid == k for k in obj_ids}, {k: res == k for k in obj_ids},
            void=void if void.any() else None, bound_th=bound_th, skip_first_last=False,
            sequence=seq, frame_names=mid_names, reference_quirk=reference_quirk,
        ) if obj_ids else VOSEvaluation({}, {}, {seq: {}}, {seq: mid_names}, bound_th)
        per_object.update(ev.per_object)
        per_frame.update(ev.per_frame)
        frames.update(ev.frames)
    return VOSEvaluation(global_=global_stats(per_object), per_object=per_object, per_frame=per_frame,
                         frames=frames, bound_th=bound_th)


def evaluate_vos_cli(gt_root: str | Path, results: str | Path, out: str | Path,
                     sequences: str | Iterable[str] | None = None,
                     bound_th: float = 0.008) -> VOSEvaluation:
    """``workbench eval vos --gt-root DIR --results DIR --out DIR``: evaluate
    (:func:`evaluate_vos`) and write the CSVs (:func:`write_vos_csvs`) into ``out``."""
    ev = evaluate_vos(gt_root, results, sequences=sequences, bound_th=bound_th)
    write_vos_csvs(ev, out)
    return ev
