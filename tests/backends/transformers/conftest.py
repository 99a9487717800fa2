"""Fixtures of the transformers family's tests: the record of transformers' own SAM 2 conversion
(``tests/data/hf_conversion``) and its recipe's tensor digests."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

HF_CONVERSION = Path(__file__).parents[2] / "data" / "hf_conversion"


@pytest.fixture(scope="session")
def hf_recipe() -> ModuleType:
    """``tests/data/hf_conversion/make_reference.py`` (its ``tensor_digests``)."""
    spec = importlib.util.spec_from_file_location("make_reference", HF_CONVERSION / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def hf_reference() -> dict:
    """``reference.json``: what transformers' ``convert_sam2_video_to_hf.py`` wrote for the golden
    random SAM 2.1-tiny (shared: tests must not change it)."""
    return json.loads((HF_CONVERSION / "reference.json").read_text())
