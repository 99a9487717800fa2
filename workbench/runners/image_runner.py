"""Interactive image benchmark runner: simulated clicks and box prompts → run folder.

Writes ``run_card.json``, ``per_image.csv`` (IoU after each of the first clicks, NoC@85/90,
box-prompt IoU and Dice), ``clicks.json`` (every click and IoU, per image),
``click_curve.csv`` (mIoU after k clicks, most-confident and oracle best-of-3) and
``summary.json``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..backends import make_image_backend
from ..io.datasets import load_image_set
from ..io.images import write_palette_mask
from ..metrics.image import dice, iou
from ..protocols.clicks import miou_curve, run_click_protocol, summarize_click_runs
from .card import RunCard, new_run_dir, write_json


def _box_of(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float32)  # XYXY pixels


def run_image_benchmark(backend: str = "classical", model: str | None = None, checkpoint: str | None = None,
                        image_size: int = 1024, device: str = "cpu", dataset: str = "grabcut",
                        data_root: str | Path | None = None, subset: int | list[str] | None = None,
                        max_clicks: int = 20, multimask: str = "first", box_prompt: bool = True,
                        stop_at_iou: float | None = None, save_masks: bool = False, overlay_clicks: int = 5,
                        smoke: bool = False, run_id: str | None = None,
                        reports_root: str | Path | None = None, seed: int = 0, progress: bool = True) -> Path:
    """Run the RITM click protocol (and a GT-box prompt) over an image set.

    Parameters
    ----------
    backend, model, checkpoint, image_size, device
        Passed to :func:`workbench.backends.make_image_backend`.
    dataset : str
        Image set name (``grabcut``, ``coco_mval``, ``davis345``, medical sets, ``samples``).
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

    Returns
    -------
    Path
        The run folder.
    """
    if smoke:
        subset = 5 if subset is None else subset
        max_clicks = min(max_clicks, 5)
    t0 = time.perf_counter()
    items = load_image_set(dataset, data_root, subset)
    ib = make_image_backend(backend, model=model, checkpoint=checkpoint, device=device, image_size=image_size)
    run_id, run_dir = new_run_dir(run_id, prefix=f"img-{ib.info.backend}-{ib.info.model}", root=reports_root)
    params = {"max_clicks": max_clicks, "multimask": multimask, "box_prompt": box_prompt,
              "stop_at_iou": stop_at_iou, "subset": subset,
              "overlay_clicks": overlay_clicks, "smoke": smoke}
    card = RunCard.from_model(run_id, "image", ib.info, dataset, [i.item_id for i in items], params, seed)
    card.write(run_dir)
    runs, rows, clicks_log = [], [], {}
    for item in tqdm(items, desc=f"{dataset} {ib.info.model}", disable=not progress):
        image, gt, ignore = item.load()
        run = run_click_protocol(ib, image, gt, ignore_mask=ignore, max_clicks=max_clicks, multimask=multimask,
                                 stop_at_iou=stop_at_iou, keep_mask_after=overlay_clicks if save_masks else None)
        if save_masks and run.kept_mask is not None:
            write_palette_mask(run_dir / "masks" / f"{item.item_id}.png", run.kept_mask.astype(np.uint8))
        runs.append(run)
        row = {"dataset": dataset, "item": item.item_id, "NoC@85": run.noc(0.85, max_clicks),
               "NoC@90": run.noc(0.90, max_clicks), "clicks": len(run.clicks),
               "latency_ms": 1000 * float(np.mean(run.latencies_s)) if run.latencies_s else float("nan")}
        for k in range(1, min(max_clicks, 5) + 1):
            row[f"IoU@{k}"] = run.iou_at(k)
        if box_prompt:
            pred = ib.predict(box=_box_of(gt), multimask_output=False)
            mask = pred.masks[pred.best()]
            row["box-IoU"] = iou(mask, gt, ignore=ignore)
            row["box-Dice"] = dice(mask, gt, ignore=ignore)
        rows.append(row)
        clicks_log[item.item_id] = {
            "clicks": [{"row": c.y, "col": c.x, "is_positive": c.is_positive} for c in run.clicks],
            "ious": [float(v) for v in run.ious], "oracle_ious": [float(v) for v in run.oracle_ious],
        }
    table = pd.DataFrame(rows)
    table.to_csv(run_dir / "per_image.csv", index=False)
    write_json(run_dir / "clicks.json", clicks_log)
    ks = [k for k in (1, 3, 5) if k <= max_clicks]
    summary = {k: float(v) for k, v in summarize_click_runs(runs, thresholds=(0.85, 0.90), ks=ks, max_clicks=max_clicks).items()}
    curve = miou_curve(runs, max_clicks)
    curve_df = pd.DataFrame({"clicks": np.arange(1, max_clicks + 1), "mIoU": curve,
                             "oracle-mIoU": miou_curve(runs, max_clicks, oracle=True)})
    curve_df.to_csv(run_dir / "click_curve.csv", index=False)
    if box_prompt:
        summary["box-mIoU"] = float(table["box-IoU"].mean())
        summary["box-mDice"] = float(table["box-Dice"].mean())
    summary.update({"images": len(items), "dataset": dataset, "label": card.label, "untrained": card.untrained,
                    "latency_ms": float(table["latency_ms"].mean())})
    write_json(run_dir / "summary.json", summary)
    card.wall_time_s = time.perf_counter() - t0
    card.status = "done"
    card.write(run_dir)
    return run_dir

