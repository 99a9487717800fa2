"""The other model families in the protocols and runners: SAM 3's ``text`` prompt kind in the
image protocol (its own run card fields and per-image columns) and in the VOS runner (instances
tracked through DAVIS frames, matched to the annotation, scored with J and F), MedSAM2 as a ``sam2`` registry
model at its own 512 px in the 3-D volume protocol, and the survey's model list picking up
MedSAM2 (medical experiment only) and transformers model folders. Random weights: UNTRAINED."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from workbench.backends import make_video_backend
from workbench.backends.sam2 import build_sam2_model, save_checkpoint
from workbench.errors import ConfigError
from workbench.io.images import read_palette_mask
from workbench.io.medical import load_volumes
from workbench.metrics.vos_eval import evaluate_vos_arrays
from workbench.protocols.specs import ImageRunSpec, VOSRunSpec
from workbench.protocols.volumes import run_volume_protocol
from workbench.runners import read_run, run_image_benchmark, run_vos_benchmark
from workbench.runners.survey import normalise_models, survey_models

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def medsam2_dir(tmp_path_factory) -> Path:
    """Random SAM 2.1-tiny weights under MedSAM2's official file name."""
    folder = tmp_path_factory.mktemp("medsam2")
    net, _ = build_sam2_model("medsam2", checkpoint="random", mode="video", image_size=512)
    save_checkpoint(net, folder / "MedSAM2_latest.pt")
    return folder


def test_text_prompt_kind_in_the_image_protocol(tmp_path, data_dir) -> None:
    run_dir = run_image_benchmark(
        backend="transformers",
        model="sam3",
        checkpoint="random",
        image_size=224,
        device="cpu",
        dataset="grabcut",
        subset=2,
        max_clicks=1,
        box_prompt=False,
        text_prompt="flower",
        text_threshold=0.0,
        data_root=data_dir,
        reports_root=tmp_path,
        run_id="text",
        progress=False,
    )
    run = read_run(run_dir)
    card, summary = run["card"], run["summary"]
    assert card["backend"] == "transformers" and card["untrained"] and card["backend_extra"]["architecture"] == "sam3"
    assert card["params"]["text_prompt"] == "flower" and card["params"]["text_threshold"] == 0.0
    table = pd.read_csv(run_dir / "per_image.csv")
    assert len(table) == 2 and {"text-IoU", "text-best-IoU", "text-instances"} <= set(table.columns)
    assert (table["text-instances"] == 20).all()  # every query kept at threshold 0
    assert (table["text-best-IoU"] >= table["text-IoU"]).all() and table["text-best-IoU"].between(0, 1).all()
    assert summary["text-mIoU"] == pytest.approx(table["text-IoU"].mean())
    with pytest.raises(ConfigError, match="concept prompts"):
        run_image_benchmark(
            backend="classical", dataset="grabcut", subset=1, max_clicks=1, text_prompt="flower",
            data_root=data_dir, reports_root=tmp_path, run_id="no-text", progress=False,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="noun phrase"):
        ImageRunSpec(text_prompt=" ")


