"""Image / video corruptions on real GrabCut images and DAVIS frames: determinism, severity
monotonicity, identity at severity 0, real JPEG re-encoding, occluder masks and motion."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.errors import ConfigError, DataError, UnknownNameError
from workbench.io.corruptions import (
    CORRUPTIONS,
    SEVERITY_PARAMS,
    corrupt,
    corrupt_frames,
    frame_seed,
    occluder_mask,
    occluder_masks,
    severity_parameter,
)
from workbench.io.images import read_image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def grabcut_images(data_dir: Path) -> list[np.ndarray]:
    files = sorted((data_dir / "images" / "grabcut" / "images").glob("*.jpg"))
    assert len(files) >= 3, "GrabCut images missing under WORKBENCH_DATA_DIR"
    return [read_image(f) for f in files[:3]]


@pytest.fixture(scope="module")
def image(grabcut_images) -> np.ndarray:
    return grabcut_images[0]


@pytest.fixture(scope="module")
def davis_frames(davis_dir: Path) -> np.ndarray:
    seq = sorted(p for p in (davis_dir / "JPEGImages").iterdir() if p.is_dir())[0]
    files = sorted(seq.glob("*.jpg"))[:4]
    return np.stack([cv2.resize(read_image(f), (240, 136), interpolation=cv2.INTER_AREA) for f in files])


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_psnr_decreases_with_severity_on_real_images(grabcut_images, kind):
    for img in grabcut_images:
        psnrs = [_psnr(img, corrupt(img, kind, s, seed=7)) for s in range(6)]
        assert psnrs[0] == float("inf")  # severity 0 is the identity
        assert all(a > b for a, b in pairwise(psnrs)), (kind, psnrs)
        assert psnrs[5] < 35.0, (kind, psnrs)  # severity 5 is a visible change


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_shape_dtype_identity_and_input_untouched(image, kind):
    before = image.copy()
    for s in range(6):
        out = corrupt(image, kind, s, seed=1)
        assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    assert np.array_equal(corrupt(image, kind, 0, seed=5), image)
    assert np.array_equal(image, before)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_same_seed_same_bytes(image, kind):
    a, b = corrupt(image, kind, 3, seed=11), corrupt(image, kind, 3, seed=11)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kind", ["gaussian_noise", "occluder"])
def test_seed_changes_random_corruptions(image, kind):
    assert not np.array_equal(corrupt(image, kind, 3, seed=0), corrupt(image, kind, 3, seed=1))


@pytest.mark.parametrize("kind", ["gaussian_blur", "jpeg", "low_contrast"])
def test_deterministic_corruptions_ignore_the_seed(image, kind):
    assert np.array_equal(corrupt(image, kind, 4, seed=0), corrupt(image, kind, 4, seed=99))


def test_noise_has_the_tabled_sigma_on_mid_grey():
    grey = np.full((200, 200, 3), 128, np.uint8)
    for s in (1, 3, 5):
        d = corrupt(grey, "gaussian_noise", s, seed=2).astype(np.float64) - 128
        sigma = SEVERITY_PARAMS["gaussian_noise"][s - 1] * 255
        # clipping at 0/255 shrinks the spread at high sigma: compare with clipped normal samples
        ref = np.clip(np.rint(128 + np.random.default_rng(99).normal(0, sigma, d.size)), 0, 255) - 128
        assert abs(d.std() - ref.std()) / ref.std() < 0.02
        assert abs(d.std() - sigma) / sigma < (0.02 if s < 5 else 0.2)
        assert abs(d.mean() - ref.mean()) < 1.5


def test_jpeg_really_reencodes(image):
    for s in (1, 5):
        q = int(SEVERITY_PARAMS["jpeg"][s - 1])
        ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        assert ok
        expected = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(corrupt(image, "jpeg", s), expected)

    # lower quality → 8x8 blocking: more energy across block borders than inside blocks
    def block_ratio(x):
        g = x.astype(np.float64).mean(-1)
        dx = np.abs(np.diff(g, axis=1))
        at_border = dx[:, 7::8].mean()
        inside = np.delete(dx, np.s_[7::8], axis=1).mean()
        return at_border / inside

    assert block_ratio(corrupt(image, "jpeg", 5)) > block_ratio(corrupt(image, "jpeg", 1)) > block_ratio(image)


def test_low_contrast_shrinks_the_spread_around_the_channel_means(image):
    for s in (1, 5):
        out = corrupt(image, "low_contrast", s).astype(np.float64)
        c = SEVERITY_PARAMS["low_contrast"][s - 1]
        ratio = out.std(axis=(0, 1)) / image.astype(np.float64).std(axis=(0, 1))
        assert np.allclose(ratio, c, atol=0.01)
        assert np.allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=0.6)


def test_blur_matches_opencv(image):
    ref = cv2.GaussianBlur(image, (0, 0), sigmaX=3.0, sigmaY=3.0, borderType=cv2.BORDER_REFLECT_101)
    assert np.array_equal(corrupt(image, "gaussian_blur", 3), ref)


def test_occluder_mask_grows_nested_and_matches_the_painted_pixels(image):
    h, w = image.shape[:2]
    masks = [occluder_mask(image.shape, s, seed=4) for s in range(6)]
    assert not masks[0].any()
    areas = [m.mean() for m in masks]
    assert all(a < b for a, b in pairwise(areas))
    for s in range(1, 6):
        assert abs(areas[s] - SEVERITY_PARAMS["occluder"][s - 1]) < 0.01
        assert not (masks[s - 1] & ~masks[s]).any()  # nested: same centre and aspect
        ys, xs = np.nonzero(masks[s])  # one axis-aligned rectangle
        assert masks[s].sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        out = corrupt(image, "occluder", s, seed=4)
        changed = (out != image).any(-1)
        assert not (changed & ~masks[s]).any()  # nothing outside the mask changes
        assert changed[masks[s]].mean() > 0.9
        grey = out[masks[s]]
        assert (grey[:, 0] == grey[:, 1]).all() and (grey[:, 1] == grey[:, 2]).all()  # grey
        assert 100 < grey.mean() < 156 and grey.std() > 10  # textured around 128
    assert np.array_equal(occluder_mask((h, w), 3, seed=4), masks[3])
    assert not np.array_equal(occluder_mask((h, w), 3, seed=5), masks[3])


def test_video_corruption_per_frame_and_moving_occluder(davis_frames):
    t = len(davis_frames)
    noisy = corrupt_frames(davis_frames, "gaussian_noise", 2, seed=3)
    assert isinstance(noisy, np.ndarray) and noisy.shape == davis_frames.shape and noisy.dtype == np.uint8
    for i in range(t):
        assert np.array_equal(noisy[i], corrupt(davis_frames[i], "gaussian_noise", 2, seed=frame_seed(3, i)))
    assert len({frame_seed(3, i) for i in range(t)}) == t
    same = np.stack([davis_frames[0]] * t)
    noise_of = [corrupt_frames(same, "gaussian_noise", 2, seed=3)[i].astype(int) - same[0] for i in range(2)]
    assert not np.array_equal(noise_of[0], noise_of[1])  # fresh noise on every frame
    assert np.array_equal(corrupt_frames(davis_frames, "gaussian_noise", 2, seed=3), noisy)

    as_list = corrupt_frames(list(davis_frames), "jpeg", 4)
    assert isinstance(as_list, list) and len(as_list) == t
    for i in range(t):
        assert np.array_equal(as_list[i], corrupt(davis_frames[i], "jpeg", 4))

    occl = corrupt_frames(davis_frames, "occluder", 3, seed=8)
    masks = occluder_masks(davis_frames.shape[1:], t, 3, seed=8)
    assert masks.shape == (t, *davis_frames.shape[1:3]) and masks.dtype == bool
    assert len({int(m.sum()) for m in masks}) == 1  # same rectangle size on every frame
    tops = np.array([np.argwhere(m).min(0) for m in masks], dtype=float)
    steps = np.diff(tops, axis=0)
    assert np.abs(steps).max() > 0  # it moves …
    assert np.abs(steps - steps.mean(0)).max() <= 1.0  # … at constant speed (up to rounding)
    for i in range(t):
        changed = (occl[i] != davis_frames[i]).any(-1)
        assert not (changed & ~masks[i]).any()
        assert changed[masks[i]].mean() > 0.9
    # the texture moves with the rectangle
    y0, x0 = tops[0].astype(int)
    y1, x1 = tops[-1].astype(int)
    bh, bw = np.ptp(np.argwhere(masks[0]), axis=0) + 1
    assert np.array_equal(occl[0][y0 : y0 + bh, x0 : x0 + bw], occl[-1][y1 : y1 + bh, x1 : x1 + bw])
    assert np.array_equal(corrupt_frames(davis_frames, "occluder", 3, seed=8), occl)
    assert np.array_equal(corrupt_frames(davis_frames, "occluder", 0, seed=8), davis_frames)
    assert corrupt_frames([], "occluder", 3) == []


def test_bad_arguments_are_refused(image):
    with pytest.raises(UnknownNameError, match="gaussian_noise") as err:
        corrupt(image, "fog", 1)
    assert all(k in str(err.value) for k in CORRUPTIONS)
    for bad in (-1, 6, 2.5, True, "3", None):
        with pytest.raises(ConfigError, match="0 .*to 5"):
            corrupt(image, "jpeg", bad)
    for bad in (image[..., 0], image.astype(np.float32), np.zeros((4, 4, 4), np.uint8), [[1, 2, 3]]):
        with pytest.raises(DataError, match=r"\(H, W, 3\) uint8"):
            corrupt(bad, "jpeg", 1)
    with pytest.raises(DataError, match="same size"):
        corrupt_frames([image, image[:10]], "jpeg", 1)
    with pytest.raises(DataError, match="T, H, W, 3"):
        corrupt_frames(image, "jpeg", 1)
    with pytest.raises(ConfigError):
        occluder_masks(image.shape, -2, 1)
    assert severity_parameter("jpeg", 5) == 7 and severity_parameter("occluder", 0) == 0.0
