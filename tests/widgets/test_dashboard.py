"""Run index tables and the metric dashboard on tiny real run folders (classical backend: one
DAVIS sequence of 4 frames, two GrabCut images with 3 clicks, and a copy of the VOS run whose
card says untrained), the static export, and a papermill run of notebooks/dashboard.ipynb."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from workbench.errors import DatasetNotFoundError, UnknownNameError
from workbench.runners import run_image_benchmark, run_pvs_benchmark, run_vos_benchmark
from workbench.runners.runs_index import (
    load_click_curves,
    load_frame_curves,
    load_pvs_curves,
    load_runs,
    load_vos_sequences,
)
from workbench.widgets.dashboard import FIGURES, MetricDashboard

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb"
VOS, IMG, UNT = "vos-a", "img-a", "vos-untrained"
VOS_LABEL, IMG_LABEL = "classical/dis-flow", "classical/grabcut"
UNT_LABEL = VOS_LABEL + " (UNTRAINED)"


@pytest.fixture(scope="module")
def root(tmp_path_factory, davis_dir) -> Path:
    root = tmp_path_factory.mktemp("reports")
    run_vos_benchmark(
        backend="classical",
        data_root=davis_dir,
        sequences=1,
        max_frames=4,
        run_id=VOS,
        reports_root=root,
        progress=False,
    )
    run_image_benchmark(
        backend="classical", dataset="grabcut", subset=2, max_clicks=3, run_id=IMG, reports_root=root, progress=False
    )
    shutil.copytree(root / VOS, root / UNT)
    card = json.loads((root / UNT / "run_card.json").read_text())
    card.update(run_id=UNT, untrained=True, started_at="2099-01-01T00:00:00+0000")
    (root / UNT / "run_card.json").write_text(json.dumps(card))
    (root / "notes").mkdir()  # not a run folder: skipped
    (root / "notes" / "readme.txt").write_text("x")
    return root


def _names(fig) -> list[str]:
    return [t.name for t in fig.data]


def test_load_runs_and_tidy_tables(root):
    runs = load_runs(root)
    assert len(runs) == 3 and set(runs["run_id"]) == {VOS, IMG, UNT}  # "notes/" skipped
    assert runs["run_id"].iloc[-1] == UNT  # ordered by start time
    by_id = runs.set_index("run_id")
    assert by_id.loc[UNT, "label"] == UNT_LABEL and by_id.loc[VOS, "label"] == VOS_LABEL
    assert by_id.loc[IMG, "dataset"] == "grabcut" and by_id.loc[IMG, "items"] == 2
    summary = json.loads((root / VOS / "summary.json").read_text())
    assert by_id.loc[VOS, "J&F-Mean"] == summary["J&F-Mean"] and by_id.loc[VOS, "FPS"] == summary["FPS"]
    assert load_runs(root, kinds="image")["run_id"].tolist() == [IMG]
    assert load_runs([root / VOS])["run_id"].tolist() == [VOS]  # a run folder itself

    seq = load_vos_sequences(runs)
    csv = pd.read_csv(root / VOS / "sequences.csv")
    mine = seq[seq["run_id"] == VOS]
    assert mine["object"].tolist() == csv["Sequence"].tolist() == ["blackswan_1"]
    np.testing.assert_allclose(mine["J&F-Mean"], (csv["J-Mean"] + csv["F-Mean"]) / 2)
    assert set(seq["label"]) == {VOS_LABEL, UNT_LABEL}

    frames = load_frame_curves([root / VOS])
    per_frame = json.loads((root / VOS / "per_frame.json").read_text())["blackswan"]["1"]
    assert frames["frame"].tolist() == [1, 2]  # 4 frames, first and last not scored
    assert frames["J"].tolist() == per_frame["J"] and frames["F"].tolist() == per_frame["F"]

    clicks = load_click_curves(runs)
    curve = pd.read_csv(root / IMG / "click_curve.csv")
    assert clicks["clicks"].tolist() == [1, 2, 3] and clicks["mIoU"].tolist() == curve["mIoU"].tolist()
    assert clicks["dataset"].unique().tolist() == ["grabcut"]

    with pytest.raises(DatasetNotFoundError, match="Runs folder not found"):
        load_runs(root / "missing")


def test_dashboard_traces_match_run_files(root):
    dash = MetricDashboard(root)
    assert set(dash.figures) == set(FIGURES)
    seq_fig = dash.figures["sequences"]
    assert sorted(_names(seq_fig)) == sorted([VOS_LABEL, UNT_LABEL])
    csv = pd.read_csv(root / VOS / "sequences.csv")
    bar = next(t for t in seq_fig.data if t.meta == VOS)
    assert list(bar.x) == ["blackswan_1"]
    assert list(bar.y) == pytest.approx(((csv["J-Mean"] + csv["F-Mean"]) / 2).tolist())
    assert "%{y:.3f}" in bar.hovertemplate and "%{customdata[0]:.3f}" in bar.hovertemplate

    per_frame = json.loads((root / VOS / "per_frame.json").read_text())["blackswan"]["1"]
    lines = [t for t in dash.figures["frames"].data if t.meta == VOS]
    assert [list(t.y) for t in lines] == [per_frame["J"], per_frame["F"]]
    assert list(lines[0].x) == [1, 2]

    curve = pd.read_csv(root / IMG / "click_curve.csv")
    click_traces = {t.name: t for t in dash.figures["clicks"].data}
    assert set(click_traces) == {IMG_LABEL, IMG_LABEL + " oracle"}
    assert list(click_traces[IMG_LABEL].y) == curve["mIoU"].tolist()
    assert list(click_traces[IMG_LABEL + " oracle"].y) == curve["oracle-mIoU"].tolist()

    summary = json.loads((root / VOS / "summary.json").read_text())
    fps = next(t for t in dash.figures["fps"].data if t.meta == VOS)
    assert list(fps.x) == ["blackswan", "all"]
    assert list(fps.y) == pytest.approx([csv["FPS"][0], summary["FPS"]])

    noc = dash.figures["noc_table"].data[0]
    header = list(noc.header.values)
    assert {"NoC@85", "NoC@90", "mIoU@1", "mIoU@3"} <= set(header)
    img_summary = json.loads((root / IMG / "summary.json").read_text())
    assert noc.cells.values[header.index("mIoU@3")][0] == f"{img_summary['mIoU@3']:.3f}"


def test_filters_change_visible_traces(root):
    dash = MetricDashboard(root)
    dash.select(model=["grabcut"])
    assert dash.figures["sequences"].data == () and dash.figures["fps"].data == ()
    assert len(dash.figures["clicks"].data) == 2
    assert "no VOS runs selected" in [a.text for a in dash.figures["sequences"].layout.annotations]
    dash.select(model=None, runs=[VOS])
    assert _names(dash.figures["sequences"]) == [VOS_LABEL] and dash.figures["clicks"].data == ()
    assert dash.banner.value == ""  # the untrained run is hidden
    # the widget itself drives the redraw (as a user click does)
    dash.filters["runs"].value = ()
    dash.filters["dataset"].value = ("davis",)
    assert sorted(_names(dash.figures["sequences"])) == sorted([VOS_LABEL, UNT_LABEL])
    assert dash.figures["clicks"].data == ()
    dash.filters["dataset"].value = ()
    assert len(dash.visible_runs()) == 3
    with pytest.raises(UnknownNameError, match="grabcut"):
        dash.select(model=["sam9"])
    with pytest.raises(UnknownNameError, match="backend"):
        dash.select(colour=["red"])


def test_untrained_label_in_every_legend_and_banner(root):
    dash = MetricDashboard(root)
    assert "UNTRAINED WEIGHTS" in dash.banner.value
    for name in ("sequences", "frames", "fps"):
        unt = [t for t in dash.figures[name].data if t.meta == UNT]
        assert unt and all("(UNTRAINED)" in t.name for t in unt), name
        assert all("(UNTRAINED)" not in t.name for t in dash.figures[name].data if t.meta == VOS)
    bar = next(t for t in dash.figures["sequences"].data if t.meta == UNT)
    assert bar.marker.pattern.shape == "/"
    assert UNT_LABEL in dash.figures["vos_table"].data[0].cells.values[0]


def test_refresh_picks_up_new_runs(root, tmp_path):
    local = tmp_path / "reports"
    shutil.copytree(root / VOS, local / VOS)
    dash = MetricDashboard(local)
    dash.select(runs=[VOS])
    assert len(dash.runs) == 1 and dash.figures["clicks"].data == ()
    shutil.copytree(root / IMG, local / IMG)
    dash.refresh()
    assert len(dash.runs) == 2 and dash.filters["runs"].value == (VOS,)  # selection kept
    dash.select(runs=None)
    assert _names(dash.figures["clicks"]) == [IMG_LABEL, IMG_LABEL + " oracle"]


def test_static_export(root, tmp_path):
    dash = MetricDashboard(root)
    files = dash.export_static(tmp_path / "export")
    page = files["html"].read_text()
    assert files["html"] == tmp_path / "export" / "dashboard.html"
    assert '<script src="https://cdn.plot.ly' not in page and "plotly.js" in page.lower()  # inline, offline
    summary = json.loads((root / VOS / "summary.json").read_text())
    curve = pd.read_csv(root / IMG / "click_curve.csv")
    assert repr(float(curve["mIoU"][2])) in page
    assert repr(summary["FPS"]) in page
    assert UNT_LABEL in page and "UNTRAINED WEIGHTS" in page
    assert pd.read_csv(files["click_curves"])["mIoU"].tolist() == curve["mIoU"].tolist()
    pngs = sorted((tmp_path / "export").glob("*.png"))
    assert (len(pngs) == len(FIGURES)) if importlib.util.find_spec("kaleido") else not pngs
    assert not list((tmp_path / "export").glob(".*tmp*"))


def test_pvs_curves_are_plotted_from_the_run_files(davis_dir, tmp_path):
    root = tmp_path / "pvs"
    kw = dict(sequences=1, max_frames=4, max_annotated_frames=2, data_root=davis_dir, reports_root=root, progress=False)
    run_pvs_benchmark(mode="offline", run_id="pvs-off", **kw)
    run_pvs_benchmark(mode="online", iou_threshold=0.9, run_id="pvs-on", **kw)
    dash = MetricDashboard(root)
    assert "2 PVS" in dash.status.value and dash.figures["sequences"].data == ()  # no VOS run
    traces = {t.meta: t for t in dash.figures["pvs"].data}
    assert set(traces) == {"pvs-off", "pvs-on"}
    for rid, mode, dash_style in (("pvs-off", "offline", "solid"), ("pvs-on", "online", "dash")):
        curve = pd.read_csv(root / rid / "pvs_curve.csv")
        t = traces[rid]
        assert list(t.x) == [1, 2] and list(t.y) == curve["J&F-Mean"].tolist()
        assert t.name.endswith(f"· {mode}") and t.line.dash == dash_style
    tidy = load_pvs_curves(root)
    assert sorted(set(tidy["mode"])) == ["offline", "online"] and set(tidy["policy"]) == {"sam2"}
    dash.select(runs=["pvs-on"])
    assert [t.meta for t in dash.figures["pvs"].data] == ["pvs-on"]
    files = dash.export_static(tmp_path / "export")
    assert pd.read_csv(files["pvs_curves"])["run_id"].tolist() == ["pvs-on", "pvs-on"]


@pytest.mark.slow
def test_dashboard_notebook_papermill(root, tmp_path):
    import papermill as pm

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    out = tmp_path / "dashboard.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
        parameters={"reports_root": str(root), "export_dir": str(tmp_path / "export")},
    )
    done = nbformat.read(out, as_version=4)
    errors = [o for c in done.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    shown = [o for c in done.cells if c.cell_type == "code" and c.source.strip() == "dash" for o in c.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown)
    page = (tmp_path / "export" / "dashboard.html").read_text()
    assert VOS_LABEL in page and UNT_LABEL in page and IMG_LABEL in page
