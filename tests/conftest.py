"""Shared fixtures: real data is reached only through WORKBENCH_DATA_DIR."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("WORKBENCH_DATA_DIR")
    if not value:
        pytest.fail("WORKBENCH_DATA_DIR is not set; run the tests through `make test` or set it to ../shared/data")
    path = Path(value).resolve()
    if not path.is_dir():
        pytest.fail(f"WORKBENCH_DATA_DIR={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def golden_dir(data_dir: Path) -> Path:
    path = data_dir.parent / "golden"
    if not path.is_dir():
        pytest.fail(f"golden reference folder not found beside the data: {path}")
    return path


@pytest.fixture(scope="session")
def davis_dir(data_dir: Path) -> Path:
    return data_dir / "davis2016"
