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

The run is described by a :class:`~workbench.protocols.specs.VolumeRunSpec` (stored in the run
card as ``spec``) and executed as :class:`~workbench.runners.options.ExecutionOptions` say; each
volume is one :class:`VolumeTask` (:meth:`VolumeTask.from_spec`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from ..io.label_maps import merge_object_masks
from ..io.medical import load_volumes
from ..protocols.specs import VolumeRunSpec
from ..protocols.volumes import run_volume_protocol
from .card import RunCard, write_json
from .items import _clicks_json, _floats, _write_sequence_masks
from .options import ExecutionOptions, bind_settings
from .runlog import RunPlan, run_items

VOLUME_COLUMNS = (
    "id",
    "prompt",
    "prompt_slice",
    "num_slices",
    "tracked_slices",
    "dice_3d",
    "iou_3d",
    "prompt_slice_dice",
    "gt_volume_mm3",
    "pred_volume_mm3",
    "seconds",
    "propagate_seconds",
    "slices_per_s",
)
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

    @classmethod
    def from_spec(cls, spec: VolumeRunSpec, run_dir: str | Path) -> VolumeTask:
        """The task of every volume of the run ``spec`` writing into ``run_dir``."""
        return cls(
            prompt=spec.prompt,
            prompt_slice=spec.prompt_slice,
            max_frame_num_to_track=spec.max_frame_num_to_track,
            window=spec.window,
            save_masks=spec.save_masks,
            run_dir=str(run_dir),
        )

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
        run = run_volume_protocol(
            backend,
            item,
            prompt=self.prompt,
            prompt_slice=self.prompt_slice,
            window=None if self.window is None else (self.window[0], self.window[1]),
            max_frame_num_to_track=self.max_frame_num_to_track,
        )
        masks = None
        if self.save_masks:
            masks = f"masks/{item.id}"
            # one object (id 1) per volume; the shared merge rule writes it as the VOS runner would
            _write_sequence_masks(Path(self.run_dir) / masks, merge_object_masks({1: run.pred}))
        result = {
            "prompt_slice": int(run.prompt_slice),
            "num_slices": run.num_slices,
            "dice_3d": float(run.dice_3d),
            "iou_3d": float(run.iou_3d),
            "per_slice_dice": _floats(run.per_slice_dice),
            "gt_volume_mm3": float(run.gt_volume_mm3),
            "pred_volume_mm3": float(run.pred_volume_mm3),
            "spacing": _floats(run.spacing),
            "forward_slices": [int(z) for z in run.forward_slices],
            "backward_slices": [int(z) for z in run.backward_slices],
            "prompt_clicks": _clicks_json(run.prompt_clicks),
            "masks": masks,
        }
        timing = {
            "seconds": float(run.seconds),
            "propagate_seconds": float(run.propagate_seconds),
            "slices_per_s": float(run.slices_per_second),
            "item_wall_s": time.perf_counter() - t0,
            "worker_pid": os.getpid(),
        }
        return {"kind": "volume", "item": item.id, "result": result, "timing": timing}


def _assemble(spec: VolumeRunSpec, run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the volume records (dataset order)."""
    prompt = spec.prompt
    rows = []
    for rec in records:
        r, t = rec["result"], rec["timing"]
        rows.append(
            {
                "id": rec["item"],
                "prompt": prompt,
                "prompt_slice": r["prompt_slice"],
                "num_slices": r["num_slices"],
                "tracked_slices": len(set(r["forward_slices"]) | set(r["backward_slices"])),
                "dice_3d": r["dice_3d"],
                "iou_3d": r["iou_3d"],
                "prompt_slice_dice": r["per_slice_dice"][r["prompt_slice"]],
                "gt_volume_mm3": r["gt_volume_mm3"],
                "pred_volume_mm3": r["pred_volume_mm3"],
                "seconds": t["seconds"],
                "propagate_seconds": t["propagate_seconds"],
                "slices_per_s": t["slices_per_s"],
            }
        )
    table = pd.DataFrame(rows, columns=list(VOLUME_COLUMNS))
    table.to_csv(run_dir / "volumes.csv", index=False)
    write_json(run_dir / "per_slice.json", {rec["item"]: rec["result"]["per_slice_dice"] for rec in records})
    slices = sum(len(rec["result"]["forward_slices"]) + len(rec["result"]["backward_slices"]) for rec in records)
    seconds = sum(rec["timing"]["propagate_seconds"] for rec in records)
    summary = {
        "mDice-3D": float(table["dice_3d"].mean()),
        "mIoU-3D": float(table["iou_3d"].mean()),
        "mPromptSliceDice": float(table["prompt_slice_dice"].mean()),
        "volumes": len(records),
        "dataset": card.dataset,
        "prompt": prompt,
        "label": card.label,
        "untrained": card.untrained,
        "slices_per_s": slices / seconds if seconds > 0 else float("nan"),
    }
    write_json(run_dir / "summary.json", summary)


def run_volume_benchmark(
    spec: VolumeRunSpec | None = None, options: ExecutionOptions | None = None, **settings
) -> Path:
    """Segment 3-D volumes as slice sequences with a video backend and write a run folder.

    Parameters
    ----------
    spec : VolumeRunSpec, optional
        What to compute: video backend (SAM v1 has none), volumes, prompt and prompt slice,
        slices tracked, intensity window, seed (see
        :class:`~workbench.protocols.specs.VolumeRunSpec` for every field). Default
        ``VolumeRunSpec()`` (classical backend, mask prompt on the largest slice).
    options : ExecutionOptions, optional
        How to run it: executor, workers, run folder, ``resume``, progress bar, ``data_root``
        (holding ``medical/mri_volumes``; see :class:`~workbench.runners.options.ExecutionOptions`).
    **settings
        Convenience for flat keyword calls, e.g. ``run_volume_benchmark(backend="sam2",
        volumes=1, prompt="box", run_id="x")``: names of ``VolumeRunSpec`` (and of its
        ``backend_request``) replace those of ``spec``, names of ``ExecutionOptions`` those of
        ``options`` (see :func:`~workbench.runners.options.bind_settings`).

    Resume works as in :func:`workbench.runners.run_vos_benchmark` (same checks).

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError
        Unknown ``prompt``, ``prompt_slice`` name or setting name.
    DatasetNotFoundError, CheckpointError, BackendError, DataError, PromptError
    ConfigError
        ``resume`` without ``run_id``, settings differing from the run being resumed, or a
        ``spec`` that is not a VolumeRunSpec.
    """
    spec, options = bind_settings(VolumeRunSpec, spec, options, settings, "run_volume_benchmark")
    volumes = list(spec.volumes) if isinstance(spec.volumes, tuple) else spec.volumes
    items = load_volumes(options.data_root, volumes)
    plan = RunPlan(
        spec=spec,
        items=items,
        names=[i.id for i in items],
        make_task=partial(VolumeTask.from_spec, spec),
        prefix=lambda info: f"vol-{info.backend}-{info.model}",
        desc=lambda info: f"volumes {info.model} ({spec.prompt})",
    )
    return run_items(plan, partial(_assemble, spec), options)


__all__ = ["VOLUME_COLUMNS", "VolumeTask", "run_volume_benchmark"]
