"""Papermill smoke runs of the benchmark notebooks (two sequences / five images), the HTML
export, parameter checking, and the committed notebooks being free of outputs."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from workbench.errors import UnknownNameError
from workbench.runners.report import execute_notebook, notebooks_dir, summary_table

NOTEBOOKS = sorted(Path(__file__).resolve().parents[2].joinpath("notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs_and_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs: strip them"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_vos_notebook_exposes_the_sam2_video_settings_and_modes():
    """Every setting papermill can inject (its parser skips lines it cannot read) and that the
    runner takes: the SAM 2 memory preset and overrides and the two output modes."""
    from papermill.translators import PythonTranslator

    from workbench.protocols.specs import VOSRunSpec

    nb = nbformat.read(notebooks_dir() / "vos_benchmark.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params = {p.name: p.default for p in PythonTranslator.inspect(cell)}
    names = (*VOSRunSpec.VIDEO_FIELDS, *VOSRunSpec.MODE_FIELDS)
    assert {k: params.get(k) for k in names} == {"memory_preset": '"official"', **dict.fromkeys(names[1:6], "None"),
                                                 "track_objects_appearing_later": "False", "per_object_png": "False"}
    run_cell = next(c.source for c in nb.cells if "run_vos_benchmark(" in c.source)
    assert all(f"{k}={k}" in run_cell for k in names)


def _executed(run_dir: Path, name: str):
    nb = nbformat.read(run_dir / f"{name}.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    return nb


@pytest.mark.slow
def test_vos_notebook_smoke(tmp_path, davis_dir):
    run_dir = execute_notebook("vos", {"backend": "classical", "smoke": True, "data_root": str(davis_dir)},
                               run_id="nb-vos", reports_root=tmp_path)
    nb = _executed(run_dir, "vos_benchmark")
    assert nb.cells[2].metadata.get("tags") == ["injected-parameters"]
    html = (run_dir / "vos_benchmark.html").read_text()
    assert "J&amp;F-Mean" in html and "data:image/png;base64" in html
    card = json.loads((run_dir / "run_card.json").read_text())
    assert card["items"] == ["blackswan", "dog"] and card["params"]["max_frames"] == 8
    assert sorted(p.name for p in (run_dir / "masks").iterdir()) == ["blackswan", "dog"]
    table = summary_table([run_dir])
    assert table["kind"].tolist() == ["vos"] and 0 < table["J&F-Mean"][0] <= 1


@pytest.mark.slow
def test_image_notebook_smoke(tmp_path, data_dir):
    run_dir = execute_notebook("image", {"backend": "classical", "dataset": "grabcut", "smoke": True},
                               run_id="nb-img", reports_root=tmp_path)
    _executed(run_dir, "interactive_image_benchmark")
    html = (run_dir / "interactive_image_benchmark.html").read_text()
    assert "NoC@90" in html and html.count("data:image/png;base64") >= 2
    assert len(json.loads((run_dir / "run_card.json").read_text())["items"]) == 5


@pytest.mark.slow
def test_interactive_video_notebook_smoke(tmp_path, data_dir):
    run_dir = execute_notebook(
        "exp_interactive_video",
        {"models": [{"backend": "classical"}], "smoke": True, "modes": ["online"], "data_root": str(data_dir)},
        run_id="nb-pvs",
        reports_root=tmp_path,
    )
    _executed(run_dir, "exp_interactive_video")
    record = json.loads((run_dir / "experiment.json").read_text())
    assert record["runs"] == ["pvs-online-m0-classical"] and record["failures"] == []
    summary = json.loads((run_dir / "runs" / "pvs-online-m0-classical" / "summary.json").read_text())
    assert summary["max_annotated_frames"] == 2 and summary["mode"] == "online"
    html = (run_dir / "exp_interactive_video.html").read_text()
    assert "J&amp;F-avg" in html and f"{summary['J&F-avg']:.3f}" in html and "data:image/png;base64" in html


def test_unknown_notebook_or_parameter_is_refused(tmp_path):
    assert (notebooks_dir() / "vos_benchmark.ipynb").is_file()
    with pytest.raises(UnknownNameError, match="vos"):
        execute_notebook("nope", {}, reports_root=tmp_path)
    with pytest.raises(UnknownNameError, match="n_clicks"):
        execute_notebook("image", {"nclicks": 3}, reports_root=tmp_path)


def test_demo_plan_follows_the_data_and_checkpoints_present(tmp_path, monkeypatch, data_dir):
    from workbench.runners.report import demo_plan

    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_DATA_DIR")
    assert demo_plan() == [("image", {"backend": "classical", "model": None, "smoke": False, "dataset": "samples"})]
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    (tmp_path / "sam2.1_hiera_small.pt").write_bytes(b"present")
    plan = demo_plan(smoke=True)
    assert [(k, p["backend"], p["model"]) for k, p in plan] == [
        ("vos", "classical", None), ("image", "classical", None),
        ("vos", "sam2", "sam2.1_hiera_small"), ("image", "sam2", "sam2.1_hiera_small")]
    assert all(p["smoke"] for _, p in plan) and plan[1][1]["dataset"] == "grabcut"
