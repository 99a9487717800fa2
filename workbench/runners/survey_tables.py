"""Survey-style tables and figures built from the survey experiments' run folders.

Every number comes from the files the runners wrote (``run_card.json``, ``summary.json``,
``click_curve.csv``, ``pvs_curve.csv``) through :func:`workbench.runners.runs_index.load_runs`; nothing is typed
by hand or recomputed from masks. Rows are *methods*: the run card's label
(``backend/model``, with ``" (UNTRAINED)"`` when the weights were random), so untrained rows
are marked wherever they appear. When one method has several runs for the same cell (e.g. an
experiment folder re-run), the latest run (by start time) is shown.

Metric names are those of the run summaries: image runs ``mIoU@k`` / ``oracle-mIoU@k`` (IoU
after k clicks, most confident / best-of-3 mask), ``mDice@k``, ``NoC@85`` / ``NoC@90`` (clicks,
lower is better), ``box-mIoU`` / ``box-mDice`` / ``box-mPA`` (one GT box prompt); VOS runs
``J&F-Mean``, ``J-Mean``, ``J-Recall``, ``J-Decay``, ``F-*``, ``G-PixelAcc`` (the survey's G,
global pixel accuracy) and ``FPS``; volume runs ``mDice-3D``, ``mIoU-3D``, ``slices_per_s``.
Detector-prompted VOS runs (``prompt="detector"``) appear only in :func:`detector_noise_table`
(with ``detected-objects`` and ``false-objects``), never in the first-frame prompt tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..io.medical import MODALITIES
from ..protocols.detect import DETECTOR_PROMPT
from ..protocols.vos import VOS_PROMPTS
from .card import UNTRAINED_BANNER
from .runs_index import load_click_curves, load_pvs_curves, load_runs
from .survey import MEDICAL_SETS, NATURAL_SETS, experiment_runs, find_experiments, read_experiment

IMAGE_METRICS = (
    "mIoU@1",
    "mIoU@3",
    "mIoU@5",
    "oracle-mIoU@1",
    "oracle-mIoU@3",
    "oracle-mIoU@5",
    "NoC@85",
    "NoC@90",
    "box-mIoU",
    "box-mDice",
)
"""Metrics of the natural-image tables (survey Tables 2-3 style)."""
VOS_METRICS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay", "G-PixelAcc", "FPS")
VOLUME_METRICS = ("mDice-3D", "mIoU-3D", "mPromptSliceDice", "volumes", "slices_per_s")
LOWER_IS_BETTER = ("NoC@85", "NoC@90", "J-Decay", "F-Decay")

__all__ = [
    "IMAGE_METRICS",
    "LOWER_IS_BETTER",
    "VOLUME_METRICS",
    "VOS_METRICS",
    "card_family",
    "collect_runs",
    "degradation_table",
    "detector_noise_table",
    "domain_gap_table",
    "experiment_notes",
    "method_dataset_table",
    "metric_tables",
    "modality_table",
    "models_table",
    "plot_bars",
    "plot_click_curves",
    "plot_degradation",
    "plot_detector_noise",
    "plot_pvs_curves",
    "policy_metric_table",
    "policy_table",
    "pvs_table",
    "report_header",
    "run_index",
    "show",
    "untrained_banner",
    "volume_table",
    "vos_detail_table",
    "vos_prompt_table",
]


# --------------------------------------------------------------------------- loading
def collect_runs(
    experiments: Sequence[str | Path] | str | Path | None = None, reports_root: str | Path | None = None
) -> pd.DataFrame:
    """All runs of survey experiment folders, one row per run.

    Parameters
    ----------
    experiments : experiment folder(s), optional
        Default: the newest folder of each experiment under ``reports_root``
        (:func:`workbench.runners.survey.find_experiments`).

    Returns
    -------
    pandas.DataFrame
        :func:`load_runs` columns plus ``experiment`` (notebook name), ``method`` (the run
        card label), ``corruption`` (``"none"`` for clean runs), ``severity`` (int, 0 clean),
        ``checkpoint_sha256``. Empty when there is no run.

    Raises
    ------
    DataError
        A folder given is not an experiment folder.
    """
    if experiments is None:
        experiments = find_experiments(reports_root)
    elif isinstance(experiments, (str, Path)):
        experiments = [experiments]
    dirs, owner = [], {}
    for folder in experiments:
        name = read_experiment(folder)["experiment"]
        for rd in experiment_runs([folder]):
            dirs.append(rd)
            owner[Path(rd).resolve()] = name
    runs = load_runs(dirs)
    if runs.empty:
        return runs.assign(experiment=[], method=[], corruption=[], severity=[], checkpoint_sha256=[], family=[])
    cards = [json.loads((Path(d) / "run_card.json").read_text()) for d in runs["dir"]]
    runs = runs.drop(columns=[c for c in ("severity",) if c in runs])  # numeric summary copy; the card is the source
    runs["experiment"] = [owner.get(Path(d).resolve(), "?") for d in runs["dir"]]
    runs["method"] = runs["label"]
    runs["corruption"] = [c.get("params", {}).get("corruption") or "none" for c in cards]
    runs["severity"] = [int(c.get("params", {}).get("severity") or 0) for c in cards]
    runs["checkpoint_sha256"] = [c.get("checkpoint_sha256") for c in cards]
    runs["family"] = [card_family(c) for c in cards]
    return runs


def card_family(card: dict) -> str:
    """Model family of a run card: the backend's ``family`` (``"sam2.1"``, ``"sam2"``,
    ``"medsam2"``, ``"edgetam"``, ``"sam3"`` …), else the backend name (``"classical"``, ``"sam"``)."""
    extra = card.get("backend_extra") or {}
    return str(extra.get("family") or card.get("backend") or "?")


def _select(
    runs: pd.DataFrame, kind: str, clean: bool | None = True, experiment: str | None = None, detector: bool = False
) -> pd.DataFrame:
    """Runs of ``kind`` (clean ones only with ``clean``; of one experiment); VOS runs prompted by
    a detector only with ``detector``, the others only without."""
    sel = runs[runs["kind"] == kind] if len(runs) else runs
    if kind == "vos" and len(sel) and "prompt" in sel:
        sel = sel[(sel["prompt"] == DETECTOR_PROMPT) == detector]
    if clean is True:
        sel = sel[sel["corruption"] == "none"]
    if experiment is not None:
        sel = sel[sel["experiment"] == experiment]
    return sel


def _pivot(sel: pd.DataFrame, columns: str, metric: str, order: Sequence | None = None) -> pd.DataFrame:
    """Method × ``columns`` table of ``metric`` (latest run per cell; methods in run order)."""
    if sel.empty or metric not in sel:
        return pd.DataFrame()
    last = sel.groupby(["method", columns], sort=False).tail(1)
    table = last.pivot(index="method", columns=columns, values=metric)
    present = list(dict.fromkeys(last[columns]))
    cols = [c for c in (order or []) if c in present] + [c for c in present if c not in (order or [])]
    table = table.reindex(index=list(dict.fromkeys(sel["method"])), columns=cols)
    table.columns.name = columns
    return table


# --------------------------------------------------------------------------- image tables
def method_dataset_table(
    runs: pd.DataFrame,
    metric: str = "mIoU@1",
    kind: str = "image",
    datasets: Sequence[str] | None = None,
    experiment: str | None = None,
    mean: bool = True,
) -> pd.DataFrame:
    """Method × dataset table of one summary metric over clean runs (survey table layout).

    Parameters
    ----------
    runs : DataFrame from :func:`collect_runs`
    metric : str
        A summary key (e.g. ``mIoU@5``, ``NoC@90``, ``box-mDice``, ``J&F-Mean``).
    kind : {"image", "vos", "volume"}
    datasets : list of str, optional
        Column order (others follow).
    experiment : str, optional
        Only runs of this experiment notebook.
    mean : bool
        Add a ``mean`` column (over the datasets present) when there are several.

    Returns
    -------
    pandas.DataFrame
        Index ``method``, columns datasets; NaN where a method has no run.
    """
    table = _pivot(_select(runs, kind, True, experiment), "dataset", metric, datasets)
    if mean and table.shape[1] > 1:
        table["mean"] = table.mean(axis=1)
    table.attrs["metric"] = metric
    return table


def metric_tables(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    kind: str = "image",
    datasets: Sequence[str] | None = None,
    experiment: str | None = None,
) -> pd.DataFrame:
    """Several :func:`method_dataset_table` side by side: columns ``(metric, dataset)`` (with
    a ``mean`` column per metric when there are several datasets); metrics without any value
    are left out."""
    parts = {m: method_dataset_table(runs, m, kind, datasets, experiment) for m in metrics}
    parts = {m: t for m, t in parts.items() if not t.empty}
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, axis=1, names=["metric", "dataset"])
    table.index.name = "method"
    return table


def modality_table(runs: pd.DataFrame, metric: str = "box-mDice", experiment: str | None = None) -> pd.DataFrame:
    """Method × imaging modality (``workbench.io.medical.MODALITIES``): the mean of ``metric``
    over the 2-D medical sets of each modality (clean image runs)."""
    sel = _select(runs, "image", True, experiment)
    sel = sel[sel["dataset"].isin(MODALITIES)]
    if sel.empty or metric not in sel:
        return pd.DataFrame()
    last = sel.groupby(["method", "dataset"], sort=False).tail(1)
    last = last.assign(modality=last["dataset"].map(MODALITIES))
    table = last.groupby(["method", "modality"], sort=False)[metric].mean().unstack("modality")
    table = table.reindex(list(dict.fromkeys(sel["method"])))
    order = list(dict.fromkeys(MODALITIES[d] for d in MEDICAL_SETS))
    table = table[[c for c in order if c in table.columns]]
    table.attrs["metric"] = metric
    return table


def domain_gap_table(
    runs: pd.DataFrame,
    metrics: Sequence[str] = ("mIoU@5", "box-mDice"),
    natural: Sequence[str] = NATURAL_SETS,
    medical: Sequence[str] = MEDICAL_SETS,
) -> pd.DataFrame:
    """Natural vs medical gap per method (survey §5.1.1, domain adaptation).

    Returns
    -------
    pandas.DataFrame
        Index ``method``; columns ``(metric, "natural")`` (mean over the natural sets present),
        ``(metric, "medical")`` (mean over the medical sets present) and ``(metric, "gap")`` =
        natural − medical (positive: worse on medical images for IoU/Dice metrics).
    """
    parts = {}
    for metric in metrics:
        nat = method_dataset_table(runs, metric, datasets=natural, mean=False)
        med = method_dataset_table(runs, metric, datasets=medical, mean=False)
        nat = nat[[c for c in nat.columns if c in natural]].mean(axis=1) if not nat.empty else pd.Series(dtype=float)
        med = med[[c for c in med.columns if c in medical]].mean(axis=1) if not med.empty else pd.Series(dtype=float)
        parts[metric] = pd.DataFrame({"natural": nat, "medical": med}).assign(gap=lambda d: d["natural"] - d["medical"])
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, axis=1)
    table.index.name = "method"
    return table


def volume_table(runs: pd.DataFrame, metrics: Sequence[str] = VOLUME_METRICS) -> pd.DataFrame:
    """Method × 3-D metrics of the volume runs (slice propagation, 3-D Dice)."""
    sel = _select(runs, "volume", None)
    if sel.empty:
        return pd.DataFrame()
    last = sel.groupby(["method", "prompt"], sort=False).tail(1) if "prompt" in sel else sel
    cols = ["method", "prompt", *[m for m in metrics if m in last]]
    return last[cols].set_index(["method", "prompt"])


# --------------------------------------------------------------------------- video tables
def vos_prompt_table(runs: pd.DataFrame, metric: str = "J&F-Mean", experiment: str | None = None) -> pd.DataFrame:
    """Method × first-frame prompt (mask, box, clicks1/3/5) of one VOS metric (clean runs)."""
    table = _pivot(_select(runs, "vos", True, experiment), "prompt", metric, VOS_PROMPTS)
    table.attrs["metric"] = metric
    return table


def policy_table(
    runs: pd.DataFrame,
    metrics: Sequence[str] = ("J&F-Mean", "J-Recall", "F-Recall", "J-Decay", "F-Decay", "FPS"),
    experiment: str | None = None,
) -> pd.DataFrame:
    """(method, prompt, policy) × J&F-Mean, J/F recall and decay and FPS of the clean VOS runs
    (the tracking-policy comparison: sam2's own vs SAMURAI vs ...); the last run of each."""
    sel = _select(runs, "vos", True, experiment)
    if sel.empty:
        return pd.DataFrame()
    sel = sel.assign(policy=sel["policy"].fillna("sam2") if "policy" in sel else "sam2")
    last = sel.groupby(["method", "prompt", "policy"], sort=False).tail(1)
    return last.set_index(["method", "prompt", "policy"])[[m for m in metrics if m in last]]


def policy_metric_table(runs: pd.DataFrame, metric: str = "J&F-Mean", experiment: str | None = None) -> pd.DataFrame:
    """``"<method> · <prompt>"`` × tracking policy of one VOS metric (for :func:`plot_bars`)."""
    table = policy_table(runs, (metric,), experiment)
    if table.empty:
        return table
    wide = table[metric].unstack("policy")
    wide.index = [f"{method} · {prompt}" for method, prompt in wide.index]
    wide.attrs["metric"] = metric
    return wide


def pvs_table(
    runs: pd.DataFrame, experiment: str | None = None, extra: Sequence[str] = ("clicks", "annotated_frames")
) -> pd.DataFrame:
    """(method, policy, mode) × ``J&F@1`` … ``J&F@N`` and ``J&F-avg`` of the PVS runs (SAM 2's
    promptable video segmentation; the last run of each), plus the ``extra`` summary columns
    (clicks given, mean annotated frames per object)."""
    sel = runs[runs["kind"] == "pvs"] if len(runs) else runs
    if experiment is not None and len(sel):
        sel = sel[sel["experiment"] == experiment]
    if sel.empty:
        return pd.DataFrame()
    sel = sel.assign(policy=sel["policy"].fillna("sam2") if "policy" in sel else "sam2")
    last = sel.groupby(["method", "policy", "mode"], sort=False).tail(1)
    ks = sorted((c for c in last.columns if c.startswith("J&F@") and last[c].notna().any()), key=lambda c: int(c[4:]))
    return last.set_index(["method", "policy", "mode"])[[*ks, "J&F-avg", *[c for c in extra if c in last]]]


def vos_detail_table(
    runs: pd.DataFrame, metrics: Sequence[str] = VOS_METRICS, experiment: str | None = None
) -> pd.DataFrame:
    """(method, prompt) × J&F, J and F mean / recall / decay, the survey's G (pixel accuracy)
    and FPS of the clean VOS runs."""
    sel = _select(runs, "vos", True, experiment)
    if sel.empty:
        return pd.DataFrame()
    last = sel.groupby(["method", "prompt"], sort=False).tail(1)
    last = last.assign(prompt=pd.Categorical(last["prompt"], [p for p in VOS_PROMPTS if p in set(last["prompt"])]))
    last = last.sort_values(["prompt"], kind="stable")
    last = last.set_index(["method", "prompt"])[[m for m in metrics if m in last]]
    return last.sort_index(level=0, sort_remaining=False)


def detector_noise_table(
    runs: pd.DataFrame, metric: str = "J&F-Mean", experiment: str | None = "exp_video_prompts"
) -> pd.DataFrame:
    """GT-mask prompts vs detector prompts: (method, prompting mode) × detector noise of one
    VOS metric, from the detector-prompted runs (``prompt="detector"``) and the same method's
    ground-truth-mask run (clean runs).

    Parameters
    ----------
    metric : str
        A VOS summary key: ``J&F-Mean`` (default), ``J-Mean``, ``G-PixelAcc``, ``FPS``, or the
        detector runs' ``false-objects`` / ``detected-objects`` (the GT-mask column is then
        empty).
    experiment : str or None
        Only runs of this experiment (default the video notebook's; all runs when no run
        belongs to it).

    Returns
    -------
    pandas.DataFrame
        Index ``(method, mode)`` (``detect_track`` / ``per_frame``); columns ``"GT mask"`` (the
        method's mask-prompt run, the same for every mode), then the detectors by their run
        card's ``noise_label`` (``"no noise"``, ``"jitter 0.1 · miss 0.1 · fp 0.1"``, ... in
        increasing total noise; a model detector by its name). Empty without detector runs.
    """
    exp = experiment if experiment in set(runs.get("experiment", [])) else None
    det = _select(runs, "vos", True, exp, detector=True)
    if det.empty or metric not in det:
        return pd.DataFrame()
    cards = [json.loads((Path(d) / "run_card.json").read_text()).get("detector") or {} for d in det["dir"]]
    det = det.assign(
        mode=[c.get("mode", "?") for c in cards],
        noise=[c.get("noise_label", "?") for c in cards],
        level=[sum(float(c.get(k) or 0) for k in ("jitter", "miss_rate", "false_positives")) for c in cards],
    )
    last = det.groupby(["method", "mode", "noise"], sort=False).tail(1)
    table = last.pivot_table(
        index=["method", "mode"], columns="noise", values=metric, aggfunc="last", sort=False, dropna=False
    )
    table = table[list(dict.fromkeys(last.sort_values("level", kind="stable")["noise"]))]
    masks = _select(runs, "vos", True, exp)
    masks = masks[masks["prompt"] == "mask"].groupby("method", sort=False).tail(1).set_index("method")
    gt_mask = masks[metric] if metric in masks else pd.Series(dtype=float)
    table.insert(0, "GT mask", [float(gt_mask.get(m, np.nan)) for m, _ in table.index])
    table.columns.name = "detector noise"
    table.attrs["metric"] = metric
    return table


# --------------------------------------------------------------------------- robustness
def degradation_table(
    runs: pd.DataFrame, kind: str = "image", metric: str | None = None, experiment: str | None = "exp_robustness"
) -> pd.DataFrame:
    """Metric per severity for each (method, dataset, corruption); severity 0 is the clean run
    of the same method and data (and, for VOS, the same prompt) in the same experiment.

    Parameters
    ----------
    kind : {"image", "vos"}
    metric : str, optional
        Default ``mIoU@5`` (image; the largest k present) or ``J&F-Mean`` (VOS).
    experiment : str or None
        Only runs of this experiment (default the robustness notebook's), so clean and
        corrupted runs share their settings.

    Returns
    -------
    pandas.DataFrame
        Index ``(method, dataset, corruption)``, columns severities (int, 0 first).
    """
    sel = _select(runs, kind, None, experiment if experiment in set(runs.get("experiment", [])) else None)
    if sel.empty:
        return pd.DataFrame()
    if metric is None:
        ks = ("mIoU@5", "mIoU@3", "mIoU@1")
        metric = "J&F-Mean" if kind == "vos" else next((m for m in ks if m in sel), "mIoU@1")
    key = ["method", "dataset"] + (["prompt"] if kind == "vos" else [])
    sel = sel.groupby([*key, "corruption", "severity"], sort=False).tail(1)
    clean = sel[sel["corruption"] == "none"]
    rows = []
    for _, r in sel[sel["corruption"] != "none"].iterrows():
        rows.append(
            {
                "method": r["method"],
                "dataset": r["dataset"],
                "corruption": r["corruption"],
                "severity": int(r["severity"]),
                metric: r[metric],
            }
        )
    for _, c in clean.iterrows():
        same = sel[(sel["corruption"] != "none") & np.logical_and.reduce([sel[k] == c[k] for k in key])]
        for corr in dict.fromkeys(same["corruption"]):
            rows.append(
                {"method": c["method"], "dataset": c["dataset"], "corruption": corr, "severity": 0, metric: c[metric]}
            )
    if not rows:
        return pd.DataFrame()
    long = pd.DataFrame(rows)
    table = long.pivot_table(
        index=["method", "dataset", "corruption"], columns="severity", values=metric, aggfunc="last", sort=False
    )
    table = table[sorted(table.columns)]
    table.attrs["metric"] = metric
    return table


# --------------------------------------------------------------------------- provenance
def models_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per method: backend, family, model, checkpoint, sha256 (first 16 hex digits),
    image size, device, untrained (``"UNTRAINED"`` for random weights, else ``""``), number of
    runs (from the run cards)."""
    if runs.empty:
        return pd.DataFrame()
    g = runs.groupby("method", sort=False)
    table = g.agg(
        backend=("backend", "first"),
        family=("family", "first"),
        model=("model", "first"),
        checkpoint=("checkpoint", "first"),
        checkpoint_sha256=("checkpoint_sha256", lambda s: str(s.iloc[0])[:16]),
        image_size=("image_size", "first"),
        device=("device", "first"),
        untrained=("untrained", "first"),
        runs=("run_id", "count"),
    )
    table["untrained"] = ["UNTRAINED" if bool(u) else "" for u in table["untrained"]]
    return table


def run_index(runs: pd.DataFrame) -> pd.DataFrame:
    """Every run: experiment, run id, kind, method, dataset, prompt, corruption, severity,
    status, items and wall time (s)."""
    cols = [
        "experiment",
        "run_id",
        "kind",
        "method",
        "dataset",
        "prompt",
        "corruption",
        "severity",
        "status",
        "items",
        "wall_time_s",
    ]
    return runs[[c for c in cols if c in runs]].reset_index(drop=True) if len(runs) else pd.DataFrame(columns=cols)


def report_header(runs: pd.DataFrame, smoke: bool = False) -> str:
    """Markdown summary of what the report is made of: experiments, runs, methods, datasets,
    git commits and run dates (from the run cards), and a warning for smoke runs."""
    if runs.empty:
        return "> **No runs found.** Run the survey experiments first (`workbench report --suite survey`)."
    lines = [
        f"**{len(runs)} runs** from {runs['experiment'].nunique()} experiments "
        f"({', '.join(dict.fromkeys(runs['experiment']))}); {runs['method'].nunique()} methods; datasets "
        f"{', '.join(dict.fromkeys(runs['dataset'].astype(str)))}.",
        f"Runs started {runs['started_at'].min()} … {runs['started_at'].max()}; git commit(s) "
        + ", ".join(f"`{c}`" for c in dict.fromkeys(runs["git_commit"].astype(str)))
        + ".",
    ]
    if smoke:
        lines.append(
            "\n> **SMOKE RUN**: tiny subsets (a few images, a few frames), made to test the pipeline; "
            "the numbers are not comparable with the survey's."
        )
    return "\n".join(lines)


def show(table: pd.DataFrame, digits: int = 3):
    """The whole table as HTML for a notebook (no row limit, numbers rounded to ``digits``)."""
    from IPython.display import HTML

    return HTML(table.round(digits).to_html(na_rep="—"))


def untrained_banner(runs: pd.DataFrame) -> str:
    """Markdown warning naming every UNTRAINED method (empty string when there is none)."""
    if runs.empty or not runs["untrained"].any():
        return ""
    methods = list(dict.fromkeys(runs.loc[runs["untrained"].astype(bool), "method"]))
    return (
        f"> ## ⚠️ UNTRAINED rows\n> {UNTRAINED_BANNER}\n>\n> UNTRAINED methods in this report: "
        + ", ".join(f"**{m}**" for m in methods)
        + ".\n"
    )


def experiment_notes(experiments: Sequence[str | Path] | None = None, reports_root: str | Path | None = None) -> str:
    """Markdown: for each experiment folder its status and wall time, the runs that failed
    (with the error), combinations skipped (e.g. SAM v1 has no video predictor), and the
    official checkpoints missing here (their rows are absent from every table)."""
    folders = find_experiments(reports_root) if experiments is None else [Path(e) for e in experiments]
    lines, missing = [], {}
    for f in folders:
        rec = read_experiment(f)
        lines.append(
            f"* **{rec['experiment']}** (`{rec['run_id']}`): {rec.get('status')}, {len(rec.get('runs', []))} "
            f"runs, {float(rec.get('wall_time_s') or 0):.0f} s"
        )
        for fail in rec.get("failures", []):
            lines.append(f"  * FAILED {fail['what']} — {_model_name(fail['model'])}: {fail['error']}")
        for skip in rec.get("skipped", []):
            lines.append(f"  * skipped {skip['what']} — {_model_name(skip['model'])}: {skip['reason']}")
        for m in rec.get("missing_checkpoints", []):
            missing[m["file"]] = m
    if missing:
        folder = next(iter(missing.values()))["folder"]
        lines.append(
            f"\n**Missing checkpoints** (not in `{folder}`; their rows are missing from every table): "
            + ", ".join(f"{m['backend']}/{m['model']}" for m in missing.values())
            + ". Fetch them with `workbench checkpoints download NAME` and re-run the suite."
        )
    return "\n".join(lines)


def _model_name(m: dict) -> str:
    name = f"{m.get('backend')}/{m.get('model') or 'default'}"
    return name + (" (UNTRAINED)" if m.get("checkpoint") == "random" else "")


# --------------------------------------------------------------------------- figures
def _untrained_note(methods: Sequence[str]) -> str:
    return " — UNTRAINED rows: accuracy meaningless" if any("(UNTRAINED)" in str(m) for m in methods) else ""


def plot_click_curves(runs: pd.DataFrame, datasets: Sequence[str] | None = None, experiment: str | None = None):
    """mIoU after k clicks, one panel per dataset, one line per method (dashed: oracle
    best-of-3), from the runs' ``click_curve.csv``. Returns the figure (None without runs)."""
    sel = _select(runs, "image", True, experiment)
    if datasets is not None:
        sel = sel[sel["dataset"].isin(datasets)]
    if sel.empty:
        return None
    sel = sel.groupby(["method", "dataset"], sort=False).tail(1)
    curves = load_click_curves(
        sel.drop(columns=["experiment", "method", "corruption", "severity", "checkpoint_sha256"])
    )
    names = list(dict.fromkeys(sel["dataset"]))
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    for ax, ds in zip(axes[0], names):
        for label, c in curves[curves["dataset"] == ds].groupby("label", sort=False):
            (line,) = ax.plot(c["clicks"], c["mIoU"], marker="o", ms=3, label=label)
            ax.plot(c["clicks"], c["oracle-mIoU"], ls="--", color=line.get_color())
        ax.set_title(ds, fontsize=9)
        ax.set_xlabel("clicks")
        ax.set_ylim(0, 1)
    axes[0, 0].set_ylabel("mIoU (dashed: oracle)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("k-click mIoU" + _untrained_note(sel["method"]), fontsize=10)
    fig.tight_layout()
    return fig


def plot_pvs_curves(runs: pd.DataFrame, experiment: str | None = None):
    """J&F after k annotated frames (SAM 2's PVS curve), one panel per annotator mode, one line
    per method and tracking policy (the last run of each), from the runs' ``pvs_curve.csv``.
    Returns the figure (None without PVS runs)."""
    sel = runs[runs["kind"] == "pvs"] if len(runs) else runs
    if experiment is not None and len(sel):
        sel = sel[sel["experiment"] == experiment]
    if sel.empty:
        return None
    sel = sel.assign(policy=sel["policy"].fillna("sam2") if "policy" in sel else "sam2")
    sel = sel.groupby(["method", "policy", "mode"], sort=False).tail(1)
    curves = load_pvs_curves(sel.drop(columns=["experiment", "method", "corruption", "severity", "checkpoint_sha256"]))
    methods = dict(zip(sel["run_id"], sel["method"]))
    modes = list(dict.fromkeys(sel["mode"]))
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 3.4), squeeze=False, sharey=True)
    for ax, mode in zip(axes[0], modes):
        for (rid, policy), c in curves[curves["mode"] == mode].groupby(["run_id", "policy"], sort=False):
            ax.plot(c["annotated_frames"], c["J&F-Mean"], marker="o", ms=3, label=f"{methods[rid]} · {policy}")
        ax.set_title(f"{mode}", fontsize=9)
        ax.set_xticks(sorted({int(k) for k in curves["annotated_frames"]}))
        ax.set_xlabel("annotated frames")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("J&F")
    fig.suptitle("PVS: J&F after k annotated frames" + _untrained_note(sel["method"]), fontsize=10)
    fig.tight_layout()
    return fig


