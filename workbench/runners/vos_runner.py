"""Semi-supervised VOS benchmark runner: DAVIS-format data → run folder.

Writes ``run_card.json``, ``global_results.csv`` and ``per_sequence_results.csv`` (the
davis2017-evaluation layout), ``per_frame.json`` (J and F per frame per object),
``sequences.csv`` (per object: stats, frames, FPS), ``summary.json`` and, with
``save_masks``, ``masks/<seq>/%05d.png`` palette PNGs that ``workbench eval vos`` re-scores.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..backends import make_video_backend
from ..errors import UnknownNameError
from ..io.datasets import load_davis
from ..io.images import write_palette_mask
from ..io.frames import FrameSource
from ..metrics.vos_eval import VOSEvaluation, write_vos_csvs
from ..protocols.vos import VOS_PROMPTS, run_vos_sequence
from .card import RunCard, new_run_dir, write_json



def run_vos_benchmark(backend: str = "classical", model: str | None = None, checkpoint: str | None = None,
                      image_size: int = 1024, device: str = "cpu", dataset: str = "davis", data_root: str | Path | None = None,
                      sequences: int | list[str] | None = None, max_frames: int | None = None,
                      prompt: str = "mask", n_clicks: int = 1, save_masks: bool = False, smoke: bool = False, run_id: str | None = None,
                      reports_root: str | Path | None = None, seed: int = 0, progress: bool = True) -> Path:
    """Run the semi-supervised VOS protocol over DAVIS sequences and write a run folder.

    Parameters
    ----------
    backend, model, checkpoint, image_size, device
        Passed to :func:`workbench.backends.make_video_backend`.
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

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError, DatasetNotFoundError, CheckpointError, DataError
    """
    if prompt == "clicks":
        prompt = f"clicks{n_clicks}"
    if smoke:
        sequences = 2 if sequences is None else sequences
        max_frames = 8 if max_frames is None else max_frames
    if dataset != "davis":
        raise UnknownNameError("video dataset layout", dataset, ["davis"])
    if prompt not in VOS_PROMPTS:
        raise UnknownNameError("VOS prompt", prompt, VOS_PROMPTS)
    t0 = time.perf_counter()
    items = load_davis(data_root, sequences)
    vb = make_video_backend(backend, model=model, checkpoint=checkpoint, device=device, image_size=image_size)
    run_id, run_dir = new_run_dir(run_id, prefix=f"vos-{vb.info.backend}-{vb.info.model}", root=reports_root)
    params = {"prompt": prompt, "max_frames": max_frames, "save_masks": save_masks, "sequences": sequences,
              "smoke": smoke}
    card = RunCard.from_model(run_id, "vos", vb.info, "davis", [i.name for i in items], params, seed)
    card.write(run_dir)
    rows, parts = [], []
    for item in tqdm(items, desc=f"VOS {vb.info.model} ({prompt})", disable=not progress):
        gt = item.load_annotations()
        frames = item.frames_dir
        if max_frames is not None and max_frames < gt.shape[0]:
            src = FrameSource(item.frames_dir)
            frames = [src[i] for i in range(max_frames)]
            gt = gt[:max_frames]
        run = run_vos_sequence(vb, frames, gt, prompt=prompt, sequence=item.name)
        parts.append(run.evaluation)
        for name, stats in run.evaluation.per_object.items():
            rows.append({"Sequence": name, "sequence": item.name, **stats, "frames": run.num_frames,
                         "propagate_s": run.propagate_seconds, "FPS": run.fps})
        if save_masks:
            for t, ids in enumerate(run.pred):
                write_palette_mask(run_dir / "masks" / item.name / f"{t:05d}.png", ids)
    evaluation = VOSEvaluation.merge(parts)
    write_vos_csvs(evaluation, run_dir)
    table = pd.DataFrame(rows)
    table.to_csv(run_dir / "sequences.csv", index=False)
    write_json(run_dir / "per_frame.json", {seq: {str(k): v for k, v in objs.items()}
                                            for seq, objs in evaluation.per_frame.items()})
    per_seq = table.drop_duplicates("sequence") if rows else table
    total_frames = int(per_seq["frames"].sum()) if rows else 0
    total_s = float(per_seq["propagate_s"].sum()) if rows else 0.0
    summary = {**evaluation.global_, "FPS": total_frames / total_s if total_s else float("nan"),
               "frames": total_frames, "objects": len(rows), "sequences": len(items), "prompt": prompt,
               "label": card.label, "untrained": card.untrained}
    write_json(run_dir / "summary.json", summary)
    card.wall_time_s = time.perf_counter() - t0
    card.status = "done"
    card.write(run_dir)
    return run_dir
