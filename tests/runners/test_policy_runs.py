"""Tracking policies travel through the run spec, the backend spec, the run card and resume."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from workbench.errors import ConfigError, UnknownNameError
from workbench.protocols.specs import VOSRunSpec, spec_from_dict
from workbench.runners import resume_run, run_vos_benchmark
from workbench.runners.executors import BackendSpec

pytestmark = pytest.mark.slow

COMMON = dict(
    backend="sam2", checkpoint="random", image_size=256, sequences=["blackswan"], max_frames=3, progress=False
)


def test_policy_is_a_backend_setting_of_the_spec() -> None:
    spec = VOSRunSpec.from_settings(backend="sam2", policy="samurai", policy_params={"stable_frames_threshold": 5})
    assert spec.backend_settings() == {"policy": "samurai", "policy_params": {"stable_frames_threshold": 5}}
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    bspec = BackendSpec.for_run(spec)
    assert pickle.loads(pickle.dumps(bspec)) == bspec and hash(bspec) == hash(BackendSpec.for_run(spec))
    plain = VOSRunSpec.from_settings(backend="sam2")
    assert plain.backend_settings() == {} and "policy" not in plain.params()
    with pytest.raises(ConfigError):
        VOSRunSpec.from_settings(policy_params=[1, 2])


def test_samurai_run_card_records_every_policy_parameter_and_resumes(tmp_path) -> None:
    run = run_vos_benchmark(
        policy="samurai",
        policy_params={"stable_frames_threshold": 2},
        run_id="samurai-run",
        reports_root=tmp_path,
        **COMMON,
    )
    card = json.loads((run / "run_card.json").read_text())
    extra = card["backend_extra"]
    assert extra["policy"] == "samurai"
    assert extra["policy_params"]["stable_frames_threshold"] == 2
    assert extra["policy_params"]["kf_score_weight"] == 0.25  # defaults recorded too
    assert card["params"]["policy"] == "samurai"
    first = (run / "per_sequence_results.csv").read_text()
    (run / "per_sequence_results.csv").unlink()
    again = resume_run("samurai-run", reports_root=tmp_path, progress=False)
    assert again == run and (run / "per_sequence_results.csv").read_text() == first


def test_policy_changes_tracking_and_unknown_names_fail_before_items(tmp_path) -> None:
    with pytest.raises(UnknownNameError, match="samurai"):
        run_vos_benchmark(policy="samuria", reports_root=tmp_path, **COMMON)
    classical = {**COMMON, "backend": "classical"}
    classical.pop("checkpoint")
    with pytest.raises(ConfigError, match="SAM 2 policies"):
        run_vos_benchmark(policy="samurai", reports_root=tmp_path, **classical)
    assert not any(tmp_path.rglob("items.jsonl")) or all(p.read_text() == "" for p in tmp_path.rglob("items.jsonl"))


def test_session_undo_restores_the_policy_state_exactly() -> None:
    from workbench.backends import make_video_backend
    from workbench.backends.sam2.policies import installed_policy
    from workbench.sessions import VideoSession

    backend = make_video_backend("sam2", checkpoint="random", image_size=256, policy="samurai")
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(4)]
    for i, f in enumerate(frames):
        f[10 + i : 30 + i, 12:40] = 220
    session = VideoSession(backend, frames)
    mask = np.zeros((48, 64), bool)
    mask[10:30, 12:40] = True
    session.set_mask(0, None, mask)
    policy = installed_policy(backend.predictor)
    before = json.dumps(policy.policy_state(), sort_keys=True, default=str)
    session.propagate()
    after = json.dumps(policy.policy_state(), sort_keys=True, default=str)
    assert after != before  # the Kalman filter moved
    session.undo()
    assert json.dumps(policy.policy_state(), sort_keys=True, default=str) == before
    session.redo()
    assert json.dumps(policy.policy_state(), sort_keys=True, default=str) == after


def test_annotator_policy_dropdown_switches_the_backend() -> None:
    from workbench.backends import make_video_backend
    from workbench.widgets import VideoAnnotator

    frames = [np.full((48, 64, 3), 30 * i, np.uint8) for i in range(3)]
    ann = VideoAnnotator(make_video_backend("sam2", checkpoint="random", image_size=256), frames)
    assert ann.policy_dropdown.options == ("sam2", "samurai", "sam2long") and not ann.policy_dropdown.disabled
    ann.policy_dropdown.value = "samurai"
    assert ann.session.backend.policy_name == "samurai" and "policy samurai" in ann.info.value
    assert ann.session.backend.info.extra["policy"] == "samurai"
    ann.policy_dropdown.value = "sam2"
    assert ann.session.backend.policy_name == "sam2"
    classical = VideoAnnotator(make_video_backend("classical"), frames)
    assert classical.policy_dropdown.disabled and classical.session.tracking_policy is None


def test_switching_between_policies_installs_one_at_a_time() -> None:
    from workbench.backends import make_video_backend
    from workbench.backends.sam2.policies import installed_policy

    backend = make_video_backend(
        "sam2", checkpoint="random", image_size=256, policy="sam2long", policy_params={"num_pathway": 2}
    )
    assert backend.policy_name == "sam2long" and backend.info.extra["policy_params"]["num_pathway"] == 2
    backend.set_policy("samurai")
    assert backend.policy_name == "samurai"
    assert "_run_single_frame_inference" not in backend.predictor.__dict__  # SAM2Long's patches are gone
    backend.set_policy("sam2")
    assert installed_policy(backend.predictor) is None and type(backend.predictor).__name__ == "SAM2VideoPredictor"


def test_autosave_recovery_rebuilds_a_samurai_session_exactly(tmp_path) -> None:
    from workbench.backends import make_video_backend
    from workbench.backends.sam2.policies import installed_policy
    from workbench.sessions import VideoSession

    def backend():
        return make_video_backend(
            "sam2", checkpoint="random", image_size=256, policy="samurai", policy_params={"stable_frames_threshold": 2}
        )

    frames = [np.full((48, 64, 3), 30 * i, np.uint8) for i in range(4)]
    for i, f in enumerate(frames):
        f[8 + i : 28 + i, 10:40] = 230
    mask = np.zeros((48, 64), bool)
    mask[8:28, 10:40] = True
    live = VideoSession(backend(), frames, autosave=tmp_path / "auto")
    live.set_mask(0, None, mask)
    live.propagate()
    state = json.dumps(installed_policy(live.backend.predictor).policy_state(), sort_keys=True, default=str)
    masks = {f: live.label_map_at(f) for f in range(4)}
    live.close()
    again = VideoSession.recover(tmp_path / "auto", backend(), autosave=False)
    assert json.dumps(installed_policy(again.backend.predictor).policy_state(), sort_keys=True, default=str) == state
    assert all(np.array_equal(again.label_map_at(f), masks[f]) for f in range(4))


def test_ray_workers_track_with_the_policy_of_the_spec(tmp_path) -> None:
    local = run_vos_benchmark(policy="samurai", run_id="local", reports_root=tmp_path, **COMMON)
    ray = run_vos_benchmark(
        policy="samurai", run_id="ray", reports_root=tmp_path, executor="ray", num_workers=1, **COMMON
    )
    card = json.loads((ray / "run_card.json").read_text())
    assert card["backend_extra"]["policy"] == "samurai"
    assert (ray / "per_sequence_results.csv").read_text() == (local / "per_sequence_results.csv").read_text()
