"""The survey suite: corruptions in the runners, medical item sources, the volume runner, the
survey plan, table builders on tiny real runs, and the whole suite through papermill."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill as pm
import pytest

from workbench.backends import make_image_backend, make_video_backend
from workbench.errors import ConfigError, DataError, UnknownNameError
from workbench.io.corruptions import corrupt, corrupt_frames
from workbench.io.datasets import load_davis, load_image_set
from workbench.io.frames import FrameSource
from workbench.runners import read_run, run_image_benchmark, run_vos_benchmark, survey
from workbench.runners import survey_tables as st
from workbench.runners.image_runner import image_datasets
from workbench.runners.items import ImageTask, VOSTask, comparable_outputs, corruption_seed
from workbench.runners.report import SUITES, run_suite
from workbench.runners.volume_runner import VOLUME_COLUMNS, run_volume_benchmark

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
SURVEY_NOTEBOOKS = [*survey.SURVEY_EXPERIMENTS, survey.REPORT_NOTEBOOK]
CLASSICAL = {"backend": "classical"}
UNTRAINED_SAM2 = {"backend": "sam2", "model": "sam2.1_hiera_tiny", "checkpoint": "random", "image_size": 256}


class Recorder:
    """Wraps a backend and keeps copies of the pixels it is given."""

    def __init__(self, inner):
        self.inner, self.images, self.videos = inner, [], []

    def set_image(self, image):
        self.images.append(np.array(image, copy=True))
        return self.inner.set_image(image)

    def init_state(self, frames):
        frames = [np.array(f, copy=True) for f in frames]
        self.videos.append(frames)
        return self.inner.init_state(frames)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# --------------------------------------------------------------------------- notebooks (fast)
@pytest.mark.parametrize("name", SURVEY_NOTEBOOKS)
def test_survey_notebooks_declare_every_parameter(name):
    path = NB_DIR / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [
        ln.split(":")[0].split("=")[0].strip() for ln in cell.source.splitlines() if re.match(r"^\w+\s*(:[^=]*)?=", ln)
    ]
    declared = pm.inspect_notebook(str(path))
    assert list(declared) == assigned  # papermill drops lines with a second '=' (e.g. in a comment)
    assert {"smoke", "run_id", "reports_root"} <= set(declared)
    if name != survey.REPORT_NOTEBOOK:
        assert {"models", "data_root", "device", "executor", "num_workers", "seed"} <= set(declared)
        assert declared["models"]["inferred_type_name"] == "Optional[list]"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and c is not cell)
    assert "def " not in code and "class " not in code  # notebooks only call the package


def test_survey_suite_is_registered():
    assert SUITES == ("demo", "survey")
    with pytest.raises(UnknownNameError, match="survey"):
        run_suite("surveys")


# --------------------------------------------------------------------------- corruptions in the tasks
def test_image_task_gives_the_backend_the_corrupted_image(data_dir, tmp_path):
    item = load_image_set("grabcut", data_dir, 1)[0]
    clean, _gt, _ = item.load()
    rec = Recorder(make_image_backend("classical"))
    record = ImageTask("grabcut", 1, "first", True, None, False, 1, str(tmp_path), "jpeg", 5, 7)(rec, item)
    expected = corrupt(clean, "jpeg", 5, corruption_seed(7, item.item_id))
    assert np.array_equal(rec.images[0], expected) and not np.array_equal(rec.images[0], clean)
    assert record["result"]["corruption"] == {"kind": "jpeg", "severity": 5, "seed": corruption_seed(7, item.item_id)}
    assert 0 <= record["result"]["box-PA"] <= 1 and record["result"]["box-PA"] >= record["result"]["box-IoU"]
    rec_clean = Recorder(make_image_backend("classical"))
    out = ImageTask("grabcut", 1, "first", False, None, False, 1, str(tmp_path))(rec_clean, item)
    assert np.array_equal(rec_clean.images[0], clean) and "corruption" not in out["result"]


def test_vos_task_corrupts_every_frame_with_the_sequence_seed(davis_dir, tmp_path):
    seq = load_davis(davis_dir, ["blackswan"])[0]
    rec = Recorder(make_video_backend("classical"))
    record = VOSTask("mask", 4, False, str(tmp_path), "gaussian_noise", 2, 3)(rec, seq)
    src = FrameSource(seq.frames_dir)
    clean = [src[i] for i in range(4)]
    expected = corrupt_frames(clean, "gaussian_noise", 2, corruption_seed(3, "blackswan"))
    assert len(rec.videos[0]) == 4
    assert all(np.array_equal(a, b) for a, b in zip(rec.videos[0], expected))
    assert not np.array_equal(rec.videos[0][1], clean[1])
    assert not np.array_equal(rec.videos[0][1] - clean[1], rec.videos[0][2] - clean[2])  # fresh noise per frame
    assert 0 < record["result"]["G-PixelAcc"] <= 1 and record["result"]["G-pixels"] == 2 * 480 * 854


def test_corruption_seed_depends_on_run_seed_and_item_only():
    assert corruption_seed(0, "a") == corruption_seed(0, "a")
    assert len({corruption_seed(0, "a"), corruption_seed(1, "a"), corruption_seed(0, "b")}) == 3


def test_bad_corruption_settings_are_refused_before_any_work(tmp_path):
    with pytest.raises(UnknownNameError, match="gaussian_noise"):
        run_image_benchmark(corruption="fog", severity=2, reports_root=tmp_path)
    with pytest.raises(ConfigError, match="severity"):
        run_vos_benchmark(corruption="jpeg", severity=7, reports_root=tmp_path)
    with pytest.raises(ConfigError, match="without a corruption"):
        run_image_benchmark(severity=2, reports_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_corrupted_image_runs_differ_from_clean_and_repeat_exactly(data_dir, tmp_path):
    kw = dict(
        backend="classical",
        dataset="grabcut",
        data_root=data_dir,
        subset=2,
        max_clicks=2,
        reports_root=tmp_path,
        progress=False,
    )
    clean = run_image_benchmark(run_id="clean", **kw)
    a = run_image_benchmark(run_id="a", corruption="occluder", severity=4, **kw)
    b = run_image_benchmark(run_id="b", corruption="occluder", severity=4, **kw)
    other_seed = run_image_benchmark(run_id="c", corruption="occluder", severity=4, seed=1, **kw)
    out_a, out_b = comparable_outputs(a), comparable_outputs(b)
    out_a.pop("run_card.json"), out_b.pop("run_card.json")
    assert out_a == out_b
    assert pd.read_csv(a / "per_image.csv")["IoU@1"].tolist() != pd.read_csv(clean / "per_image.csv")["IoU@1"].tolist()
    assert comparable_outputs(other_seed)["items.jsonl"] != comparable_outputs(a)["items.jsonl"]
    card = read_run(a)["card"]
    assert card["params"]["corruption"] == "occluder" and card["params"]["severity"] == 4
    assert "corruption" not in read_run(clean)["card"]["params"]
    assert read_run(a)["summary"]["severity"] == 4
    with pytest.raises(ConfigError, match=r"params\.severity: run has 4, now 2"):
        run_image_benchmark(run_id="a", corruption="occluder", severity=2, resume=True, **kw)


@pytest.mark.slow
def test_corrupted_vos_run_differs_from_clean_and_repeats(davis_dir, tmp_path):
    kw = dict(
        backend="classical",
        data_root=davis_dir,
        sequences=["blackswan"],
        max_frames=5,
        reports_root=tmp_path,
        progress=False,
    )
    clean = read_run(run_vos_benchmark(run_id="clean", **kw))["summary"]
    a = run_vos_benchmark(run_id="a", corruption="occluder", severity=5, **kw)
    b = run_vos_benchmark(run_id="b", corruption="occluder", severity=5, **kw)
    sa, sb = read_run(a)["summary"], read_run(b)["summary"]
    assert sa["J&F-Mean"] == sb["J&F-Mean"] and sa["G-PixelAcc"] == sb["G-PixelAcc"]
    assert sa["J&F-Mean"] != clean["J&F-Mean"] and sa["corruption"] == "occluder"
    assert 0 < clean["G-PixelAcc"] <= 1


# --------------------------------------------------------------------------- item sources, volumes
def test_image_dataset_names_include_the_medical_object_sets():
    names = image_datasets()
    assert {"grabcut", "sammed2d_ct", "stardist_nuclei", "ct_structures", "nuclei"} <= set(names)
    with pytest.raises(UnknownNameError, match="ct_structures"):
        run_image_benchmark(dataset="ct_organs")


@pytest.mark.slow
def test_image_runner_takes_ct_structures_and_nuclei(data_dir, tmp_path):
    for alias, canonical, pattern in (
        ("ct_structures", "sammed2d_ct", r"^\w+/\w+_\d+$"),
        ("nuclei", "stardist_nuclei", r"^nuclei2d/\d{4}$"),
    ):
        rd = run_image_benchmark(
            backend="classical",
            dataset=alias,
            data_root=data_dir,
            subset=2,
            max_clicks=1,
            reports_root=tmp_path,
            progress=False,
        )
        run = read_run(rd)
        assert run["card"]["dataset"] == canonical and len(run["card"]["items"]) == 2
        assert all(re.match(pattern, i) for i in run["card"]["items"])
        per_image = pd.read_csv(rd / "per_image.csv")
        iou1 = per_image["IoU@1"]
        assert per_image["Dice@1"].tolist() == pytest.approx((2 * iou1 / (1 + iou1)).tolist())
        assert run["summary"]["mDice@1"] == pytest.approx(per_image["Dice@1"].mean())


@pytest.mark.slow
def test_volume_runner_writes_3d_scores(data_dir, tmp_path):
    rd = run_volume_benchmark(
        backend="classical",
        data_root=data_dir,
        smoke=True,
        save_masks=True,
        run_id="vol",
        reports_root=tmp_path,
        progress=False,
    )
    run = read_run(rd)
    assert run["card"]["kind"] == "volume" and run["card"]["items"] == ["brain1"]
    table = pd.read_csv(rd / "volumes.csv")
    assert list(table.columns) == list(VOLUME_COLUMNS)
    row = table.iloc[0]
    assert row["num_slices"] == 25 and row["tracked_slices"] == 7  # prompt slice + 3 each way
    assert row["prompt_slice_dice"] == 1.0  # the mask prompt is kept on its slice
    assert 0 < row["dice_3d"] < 1 and row["iou_3d"] == pytest.approx(row["dice_3d"] / (2 - row["dice_3d"]))
    assert run["summary"]["mDice-3D"] == pytest.approx(table["dice_3d"].mean())
    per_slice = json.loads((rd / "per_slice.json").read_text())["brain1"]
    assert len(per_slice) == 25 and per_slice[int(row["prompt_slice"])] == 1.0
    assert len(list((rd / "masks" / "brain1").glob("*.png"))) == 25
    before = comparable_outputs(rd)
    again = run_volume_benchmark(
        backend="classical",
        data_root=data_dir,
        smoke=True,
        save_masks=True,
        run_id="vol",
        reports_root=tmp_path,
        progress=False,
        resume=True,
    )
    after = comparable_outputs(again)
    assert {k: v for k, v in after.items() if k != "run_card.json"} == {
        k: v for k, v in before.items() if k != "run_card.json"
    }
    with pytest.raises(UnknownNameError, match="clicks1"):
        run_volume_benchmark(prompt="scribble", reports_root=tmp_path)


# --------------------------------------------------------------------------- plan
def test_survey_models_follow_the_checkpoints_present(tmp_path):
    empty = tmp_path / "none"
    empty.mkdir()
    assert survey.survey_models(False, empty) == [
        {"backend": "classical", "model": None, "checkpoint": None, "image_size": 1024}
    ]
    smoke = survey.survey_models(True, empty)
    assert [(m["backend"], m["model"], m["checkpoint"], m["image_size"]) for m in smoke[1:]] == [
        ("sam2", "sam2.1_hiera_tiny", "random", 256),
        ("sam", "vit_b", "random", 256),
    ]
    some = tmp_path / "some"
    some.mkdir()
    for f in ("sam2.1_hiera_small.pt", "sam2.1_hiera_large.pt", "sam_vit_l_0b3195.pth"):
        (some / f).write_bytes(b"")
    full = survey.survey_models(False, some)
    assert [(m["backend"], m["model"]) for m in full] == [
        ("classical", None),
        ("sam2", "sam2.1_hiera_small"),
        ("sam2", "sam2.1_hiera_large"),
        ("sam", "vit_l"),
    ]
    assert full[1]["checkpoint"] == str(some / "sam2.1_hiera_small.pt") and full[1]["image_size"] == 1024
    assert [m["model"] for m in survey.survey_models(True, some)] == [None, "sam2.1_hiera_small", "vit_l"]
    missing = {m["file"] for m in survey.missing_checkpoints(some)}
    assert len(missing) == 9 and "sam_vit_l_0b3195.pth" not in missing and "sam_vit_b_01ec64.pth" in missing
    assert "MedSAM2_latest.pt" in missing  # the sam2 family's medical fine-tune is listed too
    plan = survey.survey_plan(True, empty)
    assert [name for name, _ in plan] == list(survey.SURVEY_EXPERIMENTS)
    assert all(p == {"models": smoke, "smoke": True} for _, p in plan)


def test_model_lists_are_checked():
    out = survey.normalise_models([{"backend": "sam2", "model": "sam2.1_hiera_tiny"}], device="cuda")
    assert out == [
        {"backend": "sam2", "model": "sam2.1_hiera_tiny", "checkpoint": None, "image_size": 1024, "device": "cuda"}
    ]
    for bad in (["sam2"], [{"model": "x"}], [{"backend": "sam3"}], [{"backend": "sam", "size": 1}]):
        with pytest.raises(ConfigError):
            survey.normalise_models(bad)


# --------------------------------------------------------------------------- tables on tiny real runs
@pytest.fixture(scope="module")
def tiny_survey(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("survey")
    common = dict(data_root=str(data_dir), reports_root=root, n_clicks=2)
    exps = [
        survey.image_experiment([CLASSICAL, UNTRAINED_SAM2], datasets=["grabcut"], subset=1, run_id="img", **common),
        survey.medical_experiment(
            [CLASSICAL],
            datasets=["kvasir_polyp", "stardist_nuclei"],
            subset=1,
            volumes=1,
            max_frame_num_to_track=2,
            run_id="med",
            **common,
        ),
        survey.video_experiment(
            [CLASSICAL, {"backend": "sam", "checkpoint": "random"}],
            prompts=["box", "mask"],
            data_root=str(data_dir),
            sequences=1,
            max_frames=4,
            reports_root=root,
            run_id="vid",
        ),
        survey.robustness_experiment(
            [CLASSICAL],
            corruptions=["jpeg"],
            severities=[5],
            subset=1,
            sequences=1,
            max_frames=4,
            run_id="rob",
            **common,
        ),
        survey.tracking_policy_experiment(
            [CLASSICAL, UNTRAINED_SAM2],
            policies=["sam2", "samurai"],
            prompts=["mask"],
            data_root=str(data_dir),
            sequences=1,
            max_frames=3,
            reports_root=root,
            run_id="pol",
        ),
    ]
    return root, exps


def _summary(exp, run_prefix: str) -> dict:
    (name,) = [r for r in exp.record["runs"] if r.startswith(run_prefix)]
    return read_run(exp.runs_dir / name)["summary"]


@pytest.mark.slow
def test_experiment_folders_record_runs_skips_and_missing_checkpoints(tiny_survey):
    root, (img, med, vid, rob, pol) = tiny_survey
    assert [e.dir.name for e in (img, med, vid, rob, pol)] == ["img", "med", "vid", "rob", "pol"]
    assert sorted(p.name for p in survey.find_experiments(root)) == ["img", "med", "pol", "rob", "vid"]
    pol_rec = survey.read_experiment(pol.dir)
    assert pol_rec["status"] == "done" and pol_rec["failures"] == []
    assert pol_rec["runs"] == [
        "vos-mask-m1-sam2-sam2.1_hiera_tiny-random-256",
        "vos-mask-m1-sam2-sam2.1_hiera_tiny-random-256-samurai",
    ]
    assert [s["reason"] for s in pol_rec["skipped"]] == ["tracking policies are SAM 2 policies"]
    rec = survey.read_experiment(vid.dir)
    assert rec["status"] == "done" and rec["failures"] == [] and len(rec["runs"]) == 2
    assert [s["what"] for s in rec["skipped"]] == ["vos box", "vos mask"]
    assert rec["params"]["prompts"] == ["box", "mask"] and rec["params"]["models"][1]["backend"] == "sam"
    assert len(survey.read_experiment(rob.dir)["runs"]) == 4  # clean + jpeg5, image and video
    with pytest.raises(DataError, match="experiment folder"):
        survey.read_experiment(root)
    # continuing a folder reuses its finished runs
    kw = dict(datasets=["grabcut"], subset=1, n_clicks=2, reports_root=root / "again", run_id="img2")
    first = survey.image_experiment([CLASSICAL], **kw)
    again = survey.image_experiment([CLASSICAL], **kw)
    assert again.record["runs"] == first.record["runs"] == ["img-grabcut-m0-classical"]
    sessions = json.loads((again.runs_dir / "img-grabcut-m0-classical" / "execution.json").read_text())["sessions"]
    assert [(s["items_run"], s["items_reused"]) for s in sessions] == [(1, 0), (0, 1)]


@pytest.mark.slow
def test_tables_hold_the_run_summaries(tiny_survey):
    root, (img, med, vid, rob, _pol) = tiny_survey
    runs = st.collect_runs(reports_root=root)
    assert set(runs["experiment"]) == set(survey.SURVEY_EXPERIMENTS)
    assert set(runs["kind"]) == {"image", "vos", "volume"}
    miou = st.method_dataset_table(runs, "mIoU@1", experiment="exp_image_sam_vs_sam2")
    assert list(miou.index) == ["classical/grabcut", "sam2/sam2.1_hiera_tiny (UNTRAINED)"]
    assert list(miou.columns) == ["grabcut"]
    assert miou.loc["classical/grabcut", "grabcut"] == _summary(img, "img-grabcut-m0")["mIoU@1"]
    assert miou.iloc[1, 0] == _summary(img, "img-grabcut-m1")["mIoU@1"]
    wide = st.metric_tables(runs, ["mDice@1", "box-mDice"], experiment="exp_medical")
    assert wide.columns.tolist() == [
        ("mDice@1", "kvasir_polyp"),
        ("mDice@1", "stardist_nuclei"),
        ("mDice@1", "mean"),
        ("box-mDice", "kvasir_polyp"),
        ("box-mDice", "stardist_nuclei"),
        ("box-mDice", "mean"),
    ]
    kvasir = _summary(med, "img-kvasir_polyp")
    modality = st.modality_table(runs, "box-mDice")
    assert modality.loc["classical/grabcut", "endoscopy (polyps)"] == kvasir["box-mDice"]
    nuclei = _summary(med, "img-stardist_nuclei")
    gap = st.domain_gap_table(runs, ["box-mDice"]).loc["classical/grabcut"]
    natural = read_run(rob.runs_dir / "img-grabcut-m0-classical")["summary"]["box-mDice"]  # latest clean grabcut run
    assert gap[("box-mDice", "medical")] == pytest.approx((kvasir["box-mDice"] + nuclei["box-mDice"]) / 2)
    assert gap[("box-mDice", "natural")] == natural
    assert gap[("box-mDice", "gap")] == pytest.approx(natural - gap[("box-mDice", "medical")])
    vol = st.volume_table(runs)
    assert vol.loc[("classical/dis-flow", "mask"), "mDice-3D"] == _summary(med, "vol-mask")["mDice-3D"]
    jf = st.vos_prompt_table(runs, experiment="exp_video_prompts")
    assert list(jf.columns) == ["mask", "box"]  # survey prompt order, not run order
    assert jf.loc["classical/dis-flow", "box"] == _summary(vid, "vos-box")["J&F-Mean"]
    detail = st.vos_detail_table(runs, experiment="exp_video_prompts")
    assert detail.loc[("classical/dis-flow", "mask"), "G-PixelAcc"] == _summary(vid, "vos-mask")["G-PixelAcc"]
    deg = st.degradation_table(runs, "image", "box-mIoU")
    assert list(deg.columns) == [0, 5]
    row = deg.loc[("classical/grabcut", "grabcut", "jpeg")]
    assert row[5] == read_run(rob.runs_dir / "img-grabcut-m0-classical-jpeg5")["summary"]["box-mIoU"]
    assert row[0] == read_run(rob.runs_dir / "img-grabcut-m0-classical")["summary"]["box-mIoU"]
    vdeg = st.degradation_table(runs, "vos")
    assert (
        vdeg.loc[("classical/dis-flow", "davis", "jpeg"), 5]
        == read_run(rob.runs_dir / "vos-mask-m0-classical-jpeg5")["summary"]["J&F-Mean"]
    )


@pytest.mark.slow
def test_figures_and_notes_mark_untrained_rows(tiny_survey):
    root, _ = tiny_survey
    runs = st.collect_runs(reports_root=root)
    banner = st.untrained_banner(runs)
    assert "UNTRAINED" in banner and "sam2/sam2.1_hiera_tiny (UNTRAINED)" in banner
    assert st.untrained_banner(runs[~runs["untrained"]]) == ""
    fig = st.plot_click_curves(runs, experiment="exp_image_sam_vs_sam2")
    assert len(fig.axes) == 1 and "UNTRAINED" in fig._suptitle.get_text()
    assert len(fig.axes[0].lines) == 4  # two methods x (mIoU, oracle)
    fig = st.plot_degradation(st.degradation_table(runs, "image"))
    assert len(fig.axes) == 1 and "UNTRAINED" not in fig._suptitle.get_text()
    notes = st.experiment_notes(reports_root=root)
    assert "SAM (v1) has no video predictor" in notes and "Missing checkpoints" in notes
    models = st.models_table(runs)
    assert models.loc["sam2/sam2.1_hiera_tiny (UNTRAINED)", "untrained"] == "UNTRAINED"
    assert models.loc["sam2/sam2.1_hiera_tiny (UNTRAINED)", "checkpoint_sha256"] == "untrained"
    # each row names its model family; trained (here: weight-free) rows are not flagged
    assert models.loc["sam2/sam2.1_hiera_tiny (UNTRAINED)", "family"] == "sam2.1"
    classical = [m for m in models.index if m.startswith("classical/")]
    assert classical and all(
        models.loc[m, "family"] == "classical" and models.loc[m, "untrained"] == "" for m in classical
    )


# --------------------------------------------------------------------------- the whole suite
@pytest.mark.slow
def test_survey_suite_smoke_end_to_end(tmp_path, data_dir):
    lines: list[str] = []
    folders, table = run_suite("survey", smoke=True, reports_root=tmp_path, log=lines.append)
    names = [*survey.SURVEY_EXPERIMENTS, survey.REPORT_NOTEBOOK]
    assert [re.sub(r"^survey-\d{8}-\d{6}-\d-", "", f.name) for f in folders] == names and len(lines) == len(names)
    for folder, name in zip(folders, names):
        nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors[:1]}"
        html = (folder / f"{name}.html").read_text()
        assert "UNTRAINED" in html and "data:image/png;base64" in html
    for folder in folders[:-1]:
        rec = survey.read_experiment(folder)
        assert rec["status"] == "done" and rec["failures"] == [] and rec["runs"]
    report = (folders[-1] / "survey_report.html").read_text()
    for section in (
        "1. Models, checkpoints and experiments",
        "2. Natural images",
        "3. Medical images",
        "4. Video",
        "5. Robustness",
        "6. Run index",
        "UNTRAINED rows",
        "SMOKE RUN",
        "Missing checkpoints",
        "sam2/sam2.1_hiera_tiny (UNTRAINED)",
        "sam/sam_vit_b (UNTRAINED)",
    ):
        assert section in report, section
    assert report.count("data:image/png;base64") >= 5
    assert set(table["kind"]) == {"image", "vos", "volume"}
    assert {"grabcut", "coco_mval", "davis345", "sammed2d_ct", "stardist_nuclei", "davis", "mri_volumes"} <= set(
        table["dataset"]
    )


@pytest.mark.slow
def test_policy_table_compares_sam2_and_samurai_on_the_same_runs(tiny_survey):
    _root, (_img, _med, _vid, _rob, pol) = tiny_survey
    runs = st.collect_runs([pol.dir])
    table = st.policy_table(runs, experiment="exp_tracking_policies")
    assert [idx[2] for idx in table.index] == ["sam2", "samurai"]
    for policy, run in (
        ("sam2", "vos-mask-m1-sam2-sam2.1_hiera_tiny-random-256"),
        ("samurai", "vos-mask-m1-sam2-sam2.1_hiera_tiny-random-256-samurai"),
    ):
        summary = read_run(pol.runs_dir / run)["summary"]
        row = table.xs(policy, level=2).iloc[0]
        assert row["J&F-Mean"] == summary["J&F-Mean"] and row["FPS"] == summary["FPS"]
        card = read_run(pol.runs_dir / run)["card"]
        assert card["backend_extra"]["policy"] == policy
