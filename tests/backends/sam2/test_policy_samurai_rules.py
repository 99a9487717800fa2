"""SAMURAI policy without a model: the Kalman filter against the reference's trace, the mask
and memory selection rules on synthetic numbers, plain-data state, the policy registry.

Rules: yangchris11/samurai @ 76ba195, ``sam2/sam2/modeling/sam2_base.py`` (see
:mod:`workbench.backends.sam2.policies.samurai`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.backends.sam2.policies import (  # noqa: E402
    POLICIES,
    Sam2Policy,
    SamuraiParams,
    SamuraiPolicy,
    TrackingPolicy,
    make_policy,
)
from workbench.backends.sam2.policies.kalman import KalmanFilter, box_iou, xyah_to_xyxy, xyxy_to_xyah  # noqa: E402
from workbench.backends.sam2.policies.samurai import mask_box_xyxy, reference_attention_backends  # noqa: E402
from workbench.errors import BackendError, ConfigError, UnknownNameError  # noqa: E402

S = 64  # synthetic "image_size"


def _box_mask(x1: int, y1: int, x2: int, y2: int) -> torch.Tensor:
    m = torch.full((S, S), -1.0)
    m[y1 : y2 + 1, x1 : x2 + 1] = 1.0
    return m


def _candidates(*boxes) -> torch.Tensor:
    """(1, M, S, S) logits, candidate i = box i (None: empty mask)."""
    return torch.stack([_box_mask(*b) if b is not None else torch.full((S, S), -1.0) for b in boxes])[None]


def _step(policy: SamuraiPolicy, frame: int, ious, boxes, obj_id: int = 0, obj_score: float = 0.5):
    policy.begin_frame(obj_id, frame, False, 100)
    best = policy.choose_mask(
        torch.tensor([ious], dtype=torch.float32), _candidates(*boxes), torch.tensor([[obj_score]]), True
    )
    policy.end_frame(True)
    return None if best is None else int(best[0])


# -- Kalman filter ----------------------------------------------------------------------------
def test_kalman_filter_reproduces_the_reference_trace_exactly(golden_dir: Path):
    """Every mean and covariance of SAMURAI's KalmanFilter on the GT boxes (kalman_trace.json),
    bit for bit (JSON floats round-trip float64 exactly)."""
    trace = json.loads((golden_dir / "tracking_policies" / "samurai" / "kalman_trace.json").read_text())
    kf = KalmanFilter()
    n = 0
    for seq, steps in trace["sequences"].items():
        b0 = steps[0]["box_xyxy"]
        assert xyxy_to_xyah(b0) == steps[0]["measurement_xyah"]
        mean, cov = kf.initiate(xyxy_to_xyah(b0))
        assert mean.tolist() == steps[0]["after_initiate_mean"]
        assert cov.tolist() == steps[0]["after_initiate_cov"]
        for s in steps[1:]:
            bt = s["box_xyxy"]
            assert xyxy_to_xyah(bt) == s["measurement_xyah"], (seq, s["t"])
            mean, cov = kf.predict(mean, cov)
            assert mean.tolist() == s["after_predict_mean"], (seq, s["t"])
            assert cov.tolist() == s["after_predict_cov"], (seq, s["t"])
            assert xyah_to_xyxy(mean[:4]) == s["predicted_box_xyxy"]
            cands = [bt, [bt[0] + 16, bt[1], bt[2] + 16, bt[3]], b0, [0, 0, 0, 0]]
            assert cands == s["candidates_xyxy"]
            assert kf.compute_iou(mean[:4], cands) == s["kf_ious"], (seq, s["t"])
            mean, cov = kf.update(mean, cov, xyxy_to_xyah(bt))
            assert mean.tolist() == s["after_update_mean"], (seq, s["t"])
            assert cov.tolist() == s["after_update_cov"], (seq, s["t"])
            n += 1
    assert n == 30


def test_box_helpers_keep_the_reference_conventions():
    assert xyxy_to_xyah([0, 0, 0, 0]) == [0.0, 0.0, 0.0, 1]  # zero height becomes 1
    assert box_iou([0, 0, 10, 10], [0, 0, 0, 0]) == 0 and isinstance(box_iou([0, 0, 10, 10], [0, 0, 0, 0]), int)
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], np.array([0, 0, 0, 0])) == 0
    m = torch.full((8, 8), -1.0)
    assert mask_box_xyxy(m) == [0, 0, 0, 0]
    m[2:5, 3:7] = 0.5
    assert mask_box_xyxy(m) == [3, 2, 6, 4]
    m[6, 0] = 0.0  # logits must be > 0
    assert mask_box_xyxy(m) == [3, 2, 6, 4]


# -- mask selection -----------------------------------------------------------------------------
def test_mask_selection_follows_predicted_iou_until_stable_then_kalman_weighted():
    policy = SamuraiPolicy(SamuraiParams(stable_frames_threshold=3))
    kf = KalmanFilter()
    # rule 1: first multimask call starts the filter at the most confident candidate
    assert _step(policy, 1, [0.5, 0.9, 0.4], [(0, 0, 9, 9), (10, 10, 29, 29), (0, 0, 63, 63)]) == 1
    tr = policy.policy_state()["objects"][0]
    mean0, cov0 = kf.initiate(xyxy_to_xyah([10, 10, 29, 29]))
    assert tr["kf_mean"] == mean0.tolist() and tr["kf_covariance"] == cov0.tolist() and tr["stable_frames"] == 1
    # rule 2: predict, argmax, update while the kept IoU > stable_ious_threshold
    assert _step(policy, 2, [0.6, 0.2, 0.7], [(0, 0, 9, 9), (10, 10, 29, 29), (12, 10, 31, 29)]) == 2
    m, c = kf.predict(mean0, cov0)
    m, c = kf.update(m, c, xyxy_to_xyah([12, 10, 31, 29]))
    tr = policy.policy_state()["objects"][0]
    assert tr["kf_mean"] == m.tolist() and tr["kf_covariance"] == c.tolist() and tr["stable_frames"] == 2
    assert _step(policy, 3, [0.8, 0.1, 0.1], [(14, 10, 33, 29), None, None]) == 0
    state = policy.policy_state()["objects"][0]
    assert state["stable_frames"] == 3
    # rule 3: the candidate that agrees with the motion wins over a higher predicted IoU
    pred_mean, _ = kf.predict(np.array(state["kf_mean"]), np.array(state["kf_covariance"]))
    px1, py1, px2, py2 = (round(v) for v in xyah_to_xyxy(pred_mean[:4]))
    ious = [0.70, 0.62, 0.10]
    boxes = [(40, 40, 63, 63), (px1, py1, px2, py2), None]
    assert _step(policy, 4, ious, boxes) == 1
    rec = policy.policy_state()["objects"][0]["frames"][4]
    assert rec["selection"] == "kalman_weighted" and rec["chosen_index"] == 1
    kf_ious = kf.compute_iou(pred_mean[:4], [list(b) if b else [0, 0, 0, 0] for b in boxes])
    assert rec["kf_ious"] == [float(v) for v in kf_ious]
    # weighted = w * kf_iou (float64) + (1 - w) * iou (float32), as the reference computes it
    expect = 0.25 * torch.tensor(kf_ious) + 0.75 * torch.tensor([ious], dtype=torch.float32)
    assert rec["weighted_ious"] == expect.reshape(-1).tolist()
    assert rec["kf_score"] == kf_ious[1] and rec["best_iou_score"] == float(np.float32(0.62))
    assert rec["candidate_boxes_xyxy"][2] == [0, 0, 0, 0]
    assert policy.policy_state()["objects"][0]["stable_frames"] == 3  # not incremented in rule 3


def test_low_confidence_resets_the_track():
    policy = SamuraiPolicy(SamuraiParams(stable_frames_threshold=2))
    _step(policy, 1, [0.9, 0.1, 0.1], [(0, 0, 9, 9), None, None])
    before = policy.policy_state()["objects"][0]
    # rule 2 with the kept IoU not above 0.3: predicted state kept, stable_frames = 0
    _step(policy, 2, [0.29, 0.1, 0.2], [(0, 0, 9, 9), None, None])
    after = policy.policy_state()["objects"][0]
    m, _ = KalmanFilter().predict(np.array(before["kf_mean"]), np.array(before["kf_covariance"]))
    assert after["stable_frames"] == 0 and after["kf_mean"] == m.tolist()
    # stable_frames == 0 restarts the filter (rule 1) at the new box
    _step(policy, 3, [0.2, 0.8, 0.1], [(0, 0, 9, 9), (20, 20, 29, 39), None])
    after = policy.policy_state()["objects"][0]
    assert after["stable_frames"] == 1
    assert after["kf_mean"] == KalmanFilter().initiate(xyxy_to_xyah([20, 20, 29, 39]))[0].tolist()
    # rule 3 with a weak best candidate: stable_frames = 0, no update
    _step(policy, 4, [0.9, 0.1, 0.1], [(20, 20, 29, 39), None, None])
    _step(policy, 5, [0.25, 0.1, 0.1], [(20, 20, 29, 39), None, None])
    rec = policy.policy_state()["objects"][0]
    assert rec["frames"][5]["selection"] == "kalman_weighted" and rec["stable_frames"] == 0


def test_one_mask_calls_and_plain_mode_leave_the_filter_alone():
    policy = SamuraiPolicy()
    policy.begin_frame(3, 0, False, 10)
    assert policy.choose_mask(torch.tensor([[0.57]]), _candidates((0, 0, 5, 5)), torch.tensor([[0.1]]), False) is None
    policy.end_frame(True)
    obj = policy.policy_state()["objects"][3]
    assert obj["kf_mean"] is None and obj["stable_frames"] == 0
    assert obj["frames"][0]["selection"] == "single_mask"
    assert obj["frames"][0]["best_iou_score"] == float(np.float32(0.57)) and obj["frames"][0]["kf_score"] is None
    plain = SamuraiPolicy(SamuraiParams(samurai_mode=False))
    assert _step(plain, 1, [0.1, 0.9, 0.2], [(0, 0, 5, 5), None, None]) is None  # sam2's argmax
    assert plain.policy_state()["objects"][0]["frames"][1]["chosen_index"] == 1
    assert plain.policy_state()["objects"][0]["kf_mean"] is None
    assert plain.object_score_threshold() == -1.0


def test_objects_have_separate_filters_and_failed_frames_change_nothing():
    policy = SamuraiPolicy()
    _step(policy, 1, [0.9, 0.1, 0.1], [(0, 0, 9, 9), None, None], obj_id=1)
    _step(policy, 1, [0.9, 0.1, 0.1], [(30, 30, 59, 49), None, None], obj_id=2)
    st = policy.policy_state()["objects"]
    assert st[1]["kf_mean"][:2] == [4.5, 4.5] and st[2]["kf_mean"][:2] == [44.5, 39.5]
    saved = policy.policy_state()
    policy.begin_frame(1, 2, False, 100)
    policy.choose_mask(
        torch.tensor([[0.9, 0.1, 0.1]]), _candidates((2, 2, 11, 11), None, None), torch.tensor([[0.5]]), True
    )
    policy.end_frame(False)  # the frame raised later on: state as before
    assert policy.policy_state() == saved
    policy.forget_object(1)
    assert list(policy.policy_state()["objects"]) == [2]
    with pytest.raises(BackendError, match="outside a frame"):
        policy.choose_mask(torch.tensor([[0.9, 0.1, 0.1]]), _candidates(None, None, None), torch.tensor([[0.5]]), True)
    policy.begin_frame(2, 3, False, 100)
    with pytest.raises(BackendError, match="one object per decoder call"):
        policy.choose_mask(torch.zeros(2, 3), torch.zeros(2, 3, S, S), torch.zeros(2, 1), True)


# -- memory selection -----------------------------------------------------------------------------
def _memory(policy, frame_idx, stored, reverse=False, n=20, num_maskmem=7, max_ptrs=16, unselected=None):
    outputs = {f: {"frame": f} for f in stored}
    policy.begin_frame(0, frame_idx, reverse, n)
    slots = policy.select_memory(frame_idx, outputs, unselected or {}, reverse, num_maskmem, max_ptrs, n)
    policy.end_frame(False)
    return [(t, None if o is None else o["frame"]) for t, o in slots]


def _records(policy, scores: dict) -> None:
    state = policy.policy_state()
    frames = {f: {"best_iou_score": i, "object_score_logit": o, "kf_score": k} for f, (i, o, k) in scores.items()}
    state["objects"] = {0: {"kf_mean": None, "kf_covariance": None, "stable_frames": 0, "frames": frames}}
    policy.set_policy_state(state)


def test_memory_selection_keeps_confident_frames_and_the_previous_one():
    policy = SamuraiPolicy()
    good = (0.6, 0.2, None)
    scores = dict.fromkeys(range(1, 12), good)
    scores[9] = (0.5, 0.2, None)  # IoU not above 0.5
    scores[7] = (0.9, 0.0, None)  # object score not above 0
    scores[5] = (0.9, 0.2, 0.0)  # Kalman score not above 0
    scores[4] = (0.9, 0.2, 0.3)  # Kalman score above 0
    scores[11] = (0.1, -5.0, None)  # t - 1 fails but is always kept
    _records(policy, scores)
    assert _memory(policy, 12, range(1, 12)) == [(1, 3), (2, 4), (3, 6), (4, 8), (5, 10), (6, 11)]
    # frames 0 and 1 are never candidates (reference loop range(t - 1, 1, -1)); t - 1 = 1 is kept
    assert _memory(policy, 3, [1, 2]) == [(6, 2)]
    assert _memory(policy, 2, [1]) == [(6, 1)]
    # frames missing from the bank (conditioning / untracked) or without scores are skipped
    assert _memory(policy, 12, [2, 3, 4, 10, 11]) == [(2, 2), (3, 3), (4, 4), (5, 10), (6, 11)]
    policy.forget_object(0)
    assert _memory(policy, 12, range(1, 12)) == [(6, 11)]
    # an unselected conditioning frame fills a slot like the reference's fallback
    assert _memory(policy, 5, [2, 3], unselected={4: {"frame": 4}}) == [(6, 4)]


def test_memory_selection_caps_candidates_like_the_reference():
    policy = SamuraiPolicy()
    _records(policy, dict.fromkeys(range(1, 40), (0.9, 1.0, None)))
    # max_obj_ptrs_in_encoder = 4: the walk back stops after 3 valid frames
    assert _memory(policy, 30, range(1, 30), max_ptrs=4, n=40) == [(4, 27), (5, 28), (6, 29)]
    assert _memory(policy, 30, range(1, 30), num_maskmem=3, n=40) == [(1, 28), (2, 29)]


def test_reverse_tracking_mirrors_the_forward_rule_in_time():
    n = 20
    fwd, rev = SamuraiPolicy(), SamuraiPolicy()
    scores = {f: (0.6 + 0.01 * (f % 3), 0.3, None if f % 4 else 0.0) for f in range(n)}
    _records(fwd, scores)
    _records(rev, {n - 1 - f: s for f, s in scores.items()})
    for t in range(2, n):
        stored = range(1, t)
        want = [(p, None if f is None else n - 1 - f) for p, f in _memory(fwd, t, stored, n=n)]
        assert _memory(rev, n - 1 - t, [n - 1 - f for f in stored], reverse=True, n=n) == want


# -- state, params, registry --------------------------------------------------------------------------
def test_policy_state_is_plain_data_that_round_trips_exactly():
    policy = SamuraiPolicy(SamuraiParams(stable_frames_threshold=1))
    for f in range(1, 4):
        _step(policy, f, [0.9, 0.5, 0.3], [(f, 2, 20 + f, 30), (0, 0, 63, 63), None])
    state = policy.policy_state()
    assert state["objects"][0]["frames"][3]["selection"] == "kalman_weighted"
    again = json.loads(json.dumps(state))  # keys become strings; values stay exact
    other = SamuraiPolicy(SamuraiParams(stable_frames_threshold=1))
    other.set_policy_state(again)
    assert other.policy_state() == state
    state["objects"][0]["kf_mean"][0] = 1e9  # a copy: the policy is unaffected
    assert policy.policy_state()["objects"][0]["kf_mean"][0] != 1e9
    _step(policy, 4, [0.9, 0.5, 0.3], [(5, 2, 25, 30), None, None])
    _step(other, 4, [0.9, 0.5, 0.3], [(5, 2, 25, 30), None, None])
    assert other.policy_state() == policy.policy_state()  # restored state continues identically
    for bad in ({}, {"policy": "sam2"}, {"policy": "samurai", "objects": {0: {"kf_mean": [1, 2]}}}):
        with pytest.raises(ConfigError):
            other.set_policy_state(bad)
    policy.reset()
    assert policy.policy_state() == {"policy": "samurai", "objects": {}}


def test_registry_params_and_errors():
    assert set(POLICIES) == {"sam2", "samurai", "sam2long"}
    p = make_policy("samurai")
    assert isinstance(p, TrackingPolicy) and isinstance(make_policy("sam2"), TrackingPolicy)
    assert p.params_dict() == {
        "samurai_mode": True,
        "stable_frames_threshold": 15,
        "stable_ious_threshold": 0.3,
        "min_obj_score_logits": -1.0,
        "kf_score_weight": 0.25,
        "memory_bank_iou_threshold": 0.5,
        "memory_bank_obj_score_threshold": 0.0,
        "memory_bank_kf_score_threshold": 0.0,
    }
    assert make_policy("samurai", stable_frames_threshold=5, kf_score_weight=1).params_dict()["kf_score_weight"] == 1.0
    assert make_policy("sam2").params_dict() == {} and isinstance(make_policy("sam2"), Sam2Policy)
    with pytest.raises(UnknownNameError, match="sam2, sam2long, samurai"):
        make_policy("samurai2")
    with pytest.raises(ConfigError, match="Valid parameters"):
        make_policy("samurai", stable_frame_threshold=5)
    with pytest.raises(ConfigError, match="must be of type int"):
        make_policy("samurai", stable_frames_threshold=2.5)
    with pytest.raises(ConfigError, match="must be of type bool"):
        make_policy("samurai", samurai_mode=1)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        make_policy("samurai", kf_score_weight=1.5)
    with pytest.raises(ConfigError, match="finite"):
        make_policy("samurai", memory_bank_iou_threshold=float("nan"))
    with pytest.raises(ConfigError, match="Valid parameters: \\(none\\)"):
        make_policy("sam2", kf_score_weight=0.1)


def test_reference_attention_kernel_on_cpu_is_math():
    from torch.nn.attention import SDPBackend

    if torch.cuda.is_available():
        pytest.skip("the reference decides from CUDA device 0 when CUDA is available")
    # sdp_kernel(enable_flash=False, enable_math=True, enable_mem_efficient=True) (+ cuDNN):
    # on CPU only flash and math exist, so math runs
    assert reference_attention_backends() == [
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.MATH,
        SDPBackend.CUDNN_ATTENTION,
    ]
