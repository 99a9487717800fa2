"""Tables and figures built from run folders (used by the notebooks; no model calls).

Every figure is drawn from the files a runner wrote, never from typed numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..io.datasets import find_davis_root
from ..io.frames import FrameSource
from ..io.images import DAVIS_PALETTE, read_palette_mask
from ..io.label_maps import merge_object_masks
from .card import UNTRAINED_BANNER, read_run


def run_header(run_dir: str | Path) -> str:
    """Markdown describing a run (model, checkpoint, data, versions), with a loud banner
    when the weights were untrained."""
    card = read_run(run_dir)["card"]
    lines = []
    if card.get("untrained"):
        lines.append(f"> ## ⚠️ {UNTRAINED_BANNER}\n")
    sha = card.get("checkpoint_sha256", "none")
    lines += [
        f"**Run** `{card['run_id']}` — {card['kind']} benchmark, status {card.get('status')}, "
        f"wall time {card.get('wall_time_s', 0):.1f} s",
        "",
        "| field | value |",
        "|---|---|",
        f"| backend / model | {card['backend']} / {card['model']} |",
        f"| checkpoint | {card.get('checkpoint') or '—'} (sha256 `{sha[:16]}`) |",
        f"| image size / device / precision | {card['image_size']} / {card['device']} / {card.get('precision', '-')} |",
        *(
            [
                f"| SAM 2 video settings | preset `{card['backend_settings'].get('memory_preset')}`: "
                f"`{json.dumps(card['backend_settings'].get('video_settings', {}))}` |"
            ]
            if card.get("backend_settings")
            else []
        ),
        *([_detector_row(card["detector"])] if card.get("detector") else []),
        f"| dataset | {card['dataset']} ({len(card['items'])} items) |",
        f"| parameters | `{json.dumps(card.get('params', {}))}` |",
        f"| versions | {', '.join(f'{k} {v}' for k, v in card.get('versions', {}).items())} |",
        f"| git commit | `{card.get('git_commit')}` |",
    ]
    return "\n".join(lines)


def _detector_row(d: dict) -> str:
    """Table row of a detector-prompted run's detector (run card ``detector``)."""
    mode = d.get("mode")
    how = f"{mode}, every {d.get('detect_interval')} frames, new-object IoU < {d.get('iou_threshold')}"
    if mode == "per_frame":
        how = "per_frame (every frame's boxes alone)"
    weights = (
        f", weights `{d.get('weights')}` (sha256 `{str(d.get('weights_sha256'))[:16]}`)" if d.get("weights") else ""
    )
    return (
        f"| detector | {d.get('kind')}: {d.get('noise_label')}{weights} · {how} · score ≥ {d.get('score_threshold')} |"
    )


