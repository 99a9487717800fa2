"""``workbench eval vos`` on the per-object (SA-V) layout reproduces SAM 2's
``sav_dataset/sav_evaluator.py``: the expected numbers in ``tests/data/sav_eval/expected.json``
were printed by the official evaluator on the committed ``gt/`` and ``pred/`` folders (2 videos,
objects appearing late, predicted early, lost, never predicted, and one not in the ground truth)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main
from workbench.errors import DatasetNotFoundError, ResultsFormatError, UnknownNameError
from workbench.io.images import read_palette_mask, write_palette_mask
from workbench.io.label_maps import merge_object_masks
from workbench.metrics.vos_eval import sav_object_scores
from workbench.runners.vos_eval import detect_layout, evaluate_vos_cli, evaluate_vos_per_object

DATA = Path(__file__).resolve().parents[1] / "data" / "sav_eval"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text())


def _same(ev, ref: dict, sequences=None) -> None:
    per_object = {s: o for s, o in ref["per_object"].items() if sequences is None or s in sequences}
    assert set(ev.per_object) == set(per_object)
    for seq, objs in per_object.items():
        assert set(ev.per_object[seq]) == set(objs)
        for name, st in objs.items():
            assert ev.per_object[seq][name]["J"] == pytest.approx(st["J"], rel=1e-12, abs=1e-12)
            assert ev.per_object[seq][name]["F"] == pytest.approx(st["F"], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("mode", ["skip_first_and_last", "all_frames"])
def test_per_object_layout_scores_as_sav_evaluator(expected, mode):
    ref = expected[mode]
    ev = evaluate_vos_per_object(DATA / "gt", DATA / "pred", skip_first_last=mode == "skip_first_and_last")
    _same(ev, ref)
    for k in ("J&F", "J", "F"):
        assert ev.global_[k] == pytest.approx(ref["global"][k], rel=1e-12)
    assert "009" not in ev.per_object["dog"]  # predicted objects the ground truth lacks are ignored
    # dog's object 2 is annotated from frame 3 but predicted before: counted from the first
    # evaluated frame with a prediction, as the reference's Evaluator does
    assert ev.per_frame["dog"]["002"]["frames"][0] == (1 if mode == "skip_first_and_last" else 0)


def test_cli_detects_the_layout_and_writes_sav_numbers(expected, tmp_path, capsys):
    assert detect_layout(DATA / "pred") == "per-object"
    assert (
        main(["eval", "vos", "--gt-root", str(DATA / "gt"), "--results", str(DATA / "pred"), "--out", str(tmp_path)])
        == 0
    )
    assert "sav_evaluator.py" in capsys.readouterr().out
    with (tmp_path / "global_results.csv").open() as fh:
        row = next(csv.DictReader(fh))
    assert float(row["J&F"]) == pytest.approx(expected["skip_first_and_last"]["global"]["J&F"], rel=1e-12)
    with (tmp_path / "per_object_results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["sequence"], r["obj"]) for r in rows} == {
        ("blackswan", "001"),
        ("blackswan", "002"),
        ("blackswan", "003"),
        ("dog", "001"),
        ("dog", "002"),
    }
    with pytest.raises(DatasetNotFoundError, match="Annotations"):  # the DAVIS evaluator needs a DAVIS root
        evaluate_vos_cli(DATA / "gt", DATA / "pred", tmp_path / "x", layout="davis")
    with pytest.raises(UnknownNameError, match="per-object"):
        evaluate_vos_cli(DATA / "gt", DATA / "pred", tmp_path / "x", layout="sa-v")


def test_davis_ground_truth_is_split_into_objects(expected, tmp_path):
    """DAVIS id maps as ground truth: one object per id over every frame, as the reference scores
    them after converting the annotations to its per-object layout."""
    root = tmp_path / "davis"
    folders = sorted((DATA / "gt" / "dog").iterdir())
    n = len(list(folders[0].glob("*.png")))
    for t in range(n):
        masks = {int(f.name): read_palette_mask(f / f"{t:05d}.png") > 0 for f in folders}
        write_palette_mask(root / "Annotations" / "dog" / f"{t:05d}.png", merge_object_masks(masks))
    ev = evaluate_vos_per_object(root, DATA / "pred", sequences=["dog"])
    _same(ev, expected["skip_first_and_last"], ["dog"])


def test_missing_object_and_frame_are_reported(tmp_path):
    pred = tmp_path / "pred"
    shutil.copytree(DATA / "pred", pred)
    (pred / "dog" / "002" / "00003.png").unlink()
    with pytest.raises(ResultsFormatError, match="00003.png"):
        evaluate_vos_per_object(DATA / "gt", pred)
    shutil.rmtree(pred / "dog" / "002")
    with pytest.raises(ResultsFormatError, match="object 002"):
        evaluate_vos_per_object(DATA / "gt", pred)


def test_object_never_annotated_has_no_score():
    gt = np.zeros((4, 5, 6), bool)
    pred = gt.copy()
    pred[1, 1:3, 1:3] = True
    assert sav_object_scores(gt, pred) is None
    gt[2, 0:2, 0:2] = True
    r = sav_object_scores(gt, pred)
    assert r["frames"] == [1, 2] and r["J"] == 0.0  # counted from the first frame predicted
