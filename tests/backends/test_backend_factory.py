"""Choosing a backend: classical without checkpoints, SAM 2 once a checkpoint is present."""

from __future__ import annotations

import pytest

from workbench.backends import available_backends, make_image_backend
from workbench.errors import CheckpointNotFoundError, UnknownNameError


def test_auto_falls_back_to_classical_without_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    assert available_backends() == [("classical", None)]
    backend = make_image_backend("auto")
    assert backend.info.backend == "classical" and backend.info.checkpoint_sha256 == "none"
    with pytest.raises(UnknownNameError, match="auto, classical, sam, sam2"):
        make_image_backend("sam3")
    with pytest.raises(CheckpointNotFoundError, match="sam2.1_hiera_tiny.pt"):
        make_image_backend("sam2", model="sam2.1_hiera_tiny")


@pytest.mark.slow
def test_auto_uses_a_present_checkpoint(tmp_path, monkeypatch):
    from workbench.backends.sam2.loading import build_sam2_model, save_checkpoint

    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(tmp_path))
    model, _ = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=256)
    save_checkpoint(model, tmp_path / "sam2.1_hiera_tiny.pt")
    assert available_backends() == [("classical", None), ("sam2", "sam2.1_hiera_tiny")]
    backend = make_image_backend("auto", model="tiny", image_size=256)
    assert backend.info.backend == "sam2" and backend.info.model == "sam2.1_hiera_tiny"
    assert backend.info.checkpoint == str(tmp_path / "sam2.1_hiera_tiny.pt") and not backend.info.untrained
    assert len(backend.info.checkpoint_sha256) == 64
