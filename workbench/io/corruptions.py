"""Synthetic image and video corruptions at five severities, for robustness experiments.

In the spirit of ImageNet-C (Hendrycks & Dietterich, "Benchmarking Neural Network Robustness
to Common Corruptions and Perturbations", ICLR 2019): each corruption has one parameter whose
value grows with the severity 1..5; severity 0 is the identity. Noise, blur, JPEG and
contrast use the ImageNet-C parameter values (``imagenet_c/corruptions.py``: ``gaussian_noise``,
``gaussian_blur``, ``jpeg_compression``, ``contrast``); the occluder is this workbench's own.
Blur sigmas are in pixels of the image as given (ImageNet-C's were for 224-pixel crops).

=========  ==========================  =====  =====  =====  =====  =====
severity                                1      2      3      4      5
=========  ==========================  =====  =====  =====  =====  =====
noise      sigma (fraction of 255)      0.08   0.12   0.18   0.26   0.38
blur       Gaussian sigma (pixels)      1      2      3      4      6
jpeg       JPEG quality (OpenCV)        25     18     15     10     7
contrast   factor c: (x - mean)·c+mean  0.4    0.3    0.2    0.1    0.05
occluder   fraction of image area       0.05   0.10   0.20   0.30   0.40
=========  ==========================  =====  =====  =====  =====  =====

All functions take and return ``(H, W, 3)`` uint8 RGB arrays and are deterministic for a given
``seed`` (numpy ``default_rng``). Only noise and the occluder use the seed.

The occluder is a grey rectangle with a smooth random texture (mean 128). For one seed the
rectangles of all severities share their centre and aspect ratio and grow with the severity
(nested), so the damage increases monotonically. Its mask is available from
:func:`occluder_mask` (image) and :func:`occluder_masks` (video, moving rectangle).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from ..errors import ConfigError, DataError, UnknownNameError

CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "jpeg", "low_contrast", "occluder")
SEVERITIES = (1, 2, 3, 4, 5)
SEVERITY_PARAMS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),  # noise std as a fraction of 255
    "gaussian_blur": (1.0, 2.0, 3.0, 4.0, 6.0),  # Gaussian sigma in pixels
    "jpeg": (25, 18, 15, 10, 7),  # JPEG quality 0..100
    "low_contrast": (0.4, 0.3, 0.2, 0.1, 0.05),  # contrast factor
    "occluder": (0.05, 0.10, 0.20, 0.30, 0.40),  # occluded fraction of the image area
}
"""The parameter of each corruption at severities 1..5 (see the module table)."""

_ASPECT_RANGE = (0.5, 2.0)  # occluder height / width, log-uniform
_TEXTURE_CELL = 16  # pixels per cell of the low-resolution texture noise
_TEXTURE_AMPLITUDE = 40.0  # grey levels (std of the texture around 128)


# -- validation ---------------------------------------------------------------------------------
def _check_kind(kind: str) -> str:
    if kind not in CORRUPTIONS:
        raise UnknownNameError("corruption", kind, CORRUPTIONS)
    return kind


def _check_severity(severity: int) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 0 <= severity <= 5:
        raise ConfigError(f"severity must be an integer from 0 (no corruption) to 5 (strongest); got {severity!r}.")
    return int(severity)


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise DataError(
            f"image must be an (H, W, 3) uint8 RGB array; got {desc}. Read files with workbench.io.read_image."
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise DataError(f"image is empty: shape {image.shape}.")
    return image


def _hw(shape) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in tuple(shape)[:2])
    except (TypeError, ValueError) as exc:
        raise DataError(f"shape must be (H, W) or (H, W, 3); got {shape!r}.") from exc
    if h < 1 or w < 1:
        raise DataError(f"shape must have positive H and W; got {shape!r}.")
    return h, w


def severity_parameter(kind: str, severity: int) -> float:
    """The parameter of ``kind`` at ``severity`` 1..5 (:data:`SEVERITY_PARAMS`); 0 for severity 0.

    Raises
    ------
    UnknownNameError, ConfigError
    """
    _check_kind(kind)
    severity = _check_severity(severity)
    return 0.0 if severity == 0 else float(SEVERITY_PARAMS[kind][severity - 1])


# -- the pixel corruptions ------------------------------------------------------------------------
def _noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma * 255.0, image.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DataError(f"OpenCV could not JPEG-encode an image of shape {image.shape}.")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        raise DataError(f"OpenCV could not decode the JPEG it encoded from an image of shape {image.shape}.")
    return np.ascontiguousarray(decoded[..., ::-1])


def _contrast(image: np.ndarray, factor: float) -> np.ndarray:
    x = image.astype(np.float32)
    mean = x.mean(axis=(0, 1), keepdims=True)  # per channel, as ImageNet-C
    return np.clip(np.rint((x - mean) * factor + mean), 0, 255).astype(np.uint8)


# -- the occluder -----------------------------------------------------------------------------------
def _occluder_geometry(h: int, w: int, seed: int) -> tuple[np.random.Generator, float, list[tuple[int, int]]]:
    """Seeded aspect ratio and the (height, width) of the rectangle at severities 1..5."""
    rng = np.random.default_rng(seed)
    aspect = float(np.exp(rng.uniform(*np.log(_ASPECT_RANGE))))  # height / width
    sizes = []
    for frac in SEVERITY_PARAMS["occluder"]:
        area = frac * h * w
        bh = min(h, max(1, round(float(np.sqrt(area * aspect)))))
        bw = min(w, max(1, round(float(area / bh))))
        bh = min(h, max(1, round(float(area / bw))))  # re-balance when the width was clipped
        sizes.append((bh, bw))
    return rng, aspect, sizes


def _centre_range(h: int, w: int, size: tuple[int, int]) -> tuple[float, float, float, float]:
    bh, bw = size
    return bh / 2, h - bh / 2, bw / 2, w - bw / 2  # row min/max, column min/max of the centre


def _box(centre: tuple[float, float], size: tuple[int, int]) -> tuple[int, int, int, int]:
    (cy, cx), (bh, bw) = centre, size
    y0, x0 = round(float(cy - bh / 2)), round(float(cx - bw / 2))
    return y0, x0, y0 + bh, x0 + bw


def _rect_mask(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, x0, y1, x1 = box
    mask = np.zeros((h, w), dtype=bool)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    return mask


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth grey texture ``(h, w)`` float32 around 128 (bicubic-upsampled cell noise)."""
    rng = np.random.default_rng([seed, 1])
    small = rng.normal(0.0, 1.0, (max(2, -(-h // _TEXTURE_CELL) + 1), max(2, -(-w // _TEXTURE_CELL) + 1)))
    big = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    big = (big - big.mean()) / (big.std() + 1e-6)
    return np.clip(128.0 + _TEXTURE_AMPLITUDE * big, 0, 255).astype(np.float32)


def occluder_mask(shape, severity: int, seed: int = 0) -> np.ndarray:
    """Where :func:`corrupt` with ``kind="occluder"`` paints the occluder.

    Parameters
    ----------
    shape : tuple
        ``(H, W)`` or ``(H, W, 3)`` of the image.
    severity : int
        0..5; the rectangle covers about ``SEVERITY_PARAMS["occluder"][severity - 1]`` of the
        image (less when clipped to the image), nothing at 0.
    seed : int
        Chooses the aspect ratio (log-uniform height/width in [0.5, 2]) and the centre
        (uniform where the severity-5 rectangle fits); equal for all severities.

    Returns
    -------
    (H, W) bool
        True inside the axis-aligned occluder rectangle (row, column indexing).

    Raises
    ------
    ConfigError, DataError
    """
    h, w = _hw(shape)
    severity = _check_severity(severity)
    if severity == 0:
        return np.zeros((h, w), dtype=bool)
    rng, _, sizes = _occluder_geometry(h, w, seed)
    r0, r1, c0, c1 = _centre_range(h, w, sizes[-1])
    centre = (rng.uniform(r0, r1), rng.uniform(c0, c1))
    return _rect_mask(h, w, _box(centre, sizes[severity - 1]))


def occluder_masks(shape, n_frames: int, severity: int, seed: int = 0) -> np.ndarray:
    """Masks of the occluder that :func:`corrupt_frames` moves across a video.

    The rectangle (size and aspect as in :func:`occluder_mask`) moves at constant speed on a
    straight line between two seeded centres, from frame 0 to frame ``n_frames - 1``.

    Returns
    -------
    (T, H, W) bool
        One mask per frame, T = ``n_frames``.

    Raises
    ------
    ConfigError, DataError
    """
    masks = [m for m, _ in _moving_boxes(shape, n_frames, severity, seed)]
    return np.stack(masks) if masks else np.zeros((0, *_hw(shape)), dtype=bool)


def _moving_boxes(shape, n_frames: int, severity: int, seed: int):
    h, w = _hw(shape)
    severity = _check_severity(severity)
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
        raise ConfigError(f"n_frames must be an integer >= 0; got {n_frames!r}.")
    if severity == 0:
        return [(np.zeros((h, w), dtype=bool), None)] * int(n_frames)
    rng, _, sizes = _occluder_geometry(h, w, seed)
    size = sizes[severity - 1]
    r0, r1, c0, c1 = _centre_range(h, w, sizes[-1])
    start = np.array([rng.uniform(r0, r1), rng.uniform(c0, c1)])
    end = np.array([rng.uniform(r0, r1), rng.uniform(c0, c1)])
    out = []
    for t in range(int(n_frames)):
        a = t / (n_frames - 1) if n_frames > 1 else 0.0
        box = _box(tuple((1 - a) * start + a * end), size)
        out.append((_rect_mask(h, w, box), box))
    return out


def _paint(image: np.ndarray, mask: np.ndarray, texture: np.ndarray, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Grey texture where ``mask``; ``texture`` is sampled ``shift`` (rows, cols) back, so it
    moves with a moving rectangle."""
    out = image.copy()
    rows, cols = np.nonzero(mask)
    grey = texture[np.clip(rows - shift[0], 0, texture.shape[0] - 1), np.clip(cols - shift[1], 0, texture.shape[1] - 1)]
    out[rows, cols] = np.rint(grey).astype(np.uint8)[:, None]
    return out


# -- public API -------------------------------------------------------------------------------------
def corrupt(image: np.ndarray, kind: str, severity: int, seed: int = 0) -> np.ndarray:
    """Apply one corruption to an image.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    kind : str
        One of :data:`CORRUPTIONS`.
    severity : int
        0 (identity: an unchanged copy) to 5; parameters in :data:`SEVERITY_PARAMS`.
    seed : int
        Seeds the noise and the occluder's shape, position and texture; same seed, same bytes.

    Returns
    -------
    (H, W, 3) uint8 RGB
        A new array (the input is not modified).

    Raises
    ------
    UnknownNameError
        Unknown ``kind`` (the message lists :data:`CORRUPTIONS`).
    ConfigError
        ``severity`` not an integer in 0..5.
    DataError
        ``image`` is not an ``(H, W, 3)`` uint8 array.
    """
    _check_kind(kind)
    severity = _check_severity(severity)
    image = _check_image(image)
    if severity == 0:
        return image.copy()
    p = SEVERITY_PARAMS[kind][severity - 1]
    if kind == "gaussian_noise":
        return _noise(image, p, seed)
    if kind == "gaussian_blur":
        return _blur(image, p)
    if kind == "jpeg":
        return _jpeg(image, int(p))
    if kind == "low_contrast":
        return _contrast(image, p)
    h, w = image.shape[:2]
    return _paint(image, occluder_mask((h, w), severity, seed), _texture(h, w, seed))


def frame_seed(seed: int, frame_idx: int) -> int:
    """Seed of frame ``frame_idx`` derived from the base ``seed``
    (``np.random.SeedSequence([seed, frame_idx])``, first 32-bit word)."""
    return int(np.random.SeedSequence([int(seed), int(frame_idx)]).generate_state(1)[0])


def corrupt_frames(
    frames: Sequence[np.ndarray] | Iterable[np.ndarray] | np.ndarray, kind: str, severity: int, seed: int = 0
) -> list[np.ndarray] | np.ndarray:
    """Apply one corruption to every frame of a video.

    Noise is drawn anew on every frame with the seed :func:`frame_seed` (``seed``, frame index);
    blur, JPEG and contrast are the same operation on every frame. The occluder is one
    textured rectangle that moves smoothly across the frames (its masks:
    :func:`occluder_masks` with the same arguments); its texture moves with it.

    Parameters
    ----------
    frames : sequence of (H, W, 3) uint8 RGB, or a (T, H, W, 3) uint8 array
        All frames the same size (e.g. a :class:`workbench.io.FrameSource`).
    kind, severity, seed
        As :func:`corrupt`.

    Returns
    -------
    list of (H, W, 3) uint8, or a (T, H, W, 3) uint8 array when ``frames`` is an array.

    Raises
    ------
    UnknownNameError, ConfigError, DataError
        As :func:`corrupt`; DataError also for frames of different sizes.
    """
    _check_kind(kind)
    severity = _check_severity(severity)
    array_shape: tuple[int, ...] | None = None  # set when frames is an array
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise DataError(
                f"frames must be a (T, H, W, 3) uint8 array or a sequence of (H, W, 3) frames; "
                f"got an array of shape {frames.shape}."
            )
        array_shape = frames.shape
    frames = list(frames)
    shapes = {tuple(np.shape(f)) for f in frames}
    if len(shapes) > 1:
        raise DataError(f"All frames must have the same size; got shapes {sorted(shapes)[:4]}.")
    if kind == "occluder" and severity > 0 and frames:
        h, w = _check_image(frames[0]).shape[:2]
        moves = _moving_boxes((h, w), len(frames), severity, seed)
        texture = _texture(h, w, seed)
        y_ref, x_ref = moves[0][1][:2]
        out = [
            _paint(_check_image(f), m, texture, (box[0] - y_ref, box[1] - x_ref)) for f, (m, box) in zip(frames, moves)
        ]
    else:
        out = [corrupt(f, kind, severity, frame_seed(seed, t)) for t, f in enumerate(frames)]
    if array_shape is not None:
        return np.stack(out) if out else np.zeros(array_shape, np.uint8)
    return out


__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "SEVERITY_PARAMS",
    "corrupt",
    "corrupt_frames",
    "frame_seed",
    "occluder_mask",
    "occluder_masks",
    "severity_parameter",
]
