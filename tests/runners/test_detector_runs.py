"""Detector-prompted VOS runs (``prompt="detector"``): the spec's checks, the run card (detector
spec and weights digest, UNTRAINED detectors), the run files, resume, the notebook parameters, and
the survey's detector-noise table — weight-free backend, real DAVIS frames, ground-truth detector."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from workbench.errors import ConfigError, UnknownNameError
from workbench.protocols.specs import DetectorSpec, VOSRunSpec, spec_from_dict
from workbench.runners import read_run, resume_run, run_vos_benchmark, survey, views
from workbench.runners import survey_tables as st
from workbench.runners.card import spec_from_card
from workbench.runners.executors import BackendSpec
from workbench.runners.items import comparable_outputs
from workbench.runners.report import notebook_parameters
from workbench.runners.runlog import read_records

NOISY = DetectorSpec(jitter=0.1, miss_rate=0.1, false_positives=0.5, detect_interval=2, seed=3)


def test_detector_prompt_settings_are_checked_and_round_trip():
    spec = VOSRunSpec(prompt="detector", detector=NOISY.to_dict(), sequences=["dog"])
    assert spec.detector == NOISY
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.params()["detector"] == NOISY.to_dict()
    assert VOSRunSpec(prompt="detector").detector == DetectorSpec()
    assert "detector" not in VOSRunSpec(prompt="box").params()  # cards of other runs are unchanged
    assert VOSRunSpec.from_settings(prompt="detector", detector=NOISY).detector == NOISY
    with pytest.raises(ConfigError, match="prompt='detector'"):
        VOSRunSpec(prompt="mask", detector=NOISY)
    with pytest.raises(ConfigError, match="track_objects_appearing_later"):
        VOSRunSpec(prompt="detector", track_objects_appearing_later=True)
    with pytest.raises(UnknownNameError, match="detector"):
        VOSRunSpec(prompt="detections")
    with pytest.raises(ConfigError, match="DetectorSpec"):
        VOSRunSpec(prompt="detector", detector="gt")


RUN = dict(
    backend="classical",
    sequences=["blackswan", "dog"],
    max_frames=5,
    prompt="detector",
    detector=NOISY,
    save_masks=True,
    progress=False,
)
"""The detector-prompted run of these tests (data and run folders added per test)."""


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory, davis_dir):
    root = tmp_path_factory.mktemp("det")
    run_dir = run_vos_benchmark(data_root=davis_dir, reports_root=root, run_id="noisy", **RUN)
    return root, run_dir


def test_detector_run_card_and_files(detector_run):
    _root, run_dir = detector_run
    run = read_run(run_dir)
    card, summary = run["card"], run["summary"]
    assert card["detector"] == {
        **NOISY.to_dict(),
        "weights_sha256": "none",
        "untrained": False,
        "noise_label": "jitter 0.1 · miss 0.1 · fp 0.5",
    }
    assert card["params"]["prompt"] == "detector" and card["params"]["detector"] == NOISY.to_dict()
    assert spec_from_card(card).detector == NOISY and card["untrained"] is False
    records = read_records(run_dir / "items.jsonl")
    made = [records[s]["result"]["detector"] for s in ("blackswan", "dog")]
    assert summary["prompt"] == "detector" and summary["detector_mode"] == "detect_track"
    assert summary["detected-objects"] == sum(d["objects"] for d in made) >= 2
    assert summary["false-objects"] == sum(d["unmatched"] for d in made)
    assert summary["detections"] == sum(d["detections"] for d in made)
    for seq, d in zip(("blackswan", "dog"), made):
        assert d["mode"] == "detect_track" and d["detection_frames"] == 3  # frames 0, 2, 4
        assert len(d["matches"]) == d["objects"] and sum(m["gt_id"] is None for m in d["matches"]) == d["unmatched"]
        matched = [m for m in d["matches"] if m["gt_id"] is not None]
        assert records[seq]["result"]["prompt_frames"] == {str(m["gt_id"]): m["frame"] for m in matched}
        assert "detect_s" in records[seq]["timing"]
    assert len(list((run_dir / "masks" / "dog").glob("*.png"))) == 5
    assert 0 <= summary["J&F-Mean"] <= 1
    assert "| detector | gt: jitter 0.1 · miss 0.1 · fp 0.5 · detect_track, every 2 frames" in views.run_header(run_dir)
    # `workbench report --resume` hands the detector back to the VOS notebook
    kind, params = notebook_parameters(card)
    assert kind == "vos" and params["prompt"] == "detector" and params["detector"] == NOISY.to_dict()


@pytest.mark.slow
def test_interrupted_detector_run_resumes_to_the_uninterrupted_files(detector_run, davis_dir, monkeypatch):
    root, reference = detector_run
    kw = dict(data_root=davis_dir, reports_root=root, **RUN)
    build = BackendSpec.build

    class Interrupting:
        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def init_state(self, video):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt
            return self.inner.init_state(video)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(BackendSpec, "build", lambda self: Interrupting(build(self)))
    with pytest.raises(KeyboardInterrupt):
        run_vos_benchmark(run_id="cut", **kw)
    monkeypatch.setattr(BackendSpec, "build", build)
    assert list(read_records(root / "cut" / "items.jsonl")) == ["blackswan"]
    with pytest.raises(ConfigError, match=r"params\.detector"):
        run_vos_benchmark(run_id="cut", resume=True, **{**kw, "detector": replace(NOISY, jitter=0.2)})
    run_dir = resume_run("cut", reports_root=root, data_root=davis_dir, progress=False)
    a, b = comparable_outputs(reference), comparable_outputs(run_dir)
    assert set(a) == set(b)
    for name in a:
        assert a[name] == b[name], f"{name} differs from the uninterrupted run"


def test_untrained_detector_marks_the_run_untrained(tmp_path, davis_dir):
    pytest.importorskip("torch")
    run_dir = run_vos_benchmark(
        backend="classical",
        data_root=davis_dir,
        sequences=["dog"],
        max_frames=3,
        prompt="detector",
        detector=DetectorSpec(kind="torchvision", detect_interval=5, device="cpu"),
        reports_root=tmp_path,
        run_id="tv",
        progress=False,
    )
    run = read_run(run_dir)
    assert run["card"]["untrained"] is True and run["card"]["detector"]["weights_sha256"] == "untrained"
    assert run["summary"]["label"] == "classical/dis-flow (UNTRAINED)"
    assert run["card"]["detector"]["model"] == "fasterrcnn_mobilenet_v3_large_320_fpn"


@pytest.mark.slow
def test_video_experiment_compares_gt_masks_with_noisier_detectors(tmp_path, data_dir):
    exp = survey.video_experiment(
        [{"backend": "classical"}],
        prompts=["mask", "box"],
        detector_noise=[0.0, 0.3],
        detector_modes=["detect_track", "per_frame"],
        detect_interval=2,
        data_root=str(data_dir),
        sequences=1,
        max_frames=4,
        reports_root=tmp_path,
        run_id="vid",
    )
    assert exp.record["failures"] == [] and exp.record["params"]["detector_noise"] == [0.0, 0.3]
    assert exp.record["runs"][2:] == [
        "vos-detector-m0-classical-track2-gt-j0-m0-fp0",
        "vos-detector-m0-classical-track2-gt-j0.3-m0.3-fp0.3",
        "vos-detector-m0-classical-perframe-gt-j0-m0-fp0",
        "vos-detector-m0-classical-perframe-gt-j0.3-m0.3-fp0.3",
    ]
    runs = st.collect_runs([exp.dir])
    assert list(st.vos_prompt_table(runs).columns) == ["mask", "box"]  # detector runs stay out
    assert set(st.vos_detail_table(runs).index.get_level_values("prompt")) == {"mask", "box"}
    table = st.detector_noise_table(runs)
    assert list(table.columns) == ["GT mask", "no noise", "jitter 0.3 · miss 0.3 · fp 0.3"]
    assert list(table.index) == [("classical/dis-flow", "detect_track"), ("classical/dis-flow", "per_frame")]

    def summary(name):
        return read_run(exp.runs_dir / name)["summary"]

    assert (table["GT mask"] == summary("vos-mask-m0-classical")["J&F-Mean"]).all()
    noisy = summary("vos-detector-m0-classical-perframe-gt-j0.3-m0.3-fp0.3")
    assert table.loc[("classical/dis-flow", "per_frame"), "jitter 0.3 · miss 0.3 · fp 0.3"] == noisy["J&F-Mean"]
    fp = st.detector_noise_table(runs, "false-objects")
    assert fp.loc[("classical/dis-flow", "per_frame"), "jitter 0.3 · miss 0.3 · fp 0.3"] == noisy["false-objects"]
    assert fp["GT mask"].isna().all()
    fig = st.plot_detector_noise(table)
    assert len(fig.axes[0].lines) == 3  # two modes and the GT-mask line
