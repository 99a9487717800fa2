"""VideoSession on 6 real DAVIS frames: two objects, propagation, mid-video refinement, exact
undo/redo (classical backend; SAM 2 with random weights for the model state), save/load,
cancellation."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from workbench.backends.classical import FlowVideoBackend
from workbench.errors import BackendError, PromptError, UnknownNameError
from workbench.io.images import read_palette_mask
from workbench.sessions import CancelToken, Propagate, VideoSession

SEQ = "blackswan"
N = 6


@pytest.fixture(scope="module")
def frames_dir(davis_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frames") / SEQ
    out.mkdir()
    for i in range(N):
        shutil.copy(davis_dir / "JPEGImages" / SEQ / f"{i:05d}.jpg", out / f"{i:05d}.jpg")
    return out


@pytest.fixture(scope="module")
def gt0(davis_dir: Path) -> np.ndarray:
    return read_palette_mask(davis_dir / "Annotations" / SEQ / "00000.png") == 1


def _inside(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    return float(xs[k]), float(ys[k])


def _all_masks(s: VideoSession) -> dict:
    return {f: s.masks_at(f) for f in range(s.num_frames)}


def _same_masks(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[f].keys() == b[f].keys() and all(np.array_equal(a[f][o], b[f][o]) for o in a[f]) for f in a
    )


def _same_backend_state(a: dict, b: dict) -> bool:
    """Classical backend snapshots: object order, prompts and packed outputs identical."""
    if a["obj_ids"] != b["obj_ids"] or a["outputs"].keys() != b["outputs"].keys():
        return False
    for o in a["outputs"]:
        if a["outputs"][o].keys() != b["outputs"][o].keys():
            return False
        if not all(np.array_equal(a["outputs"][o][f], b["outputs"][o][f]) for f in a["outputs"][o]):
            return False
    return all(
        np.array_equal(a["prompts"][o][f].mask, b["prompts"][o][f].mask) for o in a["prompts"] for f in a["prompts"][o]
    )


def _two_objects(s: VideoSession, gt0: np.ndarray) -> int:
    s.add_point(0, *_inside(gt0))
    o2 = s.add_object("water")
    s.set_box(0, 0, 0, 120, 80, obj_id=o2)
    return o2


def test_propagate_refine_undo_redo(frames_dir, gt0):
    backend = FlowVideoBackend()
    s = VideoSession(backend, frames_dir)
    assert (s.num_frames, s.height, s.width) == (N, *gt0.shape)
    o2 = _two_objects(s, gt0)
    assert set(s.masks_at(0)) == {1, 2} and s.masks_at(1) == {}
    seen = []
    res = s.propagate(progress=lambda done, total, f: seen.append((done, total, f)))
    assert res.frames == list(range(N)) and not res.cancelled
    assert seen == [(i + 1, N, i) for i in range(N)]
    assert s.tracked_frames == list(range(N))
    assert all(set(s.masks_at(f)) == {1, 2} for f in range(N))
    assert s.presence_at(N - 1)[1] and s.areas_at(N - 1)[1] > 1000
    assert s.scores_at(0) == {1: None, 2: None}
    after_prop, state_after_prop = _all_masks(s), backend.snapshot()

    # refinement click mid-video, then re-propagation from there
    x, y = _inside(s.masks_at(3)[1])
    assert s.active_obj_id == o2
    s.add_point(3, x, y, positive=False, obj_id=1)
    assert s.prompted_frames(1) == [0, 3] and s.prompted_frames(o2) == [0]
    s.propagate(start_frame_idx=3)
    refined = _all_masks(s)
    assert not _same_masks(refined, after_prop)
    assert _same_masks({f: refined[f] for f in range(3)}, {f: after_prop[f] for f in range(3)})
    state_refined = backend.snapshot()

    s.undo()  # the re-propagation
    s.undo()  # the refinement click
    assert _same_masks(_all_masks(s), after_prop)
    assert _same_backend_state(backend.snapshot(), state_after_prop)
    assert s.prompted_frames(1) == [0]
    s.redo()
    s.redo()
    assert _same_masks(_all_masks(s), refined)
    assert _same_backend_state(backend.snapshot(), state_refined)

    s.remove_object(o2)
    assert all(set(s.masks_at(f)) == {1} for f in range(N)) and backend.obj_ids == [1]
    s.undo()
    assert backend.obj_ids == [1, 2] and _same_masks(_all_masks(s), refined)
    s.clear(obj_id=1, frame_idx=3)
    assert s.prompted_frames(1) == [0] and 1 not in s.masks_at(3) and 1 in s.masks_at(4)
    s.propagate()
    assert all(1 in s.masks_at(f) for f in range(N))


def test_errors(frames_dir, gt0):
    s = VideoSession(FlowVideoBackend(), frames_dir)
    with pytest.raises(PromptError, match="Nothing to propagate"):
        s.propagate()
    with pytest.raises(PromptError, match="frame_idx"):
        s.add_point(N, 10, 10)
    with pytest.raises(PromptError, match="outside"):
        s.add_point(0, s.width + 1, 10)
    with pytest.raises(UnknownNameError, match="Valid options: 1"):
        s.add_point(0, 10, 10, obj_id=5)
    with pytest.raises(PromptError, match=r"\(H, W\)"):
        s.set_mask(0, 1, np.ones((4, 4), bool))
    s.add_point(0, 10, 10)
    with pytest.raises(UnknownNameError, match="backward"):
        s.propagate("sideways")
    assert len(s.timeline) == 1  # only the valid click was recorded

    old = s.backend.snapshot()
    s.backend.init_state(frames_dir)  # another video (or the same one reloaded): old snapshots are refused
    with pytest.raises(BackendError, match="another video"):
        s.backend.restore(old)

    class NoSnapshot:
        pass

    with pytest.raises(BackendError, match="snapshot"):
        VideoSession(NoSnapshot(), frames_dir)


def test_mask_prompt_backward_and_both(frames_dir, gt0):
    s = VideoSession(FlowVideoBackend(), frames_dir)
    s.set_mask(2, 1, gt0)
    assert np.array_equal(s.masks_at(2)[1], gt0) and s.prompt_of(2, 1).mask is not None
    res = s.propagate("backward")
    assert res.frames == [2, 1, 0] and s.tracked_frames == [0, 1, 2]
    res = s.propagate("both", start_frame_idx=2, max_frame_num_to_track=1)
    assert res.frames == [2, 3, 2, 1]
    assert s.tracked_frames == [0, 1, 2, 3]


def test_cancel_propagation_midway(frames_dir, gt0):
    backend = FlowVideoBackend()
    s = VideoSession(backend, frames_dir)
    _two_objects(s, gt0)
    before, state_before = _all_masks(s), backend.snapshot()
    token = CancelToken()

    def progress(done, total, frame_idx):
        if done == 3:
            token.cancel()

    res = s.propagate_async(progress=progress, cancel=token).result(timeout=60)
    assert res.cancelled and res.frames == [0, 1, 2]
    assert s.tracked_frames == [0, 1, 2] and s.masks_at(3) == {}
    rec = s.timeline[-1]
    assert isinstance(rec, Propagate) and rec.frames_done == 3
    s.undo()
    assert _same_masks(_all_masks(s), before) and _same_backend_state(backend.snapshot(), state_before)
    s.redo()
    assert s.tracked_frames == [0, 1, 2]
    res = s.propagate(start_frame_idx=2)  # the state is consistent: tracking goes on
    assert res.frames == [2, 3, 4, 5] and s.tracked_frames == list(range(N))

    # a threading.Event works as a token too, and session.cancel() stops the running job
    gate, started = threading.Event(), threading.Event()

    def slow(done, total, f):
        started.set()
        gate.wait(10)

    fut = s.propagate_async(progress=slow)
    assert started.wait(30)
    s.cancel()
    gate.set()
    assert fut.result(timeout=60).cancelled


def test_save_load_round_trip(frames_dir, gt0, tmp_path):
    s = VideoSession(FlowVideoBackend(), frames_dir)
    _two_objects(s, gt0)
    s.set_mask(4, 1, gt0)
    s.propagate(max_frame_num_to_track=3)
    s.rename_object(2, "lake")
    s.save(tmp_path / "v")
    back = VideoSession.load(tmp_path / "v", FlowVideoBackend())
    assert back.objects == s.objects and back.active_obj_id == s.active_obj_id
    assert _same_masks(_all_masks(back), _all_masks(s))
    assert back.prompts.keys() == s.prompts.keys()
    assert all(back.prompts[k].equals(s.prompts[k]) for k in s.prompts)
    assert [a.to_json() for a in back.timeline] == [a.to_json() for a in s.timeline]
    assert back.backend.obj_ids == [1, 2]  # prompts were given to the backend again
    back.propagate()
    assert back.tracked_frames == list(range(N))

    # in-memory frames are written once beside the save
    mem = VideoSession(FlowVideoBackend(), [s.frame(i) for i in range(3)])
    mem.add_point(0, *_inside(gt0))
    mem.save(tmp_path / "m")
    again = VideoSession.load(tmp_path / "m", FlowVideoBackend())
    assert np.array_equal(again.frame(2), s.frame(2)) and np.array_equal(again.masks_at(0)[1], mem.masks_at(0)[1])


def _clone_tree(x, torch):
    if isinstance(x, dict):
        return {k: _clone_tree(v, torch) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clone_tree(v, torch) for v in x]
    return x.clone() if torch.is_tensor(x) else x


def _equal_tree(a, b, torch) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_equal_tree(a[k], b[k], torch) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_equal_tree(p, q, torch) for p, q in zip(a, b))
    if torch.is_tensor(a):
        return torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    return a == b


STATE_KEYS = (
    "obj_ids",
    "point_inputs_per_obj",
    "mask_inputs_per_obj",
    "output_dict_per_obj",
    "temp_output_dict_per_obj",
    "frames_tracked_per_obj",
)


@pytest.mark.slow
def test_sam2_exact_undo_restores_inference_state(frames_dir, gt0):
    torch = pytest.importorskip("torch")
    from workbench.backends.sam2 import make_sam2_video_backend

    # With sam2's default (add_all_frames_to_correct_as_cond=False) a correction on a tracked frame
    # is overwritten by the next propagation through it (facebookresearch/sam2 issues #546, #731);
    # the "interactive" preset makes it a conditioning frame, so the refinement below really
    # changes the model state.
    backend = make_sam2_video_backend(
        "sam2.1_hiera_tiny", checkpoint="random", image_size=256, seed=0, memory_preset="interactive"
    )
    assert backend.predictor.add_all_frames_to_correct_as_cond is True
    small = [np.ascontiguousarray(f[::2, ::2]) for f in read_frames(frames_dir, 3)]
    s = VideoSession(backend, small)
    s.set_mask(0, 1, gt0[::2, ::2])  # random weights: mask prompts give non-trivial outputs and memories
    o2 = s.add_object()
    s.set_box(0, 0, 0, 60, 40, obj_id=o2)
    s.propagate()

    def state() -> dict:
        return _clone_tree({k: backend.inference_state[k] for k in STATE_KEYS}, torch)

    before, masks_before = state(), _all_masks(s)
    assert len(before["output_dict_per_obj"][0]["non_cond_frame_outputs"]) == 2
    s.set_mask(1, 1, np.roll(gt0[::2, ::2], 15, axis=1))  # refinement mid-video
    s.add_point(1, 10, 10, positive=False, obj_id=o2)
    s.propagate(start_frame_idx=1)
    after, masks_after = state(), _all_masks(s)
    assert not _equal_tree(before["output_dict_per_obj"], after["output_dict_per_obj"], torch)
    assert not _same_masks(masks_before, masks_after)
    for _ in range(3):
        s.undo()
    assert _equal_tree(state(), before, torch) and _same_masks(_all_masks(s), masks_before)
    for _ in range(3):
        s.redo()
    assert _equal_tree(state(), after, torch) and _same_masks(_all_masks(s), masks_after)
    for _ in range(3):
        s.undo()
    s.propagate()  # tracking again from the restored state reproduces the first run
    assert _same_masks(_all_masks(s), masks_before)
    assert _equal_tree(state()["output_dict_per_obj"], before["output_dict_per_obj"], torch)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["interactive", "official"])
def test_refinement_click_survives_repropagation_with_the_interactive_preset(frames_dir, gt0, preset):
    pytest.importorskip("torch")
    from workbench.backends.sam2 import make_sam2_video_backend

    backend = make_sam2_video_backend(
        "sam2.1_hiera_tiny", checkpoint="random", image_size=256, seed=0, memory_preset=preset
    )
    s = VideoSession(backend, [np.ascontiguousarray(f[::2, ::2]) for f in read_frames(frames_dir, 4)])
    assert s.backend_video_settings.startswith(f"memory preset {preset}")
    s.set_mask(0, 1, gt0[::2, ::2])
    s.propagate()
    tracked = s.masks_at(2)[1]
    refined = s.add_point(2, *_inside(~tracked), positive=True)  # a correction on an already tracked frame
    assert not np.array_equal(refined, tracked)
    s.propagate()  # again from frame 0, through the corrected frame
    after = s.masks_at(2)[1]
    if preset == "interactive":  # the corrected frame is a conditioning frame: its mask is kept
        assert np.array_equal(after, refined)
    else:  # sam2's default: recomputed from memory, the correction is overwritten
        assert not np.array_equal(after, refined)


def read_frames(folder: Path, n: int) -> list[np.ndarray]:
    from workbench.io.images import read_image

    return [read_image(folder / f"{i:05d}.jpg") for i in range(n)]
