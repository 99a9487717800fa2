"""The interactive notebooks with a SAM 2 checkpoint present: backend="auto" must pick SAM 2.

No official weights exist offline, so a randomly initialised hiera-tiny is saved in the official
``{"model": state_dict}`` format under its official file name in a temporary
``$SAM2_CHECKPOINT_DIR``; the notebooks find it through the real registry and loader.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    from workbench.backends.sam2.loading import build_sam2_model, save_checkpoint

    folder = tmp_path_factory.mktemp("ckpt")
    model, _ = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=256)
    save_checkpoint(model, folder / "sam2.1_hiera_tiny.pt")
    return folder


def _run(name: str, params: dict, cwd: Path, monkeypatch, checkpoint_dir: Path):
    import papermill as pm

    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(checkpoint_dir))
    out = cwd / f"{name}.out.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=params, kernel_name="python3",
                        cwd=str(cwd), progress_bar=False, execution_timeout=600)
    nb = nbformat.read(out, as_version=4)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    return "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                   for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_quickstart_picks_sam2_when_a_checkpoint_exists(tmp_path, monkeypatch, checkpoint_dir, data_dir):
    image = data_dir / "images" / "grabcut" / "images" / "106024.jpg"
    text = _run("quickstart", {"image_path": str(image), "backend": "auto", "image_size": 256}, tmp_path,
                monkeypatch, checkpoint_dir)
    assert "sam2.1_hiera_tiny" in text and "classical" not in text.split("sam2.1_hiera_tiny")[0][-200:]


def test_video_notebook_picks_sam2_when_a_checkpoint_exists(tmp_path, monkeypatch, checkpoint_dir, davis_dir):
    monkeypatch.setenv("WORKBENCH_REPORTS_DIR", str(tmp_path / "reports"))  # the one reports root
    text = _run("video_annotator", {"video": str(davis_dir / "JPEGImages" / "blackswan"),
                                    "gt": str(davis_dir / "Annotations" / "blackswan"), "backend": "auto",
                                    "image_size": 256, "max_frames": 4}, tmp_path, monkeypatch, checkpoint_dir)
    assert "sam2.1_hiera_tiny" in text
    pngs = sorted((tmp_path / "reports" / "annotations" / "blackswan" / "davis" / "blackswan").glob("*.png"))
    assert len(pngs) == 4