def plot_bars(table: pd.DataFrame, title: str = "", ylabel: str | None = None, ylim: tuple | None = (0, 1)):
    """Grouped bars of a method × column table (columns on the x axis, one bar per method).
    Returns the figure (None for an empty table)."""
    if table is None or table.empty:
        return None
    data = table.drop(columns=[c for c in ("mean",) if c in table.columns])
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * data.shape[1] + 2), 3.4))
    width = 0.8 / max(1, data.shape[0])
    x = np.arange(data.shape[1])
    for i, (method, row) in enumerate(data.iterrows()):
        ax.bar(x + (i - (data.shape[0] - 1) / 2) * width, row.to_numpy(dtype=float), width, label=str(method))
    ax.set_xticks(x, [str(c) for c in data.columns], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel or table.attrs.get("metric", ""))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title + _untrained_note(data.index), fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_degradation(table: pd.DataFrame, title: str = ""):
    """Degradation curves from :func:`degradation_table`: one panel per corruption, metric vs
    severity (0 = clean), one line per (method, dataset). Returns the figure (None if empty)."""
    if table is None or table.empty:
        return None
    corrs = list(dict.fromkeys(table.index.get_level_values("corruption")))
    fig, axes = plt.subplots(1, len(corrs), figsize=(4 * len(corrs), 3.2), squeeze=False, sharey=True)
    for ax, corr in zip(axes[0], corrs):
        sub = table.xs(corr, level="corruption")
        for (method, dataset), row in sub.iterrows():
            ok = row.notna()
            ax.plot(np.asarray(row.index)[ok], row[ok].to_numpy(float), marker="o", ms=3, label=f"{method} ({dataset})")
        ax.set_title(corr, fontsize=9)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_xticks(sorted(int(c) for c in table.columns))
    values = table.to_numpy(dtype=float)
    if np.nanmin(values) >= 0 and np.nanmax(values) <= 1:  # fractions (IoU, Dice, J&F): the full scale
        axes[0, 0].set_ylim(0, 1.02)
    axes[0, 0].set_ylabel(table.attrs.get("metric", ""))
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(
        (title or f"{table.attrs.get('metric', '')} under corruptions")
        + _untrained_note(table.index.get_level_values("method")),
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_detector_noise(table: pd.DataFrame, title: str = ""):
    """Lines from :func:`detector_noise_table`: the metric per detector noise, one colour per
    method, solid for ``detect_track`` and dashed for ``per_frame``, with the method's GT-mask
    prompt as a dotted horizontal line. Returns the figure (None for an empty table)."""
    if table is None or table.empty:
        return None
    cols = [c for c in table.columns if c != "GT mask"]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(cols) + 2), 3.4))
    x = np.arange(len(cols))
    colors: dict = {}
    for (method, mode), row in table.iterrows():
        color = colors.setdefault(method, f"C{len(colors) % 10}")
        ls = "--" if mode == "per_frame" else "-"
        ax.plot(x, row[cols].to_numpy(float), ls=ls, marker="o", ms=3, color=color, label=f"{method} · {mode}")
    if "GT mask" in table.columns:
        for method, color in colors.items():
            value = table.xs(method, level="method")["GT mask"].iloc[0]
            if np.isfinite(value):
                ax.axhline(float(value), ls=":", lw=1, color=color, label=f"{method} · GT mask")
    ax.set_xticks(x, [str(c) for c in cols], rotation=15, ha="right", fontsize=8)
    values = table.to_numpy(dtype=float)
    if np.isfinite(values).any() and np.nanmin(values) >= 0 and np.nanmax(values) <= 1:
        ax.set_ylim(0, 1.02)
    ax.set_ylabel(table.attrs.get("metric", ""))
    ax.set_xlabel("ground-truth detector noise")
    ax.set_title(
        (title or f"{table.attrs.get('metric', '')}: GT-mask vs detector prompts")
        + _untrained_note(table.index.get_level_values("method")),
        fontsize=10,
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
