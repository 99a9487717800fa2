"""Interactive image benchmark runner: simulated clicks and box prompts → run folder.

Writes ``run_card.json``, ``per_image.csv`` (IoU and Dice after each of the first 5 clicks,
NoC@85/90, box-prompt IoU, Dice and pixel accuracy; timing column ``latency_ms`` last), ``clicks.json`` (every click and
IoU, per image), ``click_curve.csv`` (mIoU after k clicks, most-confident and oracle
best-of-3), ``summary.json``, ``items.jsonl`` (one record per image, see
:mod:`workbench.runners.items`) and ``execution.json`` (sessions: executor, workers, wall time).

The run is described by an :class:`~workbench.protocols.specs.ImageRunSpec` (stored in the run
card as ``spec``) and executed as :class:`~workbench.runners.options.ExecutionOptions` say. Each
image is one task (:meth:`ImageTask.from_spec <workbench.runners.items.ImageTask.from_spec>`) run
by an executor (in process, or on Ray workers); an interrupted run continues with
``resume=True`` or :func:`workbench.runners.resume_run` (see :mod:`workbench.runners.runlog`).

Item sources: the image sets of :data:`workbench.io.datasets.IMAGE_SETS`, ``"samples"``, and the
medical object sets of :mod:`workbench.io.medical`: ``"sammed2d_ct"`` (alias ``"ct_structures"``,
one item per CT organ mask, :func:`~workbench.io.medical.load_ct_structures`) and
``"stardist_nuclei"`` (alias ``"nuclei"``, one item per nucleus,
:func:`~workbench.io.medical.load_nuclei_instances`). The run card stores the canonical name.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from ..io.datasets import IMAGE_SETS, SAMPLE_SET, load_image_set
from ..io.medical import load_ct_structures, load_nuclei_instances
from ..protocols.clicks import miou_curve, summarize_click_runs
from ..protocols.specs import DATASET_ALIASES, OBJECT_SETS, ImageRunSpec, image_datasets
from .card import RunCard, write_json
from .items import ImageTask, click_run, clicks_log, image_rows
from .options import ExecutionOptions, bind_settings
from .runlog import RunPlan, run_items

__all__ = ["DATASET_ALIASES", "OBJECT_SETS", "image_datasets", "load_image_items", "run_image_benchmark"]


def load_image_items(dataset: str, data_root=None, subset=None) -> tuple[str, list]:
    """The canonical dataset name and its items (:class:`~workbench.io.datasets.ImageItem`).

    Parameters
    ----------
    dataset : str
        One of :func:`image_datasets`.
    data_root : path, optional
        Data root; default ``$WORKBENCH_DATA_DIR``.
    subset : int or list of str, optional
        First N items or explicit item ids (CT: ``"<slice>/<structure>_<k>"``, nuclei:
        ``"<image>/<id:04d>"``).

    Raises
    ------
    UnknownNameError
        Unknown dataset (the message lists :func:`image_datasets`) or item id.
    DatasetNotFoundError, DataError
        As the loaders raise them.
    """
    name = DATASET_ALIASES.get(dataset, dataset)
    if isinstance(subset, tuple):
        subset = list(subset)
    if name == "sammed2d_ct":
        return name, load_ct_structures(data_root, subset)
    if name == "stardist_nuclei":
        return name, load_nuclei_instances(data_root, subset=subset)
    if name not in IMAGE_SETS and name != SAMPLE_SET:
        raise UnknownNameError("image dataset", dataset, image_datasets())
    return name, load_image_set(name, data_root, subset)


def _assemble(spec: ImageRunSpec, run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the image records (dataset order)."""
    max_clicks = spec.max_clicks
    runs = [click_run(rec, max_clicks, spec.stop_at_iou) for rec in records]
    table = pd.DataFrame(image_rows(records, runs, spec))
    table.to_csv(run_dir / "per_image.csv", index=False)
    write_json(run_dir / "clicks.json", clicks_log(records))
    ks = [k for k in (1, 3, 5) if k <= max_clicks]
    summary: dict[str, Any] = {
        k: float(v)
        for k, v in summarize_click_runs(runs, thresholds=(0.85, 0.90), ks=ks, max_clicks=max_clicks).items()
    }
    for k in ks:
        summary[f"mDice@{k}"] = float(table[f"Dice@{k}"].mean())
    curve_df = pd.DataFrame(
        {
            "clicks": np.arange(1, max_clicks + 1),
            "mIoU": miou_curve(runs, max_clicks),
            "oracle-mIoU": miou_curve(runs, max_clicks, oracle=True),
        }
    )
    curve_df.to_csv(run_dir / "click_curve.csv", index=False)
    if spec.box_prompt:
        summary["box-mIoU"] = float(table["box-IoU"].mean())
        summary["box-mDice"] = float(table["box-Dice"].mean())
        summary["box-mPA"] = float(table["box-PA"].mean())
    if spec.text_prompt is not None:
        summary["text-mIoU"] = float(table["text-IoU"].mean())
        summary["text-best-mIoU"] = float(table["text-best-IoU"].mean())
        summary["text-instances"] = float(table["text-instances"].mean())
    summary.update(
        {
            "images": len(records),
            "dataset": spec.dataset,
            "label": card.label,
            "untrained": card.untrained,
            "latency_ms": float(table["latency_ms"].mean()),
        }
    )
    if spec.corruption is not None:
        summary.update(corruption=spec.corruption, severity=int(spec.severity))
    write_json(run_dir / "summary.json", summary)


