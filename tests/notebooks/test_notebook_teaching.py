"""``notebooks/teaching_memory.ipynb`` run by papermill with UNTRAINED SAM 2.1-tiny at 64 px on four
DAVIS blackswan frames: every cell runs, the tables are labelled UNTRAINED and show each policy's
memory choice (SAM 2: the frames right behind; SAMURAI: only confident ones, here none but the
previous frame; SAM2Long: its best pathway's, pointers stopping before the oldest)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "teaching_memory.ipynb"
pytestmark = pytest.mark.slow


def test_teaching_notebook_walks_the_three_policies(tmp_path, davis_dir):
    import papermill as pm
    from papermill.translators import PythonTranslator

    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert {p.name for p in PythonTranslator.inspect(cell)} == {
        "video", "obj_id", "model", "checkpoint", "image_size", "device", "max_frames", "policy_params", "data_root"
    }
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "def " not in code and "class " not in code and "for " not in code  # package calls only

    out = tmp_path / "teaching_memory.out.ipynb"
    params = {"checkpoint": "random", "image_size": 64, "max_frames": 4, "device": "cpu", "data_root": str(davis_dir),
              "policy_params": {"samurai": {"memory_bank_iou_threshold": 0.9}}}
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters=params, kernel_name="python3", cwd=str(tmp_path),
                        progress_bar=False, execution_timeout=600)
    run = nbformat.read(out, as_version=4)
    outputs = [o for c in run.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [re.sub(r">\s+<", "><", o.get("data", {}).get("text/html", "")) for o in outputs]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    markdown = "\n".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "UNTRAINED" in markdown and "blackswan" in markdown
    tables = [h for h in html if "<table" in h]
    for policy in ("sam2", "samurai", "sam2long"):
        assert any(f"<td>{policy}</td>" in t and "UNTRAINED" in t for t in tables), policy
    assert any("pathway_score_0" in t for t in tables) and any("best_iou_score" in t for t in tables)
    # the side-by-side memory lists: frame 3 row of sam2 | samurai | sam2long
    memory = next(t for t in tables if "memory (UNTRAINED)" in t)
    assert "<th>3</th><td>1 2</td><td>2</td><td>1 2</td>" in memory
    pointers = next(t for t in tables if "object pointers (UNTRAINED)" in t)
    assert "<th>3</th><td>0 2 1</td><td>0 2 1</td><td>0 2</td>" in pointers
    assert any(o.get("data", {}).get("image/png") for o in outputs)  # the memory matrix
    assert "policy='sam2long'" in text and "frame_idx=3" in text  # the annotator's memory view