def vos_tables(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """``global`` (DAVIS global_results.csv, plus FPS) and ``sequences`` (per object) tables."""
    run_dir = Path(run_dir)
    glob = pd.read_csv(run_dir / "global_results.csv")
    summary = read_run(run_dir)["summary"]
    glob.insert(0, "model", summary.get("label", ""))
    glob["FPS"] = summary.get("FPS", np.nan)
    seq = pd.read_csv(run_dir / "sequences.csv")
    seq["J&F-Mean"] = (seq["J-Mean"] + seq["F-Mean"]) / 2
    return {"global": glob, "sequences": seq}


def plot_sequence_bars(run_dir: str | Path, ax=None):
    """Bar chart of per-object J&F-Mean (with J and F) for a VOS run."""
    seq = vos_tables(run_dir)["sequences"]
    ax = ax or plt.subplots(figsize=(8, 3.2))[1]
    x = np.arange(len(seq))
    ax.bar(x - 0.25, seq["J&F-Mean"], 0.25, label="J&F")
    ax.bar(x, seq["J-Mean"], 0.25, label="J")
    ax.bar(x + 0.25, seq["F-Mean"], 0.25, label="F")
    ax.set_xticks(x, seq["Sequence"], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_title(f"Per-sequence J&F — {read_run(run_dir)['summary'].get('label', '')}")
    ax.legend(ncols=3, fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_frame_curves(run_dir: str | Path, metric: str = "J", ax=None):
    """Per-frame J (or F) curves, one line per object (frames 1..n-2 as DAVIS scores them)."""
    per_frame = json.loads((Path(run_dir) / "per_frame.json").read_text())
    ax = ax or plt.subplots(figsize=(8, 3.2))[1]
    for seq, objs in per_frame.items():
        for obj_id, vals in objs.items():
            ax.plot(np.arange(1, len(vals[metric]) + 1), vals[metric], label=f"{seq}_{obj_id}")
    ax.set_xlabel("frame index")
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Per-frame {metric}")
    ax.legend(fontsize=7, ncols=3)
    ax.figure.tight_layout()
    return ax.figure


def overlay(image: np.ndarray, ids: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a ``(H, W)`` id mask in DAVIS palette colours over an ``(H, W, 3)`` uint8 image."""
    out = image.astype(np.float32).copy()
    fg = ids > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * DAVIS_PALETTE[ids[fg]].astype(np.float32)
    return out.astype(np.uint8)


def _saved_masks(folder: Path):
    """``(frames, id_map(t))`` of a sequence's saved masks: DAVIS id maps ``%05d.png``, or one
    folder per object (``<obj_id:03d>/%05d.png``, ``per_object_png``) merged with the lower id on
    top (:func:`workbench.io.label_maps.merge_object_masks`)."""
    objects = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    if not objects:
        files = sorted(folder.glob("*.png"))
        return len(files), lambda t: read_palette_mask(files[t])
    per_object = {int(p.name): sorted(p.glob("*.png")) for p in objects}
    n = min(len(f) for f in per_object.values())
    return n, lambda t: merge_object_masks({k: read_palette_mask(f[t]) > 0 for k, f in per_object.items()})


def plot_vos_overlays(run_dir: str | Path, data_root: str | Path | None = None, per_sequence: int = 3):
    """Qualitative grid: predicted masks (saved by the runner) over frames, first/middle/last."""
    run = read_run(run_dir)
    mask_root = Path(run_dir) / "masks"
    seqs = [s for s in run["card"]["items"] if (mask_root / s).is_dir()]
    if not seqs:
        return None
    root = find_davis_root(data_root)
    fig, axes = plt.subplots(len(seqs), per_sequence, figsize=(3 * per_sequence, 1.8 * len(seqs)), squeeze=False)
    for r, seq in enumerate(seqs):
        n, id_map = _saved_masks(mask_root / seq)
        frames_dir = root / "JPEGImages" / seq
        if not frames_dir.is_dir():
            frames_dir = root / "JPEGImages" / "480p" / seq
        src = FrameSource(frames_dir)
        for c, t in enumerate(np.linspace(0, n - 1, per_sequence).astype(int)):
            axes[r, c].imshow(overlay(src[t], id_map(t)))
            axes[r, c].set_title(f"{seq} #{t}", fontsize=8)
            axes[r, c].axis("off")
    fig.tight_layout()
    return fig


def image_tables(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """``summary`` (one row: mIoU@k, NoC, box IoU/Dice), ``per_image`` and ``curve`` tables."""
    run_dir = Path(run_dir)
    summary = read_run(run_dir)["summary"]
    keys = [k for k in summary if k.startswith(("mIoU", "oracle", "NoC", "box", ">="))]
    row = {"model": summary.get("label", ""), "dataset": summary.get("dataset", ""), **{k: summary[k] for k in keys}}
    return {
        "summary": pd.DataFrame([row]),
        "per_image": pd.read_csv(run_dir / "per_image.csv"),
        "curve": pd.read_csv(run_dir / "click_curve.csv"),
    }


def plot_click_curve(run_dirs, ax=None):
    """mIoU after k clicks for one or several image runs (dashed: oracle best-of-3)."""
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    for rd in run_dirs:
        t = image_tables(rd)
        label = f"{t['summary']['model'][0]} ({t['summary']['dataset'][0]})"
        (line,) = ax.plot(t["curve"]["clicks"], t["curve"]["mIoU"], marker="o", ms=3, label=label)
        if "oracle-mIoU" in t["curve"]:
            ax.plot(t["curve"]["clicks"], t["curve"]["oracle-mIoU"], ls="--", color=line.get_color())
    for thr in (0.85, 0.90):
        ax.axhline(thr, color="gray", lw=0.5, ls=":")
    ax.set_xlabel("number of clicks")
    ax.set_ylabel("mIoU")
    ax.set_ylim(0, 1)
    ax.set_title("k-click mIoU (dashed: oracle best-of-3)")
    ax.legend(fontsize=7)
    ax.figure.tight_layout()
    return ax.figure


def plot_image_overlays(run_dir: str | Path, data_root: str | Path | None = None, n: int = 4):
    """Qualitative grid: image, ground truth and the mask after the saved click count,
    with the clicks drawn (green positive, red negative)."""
    from ..io.datasets import load_image_set

    run = read_run(run_dir)
    mask_dir = Path(run_dir) / "masks"
    if not mask_dir.is_dir():
        return None
    clicks = json.loads((Path(run_dir) / "clicks.json").read_text())
    ids = [p.stem for p in sorted(mask_dir.glob("*.png"))][:n]
    items = load_image_set(run["card"]["dataset"], data_root, ids)
    fig, axes = plt.subplots(len(items), 2, figsize=(6, 2.4 * len(items)), squeeze=False)
    for r, item in enumerate(items):
        image, gt, _ = item.load()
        pred = read_palette_mask(mask_dir / f"{item.item_id}.png") > 0
        axes[r, 0].imshow(overlay(image, gt.astype(np.uint8)))
        axes[r, 0].set_title(f"{item.item_id}: ground truth", fontsize=8)
        axes[r, 1].imshow(overlay(image, pred.astype(np.uint8) * 2))
        k = int(run["card"]["params"].get("overlay_clicks", 5))
        for c in clicks[item.item_id]["clicks"][:k]:
            axes[r, 1].plot(c["col"], c["row"], "o", ms=5, color="lime" if c["is_positive"] else "red", mec="k")
        axes[r, 1].set_title(f"prediction after {k} clicks", fontsize=8)
        for a in axes[r]:
            a.axis("off")
    fig.tight_layout()
    return fig
