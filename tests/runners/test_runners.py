"""Runners on real data with the weight-free backend: run folders, run cards, consistency
between the runner's own scores and a re-evaluation of the masks it saved."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.errors import ConfigError, UnknownNameError
from workbench.runners import read_run, run_image_benchmark, run_vos_benchmark
from workbench.runners.card import new_run_dir
from workbench.runners.vos_eval import evaluate_vos

pytestmark = pytest.mark.slow


def test_vos_runner_writes_davis_files_that_rescore_identically(tmp_path, davis_dir):
    run_dir = run_vos_benchmark(
        backend="classical",
        data_root=davis_dir,
        sequences=["blackswan", "car-shadow"],
        max_frames=6,
        prompt="mask",
        save_masks=True,
        run_id="vos-test",
        reports_root=tmp_path,
        progress=False,
    )
    assert run_dir == tmp_path / "vos-test"
    run = read_run(run_dir)
    card, summary = run["card"], run["summary"]
    assert card["backend"] == "classical" and card["status"] == "done" and not card["untrained"]
    assert card["items"] == ["blackswan", "car-shadow"] and card["wall_time_s"] > 0
    assert card["versions"]["sam2"] == "1.1.0"
    glob = pd.read_csv(run_dir / "global_results.csv")
    assert list(glob.columns) == ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]
    per_seq = pd.read_csv(run_dir / "per_sequence_results.csv")
    assert per_seq["Sequence"].tolist() == ["blackswan_1", "car-shadow_1"]
    assert 0.3 < summary["J&F-Mean"] <= 1 and summary["FPS"] > 0 and summary["frames"] == 12
    per_frame = json.loads((run_dir / "per_frame.json").read_text())
    assert len(per_frame["blackswan"]["1"]["J"]) == 4  # frames 1..n-2
    # the saved palette masks, scored by the folder evaluator against GT cut to 6 frames, agree
    gt_root = tmp_path / "gt"
    for seq in ("blackswan", "car-shadow"):
        (gt_root / "Annotations" / seq).mkdir(parents=True)
        for t in range(6):
            (gt_root / "Annotations" / seq / f"{t:05d}.png").symlink_to(
                davis_dir / "Annotations" / seq / f"{t:05d}.png"
            )
    ev = evaluate_vos(gt_root, run_dir / "masks", sequences=["blackswan", "car-shadow"])
    for k in glob.columns:
        assert ev.global_[k] == pytest.approx(glob[k][0], abs=1e-6)


def test_vos_runner_per_object_pngs_rescore_with_the_sav_evaluator(tmp_path, davis_dir):
    from workbench.runners.vos_eval import detect_layout, evaluate_vos_per_object

    run_dir = run_vos_benchmark(
        backend="classical",
        data_root=davis_dir,
        sequences=["blackswan"],
        max_frames=5,
        save_masks=True,
        per_object_png=True,
        track_objects_appearing_later=True,
        run_id="vos-po",
        reports_root=tmp_path,
        progress=False,
    )
    card = read_run(run_dir)["card"]
    assert card["params"]["per_object_png"] is True and card["params"]["track_objects_appearing_later"] is True
    assert card["backend_settings"] == {}  # the classical backend has no SAM 2 video settings
    pngs = sorted((run_dir / "masks" / "blackswan" / "001").glob("*.png"))
    assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(5)] and detect_layout(
        run_dir / "masks"
    ) == "per-object"
    gt_root = tmp_path / "gt"
    (gt_root / "Annotations" / "blackswan").mkdir(parents=True)
    for t in range(5):
        (gt_root / "Annotations" / "blackswan" / f"{t:05d}.png").symlink_to(
            davis_dir / "Annotations" / "blackswan" / f"{t:05d}.png"
        )
    ev = evaluate_vos_per_object(gt_root, run_dir / "masks")
    assert list(ev.per_object["blackswan"]) == ["001"] and 30 < ev.global_["J"] <= 100
    rec = json.loads((run_dir / "items.jsonl").read_text().splitlines()[0])
    assert rec["result"]["masks_layout"] == "per-object" and rec["result"]["prompt_frames"] == {"1": 0}


def test_vos_runner_click_prompt_records_clicks(tmp_path, davis_dir):
    run_dir = run_vos_benchmark(
        backend="classical",
        data_root=davis_dir,
        sequences=1,
        max_frames=4,
        prompt="clicks",
        n_clicks=3,
        reports_root=tmp_path,
        progress=False,
    )
    run = read_run(run_dir)
    assert run["card"]["params"]["prompt"] == "clicks3"
    assert not (run_dir / "masks").exists()


def test_image_runner_click_and_box_results(tmp_path, data_dir):
    run_dir = run_image_benchmark(
        backend="classical",
        dataset="grabcut",
        data_root=data_dir,
        subset=3,
        max_clicks=3,
        save_masks=True,
        overlay_clicks=2,
        reports_root=tmp_path,
        progress=False,
    )
    per_image = pd.read_csv(run_dir / "per_image.csv")
    assert per_image["item"].astype(str).tolist() == ["106024", "124080", "153077"]
    summary = read_run(run_dir)["summary"]
    assert summary["mIoU@1"] == pytest.approx(per_image["IoU@1"].mean())
    assert summary["mIoU@3"] == pytest.approx(per_image["IoU@3"].mean())
    assert summary["NoC@85"] == pytest.approx(per_image["NoC@85"].mean())
    assert 1 <= summary["NoC@90"] <= 3 and 0 < summary["box-mIoU"] <= 1
    assert summary["box-mDice"] >= summary["box-mIoU"]  # Dice >= IoU always
    clicks = json.loads((run_dir / "clicks.json").read_text())
    first = clicks["106024"]["clicks"][0]
    assert (first["row"], first["col"], first["is_positive"]) == (210, 230, True)  # RITM's first click
    curve = pd.read_csv(run_dir / "click_curve.csv")
    assert curve["clicks"].tolist() == [1, 2, 3]
    assert (curve["oracle-mIoU"] >= curve["mIoU"] - 1e-12).all()
    assert sorted(p.name for p in (run_dir / "masks").glob("*.png")) == ["106024.png", "124080.png", "153077.png"]


def test_smoke_limits_and_bad_parameters(tmp_path, data_dir):
    run_dir = run_image_benchmark(
        backend="classical", dataset="samples", smoke=True, box_prompt=False, reports_root=tmp_path, progress=False
    )
    card = read_run(run_dir)["card"]
    assert len(card["items"]) == 5 and card["params"]["max_clicks"] == 5
    with pytest.raises(UnknownNameError, match="clicks1"):
        run_vos_benchmark(prompt="scribble", reports_root=tmp_path)
    with pytest.raises(UnknownNameError, match="classical"):
        run_image_benchmark(backend="sam3", reports_root=tmp_path, data_root=data_dir)
    with pytest.raises(ConfigError):
        new_run_dir("../escape", root=tmp_path)


def test_untrained_sam2_runs_are_marked_loudly(tmp_path, data_dir):
    from workbench.runners.views import run_header

    run_dir = run_image_benchmark(
        backend="sam2",
        model="sam2.1_hiera_tiny",
        checkpoint="random",
        image_size=256,
        dataset="grabcut",
        data_root=data_dir,
        subset=1,
        max_clicks=2,
        reports_root=tmp_path,
        progress=False,
    )
    card = json.loads((run_dir / "run_card.json").read_text())
    assert card["untrained"] and card["checkpoint_sha256"] == "untrained" and "UNTRAINED" in card["WARNING"]
    assert card["image_size"] == 256
    assert "UNTRAINED" in run_header(run_dir)
    assert read_run(run_dir)["summary"]["label"].endswith("(UNTRAINED)")
    assert np.isfinite(read_run(run_dir)["summary"]["mIoU@1"])