def run_image_benchmark(spec: ImageRunSpec | None = None, options: ExecutionOptions | None = None, **settings) -> Path:
    """Run the RITM click protocol (and a GT-box prompt) over an image set.

    Parameters
    ----------
    spec : ImageRunSpec, optional
        What to compute: backend, dataset, items, clicks, prompts, corruption, seed (see
        :class:`~workbench.protocols.specs.ImageRunSpec` for every field). Default
        ``ImageRunSpec()`` (classical backend on GrabCut).
    options : ExecutionOptions, optional
        How to run it: executor, workers, run folder (``reports_root``, ``run_id``), ``resume``,
        progress bar, ``data_root`` (see :class:`~workbench.runners.options.ExecutionOptions`).
    **settings
        Convenience for flat keyword calls, e.g. ``run_image_benchmark(backend="sam2",
        dataset="grabcut", max_clicks=5, run_id="x")``: names of ``ImageRunSpec`` (and of its
        ``backend_request``: ``backend``, ``model``, ``checkpoint``, ``image_size``,
        ``device``) replace those of ``spec``, names of ``ExecutionOptions`` those of
        ``options`` (see :func:`~workbench.runners.options.bind_settings`).

    With ``options.resume`` the run ``options.run_id`` is continued (its finished images are
    kept); its settings must equal the spec's. Without a run card under ``run_id`` a new run
    starts. Results do not depend on the executor.

    Returns
    -------
    Path
        The run folder.

    Raises
    ------
    UnknownNameError, DatasetNotFoundError, CheckpointError, DataError
        Also an unknown ``corruption`` or setting name.
    ConfigError
        ``resume`` without ``run_id``, settings differing from the run being resumed, a
        severity outside 0..5 (or given without a corruption), or a ``spec`` that is not an
        ImageRunSpec.
    """
    spec, options = bind_settings(ImageRunSpec, spec, options, settings, "run_image_benchmark")
    _, items = load_image_items(spec.dataset, options.data_root, spec.subset)
    tag = spec.tag
    plan = RunPlan(
        spec=spec,
        items=items,
        names=[i.item_id for i in items],
        make_task=partial(ImageTask.from_spec, spec),
        prefix=lambda info: f"img-{info.backend}-{info.model}{tag}",
        desc=lambda info: f"{spec.dataset} {info.model}",
    )
    return run_items(plan, partial(_assemble, spec), options)
