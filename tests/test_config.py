"""One reports root wherever the workbench is started from."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import config

ROOT = Path(__file__).resolve().parents[1]


def test_reports_dir_is_the_checkouts_reports_from_any_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_REPORTS_DIR", raising=False)
    for cwd in (ROOT, ROOT / "notebooks", ROOT / "workbench" / "runners"):
        monkeypatch.chdir(cwd)
        assert config.reports_dir() == ROOT / "reports"


def test_env_var_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_REPORTS_DIR", str(tmp_path / "r"))
    monkeypatch.chdir(ROOT / "notebooks")
    assert config.reports_dir() == tmp_path / "r"


def test_installed_copy_uses_the_working_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORKBENCH_REPORTS_DIR", raising=False)
    monkeypatch.setattr(config, "project_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert config.reports_dir() == tmp_path / "reports"


def test_project_root_is_this_checkout() -> None:
    assert config.project_root() == ROOT
