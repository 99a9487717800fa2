"""Read many run folders into tidy pandas tables (for dashboards, notebooks and reports).

Every table carries the same run columns: ``run_id``, ``kind`` (``"vos"`` / ``"image"``),
``backend``, ``model``, ``untrained``, ``label`` (``backend/model``, plus ``" (UNTRAINED)"`` when
the run card says ``untrained: true``), ``legend`` (the label, made unique among the loaded
runs with ``" (<dataset>)"`` and, if still needed, ``" [<run_id>]"``) and ``dataset``. Values are read from the files the runners
wrote (``run_card.json``, ``summary.json``, ``sequences.csv``, ``per_frame.json``,
``click_curve.csv``, ``pvs_curve.csv``), never recomputed. The run card is the source of truth for the labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..config import reports_dir
from ..errors import DataError, DatasetNotFoundError, ResultsFormatError
from .card import read_run

__all__ = [
    "RUN_COLUMNS",
    "find_run_dirs",
    "load_click_curves",
    "load_frame_curves",
    "load_pvs_curves",
    "load_runs",
    "load_vos_sequences",
    "run_label",
]

RUN_COLUMNS = ("run_id", "kind", "backend", "model", "untrained", "label", "legend", "dataset")
"""Columns shared by every table of this module (identify and label the run)."""

_CARD_FIELDS = ("status", "started_at", "wall_time_s", "device", "image_size", "checkpoint", "git_commit")


def run_label(card: dict) -> str:
    """``backend/model`` plus ``" (UNTRAINED)"`` when the card says the weights were untrained
    (same rule as :attr:`workbench.runners.card.RunCard.label`)."""
    return f"{card.get('backend', '?')}/{card.get('model', '?')}" + (" (UNTRAINED)" if card.get("untrained") else "")


def find_run_dirs(root: str | Path | Iterable[str | Path] | None = None) -> list[Path]:
    """Run folders under ``root``: ``root`` itself when it is a run folder, else its direct
    sub-folders holding ``run_card.json`` (other folders are skipped). A list mixes run folders
    and roots. Default root: :func:`workbench.config.reports_dir` (``$WORKBENCH_REPORTS_DIR`` or
    ``./reports``).

    Raises
    ------
    DatasetNotFoundError
        A root (or listed folder) does not exist.
    """
    if root is None:
        roots = [reports_dir()]
    elif isinstance(root, (str, Path)):
        roots = [Path(root)]
    else:
        roots = [Path(r) for r in root]
    out: list[Path] = []
    for r in roots:
        if not r.is_dir():
            raise DatasetNotFoundError(
                f"Runs folder not found: {r}. Pass the folder runs were written to "
                "(default ./reports, or $WORKBENCH_REPORTS_DIR) or a list of run folders."
            )
        if (r / "run_card.json").is_file():
            out.append(r)
        else:
            out.extend(p for p in sorted(r.iterdir()) if p.is_dir() and (p / "run_card.json").is_file())
    seen, unique = set(), []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _read(run_dir: Path) -> dict | None:
    try:
        return read_run(run_dir)
    except (DataError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # not a run folder, or a card being written: skipped


def load_runs(
    root: str | Path | Iterable[str | Path] | None = None, kinds: str | Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per run folder: run-card fields and the summary metrics.

    Parameters
    ----------
    root : path, list of paths or None
        A folder of run folders (default None: ``$WORKBENCH_REPORTS_DIR``, else ``./reports``),
        one run folder, or a list of either. Folders without a readable
        ``run_card.json`` are skipped.
    kinds : str or list of str, optional
        Keep only runs of these kinds (``"vos"``, ``"image"``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RUN_COLUMNS`, then ``items`` (count), ``status``, ``started_at``,
        ``wall_time_s`` (s), ``device``, ``image_size``, ``checkpoint``, ``git_commit``, ``prompt``
        (VOS), ``mode`` (PVS: offline / online), ``policy`` and ``dir`` (Path), then every numeric ``summary.json`` value (``J&F-Mean``, ``FPS``,
        ``mIoU@1``, ``NoC@90`` … fractions in [0, 1], FPS in frames/s, latency in ms). Ordered by
        start time, then run id. Empty (with the run columns) when no run is found.

    Raises
    ------
    DatasetNotFoundError
        ``root`` does not exist.
    """
    if isinstance(kinds, str):
        kinds = [kinds]
    kinds = None if kinds is None else set(kinds)
    rows = []
    for rd in find_run_dirs(None if root is None else root):
        run = _read(rd)
        if run is None:
            continue
        card, summary = run["card"], run["summary"]
        if kinds is not None and card.get("kind") not in kinds:
            continue
        row = {
            "run_id": card.get("run_id", rd.name),
            "kind": card.get("kind", "?"),
            "backend": card.get("backend", "?"),
            "model": card.get("model", "?"),
            "untrained": bool(card.get("untrained", False)),
            "label": run_label(card),
            "legend": "",
            "dataset": card.get("dataset", "?"),
            "items": len(card.get("items", [])),
        }
        row.update({k: card.get(k) for k in _CARD_FIELDS})
        row["prompt"] = card.get("params", {}).get("prompt")
        row["mode"] = card.get("params", {}).get("mode")  # PVS runs: offline / online
        row["policy"] = (card.get("backend_extra") or {}).get("policy") or card.get("params", {}).get("policy")
        row["dir"] = rd
        for k, v in summary.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in row:
                row[k] = float(v)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[*RUN_COLUMNS, "items", *_CARD_FIELDS, "prompt", "dir"])
    df = pd.DataFrame(rows)
    df = df.sort_values(["started_at", "run_id"], na_position="last", kind="stable").reset_index(drop=True)
    df["legend"] = _unique_legends(df)
    return df


