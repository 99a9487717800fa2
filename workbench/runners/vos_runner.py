"""Semi-supervised VOS benchmark runner: DAVIS-format data → run folder.

Writes ``run_card.json``, ``global_results.csv`` and ``per_sequence_results.csv`` (the
davis2017-evaluation layout), ``per_frame.json`` (J and F per frame per object),
``sequences.csv`` (per object: stats, frames; timing columns ``propagate_s`` and ``FPS``
last), ``summary.json`` (global J/F numbers, FPS, and ``G-PixelAcc``: the survey's global
accuracy G, §4.3.2, pooled over the scored pixels), ``items.jsonl`` (one record per sequence, see
:mod:`workbench.runners.items`), ``execution.json`` (sessions: executor, workers, wall time); detector-prompted runs
(``prompt="detector"``) add to ``summary.json`` ``detector`` (its noise or model),
``detector_mode``, ``detected-objects`` (objects made from detections), ``false-objects`` (those
matching no annotated object) and ``detections`` (boxes after the score threshold); text-prompted
runs (``prompt="text"``) add ``text_prompt``, ``concept-objects`` (instances found) and
``false-objects``; and, with ``save_masks``, ``masks/<seq>/%05d.png`` palette PNGs (objects merged with the lower
id on top, as SAM 2's ``tools/vos_inference.py``), or with ``per_object_png``
``masks/<seq>/<obj_id:03d>/%05d.png`` (0/1, one folder per object, the SA-V layout), that
``workbench eval vos`` re-scores (``--layout davis`` / ``per-object``).

The run is described by a :class:`~workbench.protocols.specs.VOSRunSpec` (stored in the run
card as ``spec``) and executed as :class:`~workbench.runners.options.ExecutionOptions` say. Each
sequence is one task (:meth:`VOSTask.from_spec <workbench.runners.items.VOSTask.from_spec>`) run
by an executor (in process, or on Ray workers); an interrupted run continues with
``resume=True`` or :func:`workbench.runners.resume_run` (see :mod:`workbench.runners.runlog`).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from ..io.datasets import load_davis
from ..metrics.vos_eval import write_vos_csvs
from ..protocols.specs import VOSRunSpec
from .card import RunCard, write_json
from .items import VOSTask, vos_tables
from .options import ExecutionOptions, bind_settings
from .runlog import RunPlan, run_items

__all__ = ["run_vos_benchmark"]


def _assemble(spec: VOSRunSpec, run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the sequence records (dataset order)."""
    evaluation, rows, numbers = vos_tables(records)
    write_vos_csvs(evaluation, run_dir)
    columns = [
        "Sequence",
        "sequence",
        "J-Mean",
        "J-Recall",
        "J-Decay",
        "F-Mean",
        "F-Recall",
        "F-Decay",
        "frames",
        "propagate_s",
        "FPS",
    ]
    pd.DataFrame(rows, columns=columns).to_csv(run_dir / "sequences.csv", index=False)
    write_json(
        run_dir / "per_frame.json",
        {seq: {str(k): v for k, v in objs.items()} for seq, objs in evaluation.per_frame.items()},
    )
    summary = {**numbers, "prompt": spec.prompt, "label": card.label, "untrained": card.untrained}
    if spec.corruption is not None:
        summary.update(corruption=spec.corruption, severity=int(spec.severity))
    if spec.detector is not None:  # what the detector did, over all sequences
        made = [rec["result"]["detector"] for rec in records]
        summary.update(
            {
                "detector": spec.detector.noise_label,
                "detector_mode": spec.detector.mode,
                "detected-objects": sum(d["objects"] for d in made),
                "false-objects": sum(d["unmatched"] for d in made),
                "detections": sum(d["detections"] for d in made),
            }
        )
    if spec.text_prompt is not None:  # what the concept prompt found, over all sequences
        found = [rec["result"]["concept"] for rec in records]
        summary.update(
            {
                "text_prompt": spec.text_prompt,
                "concept-objects": sum(c["objects"] for c in found),
                "false-objects": sum(c["unmatched"] for c in found),
            }
        )
    write_json(run_dir / "summary.json", summary)


def run_vos_benchmark(spec: VOSRunSpec | None = None, options: ExecutionOptions | None = None, **settings) -> Path:
    """Run the semi-supervised VOS protocol over DAVIS sequences and write a run folder.

    Parameters
    ----------
    spec : VOSRunSpec, optional
        What to compute: video backend, sequences, frames, first-frame prompt, corruption, seed
        (see :class:`~workbench.protocols.specs.VOSRunSpec` for every field). Default
        ``VOSRunSpec()`` (classical backend, mask prompt, every DAVIS sequence).
    options : ExecutionOptions, optional
        How to run it: executor, workers, run folder (``reports_root``, ``run_id``), ``resume``,
        progress bar, ``data_root`` (DAVIS root or a folder holding ``davis2016``; see
        :class:`~workbench.runners.options.ExecutionOptions`).
    **settings
        Convenience for flat keyword calls, e.g. ``run_vos_benchmark(backend="sam2",
        sequences=2, prompt="clicks", n_clicks=3, run_id="x")``: names of ``VOSRunSpec`` (and
        of its ``backend_request``) replace those of ``spec``, names of ``ExecutionOptions``
        those of ``options`` (see :func:`~workbench.runners.options.bind_settings`).

    With ``options.resume`` the run ``options.run_id`` is continued (its finished sequences
    are kept); its settings must equal the spec's. Without a run card under ``run_id`` a new
    run starts. Results do not depend on the executor.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError, DatasetNotFoundError, CheckpointError, DataError
        Also an unknown ``corruption``, prompt or setting name.
    ConfigError
        ``resume`` without ``run_id``, settings differing from the run being resumed, a
        severity outside 0..5 (or given without a corruption), or a ``spec`` that is not a
        VOSRunSpec.
    """
    spec, options = bind_settings(VOSRunSpec, spec, options, settings, "run_vos_benchmark")
    sequences = list(spec.sequences) if isinstance(spec.sequences, tuple) else spec.sequences
    items = load_davis(options.data_root, sequences)
    tag = spec.tag
    plan = RunPlan(
        spec=spec,
        items=items,
        names=[i.name for i in items],
        make_task=partial(VOSTask.from_spec, spec),
        prefix=lambda info: f"vos-{info.backend}-{info.model}{tag}",
        desc=lambda info: f"VOS {info.model} ({spec.prompt})",
    )
    return run_items(plan, partial(_assemble, spec), options)
