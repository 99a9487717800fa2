"""The memory trace (which memories fed each prediction) of the SAM 2 video backend, per policy.

Random-weight SAM 2.1-tiny at 64 px on the first DAVIS blackswan frames, prompted with the
ground-truth mask. The expected lists are SAM 2's, SAMURAI's and SAM2Long's documented rules,
written out independently here; the thresholds are set so that each policy's choice differs from
SAM 2's, so a trace that merely restated sam2's rule would fail. Recording must not change any
mask: the backend's masks are compared with the same weights run through the bare predictor.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("torch")

from workbench.backends import MemoryIntrospection, make_video_backend, supports
from workbench.backends.sam2.policies import installed_policy
from workbench.backends.sam2.policies.sam2long import frame_record
from workbench.errors import BackendError, PromptError, UnknownNameError
from workbench.io.datasets import load_davis
from workbench.io.frames import FrameSource
from workbench.sessions import VideoSession

SIZE = 64
SEQ = "blackswan"


@pytest.fixture(scope="module")
def clip(davis_dir):
    """First 9 frames of blackswan and their object-1 masks."""
    item = load_davis(davis_dir, [SEQ])[0]
    src = FrameSource(item.frames_dir)
    gt = item.load_annotations()[:9]
    return [src[i] for i in range(9)], gt == 1, item.frames_dir


def _backend(policy="sam2", **params):
    return make_video_backend("sam2", checkpoint="random", image_size=SIZE, policy=policy, policy_params=params)


def _track(backend, frames, masks, prompted=(0,)):
    backend.init_state(frames)
    for f in prompted:
        backend.add_mask(f, 1, masks[f])
    list(backend.propagate())
    return {f: backend.memory_trace(f, 1) for f in range(len(frames))}


def test_sam2_trace_is_sam2s_memory_bank(clip):
    """Two prompted frames (0 and 5), nine frames: every prompted frame is attended (even the
    later one), the six frames right behind that are not prompted, and the object pointers of the
    past prompted frames and of the recent frames, newest first."""
    frames, masks, _ = clip
    backend = _backend()
    assert supports(backend, MemoryIntrospection)
    traces = _track(backend, frames, masks, prompted=(0, 5))
    for t, tr in traces.items():
        assert tr is not None and tr.frame_idx == t and tr.obj_id == 1 and tr.policy == "sam2"
        if t in (0, 5):  # mask prompts: the mask is the output, no memory
            assert tr.is_cond_frame and tr.memory_frames == () and tr.obj_ptr_frames == ()
            continue
        assert not tr.is_cond_frame and tr.cond_frames == (0, 5)
        assert tr.non_cond_frames == tuple(f for f in range(max(1, t - 6), t) if f != 5)
        assert tr.obj_ptr_frames == tuple(f for f in (0, 5) if f < t) + tuple(f for f in range(t - 1, 0, -1) if f != 5)
        ious = [tr.policy_scores[f"pred_iou_{i}"] for i in range(3)]
        assert all(0.0 <= v <= 1.5 for v in ious) and "object_score_logit" in tr.policy_scores
    assert traces[8].non_cond_frames == (2, 3, 4, 6, 7)  # frame 1 fell out of the 6 slots
    with pytest.raises(PromptError):
        backend.memory_trace(9, 1)
    assert backend.memory_trace(3, 7) is None  # no such object


def test_samurai_trace_is_its_memory_selection_and_scores(clip):
    """With ``memory_bank_iou_threshold`` 0.9 no random-weight frame is confident enough, so
    SAMURAI attends only the frame right behind; the trace agrees with SAMURAI's own record and
    its scores with its choice."""
    frames, masks, _ = clip
    backend = _backend("samurai", memory_bank_iou_threshold=0.9, stable_frames_threshold=2)
    traces = _track(backend, frames[:6], masks)
    policy = installed_policy(backend.predictor)
    records = policy.policy_state()["objects"][1]["frames"]
    kalman = 0
    for t in range(1, 6):
        tr, rec = traces[t], records[t]
        assert tr.policy == "samurai" and tr.cond_frames == (0,)
        assert tr.non_cond_frames == ((t - 1,) if t >= 2 else ())
        assert list(tr.non_cond_frames) == [f for _, f in rec["memory_frames"]]
        s = tr.policy_scores
        assert [s[f"pred_iou_{i}"] for i in range(3)] == pytest.approx(rec["pred_ious"], abs=1e-6)
        assert s["chosen_mask"] == rec["chosen_index"] and s["best_iou_score"] == pytest.approx(rec["best_iou_score"])
        if s["kalman_weighted"]:
            kalman += 1
            weighted = [s[f"weighted_score_{i}"] for i in range(3)]
            assert s["chosen_mask"] == int(np.argmax(weighted)) and "kf_iou_0" in s and "kf_score" in s
        else:
            assert s["chosen_mask"] == int(np.argmax([s[f"pred_iou_{i}"] for i in range(3)]))
    assert kalman >= 1  # stable after two frames: the Kalman-weighted choice was reached
    assert traces[0].is_cond_frame and traces[0].policy_scores["best_iou_score"] == 1.0  # the mask prompt


def test_sam2long_trace_is_the_output_pathways_memory(clip):
    """With ``iou_thre`` 0.99 every stored candidate is unreliable: each pathway attends only the
    frame right behind and no recent object pointer; the first tracked frame (the tree's root)
    is sam2's own step. Scores are the tree's record."""
    frames, masks, _ = clip
    backend = _backend("sam2long", iou_thre=0.99, num_pathway=2)
    traces = _track(backend, frames[:5], masks)
    root = traces[1]
    assert root.policy == "sam2long" and root.non_cond_frames == () and root.obj_ptr_frames == (0,)
    state = backend.inference_state
    non_cond = state["output_dict_per_obj"][0]["non_cond_frame_outputs"]
    for t in range(2, 5):
        tr, rec = traces[t], frame_record(non_cond[t])
        assert tr.cond_frames == (0,) and tr.non_cond_frames == (t - 1,) and tr.obj_ptr_frames == (0,)
        s = tr.policy_scores
        assert [s["pathway_score_0"], s["pathway_score_1"]] == pytest.approx(rec["acc_score"])
        assert s["selected_pathway"] == rec["parent"][0] and s["chosen_mask"] == rec["candidate"][0]
        assert s["pathway_score_0"] >= s["pathway_score_1"] and "certain" in s


@pytest.mark.slow
def test_session_traces_follow_undo_and_policy_switches(clip):
    frames, masks, _ = clip
    session = VideoSession(_backend(), frames[:5])
    assert session.has_memory_trace and session.memory_trace(2) is None  # nothing tracked yet
    session.set_mask(0, None, masks[0])
    session.propagate()
    sam2 = session.memory_traces()
    assert [t.frame_idx for t in sam2] == list(range(5)) and sam2[4].non_cond_frames == (1, 2, 3)
    session.set_tracking_policy("samurai", {"memory_bank_iou_threshold": 0.9})
    session.propagate()
    samurai = session.memory_trace(4)
    assert samurai.policy == "samurai" and samurai.non_cond_frames == (3,)
    session.undo()  # back to sam2's tracking: its record comes back with it
    assert session.memory_trace(4) == sam2[4]
    session.redo()
    assert session.memory_trace(4) == samurai
    with pytest.raises(PromptError):
        session.memory_trace(5)
    with pytest.raises(UnknownNameError):
        session.memory_trace(1, obj_id=9)
    classical = VideoSession(make_video_backend("classical"), frames[:2])
    assert not classical.has_memory_trace
    with pytest.raises(BackendError, match="SAM 2"):
        classical.memory_trace(0)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["sam2", "samurai", "sam2long"])
def test_recording_changes_no_mask(policy, clip, tmp_path):
    """The backend (recording) and the bare predictor with the same policy and weights (nothing
    recorded) give the same masks bit for bit."""
    import torch

    from workbench.backends.sam2 import SAM2VideoBackend, build_sam2_model
    from workbench.backends.sam2.policies import apply_policy, make_policy

    _, masks, frames_dir = clip
    folder = tmp_path / SEQ
    folder.mkdir()
    for i in range(5):
        shutil.copy(frames_dir / f"{i:05d}.jpg", folder / f"{i:05d}.jpg")
    params = {"num_pathway": 2} if policy == "sam2long" else {}

    raw, _ = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=SIZE, mode="video", seed=0)
    if policy != "sam2":
        apply_policy(raw, make_policy(policy, **params))
    with torch.inference_mode():
        state = raw.init_state(str(folder))
        raw.add_new_mask(state, 0, 1, torch.from_numpy(masks[0]))
        want = {f: (m[0, 0] > 0).numpy() for f, _, m in raw.propagate_in_video(state)}

    net, info = build_sam2_model("sam2.1_hiera_tiny", checkpoint="random", image_size=SIZE, mode="video", seed=0)
    backend = SAM2VideoBackend(net, info, precision="fp32", lazy_frames=False)
    backend.set_policy(policy, params)
    backend.init_state(folder)
    backend.add_mask(0, 1, masks[0])
    got = {fm.frame_idx: fm.masks[0] for fm in backend.propagate()}
    assert sorted(got) == sorted(want) == list(range(5))
    assert all(np.array_equal(got[f], want[f]) for f in got)
    assert backend.memory_trace(4, 1).cond_frames == (0,)  # it did record
