"""The `workbench` command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.cli import main


def test_eval_vos_reproduces_the_reference_globals(tmp_path, capsys, davis_dir, golden_dir):
    out = tmp_path / "eval"
    assert (
        main(
            [
                "eval",
                "vos",
                "--gt-root",
                str(davis_dir),
                "--results",
                str(golden_dir / "davis_jf" / "osvos"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    expected = json.loads((golden_dir / "davis_jf" / "expected.json").read_text())["osvos"]["global"]
    glob = pd.read_csv(out / "global_results.csv")
    for key, value in expected.items():
        assert glob[key][0] == pytest.approx(value, abs=1e-6)
    assert "J&F-Mean" in capsys.readouterr().out


def test_errors_are_reported_without_traceback(tmp_path, capsys, davis_dir):
    code = main(
        ["eval", "vos", "--gt-root", str(davis_dir), "--results", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("workbench: error:") and "Traceback" not in err


def test_checkpoints_list_shows_every_official_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    (tmp_path / "sam2.1_hiera_tiny.pt").write_bytes(b"x")
    assert main(["checkpoints", "list"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out
    lines = [ln for ln in out.splitlines() if ".pt" in ln]
    assert len(lines) == 12  # 8 SAM 2 / 2.1, MedSAM2 and 3 SAM v1 (.pth) checkpoints
    assert sum(".pth" in ln for ln in lines) == 3
    hf = [ln for ln in out.splitlines() if "model.safetensors" in ln]  # the transformers model folders
    assert len(hf) == 11 and any("facebook/sam2.1-hiera-tiny/model.safetensors" in ln for ln in hf)
    assert any("sam2.1_hiera_tiny.pt" in ln and "present" in ln for ln in lines)
    assert any("sam2_hiera_large.pt" in ln and "missing" in ln for ln in lines)


def test_checkpoint_download_fails_clearly_without_internet(tmp_path, monkeypatch, capsys):
    from workbench.backends import registry

    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    spec = registry.get_spec("sam2.1_hiera_tiny")
    monkeypatch.setattr(
        registry,
        "get_spec",
        lambda name, backend=None: spec.__class__(**{**spec.__dict__, "url": "http://127.0.0.1:9/x.pt"}),
    )
    assert main(["checkpoints", "download", "sam2.1_hiera_tiny"]) == 2
    err = capsys.readouterr().err
    assert "internet" in err.lower() and str(tmp_path) in err
    assert not list(tmp_path.iterdir())  # no partial file left behind
