"""Bounded memory for long videos: lazily prepared frames in a bounded cache, and per-frame
tracking state spilled out of memory behind the tracking window (``memory="bounded"``).

Real bedroom frames (the clip of SAM 2's own notebooks), hiera-tiny with random weights at
image_size 256 on CPU. The raw reference is the official ``SAM2VideoPredictor`` API driven
directly (``init_state`` on the JPEG folder, ``add_new_points_or_box``, ``propagate_in_video``);
it shares the model object with the backend, whose only addition to it is a dtype pre-hook
that lets fp32 CPU runs track backward from a non-prompted frame (a cast of stored bf16
memories that changes no value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.backends.sam2.frames import LazyFrames, preprocess_frame  # noqa: E402
from workbench.backends.sam2.loading import build_sam2_model  # noqa: E402
from workbench.backends.sam2.memory import SpilledOutput, state_nbytes, tracking_window  # noqa: E402
from workbench.backends.sam2.video import SAM2VideoBackend  # noqa: E402
from workbench.errors import ConfigError, UnknownNameError  # noqa: E402
from workbench.io.frames import FrameSource  # noqa: E402
from workbench.io.images import read_image  # noqa: E402

SIZE = 256
N = 8
CLICK = np.array([[210.0, 350.0]], np.float32)
BOX = np.array([600.0, 100.0, 900.0, 400.0], np.float32)


@pytest.fixture(scope="module")
def bedroom(data_dir: Path, tmp_path_factory) -> Path:
    """The first N bedroom frames as symlinks in a temporary JPEG folder."""
    src = data_dir / "bedroom" / "JPEGImages" / "bedroom"
    out = tmp_path_factory.mktemp("bedroom")
    for i in range(N):
        (out / f"{i:05d}.jpg").symlink_to(src / f"{i:05d}.jpg")
    return out


@pytest.fixture(scope="module")
def model():
    return build_sam2_model("sam2.1_hiera_tiny", "random", image_size=SIZE, mode="video", seed=0)


def _raw_masks(out) -> tuple[int, list[int], np.ndarray]:
    f, ids, logits = out
    return int(f), [int(i) for i in ids], (logits[:, 0] > 0.0).cpu().numpy()


def _same(raw, fm) -> bool:
    f, ids, masks = raw
    return fm.frame_idx == f and fm.obj_ids == ids and np.array_equal(fm.masks, masks)


def _compare_pass(net, raw_state, backend, **kw) -> list[int]:
    with torch.inference_mode():
        raw = [_raw_masks(o) for o in net.propagate_in_video(raw_state, **kw)]
    ours = list(backend.propagate(**kw))
    assert len(raw) == len(ours) > 0
    bad = [fm.frame_idx for r, fm in zip(raw, ours) if not _same(r, fm)]
    assert not bad, f"masks differ from the raw predictor on frames {bad} ({kw})"
    return [fm.frame_idx for fm in ours]


@pytest.mark.slow
def test_bounded_mode_is_identical_to_raw_forward_backward_and_refined(model, bedroom):
    net, info = model
    # window 1: nearly every output is spilled and read back while tracking, the hardest case
    b = SAM2VideoBackend(net, info, memory="bounded", lazy_frames=True, frame_cache=3, spill_window=1)
    b.init_state(bedroom)
    with torch.inference_mode():
        raw = net.init_state(str(bedroom))
        r1 = _raw_masks(net.add_new_points_or_box(raw, 0, 1, points=CLICK, labels=np.array([1], np.int32)))
        r2 = _raw_masks(net.add_new_points_or_box(raw, 0, 2, box=BOX))
    assert _same(r1, b.add_points(0, 1, CLICK, np.array([1])))
    assert _same(r2, b.add_box(0, 2, BOX))

    assert _compare_pass(net, raw, b) == list(range(N))
    stats = b.memory_stats()
    assert stats["spilled"] >= 2 * (N - 3) and stats["spill_bytes"] > 0
    outs = b.inference_state["output_dict_per_obj"][0]["non_cond_frame_outputs"]
    assert isinstance(outs[3], SpilledOutput)

    # a refinement click on a spilled frame reads its stored logits, the other object's
    # stored mask and the memories behind it: all read back from disk
    neg = np.array([[400.0, 200.0]], np.float32)
    with torch.inference_mode():
        r = _raw_masks(
            net.add_new_points_or_box(raw, 4, 1, points=neg, labels=np.array([0], np.int32), clear_old_points=False)
        )
    assert _same(r, b.add_points(4, 1, neg, np.array([0]), clear_old_points=False))
    assert _compare_pass(net, raw, b, start_frame_idx=4) == list(range(4, N))
    assert _compare_pass(net, raw, b, start_frame_idx=N - 1, reverse=True) == list(range(N - 1, -1, -1))

    # every stored output, spilled or not, equals the raw state's, bit for bit
    for obj_idx in (0, 1):
        for key in ("cond_frame_outputs", "non_cond_frame_outputs"):
            mine = b.inference_state["output_dict_per_obj"][obj_idx][key]
            ref = raw["output_dict_per_obj"][obj_idx][key]
            assert sorted(mine) == sorted(ref)
            for f in ref:
                for k in ("maskmem_features", "pred_masks", "obj_ptr", "object_score_logits"):
                    assert torch.equal(mine[f][k], ref[f][k]), (obj_idx, key, f, k)

    cache = b.frame_cache_stats
    assert cache["cache_size"] == 3 and cache["max_held"] <= 3 and cache["held"] <= 3
    assert cache["misses"] >= N  # frames were really prepared on demand, not preloaded
    assert state_nbytes(b.inference_state)["images"] <= 3 * 3 * SIZE * SIZE * 4


@pytest.mark.slow
def test_bounded_state_size_does_not_grow_with_frames(model, bedroom):
    net, info = model
    assert tracking_window(net) == 15  # SAM 2.1: 16 object pointers, 7 memories

    def run(memory: str):
        b = SAM2VideoBackend(net, info, memory=memory, lazy_frames=True, frame_cache=2, spill_window=1)
        b.init_state(bedroom)
        b.add_points(0, 1, CLICK, np.array([1]))
        at, masks = {}, []
        for fm in b.propagate():
            masks.append(fm.masks)
            if fm.frame_idx in (3, 7):  # after 4 and after 8 frames
                at[fm.frame_idx] = b.memory_stats()
        return b, at, masks

    bounded, at, masks_b = run("bounded")
    full, at_full, masks_f = run("full")
    assert all(np.array_equal(p, q) for p, q in zip(masks_b, masks_f)) and len(masks_b) == N
    # full: outputs grow with every frame; bounded: same bytes and tensor count after 4 and 8 frames
    assert at_full[7]["outputs"] > 1.6 * at_full[3]["outputs"] > 0
    assert at[7]["outputs"] == at[3]["outputs"] > 0 and at[7]["tensors"] == at[3]["tensors"]
    assert at[7]["spilled"] > at[3]["spilled"] and at[7]["spill_bytes"] > at[3]["spill_bytes"]
    assert at[7]["images"] <= 2 * 3 * SIZE * SIZE * 4

    # a snapshot spills what is left, so undo history never pins tracking tensors
    snap = bounded.snapshot()
    left = bounded.memory_stats()
    assert left["outputs"] < at[7]["outputs"] and left["spilled"] == N - 1
    bounded.restore(snap)
    fm = bounded.add_points(5, 1, np.array([[300.0, 300.0]]), np.array([1]), clear_old_points=False)
    fm_full = full.add_points(5, 1, np.array([[300.0, 300.0]]), np.array([1]), clear_old_points=False)
    assert np.array_equal(fm.masks, fm_full.masks)


@pytest.mark.parametrize("size", [SIZE, 1024])
def test_prepared_frames_equal_sam2s_own_jpeg_loader(bedroom, size):
    """Frames given as arrays (a list, a video file, PNGs, corrupted frames, the VOS runner's
    ``max_frames``) reach the predictor bit for bit as sam2's ``load_video_frames`` prepares
    the JPEG folder: PIL resize, /255, ImageNet mean/std in float32."""
    from sam2.utils.misc import load_video_frames

    from workbench.backends.sam2.frames import PreparedFrames

    ref, h, w = load_video_frames(str(bedroom), size, offload_video_to_cpu=True)
    frames = FrameSource([read_image(bedroom / f"{i:05d}.jpg") for i in range(N)])
    for lazy in (False, True):
        ours, oh, ow = PreparedFrames(frames, lazy=lazy).load(size, True, torch.device("cpu"))
        assert (oh, ow) == (h, w) and len(ours) == len(ref)
        assert all(torch.equal(ours[i], ref[i]) for i in range(N))


def test_lazy_frame_cache_never_exceeds_its_bound(bedroom):
    src = FrameSource(bedroom, cache_size=1)
    lazy = LazyFrames(src, 64, torch.device("cpu"), cache_size=3, prefetch=2)
    order = list(range(N)) + list(range(N - 1, -1, -1)) + [3, 6, 0, 0, 7, 2]
    held = []
    for i in order:
        t = lazy[i]
        held.append(lazy.held)
        assert torch.equal(t, preprocess_frame(read_image(bedroom / f"{i:05d}.jpg"), 64))
    assert max(held) <= 3 and lazy.stats["max_held"] <= 3
    assert lazy.stats["prefetched"] > 0 and lazy.stats["hits"] > 0 and lazy.stats["evicted"] > 0
    assert len(lazy) == N and torch.equal(lazy[-1], lazy[N - 1])
    with pytest.raises(IndexError):
        lazy[N]
    lazy.close()
    assert lazy.held == 0 and lazy[1].shape == (3, 64, 64)  # still usable, without prefetch


def test_bad_memory_options_are_refused(model):
    net, info = model
    with pytest.raises(UnknownNameError, match="bounded"):
        SAM2VideoBackend(net, info, memory="trimmed")
    with pytest.raises(ConfigError, match="frame_cache"):
        SAM2VideoBackend(net, info, frame_cache=2, prefetch=2)
    with pytest.raises(ConfigError, match="spill_window"):
        SAM2VideoBackend(net, info, spill_window=-1)
    with pytest.raises(ConfigError, match="cache_size"):
        LazyFrames(None, 64, torch.device("cpu"), cache_size=0)


def test_long_videos_are_lazy_by_default(model, bedroom):
    net, info = model
    b = SAM2VideoBackend(net, info, preload_limit_mb=1.0)  # 8 frames at 256 need 6 MB preloaded
    b.init_state(bedroom)
    assert isinstance(b.inference_state["images"], LazyFrames) and b.frame_cache_stats["cache_size"] == 8
    b.close()
    b = SAM2VideoBackend(net, info)
    b.init_state(bedroom)
    assert isinstance(b.inference_state["images"], torch.Tensor) and b.frame_cache_stats is None
    assert b.info.extra["memory"] == "bounded"
