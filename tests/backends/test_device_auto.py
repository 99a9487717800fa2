"""device="auto" / precision="auto" are the defaults everywhere, and the choice is recorded."""

from __future__ import annotations

import inspect
import json
import logging

import pytest
import torch

from workbench.backends import make_image_backend, make_video_backend
from workbench.backends.runtime import slow_cpu_hint
from workbench.cli import main
from workbench.protocols.specs import BackendRequest
from workbench.runners import run_image_benchmark
from workbench.runners.executors import BackendSpec
from workbench.sessions import ImageSession

EXPECTED = "cuda" if torch.cuda.is_available() else "cpu"


def test_defaults_are_auto() -> None:
    for fn in (make_image_backend, make_video_backend):
        assert inspect.signature(fn).parameters["device"].default == "auto"
    assert BackendRequest().device == "auto" and BackendRequest().precision == "auto"
    assert BackendSpec("image").device == "auto" and BackendSpec("image").precision == "auto"


def test_sam2_auto_picks_this_machines_device_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="workbench"):
        backend = make_image_backend("sam2", checkpoint="random", image_size=256)
    assert backend.info.device.startswith(EXPECTED)
    assert backend.info.extra["precision"] in (("fp32",) if EXPECTED == "cpu" else ("fp32", "bf16"))
    session = ImageSession(backend, __import__("numpy").zeros((64, 64, 3), "uint8"))
    assert session.backend_label.endswith(f"{backend.info.device} · {backend.info.extra['precision']}")
    assert not caplog.records  # 256 px is not slow enough to warn about


def test_slow_hint_only_for_full_size_models_on_cpu() -> None:
    assert slow_cpu_hint("sam2", "cpu", 1024) is not None
    assert "image_size" in slow_cpu_hint("sam", "cpu", 1024)
    assert slow_cpu_hint("sam2", "cpu", 512) is None
    assert slow_cpu_hint("sam2", "cuda", 1024) is None
    assert slow_cpu_hint("classical", "cpu", 1024) is None


def test_classical_refuses_a_torch_precision() -> None:
    from workbench.errors import UnknownNameError

    make_image_backend("classical", precision="auto")
    with pytest.raises(UnknownNameError, match="bf16"):
        make_image_backend("classical", precision="bf16")


def test_run_card_records_chosen_device_and_precision(tmp_path) -> None:
    run = run_image_benchmark(
        backend="sam2",
        checkpoint="random",
        image_size=256,
        dataset="samples",
        subset=1,
        max_clicks=1,
        box_prompt=False,
        reports_root=tmp_path,
        progress=False,
    )
    card = json.loads((run / "run_card.json").read_text())
    assert card["device"].startswith(EXPECTED)
    assert card["precision"] in (("fp32",) if EXPECTED == "cpu" else ("fp32", "bf16"))
    assert card["spec"]["backend_request"]["device"] == "auto"


def test_checkpoints_list_covers_every_family(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert main(["checkpoints", "list", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("sam2.1_hiera_tiny", "sam2_hiera_large", "sam_vit_b", "sam_vit_h"):
        assert name in out
