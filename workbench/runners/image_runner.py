"""Interactive image benchmark runner: simulated clicks and box prompts → run folder.

Writes ``run_card.json``, ``per_image.csv`` (IoU and Dice after each of the first 5 clicks,
NoC@85/90, box-prompt IoU, Dice and pixel accuracy; timing column ``latency_ms`` last), ``clicks.json`` (every click and
IoU, per image), ``click_curve.csv`` (mIoU after k clicks, most-confident and oracle
best-of-3), ``summary.json``, ``items.jsonl`` (one record per image, see
:mod:`workbench.runners.items`) and ``execution.json`` (sessions: executor, workers, wall time).

Each image is one task run by an executor (in process, or on Ray workers); an interrupted run
continues with ``resume=True`` (see :mod:`workbench.runners.runlog`).

Item sources: the image sets of :data:`workbench.io.datasets.IMAGE_SETS`, ``"samples"``, and the
medical object sets of :mod:`workbench.io.medical`: ``"sammed2d_ct"`` (alias ``"ct_structures"``,
one item per CT organ mask, :func:`~workbench.io.medical.load_ct_structures`) and
``"stardist_nuclei"`` (alias ``"nuclei"``, one item per nucleus,
:func:`~workbench.io.medical.load_nuclei_instances`). The run card stores the canonical name.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from ..io.datasets import IMAGE_SETS, SAMPLE_SET, load_image_set
from ..io.medical import load_ct_structures, load_nuclei_instances
from ..protocols.clicks import miou_curve, summarize_click_runs
from .card import RunCard, write_json
from .executors import BackendSpec, Executor
from .items import ImageTask, check_corruption, click_run, clicks_log, corruption_params, image_rows
from .runlog import RunPlan, run_items

DATASET_ALIASES = {"ct_structures": "sammed2d_ct", "nuclei": "stardist_nuclei"}
"""Other names accepted for the medical object sets (value: the canonical name in run cards)."""
OBJECT_SETS = ("sammed2d_ct", "stardist_nuclei")
"""Image sources beyond :data:`IMAGE_SETS` (loaded through :mod:`workbench.io.medical`)."""


def image_datasets() -> list[str]:
    """Every ``dataset`` name :func:`run_image_benchmark` accepts (canonical names, then aliases)."""
    return [*IMAGE_SETS, *OBJECT_SETS, SAMPLE_SET, *DATASET_ALIASES]


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
    if name == "sammed2d_ct":
        return name, load_ct_structures(data_root, subset)
    if name == "stardist_nuclei":
        return name, load_nuclei_instances(data_root, subset=subset)
    if name not in IMAGE_SETS and name != SAMPLE_SET:
        raise UnknownNameError("image dataset", dataset, image_datasets())
    return name, load_image_set(name, data_root, subset)


def _assemble(task: ImageTask, run_dir: Path, card: RunCard, records: list[dict]) -> None:
    """Write the run files from the image records (dataset order)."""
    max_clicks = task.max_clicks
    runs = [click_run(rec, max_clicks, task.stop_at_iou) for rec in records]
    table = pd.DataFrame(image_rows(records, runs, task))
    table.to_csv(run_dir / "per_image.csv", index=False)
    write_json(run_dir / "clicks.json", clicks_log(records))
    ks = [k for k in (1, 3, 5) if k <= max_clicks]
    summary = {k: float(v) for k, v in summarize_click_runs(runs, thresholds=(0.85, 0.90), ks=ks, max_clicks=max_clicks).items()}
    for k in ks:
        summary[f"mDice@{k}"] = float(table[f"Dice@{k}"].mean())
    curve_df = pd.DataFrame({"clicks": np.arange(1, max_clicks + 1), "mIoU": miou_curve(runs, max_clicks),
                             "oracle-mIoU": miou_curve(runs, max_clicks, oracle=True)})
    curve_df.to_csv(run_dir / "click_curve.csv", index=False)
    if task.box_prompt:
        summary["box-mIoU"] = float(table["box-IoU"].mean())
        summary["box-mDice"] = float(table["box-Dice"].mean())
        summary["box-mPA"] = float(table["box-PA"].mean())
    summary.update({"images": len(records), "dataset": task.dataset, "label": card.label,
                    "untrained": card.untrained, "latency_ms": float(table["latency_ms"].mean())})
    if task.corruption is not None:
        summary.update(corruption=task.corruption, severity=int(task.severity))
    write_json(run_dir / "summary.json", summary)


def run_image_benchmark(backend: str = "classical", model: str | None = None, checkpoint: str | None = None,
                        image_size: int = 1024, device: str = "cpu", dataset: str = "grabcut",
                        data_root: str | Path | None = None, subset: int | list[str] | None = None,
                        max_clicks: int = 20, multimask: str = "first", box_prompt: bool = True,
                        stop_at_iou: float | None = None, save_masks: bool = False, overlay_clicks: int = 5,
                        smoke: bool = False, run_id: str | None = None,
                        reports_root: str | Path | None = None, seed: int = 0, progress: bool = True,
                        executor: str | Executor = "local", num_workers: int = 2, resume: bool = False,
                        corruption: str | None = None, severity: int = 0) -> Path:
    """Run the RITM click protocol (and a GT-box prompt) over an image set.

    Parameters
    ----------
    backend, model, checkpoint, image_size, device
        Passed to :func:`workbench.backends.make_image_backend` (in every worker).
    dataset : str
        Image set name (``grabcut``, ``coco_mval``, ``davis345``, medical sets, ``samples``), or
        a medical object set: ``sammed2d_ct`` / ``ct_structures`` (CT organs),
        ``stardist_nuclei`` / ``nuclei`` (see :func:`image_datasets`).
    subset : int or list of str, optional
        First N images or explicit ids.
    max_clicks : int
        Clicks per image (NoC is capped at this; RITM uses 20).
    multimask : {"first", "always", "never"}
        When to ask for 3 candidates (see :func:`run_click_protocol`).
    box_prompt : bool
        Also score one prompt with the ground-truth bounding box (XYXY).
    stop_at_iou : float, optional
        Stop clicking an image once its IoU reaches this (faster; later IoUs carried forward).
    save_masks : bool
        Write the mask after ``overlay_clicks`` clicks to ``masks/<item>.png`` (for overlays).
    smoke : bool
        Quick run: at most 5 images and 5 clicks (unless given explicitly).
    executor : {"local", "ray"} or Executor
        Where images run: in this process, or on ``num_workers`` Ray actors (one model each;
        one GPU each when the device is CUDA). Results do not depend on it.
    num_workers : int
        Ray workers.
    resume : bool
        Continue the run ``run_id`` (its finished images are kept); its settings must equal
        these. Without a run card under ``run_id`` a new run starts.
    corruption : str, optional
        Robustness runs: one of ``workbench.io.corruptions.CORRUPTIONS`` (``gaussian_noise``,
        ``gaussian_blur``, ``jpeg``, ``low_contrast``, ``occluder``) applied to every image before
        the backend sees it (the ground truth and the simulated clicks' target are unchanged).
        Seeded per image by ``items.corruption_seed(seed, item_id)``. Stored in the run card
        params (with ``severity``), so a resume must give the same.
    severity : int
        Corruption severity 1..5 (ImageNet-C style levels); 0 with a corruption is the identity.

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
    if smoke:
        subset = 5 if subset is None else subset
        max_clicks = min(max_clicks, 5)
    dataset, items = load_image_items(dataset, data_root, subset)
    params = {"max_clicks": max_clicks, "multimask": multimask, "box_prompt": box_prompt,
              "stop_at_iou": stop_at_iou, "subset": subset, "save_masks": save_masks,
              "overlay_clicks": overlay_clicks, "smoke": smoke, **corruption_params(corruption, severity)}
    task = ImageTask(dataset, max_clicks, multimask, box_prompt, stop_at_iou, save_masks, overlay_clicks, "",
                     corruption, severity, seed)
    tag = "" if corruption is None else f"-{corruption}{severity}"
    plan = RunPlan(
        kind="image", spec=BackendSpec("image", backend, model, checkpoint, device, image_size), items=items,
        names=[i.item_id for i in items], dataset=dataset, params=params, seed=seed,
        make_task=lambda run_dir: ImageTask(dataset, max_clicks, multimask, box_prompt, stop_at_iou, save_masks,
                                            overlay_clicks, run_dir, corruption, severity, seed),
        prefix=lambda info: f"img-{info.backend}-{info.model}{tag}",
        desc=lambda info: f"{dataset} {info.model}",
    )
    return run_items(plan, partial(_assemble, task), run_id=run_id, reports_root=reports_root, executor=executor,
                     num_workers=num_workers, resume=resume, progress=progress)
