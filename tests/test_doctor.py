"""`workbench doctor`: each check reads the real machine; failures come with a fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import doctor
from workbench.backends import registry
from workbench.cli import main

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

LIST_OUTPUT = """JupyterLab v4.6.6
/x/share/jupyter/labextensions
        ipycanvas v0.14.3 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m
        anywidget v0.11.0 \x1b[31mdisabled\x1b[0m \x1b[32mOK\x1b[0m
        @jupyter-widgets/jupyterlab-manager v5.0.16 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m (python, jupyterlab_widgets)
"""


def test_parse_labextension_list_strips_colours_and_reads_state() -> None:
    found = doctor.parse_labextension_list(LIST_OUTPUT)
    assert found == {"ipycanvas": True, "anywidget": False, "@jupyter-widgets/jupyterlab-manager": True}


def test_disabled_widget_extension_is_a_problem_with_the_enable_command() -> None:
    checks = {c.name: c for c in doctor.check_jupyter(lambda: doctor.parse_labextension_list(LIST_OUTPUT))}
    assert checks["ipycanvas"].ok is True and checks["ipywidgets"].ok is True
    assert checks["anywidget"].ok is False
    assert checks["anywidget"].fix == "`jupyter labextension enable anywidget`"


def test_missing_extension_says_reinstall() -> None:
    checks = {c.name: c for c in doctor.check_jupyter(dict)}
    assert all(checks[d].ok is False and "Reinstall" in checks[d].fix for d in doctor.LAB_EXTENSIONS)


def test_checkpoints_found_per_family(tmp_path: Path) -> None:
    rows = registry.checkpoint_table(tmp_path, backend=None)
    first = rows[0]
    Path(first["file"]).write_bytes(b"x")
    checks = {c.name: c for c in doctor.check_checkpoints(tmp_path)}
    families = {r["family"] for r in rows}
    assert set(checks) == {f"checkpoints {f}" for f in families}
    ours = checks[f"checkpoints {first['family']}"]
    assert ours.ok is True and Path(first["file"]).name in ours.detail
    others = [c for n, c in checks.items() if n != f"checkpoints {first['family']}"]
    assert all(c.ok is None and "checkpoints list" in c.fix for c in others)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data")
def test_data_lists_the_datasets_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(SHARED_DATA))
    (check,) = doctor.check_data()
    assert check.ok is True
    assert "DAVIS (davis2016," in check.detail and "images/grabcut" in check.detail
    assert "medical/sammed2d_ct" in check.detail


def test_data_unset_and_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORKBENCH_DATA_DIR", raising=False)
    (check,) = doctor.check_data()
    assert check.ok is None and "WORKBENCH_DATA_DIR" in check.fix
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "nope"))
    (check,) = doctor.check_data()
    assert check.ok is False


def test_torch_check_reads_this_machine() -> None:
    import torch

    checks = {c.name: c for c in doctor.check_torch()}
    assert checks["torch"].ok is True and torch.__version__ in checks["torch"].detail
    gpu = checks["GPU"]
    assert (gpu.ok is True) == torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert "CPU" in gpu.detail and gpu.fix


def test_cli_doctor_prints_one_screen_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert out.startswith("SAM2 Workbench doctor")
    assert "check failed" not in out  # every check ran to its end
    for name in ("python", "torch", "GPU", "sam2", "jupyterlab", "ipywidgets", "ipycanvas", "anywidget", "ray", "data"):
        assert f" {name} " in out
    assert code == (1 if "[!!]" in out else 0)
    main(["doctor", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert {"name", "ok", "detail", "fix"} <= set(rows[0])
    assert len(rows) >= 10