def _unique_legends(df: pd.DataFrame) -> list[str]:
    """The label; ``"label (dataset)"`` where labels repeat; ``"... [run_id]"`` where that still repeats."""
    legend = df["label"].astype(str).tolist()
    dup = df["label"].duplicated(keep=False).tolist()
    legend = [f"{lab} ({ds})" if d else lab for lab, d, ds in zip(legend, dup, df["dataset"].astype(str))]
    dup = pd.Series(legend).duplicated(keep=False).tolist()
    return [f"{lab} [{rid}]" if d else lab for lab, d, rid in zip(legend, dup, df["run_id"].astype(str))]


def _runs_table(run_dirs) -> pd.DataFrame:
    """Accept a :func:`load_runs` table or run folders / roots."""
    if isinstance(run_dirs, pd.DataFrame):
        return run_dirs
    return load_runs(run_dirs)


def _meta(row) -> dict:
    return {k: row[k] for k in RUN_COLUMNS}


def _need(path: Path, row) -> bool:
    """True when the file is there; False for runs not finished; raises for finished runs."""
    if path.is_file():
        return True
    if row.get("status") != "done":
        return False
    raise ResultsFormatError(
        f"Run {row['run_id']} ({row['dir']}) is marked done but has no {path.name}. "
        "It was written by another workbench version or damaged: re-run the benchmark."
    )


def _tidy(run_dirs, kind: str, filename: str, read, columns: list[str]) -> pd.DataFrame:
    """One table over runs: ``read(path, row)`` (a DataFrame, or None to skip) on the file
    ``filename`` of every run of ``kind`` that has it (:func:`_need`), with the run columns
    in front; an empty table with ``columns`` after the run columns when there is none."""
    frames = []
    for _, row in _runs_table(run_dirs).iterrows():
        path = Path(row["dir"]) / filename
        if row["kind"] != kind or not _need(path, row):
            continue
        table = read(path, row)
        if table is None or table.empty:
            continue
        for k, v in reversed(_meta(row).items()):
            table.insert(0, k, v)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=[*RUN_COLUMNS, *columns])
    return pd.concat(frames, ignore_index=True)