def test_text_prompt_kind_in_the_vos_runner(tmp_path, data_dir, davis_dir) -> None:
    frames = 3
    run_dir = run_vos_benchmark(
        backend="transformers",
        model="sam3",
        checkpoint="random",
        image_size=224,
        device="cpu",
        sequences=("blackswan",),
        max_frames=frames,
        prompt="text",
        text_prompt="swan",
        save_masks=True,
        data_root=data_dir,
        reports_root=tmp_path,
        run_id="text-vos",
        progress=False,
    )
    run = read_run(run_dir)
    card, summary = run["card"], run["summary"]
    assert card["untrained"] and card["backend_extra"]["architecture"] == "sam3"
    assert card["params"]["prompt"] == "text" and card["params"]["text_prompt"] == "swan"
    record = json.loads((run_dir / "items.jsonl").read_text().splitlines()[0])["result"]
    concept = record["concept"]
    assert concept["text"] == "swan" and summary["text_prompt"] == "swan"
    assert summary["concept-objects"] == concept["objects"] == len(concept["matches"]) > 0  # random weights find some
    assert summary["false-objects"] == concept["unmatched"]
    matched = [m for m in concept["matches"] if m["gt_id"] is not None]
    assert len(matched) <= 1 and all(m["gt_id"] == 1 and m["iou"] > 0 for m in matched)
    assert record["prompt_frames"] == {str(m["gt_id"]): m["frame"] for m in matched}
    # the written masks, scored again, give the run's J and F
    gt = np.stack([read_palette_mask(davis_dir / "Annotations" / "blackswan" / f"{t:05d}.png") for t in range(frames)])
    pred = np.stack([read_palette_mask(run_dir / "masks" / "blackswan" / f"{t:05d}.png") for t in range(frames)])
    again = evaluate_vos_arrays({1: gt == 1}, {1: pred == 1}, void=gt == 255, sequence="blackswan")
    assert summary["J-Mean"] == pytest.approx(again.per_object["blackswan_1"]["J-Mean"])
    assert summary["F-Mean"] == pytest.approx(again.per_object["blackswan_1"]["F-Mean"])
    with pytest.raises(ConfigError, match="concept prompts"):
        run_vos_benchmark(
            backend="classical", sequences=1, max_frames=2, prompt="text", text_prompt="swan",
            data_root=data_dir, reports_root=tmp_path, run_id="no-text", progress=False,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="noun phrase"):
        VOSRunSpec(prompt="text")
    with pytest.raises(ConfigError, match="text_prompt"):
        VOSRunSpec(prompt="mask", text_prompt="swan")
    assert "text_prompt" not in VOSRunSpec().params()  # mask-prompted cards stay as they were


def test_medsam2_runs_the_volume_protocol_at_512_px(medsam2_dir, data_dir, monkeypatch) -> None:
    monkeypatch.setenv("SAM2_CHECKPOINT_DIR", str(medsam2_dir))
    backend = make_video_backend("sam2", "medsam2", device="cpu")  # its own size: 512
    info = backend.info
    assert info.model == "medsam2_latest" and info.image_size == 512 and info.extra["family"] == "medsam2"
    assert info.checkpoint == str(medsam2_dir / "MedSAM2_latest.pt") and not info.untrained
    volume = load_volumes(data_dir, subset=1)[0]
    result = run_volume_protocol(backend, volume, prompt="mask", max_frame_num_to_track=1)
    # the mask prompt comes back through the 512-px model: nearly the ground truth on its slice
    assert result.prompt_slice_dice > 0.95 and result.num_slices == 25 and not result.untrained


def test_survey_models_pick_up_medsam2_and_model_folders(medsam2_dir, tmp_path) -> None:
    assert [m["model"] for m in survey_models(checkpoint_dir=medsam2_dir)] == [None]  # classical only
    medical = survey_models(checkpoint_dir=medsam2_dir, medical=True)
    assert medical[1] == {
        "backend": "sam2",
        "model": "medsam2_latest",
        "checkpoint": str(medsam2_dir / "MedSAM2_latest.pt"),
        "image_size": 512,
    }
    folder = tmp_path / "yonigozlan" / "EdgeTAM-hf"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "edgetam_video"}))
    (folder / "model.safetensors").write_bytes(b"x")
    assert survey_models(checkpoint_dir=tmp_path)[-1] == {
        "backend": "transformers",
        "model": "hf_edgetam",
        "checkpoint": str(folder),
        "image_size": 1024,
    }
    # a notebook's list: the model's own size when none is given
    sizes = normalise_models([{"backend": "sam2", "model": "medsam2"}, {"backend": "transformers", "model": "sam3"}])
    assert [m["image_size"] for m in sizes] == [512, 1008]
