"""Promptable video segmentation (PVS) runner: the SAM 2 paper's interactive protocol over
DAVIS-format sequences → run folder.

Every object of every sequence is annotated by the simulated user, frame by frame, offline or
online (:mod:`workbench.protocols.pvs`), and J&F is recorded after each of 1 .. N annotated
frames. Writes:

* ``run_card.json`` (kind ``"pvs"``, the :class:`~workbench.protocols.specs.PVSRunSpec` as
  ``spec``), ``items.jsonl`` (one record per sequence) and ``execution.json``;
* ``pvs_curve.csv``: the dataset curve, one row per number of annotated frames k:
  ``annotated_frames``, ``J-Mean``, ``F-Mean`` (means over all objects), ``J&F-Mean``;
* ``pvs_video_curves.csv``: the same per sequence (means over its objects);
* ``pvs_objects.csv``: one row per object: ``J&F@1`` … ``J&F@N``, ``J&F-avg`` (their mean),
  ``rounds`` (interactions made), ``clicks``, ``frames`` (annotated frames in order,
  ``;``-separated); timing columns ``interact_s``, ``propagate_s`` last;
* ``pvs_rounds.csv``: one row per interaction: the frame, its clicks (total and positive), J of
  that frame before and after the clicks, the object's J&F after the propagation; timing
  columns ``interact_s``, ``propagate_s``, ``frames_tracked``, ``FPS`` last;
* ``summary.json``: ``J&F@1`` … ``J&F@N`` and ``J&F-avg`` (the SAM 2 paper's summary: the mean
  J&F over 1 .. N annotated frames), ``J-avg``, ``F-avg``, ``mode``, ``objects``,
  ``sequences``, ``clicks``, ``annotated_frames`` (mean per object) and the timing means
  ``seconds_per_round`` and ``FPS`` (frames / propagation seconds);
* with ``save_masks``, every object's final masks as ``masks/<seq>/<obj_id:03d>/%05d.png``.

Each sequence is one :class:`PVSTask`, run by an executor (in process or on Ray workers); an
interrupted run continues with ``resume=True`` or :func:`workbench.runners.resume_run`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.datasets import load_davis
from ..protocols.pvs import PVSSettings, run_pvs_sequence
from ..protocols.specs import PVSRunSpec
from .card import RunCard, write_json
from .items import _clicks_json, _floats, load_clip, write_object_masks
from .options import ExecutionOptions, bind_settings
from .runlog import RunPlan, run_items

__all__ = ["PVSTables", "PVSTask", "pvs_tables", "run_pvs_benchmark"]


@dataclass(frozen=True)
class PVSTask:
    """One DAVIS sequence under the PVS protocol (see :func:`run_pvs_sequence`).

    Attributes
    ----------
    settings : PVSSettings
        Mode, annotated frames, clicks per frame, online threshold, scored frames.
    max_frames : int or None
        Keep only the first N frames.
    save_masks : bool
        Write every object's final masks under ``masks/<seq>/<obj_id:03d>/`` in ``run_dir``.
    run_dir : str
        The run folder (reachable by the worker at this path).
    """

    settings: PVSSettings
    max_frames: int | None
    save_masks: bool
    run_dir: str

    @classmethod
    def from_spec(cls, spec: PVSRunSpec, run_dir: str | Path) -> PVSTask:
        """The task of every sequence of the run ``spec`` writing into ``run_dir``."""
        return cls(spec.pvs_settings, spec.max_frames, spec.save_masks, str(run_dir))

    def __call__(self, backend, item) -> dict:
        """Run the sequence ``item`` (a :class:`~workbench.io.datasets.VideoItem`) on ``backend``.

        Returns
        -------
        dict
            ``result``: ``num_frames``, ``obj_ids``, ``masks`` (folder relative to the run
            folder, or None) and ``objects`` (obj id as str → ``first_frame``, ``frames``
            (annotated, in order), ``clicks`` (per round, row/col), ``J_before`` / ``J_after``
            (per round), ``J`` / ``F`` (J-Mean and F-Mean after k = 1 .. N annotated frames),
            ``frame_J`` (per round, J of every frame)); ``timing``: ``objects`` (obj id →
            ``interact_s``, ``propagate_s``, ``frames_tracked`` per round), ``item_wall_s``,
            ``worker_pid``.

        Raises
        ------
        DataError
            Frame/annotation mismatch, no object, too few frames (see :func:`run_pvs_sequence`).
        """
        t0 = time.perf_counter()
        frames, gt = load_clip(item, self.max_frames)
        run = run_pvs_sequence(backend, frames, gt, self.settings, item.name)
        masks = None
        if self.save_masks:
            masks = f"masks/{item.name}"
            write_object_masks(
                Path(self.run_dir) / masks, {o.obj_id: o.masks for o in run.objects if o.masks is not None}
            )
        objects, timing = {}, {}
        for o in run.objects:
            objects[str(o.obj_id)] = {
                "first_frame": int(o.first_frame),
                "frames": [int(f) for f in o.annotated_frames],
                "clicks": [_clicks_json(r.clicks) for r in o.rounds],
                "J_before": _floats(r.J_before for r in o.rounds),
                "J_after": _floats(r.J_after for r in o.rounds),
                "J": _floats(o.J),
                "F": _floats(o.F),
                "frame_J": [_floats(js) for js in o.frame_J],
            }
            timing[str(o.obj_id)] = {
                "interact_s": _floats(r.interact_s for r in o.rounds),
                "propagate_s": _floats(r.propagate_s for r in o.rounds),
                "frames_tracked": [int(r.frames_tracked) for r in o.rounds],
            }
        result = {
            "num_frames": run.num_frames,
            "obj_ids": [o.obj_id for o in run.objects],
            "objects": objects,
            "masks": masks,
        }
        times = {"objects": timing, "item_wall_s": time.perf_counter() - t0, "worker_pid": os.getpid()}
        return {"kind": "pvs", "item": item.name, "result": result, "timing": times}


def _jf(obj: dict) -> list[float]:
    return [(j + f) / 2.0 for j, f in zip(obj["J"], obj["F"])]


def _curve(objs: list[dict], n: int) -> dict[str, list[float]]:
    j = np.mean([o["J"] for o in objs], axis=0) if objs else np.full(n, np.nan)
    f = np.mean([o["F"] for o in objs], axis=0) if objs else np.full(n, np.nan)
    return {"J-Mean": j.tolist(), "F-Mean": f.tolist(), "J&F-Mean": ((j + f) / 2.0).tolist()}


def _curve_rows(curve: dict[str, list[float]], **extra) -> list[dict]:
    return [
        {**extra, "annotated_frames": k + 1, **{m: curve[m][k] for m in ("J-Mean", "F-Mean", "J&F-Mean")}}
        for k in range(len(curve["J&F-Mean"]))
    ]


@dataclass
class PVSTables:
    """The tables of a PVS run (see the module docstring for their columns).

    Attributes
    ----------
    curve, video_curves, objects, rounds : pandas.DataFrame
        ``pvs_curve.csv``, ``pvs_video_curves.csv``, ``pvs_objects.csv``, ``pvs_rounds.csv``.
    summary : dict
        The ``summary.json`` numbers.
    """

    curve: pd.DataFrame
    video_curves: pd.DataFrame
    objects: pd.DataFrame
    rounds: pd.DataFrame
    summary: dict

    FILES = ("curve", "video_curves", "objects", "rounds")
    """Table attributes written as ``pvs_<name>.csv``."""


def pvs_tables(records: list[dict], n: int) -> PVSTables:
    """The run tables of ordered PVS records with ``n`` points per curve."""
    all_objs, video_rows, object_rows, round_rows = [], [], [], []
    seconds = frames = 0.0
    round_seconds = []
    for rec in records:
        seq, r, t = rec["item"], rec["result"], rec["timing"]
        objs = [r["objects"][str(k)] for k in r["obj_ids"]]
        all_objs += objs
        video_rows += _curve_rows(_curve(objs, n), sequence=seq, objects=len(objs))
        for k in r["obj_ids"]:
            o, ot = r["objects"][str(k)], t["objects"][str(k)]
            jf = _jf(o)
            object_rows.append(
                {
                    "Sequence": f"{seq}_{k}",
                    "sequence": seq,
                    "obj_id": int(k),
                    **{f"J&F@{i + 1}": v for i, v in enumerate(jf)},
                    "J&F-avg": float(np.mean(jf)),
                    "rounds": len(o["frames"]),
                    "clicks": sum(len(c) for c in o["clicks"]),
                    "frames": ";".join(str(f) for f in o["frames"]),
                    "interact_s": float(sum(ot["interact_s"])),
                    "propagate_s": float(sum(ot["propagate_s"])),
                }
            )
            for i, frame in enumerate(o["frames"]):
                clicks, prop = o["clicks"][i], ot["propagate_s"][i]
                round_rows.append(
                    {
                        "sequence": seq,
                        "obj_id": int(k),
                        "round": i + 1,
                        "frame_idx": int(frame),
                        "clicks": len(clicks),
                        "positive_clicks": sum(bool(c["is_positive"]) for c in clicks),
                        "J_before": o["J_before"][i],
                        "J_after": o["J_after"][i],
                        "J&F-Mean": jf[i],
                        "interact_s": ot["interact_s"][i],
                        "propagate_s": prop,
                        "frames_tracked": ot["frames_tracked"][i],
                        "FPS": ot["frames_tracked"][i] / prop if prop > 0 else float("nan"),
                    }
                )
                round_seconds.append(ot["interact_s"][i] + prop)
                seconds += prop
                frames += ot["frames_tracked"][i]
    curve = _curve(all_objs, n)
    objects = pd.DataFrame(object_rows)
    summary: dict = {f"J&F@{k + 1}": v for k, v in enumerate(curve["J&F-Mean"])}
    summary.update(
        {
            "J&F-avg": float(np.mean(curve["J&F-Mean"])),
            "J-avg": float(np.mean(curve["J-Mean"])),
            "F-avg": float(np.mean(curve["F-Mean"])),
            "objects": len(all_objs),
            "sequences": len(records),
            "clicks": int(objects["clicks"].sum()) if len(objects) else 0,
            "annotated_frames": float(objects["rounds"].mean()) if len(objects) else float("nan"),
            "seconds_per_round": float(np.mean(round_seconds)) if round_seconds else float("nan"),
            "FPS": frames / seconds if seconds > 0 else float("nan"),
        }
    )
    return PVSTables(
        curve=pd.DataFrame(_curve_rows(curve, objects=len(all_objs))),
        video_curves=pd.DataFrame(video_rows),
        objects=objects,
        rounds=pd.DataFrame(round_rows),
        summary=summary,
    )


def _assemble(spec: PVSRunSpec, run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the sequence records (dataset order)."""
    n = spec.pvs_settings.max_annotated_frames
    tables = pvs_tables(records, n)
    for name in PVSTables.FILES:
        getattr(tables, name).to_csv(run_dir / f"pvs_{name}.csv", index=False)
    summary = {
        **tables.summary,
        "mode": spec.mode,
        "max_annotated_frames": n,
        "clicks_per_frame": spec.clicks_per_frame,
        "label": card.label,
        "untrained": card.untrained,
    }
    if spec.mode == "online":
        summary["iou_threshold"] = spec.iou_threshold
    write_json(run_dir / "summary.json", summary)