def load_vos_sequences(run_dirs) -> pd.DataFrame:
    """Per-object VOS results of every VOS run (``sequences.csv``), one row per (run, object).

    Parameters
    ----------
    run_dirs : DataFrame from :func:`load_runs`, or run folders / roots
        Image runs are ignored.

    Returns
    -------
    pandas.DataFrame
        Run columns, then ``object`` (``"<sequence>_<obj_id>"``, the DAVIS name), ``sequence``,
        ``J-Mean``, ``J-Recall``, ``J-Decay``, ``F-Mean``, ``F-Recall``, ``F-Decay``, ``J&F-Mean``
        (= (J-Mean + F-Mean) / 2), ``frames``, ``propagate_s`` (s) and ``FPS`` (frames/s of the
        sequence's propagation).

    Raises
    ------
    ResultsFormatError
        A finished VOS run has no ``sequences.csv``.
    """

    def read(path: Path, row) -> pd.DataFrame:
        seq = pd.read_csv(path).rename(columns={"Sequence": "object"})
        seq["J&F-Mean"] = (seq["J-Mean"] + seq["F-Mean"]) / 2.0
        return seq

    return _tidy(run_dirs, "vos", "sequences.csv", read, ["object", "sequence", "J-Mean", "F-Mean", "J&F-Mean", "FPS"])


def load_frame_curves(run_dirs) -> pd.DataFrame:
    """Per-frame J and F of every object of every VOS run (``per_frame.json``), tidy.

    Returns
    -------
    pandas.DataFrame
        Run columns, then ``sequence``, ``obj_id`` (int), ``object`` (``"<sequence>_<obj_id>"``),
        ``frame`` (frame index in the sequence: the DAVIS protocol scores frames 1 .. n-2, so the
        first value is frame 1), ``J`` and ``F`` (fractions in [0, 1]).

    Raises
    ------
    ResultsFormatError
        A finished VOS run has no ``per_frame.json``, or J and F lists differ in length.
    """
    columns = ["sequence", "obj_id", "object", "frame", "J", "F"]

    def read(path: Path, row) -> pd.DataFrame:
        rows = []
        for seq, objs in json.loads(path.read_text()).items():
            for obj_id, vals in objs.items():
                j, f = vals.get("J", []), vals.get("F", [])
                if len(j) != len(f):
                    raise ResultsFormatError(
                        f"{path}: {seq} object {obj_id} has {len(j)} J values but {len(f)} F "
                        "values; re-run the benchmark."
                    )
                rows += [
                    (seq, int(obj_id), f"{seq}_{obj_id}", i + 1, float(jv), float(fv))
                    for i, (jv, fv) in enumerate(zip(j, f))
                ]
        return pd.DataFrame(rows, columns=columns)

    return _tidy(run_dirs, "vos", "per_frame.json", read, columns)


def load_click_curves(run_dirs) -> pd.DataFrame:
    """k-click mIoU curves of every image run (``click_curve.csv``), tidy.

    Returns
    -------
    pandas.DataFrame
        Run columns, then ``clicks`` (k = 1 .. max_clicks), ``mIoU`` (mean IoU over images after
        k clicks, most-confident candidate) and ``oracle-mIoU`` (best of the 3 candidates).

    Raises
    ------
    ResultsFormatError
        A finished image run has no ``click_curve.csv``.
    """
    return _tidy(
        run_dirs, "image", "click_curve.csv", lambda path, row: pd.read_csv(path), ["clicks", "mIoU", "oracle-mIoU"]
    )


def load_pvs_curves(run_dirs) -> pd.DataFrame:
    """J&F after k annotated frames of every PVS run (``pvs_curve.csv``), tidy.

    Returns
    -------
    pandas.DataFrame
        Run columns, then ``mode`` (offline / online), ``policy``, ``annotated_frames`` (k = 1 ..
        N), ``J-Mean``, ``F-Mean`` and ``J&F-Mean`` (means over all objects of the run after k
        annotated frames, fractions in [0, 1]).

    Raises
    ------
    ResultsFormatError
        A finished PVS run has no ``pvs_curve.csv``.
    """

    def read(path: Path, row) -> pd.DataFrame:
        curve = pd.read_csv(path).drop(columns=["objects"], errors="ignore")
        curve.insert(0, "policy", row.get("policy") or "sam2")
        curve.insert(0, "mode", row.get("mode"))
        return curve

    columns = ["mode", "policy", "annotated_frames", "J-Mean", "F-Mean", "J&F-Mean"]
    return _tidy(run_dirs, "pvs", "pvs_curve.csv", read, columns)
