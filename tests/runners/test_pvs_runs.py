"""The PVS run kind: spec, run files, resume, Ray workers (classical backend on real DAVIS
sequences), and SAM 2 with random weights at 256 px with every tracking policy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.errors import ConfigError, UnknownNameError
from workbench.protocols.specs import PVSRunSpec, spec_from_dict
from workbench.runners import RUNNERS, read_run, resume_run, run_pvs_benchmark, spec_from_card
from workbench.runners.executors import BackendSpec
from workbench.runners.items import comparable_outputs
from workbench.runners.runlog import read_records

KW = dict(
    backend="classical",
    sequences=["blackswan", "car-shadow"],
    max_frames=5,
    max_annotated_frames=2,
    save_masks=True,
    progress=False,
)
FILES = {"pvs_curve.csv", "pvs_video_curves.csv", "pvs_objects.csv", "pvs_rounds.csv", "summary.json", "items.jsonl"}


class _Interrupting:
    """Backend wrapper that raises KeyboardInterrupt when ``init_state`` is called the ``n``-th time."""

    def __init__(self, backend, n: int):
        self._backend, self._n, self._calls = backend, n, 0

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def init_state(self, video):
        self._calls += 1
        if self._calls == self._n:
            raise KeyboardInterrupt
        return self._backend.init_state(video)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, davis_dir):
    root = tmp_path_factory.mktemp("pvs")
    return run_pvs_benchmark(run_id="reference", reports_root=root, data_root=davis_dir, **KW)


def _assert_same(a, b):
    ca, cb = comparable_outputs(a), comparable_outputs(b)
    assert set(ca) >= FILES and set(ca) == set(cb)
    for name in ca:
        if name != "run_card.json":
            assert ca[name] == cb[name], f"{name} differs"


def test_spec_defaults_and_checks(tmp_path):
    spec = PVSRunSpec.from_settings(backend="sam2", mode="online", smoke=True)
    assert (spec.sequences, spec.max_frames, spec.max_annotated_frames) == (2, 8, 3)
    assert spec.memory_preset == "interactive" and spec.video_settings.runtime == {
        "add_all_frames_to_correct_as_cond": True
    }
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    plain = PVSRunSpec()
    assert plain.memory_preset == "official" and plain.max_annotated_frames == 8 and plain.clicks_per_frame == 3
    assert plain.pvs_settings.iou_threshold == 0.75 and plain.backend_settings() == {}
    assert BackendSpec.for_run(spec).video_settings == spec.video_settings
    with pytest.raises(UnknownNameError, match="offline"):
        PVSRunSpec(mode="single-pass")
    with pytest.raises(ConfigError, match="max_annotated_frames"):
        PVSRunSpec(max_annotated_frames=0)
    with pytest.raises(ConfigError, match="'sam2' video backend only"):
        PVSRunSpec.from_settings(backend="classical", memory_preset="interactive")
    with pytest.raises(ConfigError, match="SAM 2 policies"):
        run_pvs_benchmark(policy="samurai", sequences=1, max_frames=3, progress=False, reports_root=tmp_path)
    assert RUNNERS["pvs"] is run_pvs_benchmark


def test_run_files_hold_the_protocol_results(reference):
    run = read_run(reference)
    card, summary = run["card"], run["summary"]
    assert card["kind"] == "pvs" and card["items"] == ["blackswan", "car-shadow"]
    assert spec_from_card(card) == PVSRunSpec.from_settings(**{k: v for k, v in KW.items() if k != "progress"})
    records = read_records(reference / "items.jsonl")
    objects = pd.read_csv(reference / "pvs_objects.csv")
    curve = pd.read_csv(reference / "pvs_curve.csv")
    assert curve["annotated_frames"].tolist() == [1, 2]
    for k in (1, 2):
        jf = [(o["J"][k - 1] + o["F"][k - 1]) / 2 for r in records.values() for o in r["result"]["objects"].values()]
        assert summary[f"J&F@{k}"] == pytest.approx(np.mean(jf)) == pytest.approx(curve["J&F-Mean"][k - 1])
        assert objects[f"J&F@{k}"].tolist() == pytest.approx(jf)
    assert summary["J&F-avg"] == pytest.approx(curve["J&F-Mean"].mean())
    rounds = pd.read_csv(reference / "pvs_rounds.csv")
    assert len(rounds) == objects["rounds"].sum() and (rounds["clicks"] == 3).all()
    assert summary["clicks"] == 3 * len(rounds) and summary["mode"] == "offline"
    first = rounds[rounds["round"] == 1]
    assert (first["frame_idx"] == 0).all() and (first["positive_clicks"] >= 1).all() and (first["J_before"] == 0).all()
    video = pd.read_csv(reference / "pvs_video_curves.csv")
    assert video["sequence"].tolist() == ["blackswan", "blackswan", "car-shadow", "car-shadow"]
    masks = sorted(p.relative_to(reference).as_posix() for p in (reference / "masks").rglob("*.png"))
    assert masks[0] == "masks/blackswan/001/00000.png" and len(masks) == 10


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_uninterrupted_files(reference, tmp_path, davis_dir, monkeypatch):
    build = BackendSpec.build
    monkeypatch.setattr(BackendSpec, "build", lambda self: _Interrupting(build(self), 2))
    with pytest.raises(KeyboardInterrupt):
        run_pvs_benchmark(run_id="cut", reports_root=tmp_path, data_root=davis_dir, **KW)
    assert list(read_records(tmp_path / "cut" / "items.jsonl")) == ["blackswan"]
    monkeypatch.setattr(BackendSpec, "build", build)
    run_dir = resume_run("cut", reports_root=tmp_path, data_root=davis_dir, progress=False)
    sessions = json.loads((run_dir / "execution.json").read_text())["sessions"]
    assert [(s["items_reused"], s["items_run"], s["status"]) for s in sessions] == [
        (0, 1, "interrupted"),
        (1, 1, "done"),
    ]
    _assert_same(reference, run_dir)
    with pytest.raises(ConfigError, match=r"params\.mode: run has 'offline', now 'online'"):
        run_pvs_benchmark(run_id="cut", reports_root=tmp_path, data_root=davis_dir, mode="online", resume=True, **KW)


@pytest.mark.slow
def test_ray_workers_give_the_local_files(reference, tmp_path, davis_dir):
    remote = run_pvs_benchmark(
        run_id="ray", reports_root=tmp_path, data_root=davis_dir, executor="ray", num_workers=2, **KW
    )
    _assert_same(reference, remote)
    pids = {rec["timing"]["worker_pid"] for rec in read_records(remote / "items.jsonl").values()}
    assert len(pids) == 2


@pytest.mark.slow
@pytest.mark.parametrize(("policy", "mode"), [("sam2", "offline"), ("samurai", "online"), ("sam2long", "offline")])
def test_sam2_with_every_tracking_policy(policy, mode, tmp_path, davis_dir):
    run = run_pvs_benchmark(
        backend="sam2",
        checkpoint="random",
        image_size=256,
        policy=policy,
        mode=mode,
        iou_threshold=1.0,
        sequences=["dog"],
        max_frames=3,
        max_annotated_frames=2,
        data_root=davis_dir,
        reports_root=tmp_path,
        run_id="sam2",
        progress=False,
    )
    card, summary = read_run(run)["card"], read_run(run)["summary"]
    assert card["untrained"] and summary["untrained"] and card["backend_extra"].get("policy", "sam2") == policy
    assert card["backend_settings"]["memory_preset"] == "interactive"
    assert card["backend_settings"]["video_settings"]["add_all_frames_to_correct_as_cond"] is True
    (obj,) = read_records(run / "items.jsonl")["dog"]["result"]["objects"].values()
    assert [len(c) for c in obj["clicks"]] == [3, 3] and obj["frames"][0] == 0
    second = obj["frames"][1]
    if mode == "online":
        assert second == 1 + int(np.argmax(np.asarray(obj["frame_J"][0][1:]) < 1.0))
    else:
        assert second == 1 + int(np.argmin(obj["frame_J"][0][1:]))
    # the correction on an already tracked frame is a conditioning frame: tracking keeps it
    assert obj["frame_J"][1][second] == pytest.approx(obj["J_after"][1])
    assert len(pd.read_csv(run / "pvs_curve.csv")) == 2 and 0 <= summary["J&F-avg"] <= 1