def run_pvs_benchmark(spec: PVSRunSpec | None = None, options: ExecutionOptions | None = None, **settings) -> Path:
    """Run the PVS protocol (SAM 2's interactive video evaluation) over DAVIS sequences and
    write a run folder.

    Parameters
    ----------
    spec : PVSRunSpec, optional
        What to compute: video backend (and tracking policy, SAM 2 memory settings),
        sequences, frames, mode (offline / online), annotated frames, clicks per frame,
        threshold (see :class:`~workbench.protocols.specs.PVSRunSpec`). Default
        ``PVSRunSpec()`` (classical backend, offline, 8 frames, 3 clicks, every DAVIS sequence).
    options : ExecutionOptions, optional
        How to run it: executor, workers, run folder (``reports_root``, ``run_id``), ``resume``,
        progress bar, ``data_root`` (DAVIS root or a folder holding ``davis2016``).
    **settings
        Flat keyword settings, e.g. ``run_pvs_benchmark(backend="sam2", mode="online",
        sequences=2, run_id="x")``: names of ``PVSRunSpec`` (and of its ``backend_request``)
        replace those of ``spec``, names of ``ExecutionOptions`` those of ``options``.

    Resume works as in :func:`workbench.runners.run_vos_benchmark` (same checks). Results do
    not depend on the executor.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError, DatasetNotFoundError, CheckpointError, BackendError, DataError
        Also an unknown mode, policy or setting name.
    ConfigError
        ``resume`` without ``run_id``, settings differing from the run being resumed, bad
        protocol values, or a ``spec`` that is not a PVSRunSpec.
    """
    spec, options = bind_settings(PVSRunSpec, spec, options, settings, "run_pvs_benchmark")
    sequences = list(spec.sequences) if isinstance(spec.sequences, tuple) else spec.sequences
    items = load_davis(options.data_root, sequences)
    policy = "" if spec.policy == "sam2" else f"-{spec.policy}"
    plan = RunPlan(
        spec=spec,
        items=items,
        names=[i.name for i in items],
        make_task=partial(PVSTask.from_spec, spec),
        prefix=lambda info: f"pvs-{spec.mode}-{info.backend}-{info.model}{policy}",
        desc=lambda info: f"PVS {info.model} ({spec.mode})",
    )
    return run_items(plan, partial(_assemble, spec), options)
