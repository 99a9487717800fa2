"""3-D volume benchmark runner: NIfTI volumes segmented as slice sequences → run folder.

Each volume of ``medical/mri_volumes`` (:func:`workbench.io.medical.load_volumes`) is played as a
video by a video backend: one slice is prompted from its ground truth (mask, box or 1/3/5
simulated clicks) and the object is propagated forward and backward from it
(:func:`workbench.protocols.volumes.run_volume_protocol`, the MedSAM2-style use of SAM 2 on
3-D scans the survey discusses in §5), then scored in 3-D.

Writes ``run_card.json`` (kind ``"volume"``), ``volumes.csv`` (one row per volume: prompt
slice, slices, 3-D Dice and IoU, Dice on the prompt slice, volumes in mm³; timing columns
``seconds``, ``propagate_seconds``, ``slices_per_s`` last), ``per_slice.json`` (volume id →
Dice of every slice), ``summary.json`` (``mDice-3D``, ``mIoU-3D`` means over volumes,
``slices_per_s``), ``items.jsonl`` and ``execution.json``; with ``save_masks`` the predicted
slices as ``masks/<id>/%05d.png`` (0/1 palette PNGs, slice order).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from ..io.medical import load_volumes
from ..protocols.volumes import PROMPT_SLICES, VOLUME_PROMPTS, run_volume_protocol
from .card import RunCard, write_json
from .executors import BackendSpec, Executor
from .items import _clicks_json, _floats, _write_sequence_masks
from .runlog import RunPlan, run_items

VOLUME_COLUMNS = ("id", "prompt", "prompt_slice", "num_slices", "tracked_slices", "dice_3d", "iou_3d",
                  "prompt_slice_dice", "gt_volume_mm3", "pred_volume_mm3", "seconds", "propagate_seconds",
                  "slices_per_s")
"""Columns of ``volumes.csv`` (the last three are timings)."""


@dataclass(frozen=True)
class VolumeTask:
    """One volume: prompt one slice, propagate both ways, score in 3-D.

    Attributes
    ----------
    prompt : str
        One of ``workbench.protocols.volumes.VOLUME_PROMPTS``.
    prompt_slice : str or int
        ``"largest"``, ``"middle"`` or a slice index (see ``choose_prompt_slice``).
    max_frame_num_to_track : int or None
        Most slices tracked on each side of the prompt slice (None: all).
    window : list of 2 floats or None
        Intensity window (volume units) for ``volume_to_frames``; None: 0.5-99.5 percentiles.
    save_masks : bool
        Write the predicted slices to ``masks/<id>/%05d.png``.
    run_dir : str
    """

    prompt: str
    prompt_slice: str | int
    max_frame_num_to_track: int | None
    window: tuple[float, float] | None
    save_masks: bool
    run_dir: str

    def __call__(self, backend, item) -> dict:
        """Run the volume ``item`` (:class:`~workbench.io.medical.VolumeItem`) on a video backend.

        Returns
        -------
        dict
            ``result``: ``prompt_slice``, ``num_slices``, ``dice_3d``, ``iou_3d``,
            ``per_slice_dice``, ``gt_volume_mm3``, ``pred_volume_mm3``, ``spacing`` (dz, dy, dx mm),
            ``forward_slices``, ``backward_slices``, ``prompt_clicks`` (row/col), ``masks``;
            ``timing``: ``seconds``, ``propagate_seconds``, ``slices_per_s``, ``item_wall_s``,
            ``worker_pid``.

        Raises
        ------
        DataError, PromptError, UnknownNameError
            As :func:`run_volume_protocol` raises them.
        """
        t0 = time.perf_counter()
        run = run_volume_protocol(backend, item, prompt=self.prompt, prompt_slice=self.prompt_slice,
                                  window=None if self.window is None else tuple(self.window),
                                  max_frame_num_to_track=self.max_frame_num_to_track)
        masks = None
        if self.save_masks:
            masks = f"masks/{item.id}"
            _write_sequence_masks(Path(self.run_dir) / masks, run.pred.astype(np.uint8))
        result = {
            "prompt_slice": int(run.prompt_slice), "num_slices": run.num_slices, "dice_3d": float(run.dice_3d),
            "iou_3d": float(run.iou_3d), "per_slice_dice": _floats(run.per_slice_dice),
            "gt_volume_mm3": float(run.gt_volume_mm3), "pred_volume_mm3": float(run.pred_volume_mm3),
            "spacing": _floats(run.spacing), "forward_slices": [int(z) for z in run.forward_slices],
            "backward_slices": [int(z) for z in run.backward_slices],
            "prompt_clicks": _clicks_json(run.prompt_clicks), "masks": masks,
        }
        timing = {"seconds": float(run.seconds), "propagate_seconds": float(run.propagate_seconds),
                  "slices_per_s": float(run.slices_per_second), "item_wall_s": time.perf_counter() - t0,
                  "worker_pid": os.getpid()}
        return {"kind": "volume", "item": item.id, "result": result, "timing": timing}


def _assemble(prompt: str, run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the volume records (dataset order)."""
    rows = []
    for rec in records:
        r, t = rec["result"], rec["timing"]
        rows.append({"id": rec["item"], "prompt": prompt, "prompt_slice": r["prompt_slice"],
                     "num_slices": r["num_slices"],
                     "tracked_slices": len(set(r["forward_slices"]) | set(r["backward_slices"])),
                     "dice_3d": r["dice_3d"], "iou_3d": r["iou_3d"],
                     "prompt_slice_dice": r["per_slice_dice"][r["prompt_slice"]],
                     "gt_volume_mm3": r["gt_volume_mm3"], "pred_volume_mm3": r["pred_volume_mm3"],
                     "seconds": t["seconds"], "propagate_seconds": t["propagate_seconds"],
                     "slices_per_s": t["slices_per_s"]})
    table = pd.DataFrame(rows, columns=list(VOLUME_COLUMNS))
    table.to_csv(run_dir / "volumes.csv", index=False)
    write_json(run_dir / "per_slice.json", {rec["item"]: rec["result"]["per_slice_dice"] for rec in records})
    slices = sum(len(rec["result"]["forward_slices"]) + len(rec["result"]["backward_slices"]) for rec in records)
    seconds = sum(rec["timing"]["propagate_seconds"] for rec in records)
    summary = {"mDice-3D": float(table["dice_3d"].mean()), "mIoU-3D": float(table["iou_3d"].mean()),
               "mPromptSliceDice": float(table["prompt_slice_dice"].mean()), "volumes": len(records),
               "dataset": card.dataset, "prompt": prompt, "label": card.label, "untrained": card.untrained,
               "slices_per_s": slices / seconds if seconds > 0 else float("nan")}
    write_json(run_dir / "summary.json", summary)


