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


GOLDEN_STATE_DICT_SHA256 = "1380109b4aac6ce42c264c32251b4d2dc907b61aefd59a8322bac2fd2790b0a1"
"""State-dict SHA-256 of the tracking-policy goldens' checkpoint (golden/tracking_policies/README.md)."""


@pytest.fixture(scope="session")
def golden_sam2_checkpoint(tmp_path_factory) -> Path:
    """The random SAM 2.1-tiny checkpoint of ``golden/tracking_policies`` (README "Checkpoint"),
    recreated with the project's own functions and checked against the README's state-dict
    SHA-256 (bytes of every tensor, sorted key order)."""
    import hashlib

    pytest.importorskip("torch")
    from workbench.backends.sam2 import build_sam2_model, save_checkpoint

    net, _ = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=256, mode="video", seed=0)
    digest = hashlib.sha256()
    state = net.state_dict()
    for key in sorted(state):
        digest.update(state[key].contiguous().numpy().tobytes())
    if digest.hexdigest() != GOLDEN_STATE_DICT_SHA256:
        pytest.fail(
            f"recreated golden checkpoint has state-dict SHA-256 {digest.hexdigest()}, the README says "
            f"{GOLDEN_STATE_DICT_SHA256}: the random initialisation changed (torch / sam2 version?)"
        )
    return save_checkpoint(net, tmp_path_factory.mktemp("golden_ckpt") / "sam2.1_hiera_tiny.pt")
