"""DAVIS J/F evaluation: golden outputs of davis2017-evaluation, layouts, errors, decay."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError, ResultsFormatError, UnknownNameError
from workbench.io.images import write_palette_mask
from workbench.metrics import (
    GLOBAL_COLUMNS,
    db_eval_boundary,
    db_eval_iou,
    db_statistics,
    evaluate_vos_arrays,
    global_accuracy,
    write_vos_csvs,
    youtube_vos_g,
)
from workbench.runners.vos_eval import evaluate_vos, evaluate_vos_cli, load_davis_gt

VARIANTS = ("osvos", "eroded", "dilated", "shifted", "dropped")
TOL = 1e-6


# --------------------------------------------------------------------------------------------
# fixtures: golden data, GT read once per module, each variant evaluated once
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "davis_jf" / "expected.json").read_text())


@pytest.fixture(scope="module")
def davis_gt(davis_dir: Path):
    return load_davis_gt(davis_dir, keep_in_memory=True)


@pytest.fixture(scope="module")
def golden_evals(davis_gt, golden_dir: Path) -> dict:
    return {v: evaluate_vos(davis_gt, golden_dir / "davis_jf" / v) for v in VARIANTS}


def _assert_matches_golden(global_: dict, per_object: dict, expected: dict) -> None:
    assert list(global_) == list(GLOBAL_COLUMNS)
    for key, value in expected["global"].items():
        assert global_[key] == pytest.approx(value, abs=TOL), key
    assert set(per_object) == set(expected["per_object"])
    for name, stats in expected["per_object"].items():
        for key, value in stats.items():
            assert per_object[name][key] == pytest.approx(value, abs=TOL), (name, key)


# --------------------------------------------------------------------------------------------
# golden reproduction
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_evaluate_vos(variant, golden_evals, golden, davis_gt):
    ev, exp = golden_evals[variant], golden[variant]
    _assert_matches_golden(ev.global_, ev.per_object, exp)
    assert set(ev.per_frame) == set(exp["per_frame"])
    for seq, lists in exp["per_frame"].items():
        assert list(ev.per_frame[seq]) == [1]
        for m in ("J", "F"):
            got = np.asarray(ev.per_frame[seq][1][m])
            want = np.asarray(lists[m])
            assert got.shape == want.shape, (seq, m)
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0, err_msg=f"{variant} {seq} {m}")
        # frames 1 .. n-2 of the sequence are the ones scored
        assert ev.frames[seq] == davis_gt.read(seq)[0][1:-1]


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_through_csv(variant, golden_evals, golden, tmp_path):
    g_path, s_path = write_vos_csvs(golden_evals[variant], tmp_path)
    glob_df = pd.read_csv(g_path)
    seq_df = pd.read_csv(s_path)
    assert list(glob_df.columns) == list(GLOBAL_COLUMNS) and len(glob_df) == 1
    assert list(seq_df.columns) == ["Sequence", "J-Mean", "F-Mean"]
    global_ = {k: float(glob_df[k].iloc[0]) for k in GLOBAL_COLUMNS}
    per_object = {r["Sequence"]: {"J-Mean": r["J-Mean"], "F-Mean": r["F-Mean"]} for r in seq_df.to_dict("records")}
    _assert_matches_golden(global_, per_object, golden[variant])


def test_dropped_variant_has_empty_frames_scored_zero(golden_dir, davis_dir):
    """Every 4th frame of `dropped` is empty: J = F = 0 there (GT is never empty here)."""
    ev = evaluate_vos(davis_dir, golden_dir / "davis_jf" / "dropped", sequences=["car-shadow"])
    j = np.asarray(ev.per_frame["car-shadow"][1]["J"])
    f = np.asarray(ev.per_frame["car-shadow"][1]["F"])
    zero = j == 0
    assert zero.sum() >= len(j) // 5
    assert np.all(f[zero] == 0)
    assert np.all(j[~zero] > 0.5)


# --------------------------------------------------------------------------------------------
# layouts and errors
# --------------------------------------------------------------------------------------------
def _link_tree_480p(davis_dir: Path, root: Path, seqs: list[str]) -> Path:
    """DAVIS-2017-style tree: Annotations/480p/<seq> (symlinks) + ImageSets/2017/val.txt."""
    (root / "Annotations" / "480p").mkdir(parents=True)
    for s in seqs:
        (root / "Annotations" / "480p" / s).symlink_to(davis_dir / "Annotations" / s)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(seqs) + "\n")
    return root


def test_480p_layout_and_cli(davis_dir, golden_dir, golden, tmp_path):
    seqs = ["libby", "blackswan"]
    root = _link_tree_480p(davis_dir, tmp_path / "davis17", seqs)
    out = tmp_path / "out"
    ev = evaluate_vos_cli(root, golden_dir / "davis_jf" / "shifted", out)
    exp = golden["shifted"]
    assert list(ev.per_object) == ["libby_1", "blackswan_1"]  # order of val.txt
    for name in ev.per_object:
        for k in ("J-Mean", "F-Mean"):
            assert ev.per_object[name][k] == pytest.approx(exp["per_object"][name][k], abs=TOL)
    want_j = np.mean([exp["per_object"][f"{s}_1"]["J-Mean"] for s in seqs])
    assert ev.global_["J-Mean"] == pytest.approx(want_j, abs=TOL)
    assert ev.global_["J&F-Mean"] == pytest.approx((ev.global_["J-Mean"] + ev.global_["F-Mean"]) / 2)
    assert (out / "global_results.csv").is_file() and (out / "per_sequence_results.csv").is_file()
    assert pd.read_csv(out / "per_sequence_results.csv")["Sequence"].tolist() == ["libby_1", "blackswan_1"]


def _copy_results(src: Path, dst: Path, seq: str) -> Path:
    (dst / seq).mkdir(parents=True)
    for f in sorted((src / seq).glob("*.png")):
        (dst / seq / f.name).symlink_to(f)
    return dst


def test_missing_results_frame_names_file(davis_dir, golden_dir, tmp_path):
    res = _copy_results(golden_dir / "davis_jf" / "osvos", tmp_path / "res", "car-shadow")
    (res / "car-shadow" / "00010.png").unlink()
    with pytest.raises(ResultsFormatError) as info:
        evaluate_vos(davis_dir, res, sequences="car-shadow")
    msg = str(info.value)
    assert "car-shadow/00010.png" in msg and "<results_dir>/<sequence>/<frame>.png" in msg


def test_missing_results_sequence(davis_dir, golden_dir, tmp_path):
    res = _copy_results(golden_dir / "davis_jf" / "osvos", tmp_path / "res", "car-shadow")
    with pytest.raises(ResultsFormatError, match="libby"):
        evaluate_vos(davis_dir, res, sequences=["car-shadow", "libby"])


def test_first_and_last_results_frames_not_needed(davis_dir, golden_dir, golden, tmp_path):
    res = _copy_results(golden_dir / "davis_jf" / "osvos", tmp_path / "res", "car-shadow")
    files = sorted((res / "car-shadow").glob("*.png"))
    files[0].unlink()
    files[-1].unlink()
    ev = evaluate_vos(davis_dir, res, sequences="car-shadow")
    assert ev.per_object["car-shadow_1"]["J-Mean"] == pytest.approx(
        golden["osvos"]["per_object"]["car-shadow_1"]["J-Mean"], abs=TOL
    )


def test_results_size_mismatch_and_unknown_sequence(davis_dir, tmp_path):
    gt = load_davis_gt(davis_dir, sequences="car-shadow")
    names, _ids = gt.read("car-shadow")
    res = tmp_path / "res"
    for n in names:
        write_palette_mask(res / "car-shadow" / f"{n}.png", np.zeros((240, 427), np.uint8))
    with pytest.raises(ResultsFormatError, match="427x240"):
        evaluate_vos(gt, res)
    with pytest.raises(UnknownNameError, match="car-shadow"):
        evaluate_vos(davis_dir, res, sequences=["no-such-seq"])


# --------------------------------------------------------------------------------------------
# multi-object matching on a synthetic sequence
# --------------------------------------------------------------------------------------------
def _square(h, w, r0, c0, side):
    m = np.zeros((h, w), bool)
    m[r0 : r0 + side, c0 : c0 + side] = True
    return m


def _two_object_tree(tmp_path: Path, n: int = 5, h: int = 40, w: int = 60):
    gt_root = tmp_path / "gt"
    (gt_root / "ImageSets").mkdir(parents=True)
    (gt_root / "ImageSets" / "val.txt").write_text("pair\n")
    obj1, obj2 = _square(h, w, 5, 5, 10), _square(h, w, 20, 30, 10)
    gt_ids = obj1 * 1 + obj2 * 2
    for t in range(n):
        write_palette_mask(gt_root / "Annotations" / "pair" / f"{t:05d}.png", gt_ids)
    return gt_root, obj1, obj2


def test_multi_object_ids_matched_by_id(tmp_path):
    gt_root, obj1, obj2 = _two_object_tree(tmp_path)
    # object 1 perfect; object 2 shifted right by 5 columns: |A∩B| = 50, |A∪B| = 150.
    pred_ids = obj1 * 1 + np.roll(obj2, 5, axis=1) * 2
    res = tmp_path / "res"
    for t in range(5):
        write_palette_mask(res / "pair" / f"{t:05d}.png", pred_ids)
    ev = evaluate_vos(gt_root, res)
    assert list(ev.per_object) == ["pair_1", "pair_2"]
    assert ev.per_frame["pair"][1]["J"] == [1.0, 1.0, 1.0]
    assert ev.per_frame["pair"][1]["F"] == [1.0, 1.0, 1.0]
    assert ev.per_frame["pair"][2]["J"] == pytest.approx([1 / 3] * 3)
    assert ev.global_["J-Mean"] == pytest.approx((1 + 1 / 3) / 2)
    assert ev.per_object["pair_2"]["J-Recall"] == 0.0 and ev.per_object["pair_1"]["J-Recall"] == 1.0

    # swapped ids: each object is scored against the other's (disjoint) region -> J = 0
    for t in range(5):
        write_palette_mask(res / "pair" / f"{t:05d}.png", obj1 * 2 + obj2 * 1)
    swapped = evaluate_vos(gt_root, res)
    assert swapped.global_["J-Mean"] == 0.0 and swapped.global_["F-Mean"] == 0.0

    # an id that is no object of the first frame is refused
    for t in range(5):
        write_palette_mask(res / "pair" / f"{t:05d}.png", obj1 * 3)
    with pytest.raises(ResultsFormatError, match=r"\[3\]"):
        evaluate_vos(gt_root, res)


def test_void_pixels_not_scored(tmp_path):
    gt_root, obj1, obj2 = _two_object_tree(tmp_path)
    gt_ids = obj1 * 1 + obj2 * 2
    void = np.zeros_like(obj1)
    void[30:40, 0:20] = True
    gt_ids = np.where(void, 255, gt_ids)
    for t in range(5):
        write_palette_mask(gt_root / "Annotations" / "pair" / f"{t:05d}.png", gt_ids)
    res = tmp_path / "res"
    pred_ids = obj1 * 1 + obj2 * 2 + void * 1  # object 1 spills only into the void region
    for t in range(5):
        write_palette_mask(res / "pair" / f"{t:05d}.png", pred_ids)
    ev = evaluate_vos(gt_root, res)
    assert ev.global_["J-Mean"] == 1.0 and ev.global_["F-Mean"] == 1.0


def test_evaluate_vos_arrays_checks():
    g = np.zeros((4, 6, 6), bool)
    with pytest.raises(DataError, match="ids"):
        evaluate_vos_arrays({1: g}, {2: g})
    with pytest.raises(DataError, match="at least 3"):
        evaluate_vos_arrays(g[:2], g[:2])
    ev = evaluate_vos_arrays(g, g, skip_first_last=False, sequence="s")
    assert ev.per_frame["s"][1]["J"] == [1.0] * 4 and ev.frames["s"] == ["00000", "00001", "00002", "00003"]


# --------------------------------------------------------------------------------------------
# statistics: recall, decay (correct vs reference uint8 quirk)
# --------------------------------------------------------------------------------------------
def test_db_statistics_hand_computed():
    # n = 5: quarter edges round(linspace(1, 5, 5)) - 1 = [0, 1, 2, 3, 4];
    # first quarter frames 0..1 = [1, 1], last quarter frames 3..4 = [0, 0.6]
    mean, recall, decay = db_statistics([1.0, 1.0, 0.0, 0.0, 0.6])
    assert mean == pytest.approx(0.52)
    assert recall == pytest.approx(0.6)
    assert decay == pytest.approx(1.0 - 0.3)


def test_decay_300_frames_correct_vs_reference_quirk():
    # 302-frame sequence -> 300 scored frames; prediction perfect on the first 150 scored
    # frames, empty afterwards -> J = 1 then 0.
    t, h, w = 302, 6, 8
    gt = np.zeros((t, h, w), bool)
    gt[:, 2:4, 2:6] = True
    pred = gt.copy()
    pred[151:] = False
    fixed = evaluate_vos_arrays(gt, pred, sequence="long")
    quirk = evaluate_vos_arrays(gt, pred, sequence="long", reference_quirk=True)
    j = np.asarray(fixed.per_frame["long"][1]["J"])
    assert j.size == 300 and j[:150].min() == 1.0 and j[150:].max() == 0.0
    # n = 300: edges = round(linspace(1, 300, 5)) - 1 = [0, 75, 150, 224, 299]; frames 0..75
    # all score 1 and frames 224..299 all score 0, so the decay is exactly 1.
    assert fixed.per_object["long_1"]["J-Decay"] == 1.0
    assert fixed.per_object["long_1"]["F-Decay"] == 1.0
    # the reference's uint8 edges wrap: 299 -> 43, the last quarter x[224:44] is empty -> NaN
    assert math.isnan(quirk.per_object["long_1"]["J-Decay"])
    assert fixed.per_object["long_1"]["J-Mean"] == quirk.per_object["long_1"]["J-Mean"] == 0.5


def test_decay_same_up_to_256_frames():
    x = np.random.default_rng(1).random(256)
    assert db_statistics(x) == db_statistics(x, reference_quirk=True)
    ramp = np.arange(300, dtype=float)
    # correct: mean(0..75) - mean(224..299) = 37.5 - 261.5
    assert db_statistics(ramp)[2] == pytest.approx(-224.0)


# --------------------------------------------------------------------------------------------
# per-frame functions and the two G's
# --------------------------------------------------------------------------------------------
def test_db_eval_iou_boundary_2d_and_3d():
    a = np.zeros((3, 20, 30), bool)
    a[:, 5:15, 5:15] = True
    s = a.copy()
    s[1] = False
    s[2, 5:15, 10:20] = True
    s[2, 5:15, 5:10] = False  # shifted by 5 columns: 50 / 150
    j = db_eval_iou(a, s)
    np.testing.assert_allclose(j, [1.0, 0.0, 1 / 3])
    assert db_eval_iou(a[2], s[2]) == pytest.approx(1 / 3)
    f = db_eval_boundary(a, s)
    assert f[0] == 1.0 and f[1] == 0.0 and 0 < f[2] < 1
    assert db_eval_boundary(a[2], s[2]) == pytest.approx(f[2])
    void = np.zeros_like(a)
    void[2, :, 5:20] = True
    assert db_eval_iou(a, s, void)[2] == 1.0
    with pytest.raises(DataError, match="differ"):
        db_eval_iou(a, s[:, :10])


def test_global_accuracy_and_youtube_g():
    gt = np.array([[[0, 1], [2, 2]], [[0, 0], [1, 1]]])
    pred = np.array([[[0, 1], [1, 2]], [[0, 0], [0, 1]]])
    assert global_accuracy(gt, pred) == pytest.approx(6 / 8)
    void = np.zeros_like(gt, bool)
    void[0, 1, 0] = True
    assert global_accuracy(gt, pred, void) == pytest.approx(6 / 7)
    assert youtube_vos_g(0.8, 0.7, 0.9, 0.6) == pytest.approx(0.75)
    with pytest.raises(DataError):
        global_accuracy(gt, pred[:1])


def test_results_folder_missing(davis_dir, tmp_path):
    with pytest.raises(ResultsFormatError, match="does not exist"):
        evaluate_vos(davis_dir, tmp_path / "nothing", sequences="libby")


def test_object_appearing_later_scored_only_after_its_prompt_frame(davis_gt, golden_dir):
    """An object prompted on frame t0 (it appears later) is scored on frames t0+1 .. T-2 only:
    the same numbers as scoring the clip that starts at t0, and NaN before in its J/F lists.
    Counting the empty frames before it (J = F = 1) would inflate every statistic."""
    from workbench.runners.vos_eval import _read_results

    seq, t0 = "car-shadow", 12
    names, gt = davis_gt.read(seq)
    pred = _read_results(golden_dir / "davis_jf" / "eroded", seq, names, gt.shape[1:])
    g, p = gt == 1, pred == 1
    g[:t0] = False  # the object "appears" on frame t0
    p[:t0] = False
    later = evaluate_vos_arrays({1: g}, {1: p}, sequence=seq, prompt_frames={1: t0})
    clip = evaluate_vos_arrays({1: g[t0:]}, {1: p[t0:]}, sequence=seq)
    for key, value in clip.per_object[f"{seq}_1"].items():
        assert later.per_object[f"{seq}_1"][key] == pytest.approx(value, abs=1e-12), key
    j = np.asarray(later.per_frame[seq][1]["J"])
    assert len(j) == gt.shape[0] - 2 and np.isnan(j[:t0]).all() and not np.isnan(j[t0:]).any()
    naive = evaluate_vos_arrays({1: g}, {1: p}, sequence=seq)
    assert naive.global_["J-Mean"] > later.global_["J-Mean"]  # the empty frames counted as J = 1
    # an object prompted on the second-to-last frame has no frame left to score
    none_left = evaluate_vos_arrays({1: g, 2: g}, {1: p, 2: p}, sequence=seq, prompt_frames={2: gt.shape[0] - 2})
    assert set(none_left.per_object) == {f"{seq}_1"}