def run_volume_benchmark(backend: str = "classical", model: str | None = None, checkpoint: str | None = None,
                         image_size: int = 1024, device: str = "cpu", data_root: str | Path | None = None,
                         volumes: int | list[str] | None = None, prompt: str = "mask",
                         prompt_slice: str | int = "largest", max_frame_num_to_track: int | None = None,
                         window: tuple[float, float] | list[float] | None = None, save_masks: bool = False,
                         smoke: bool = False, run_id: str | None = None, reports_root: str | Path | None = None,
                         seed: int = 0, progress: bool = True, executor: str | Executor = "local",
                         num_workers: int = 2, resume: bool = False) -> Path:
    """Segment 3-D volumes as slice sequences with a video backend and write a run folder.

    Parameters
    ----------
    backend, model, checkpoint, image_size, device
        Passed to :func:`workbench.backends.make_video_backend` (in every worker); SAM v1
        (``"sam"``) has no video predictor.
    data_root : path, optional
        Data root holding ``medical/mri_volumes``; default ``$WORKBENCH_DATA_DIR``.
    volumes : int or list of str, optional
        First N volumes (sorted by id) or ids.
    prompt : {"mask", "box", "clicks1", "clicks3", "clicks5"}
        Prompt given on the prompt slice, made from its ground truth.
    prompt_slice : {"largest", "middle"} or int
        Slice to prompt (default: largest ground-truth area).
    max_frame_num_to_track : int, optional
        Most slices tracked on EACH side of the prompt slice (SAM 2's parameter); slices beyond
        stay empty and are scored as such. None: the whole volume.
    window : (lo, hi), optional
        Intensity window in the volume's units (e.g. Hounsfield units for CT); default the
        0.5 and 99.5 percentiles of each volume.
    save_masks : bool
        Write the predicted slices under ``masks/<id>/``.
    smoke : bool
        Quick run: 1 volume, at most 3 slices tracked each way (unless given explicitly).
    executor, num_workers, resume, run_id, reports_root, seed, progress
        As :func:`workbench.runners.run_vos_benchmark` (resume checks the same settings).

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError
        Unknown ``prompt`` or ``prompt_slice`` name.
    DatasetNotFoundError, CheckpointError, BackendError, DataError, PromptError
    ConfigError
        ``resume`` without ``run_id``, or settings differing from the run being resumed.
    """
    if prompt not in VOLUME_PROMPTS:
        raise UnknownNameError("volume prompt", prompt, VOLUME_PROMPTS)
    if isinstance(prompt_slice, str) and prompt_slice not in PROMPT_SLICES:
        raise UnknownNameError("prompt slice", prompt_slice, [*PROMPT_SLICES, "<slice index>"])
    if smoke:
        volumes = 1 if volumes is None else volumes
        max_frame_num_to_track = 3 if max_frame_num_to_track is None else max_frame_num_to_track
    items = load_volumes(data_root, volumes)
    win = None if window is None else [float(v) for v in window]
    params = {"prompt": prompt, "prompt_slice": prompt_slice, "max_frame_num_to_track": max_frame_num_to_track,
              "window": win, "volumes": volumes, "save_masks": save_masks, "smoke": smoke}
    plan = RunPlan(
        kind="volume", spec=BackendSpec("video", backend, model, checkpoint, device, image_size), items=items,
        names=[i.id for i in items], dataset="mri_volumes", params=params, seed=seed,
        make_task=lambda run_dir: VolumeTask(prompt, prompt_slice, max_frame_num_to_track,
                                             None if win is None else tuple(win), save_masks, run_dir),
        prefix=lambda info: f"vol-{info.backend}-{info.model}",
        desc=lambda info: f"volumes {info.model} ({prompt})",
    )
    return run_items(plan, lambda run_dir, card, records: _assemble(prompt, run_dir, card, records),
                     run_id=run_id, reports_root=reports_root, executor=executor, num_workers=num_workers,
                     resume=resume, progress=progress)


__all__ = ["VOLUME_COLUMNS", "VolumeTask", "run_volume_benchmark"]
