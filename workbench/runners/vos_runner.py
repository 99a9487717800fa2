"""Semi-supervised VOS benchmark runner: DAVIS-format data → run folder.

Writes ``run_card.json``, ``global_results.csv`` and ``per_sequence_results.csv`` (the
davis2017-evaluation layout), ``per_frame.json`` (J and F per frame per object),
``sequences.csv`` (per object: stats, frames; timing columns ``propagate_s`` and ``FPS``
last), ``summary.json`` (global J/F numbers, FPS, and ``G-PixelAcc``: the survey's global
accuracy G, §4.3.2, pooled over the scored pixels), ``items.jsonl`` (one record per sequence, see
:mod:`workbench.runners.items`), ``execution.json`` (sessions: executor, workers, wall time)
and, with ``save_masks``, ``masks/<seq>/%05d.png`` palette PNGs that ``workbench eval vos``
re-scores.

Each sequence is one task run by an executor (in process, or on Ray workers); an interrupted
run continues with ``resume=True`` (see :mod:`workbench.runners.runlog`).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UnknownNameError
from ..io.datasets import load_davis
from ..metrics.vos_eval import write_vos_csvs
from ..protocols.vos import VOS_PROMPTS
from .card import RunCard, write_json
from .executors import BackendSpec, Executor
from .items import VOSTask, check_corruption, corruption_params, vos_tables
from .runlog import RunPlan, run_items


def _assemble(run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the sequence records (dataset order)."""
    evaluation, rows, numbers = vos_tables(records)
    write_vos_csvs(evaluation, run_dir)
    columns = ["Sequence", "sequence", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay",
               "frames", "propagate_s", "FPS"]
    pd.DataFrame(rows, columns=columns).to_csv(run_dir / "sequences.csv", index=False)
    write_json(run_dir / "per_frame.json", {seq: {str(k): v for k, v in objs.items()}
                                            for seq, objs in evaluation.per_frame.items()})
    summary = {**numbers, "prompt": card.params["prompt"], "label": card.label, "untrained": card.untrained}
    if card.params.get("corruption") is not None:
        summary.update(corruption=card.params["corruption"], severity=int(card.params["severity"]))
    write_json(run_dir / "summary.json", summary)


def run_vos_benchmark(backend: str = "classical", model: str | None = None, checkpoint: str | None = None,
                      image_size: int = 1024, device: str = "cpu", dataset: str = "davis", data_root: str | Path | None = None,
                      sequences: int | list[str] | None = None, max_frames: int | None = None,
                      prompt: str = "mask", n_clicks: int = 1, save_masks: bool = False, smoke: bool = False, run_id: str | None = None,
                      reports_root: str | Path | None = None, seed: int = 0, progress: bool = True,
                      executor: str | Executor = "local", num_workers: int = 2, resume: bool = False,
                      corruption: str | None = None, severity: int = 0) -> Path:
    """Run the semi-supervised VOS protocol over DAVIS sequences and write a run folder.

    Parameters
    ----------
    backend, model, checkpoint, image_size, device
        Passed to :func:`workbench.backends.make_video_backend` (in every worker).
    dataset : {"davis"}
        Dataset layout (DAVIS-format folders; DAVIS 2016/2017 or any data in that layout).
    data_root : path, optional
        DAVIS root or a folder holding ``davis2016``; default ``$WORKBENCH_DATA_DIR``.
    sequences : int or list of str, optional
        First N sequences of ``ImageSets/val.txt``, or names.
    max_frames : int, optional
        Use only the first N frames of each sequence (smoke runs).
    prompt : str
        One of ``mask``, ``box``, ``clicks1``, ``clicks3``, ``clicks5``, or ``clicks`` with
        ``n_clicks``.
    n_clicks : int
        Clicks per object when ``prompt="clicks"`` (1, 3 or 5).
    save_masks : bool
        Also write predicted palette PNGs under ``masks/``.
    smoke : bool
        Quick run: at most 2 sequences of at most 8 frames (unless given explicitly).
    executor : {"local", "ray"} or Executor
        Where sequences run: in this process, or on ``num_workers`` Ray actors (one model
        each; one GPU each when the device is CUDA). Results do not depend on it.
    num_workers : int
        Ray workers.
    resume : bool
        Continue the run ``run_id`` (its finished sequences are kept); its settings must equal
        these. Without a run card under ``run_id`` a new run starts.
    corruption : str, optional
        Robustness runs: one of ``workbench.io.corruptions.CORRUPTIONS`` applied to every frame
        (``corrupt_frames``: fresh noise per frame, a moving occluder) before the backend sees
        it; the first-frame prompt still comes from the clean ground truth. Seeded per sequence
        by ``items.corruption_seed(seed, sequence)``. Stored in the run card params (with
        ``severity``), so a resume must give the same.
    severity : int
        Corruption severity 1..5; 0 with a corruption is the identity.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError, DatasetNotFoundError, CheckpointError, DataError
        Also an unknown ``corruption``.
    ConfigError
        ``resume`` without ``run_id``, settings differing from the run being resumed, or a
        severity outside 0..5 (or given without a corruption).
    """
    corruption, severity = check_corruption(corruption, severity)
    if prompt == "clicks":
        prompt = f"clicks{n_clicks}"
    if smoke:
        sequences = 2 if sequences is None else sequences
        max_frames = 8 if max_frames is None else max_frames
    if dataset != "davis":
        raise UnknownNameError("video dataset layout", dataset, ["davis"])
    if prompt not in VOS_PROMPTS:
        raise UnknownNameError("VOS prompt", prompt, VOS_PROMPTS)
    items = load_davis(data_root, sequences)
    params = {"prompt": prompt, "max_frames": max_frames, "save_masks": save_masks, "sequences": sequences,
              "smoke": smoke, **corruption_params(corruption, severity)}
    tag = "" if corruption is None else f"-{corruption}{severity}"
    plan = RunPlan(
        kind="vos", spec=BackendSpec("video", backend, model, checkpoint, device, image_size), items=items,
        names=[i.name for i in items], dataset="davis", params=params, seed=seed,
        make_task=lambda run_dir: VOSTask(prompt, max_frames, save_masks, run_dir, corruption, severity, seed),
        prefix=lambda info: f"vos-{info.backend}-{info.model}{tag}",
        desc=lambda info: f"VOS {info.model} ({prompt})",
    )
    return run_items(plan, _assemble, run_id=run_id, reports_root=reports_root, executor=executor,
                     num_workers=num_workers, resume=resume, progress=progress)
