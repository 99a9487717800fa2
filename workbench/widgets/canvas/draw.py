"""Fast drawing for the prompt canvas: masks as one palette PNG layer, prompts as vector commands.

Masks are never drawn pixel by pixel. All masks of a frame become one ``(H, W)`` uint8 index
map (0 = transparent, ``k`` = the k-th mask's fill, ``K + k`` its outline) and a palette of
RGBA entries, encoded as one palette PNG (PIL, ``compress_level=1``: lossless, ~1 ms for
854x480 and a few kB) and drawn with ipycanvas' ``putImageData`` command on the mask layer of a
``MultiCanvas``. (``Canvas.put_image_data`` would encode an RGBA array with PIL's default PNG
settings, ~10x slower; the frontend decodes any PNG the same way, through an ``Image`` element.)
Prompts (clicks, boxes) are a handful of ``fillCircles`` / ``strokeRect`` commands, sent in one
``hold_canvas`` batch.
"""

from __future__ import annotations

import colorsys
import io
import threading
from collections.abc import Sequence

import cv2
import numpy as np
from ipycanvas import hold_canvas
from ipycanvas.canvas import COMMANDS
from PIL import Image

from ...errors import ConfigError

DRAW_LOCK = threading.RLock()
"""Serialises drawing: ipycanvas batches commands of every canvas in one global manager
(``hold_canvas``), so draws from the session worker thread and the kernel thread must not
interleave. Hold it around every ``hold_canvas`` block."""

STYLES = ("fill", "outline", "both")
POSITIVE = "#00e676"
NEGATIVE = "#ff1744"


def rgb_hex(rgb: Sequence[int]) -> str:
    """(R, G, B) 0..255 -> ``"#rrggbb"``."""
    r, g, b = (int(c) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def instance_colors(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 3)`` uint8 distinct RGB colours (golden-ratio hue steps, saturated), for showing
    many instance masks at once (segment everything)."""
    out = np.zeros((n, 3), np.uint8)
    for i in range(n):
        h = (0.13 + seed * 0.31 + i * 0.618033988749895) % 1.0
        s, v = (0.85, 0.95) if i % 2 == 0 else (0.65, 0.8)
        out[i] = np.round(np.array(colorsys.hsv_to_rgb(h, s, v)) * 255)
    return out


def boundary_of_labels(labels: np.ndarray, thickness: int = 1) -> np.ndarray:
    """``(H, W)`` bool: pixels of a non-zero region of ``labels`` (uint8 / uint16) within ``thickness``
    pixels (chessboard distance) of a pixel with another label, or of the image border."""
    k = 2 * max(int(thickness), 1) + 1
    kernel = np.ones((k, k), np.uint8)
    hi = cv2.dilate(labels, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    lo = cv2.erode(labels, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return (labels > 0) & ((hi != labels) | (lo != labels))


def compose_overlay(
    masks: Sequence[np.ndarray],
    colors: Sequence[Sequence[int]],
    shape: tuple[int, int],
    opacity: float = 0.5,
    style: str = "fill",
    outline_px: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """All masks of a frame as one palette image.

    Parameters
    ----------
    masks : sequence of (H, W) bool
        Drawn in order: later masks cover earlier ones.
    colors : sequence of (R, G, B) ints 0..255, one per mask
    shape : (H, W)
    opacity : float in [0, 1]
        Alpha of the fills; outlines are opaque.
    style : {"fill", "outline", "both"}
    outline_px : int
        Outline thickness in image pixels (the canvas uses about one screen pixel).

    Returns
    -------
    index : (H, W) uint8 or uint16
        0 = transparent; ``k`` (1..K) = fill of mask ``k - 1``; ``K + k`` = its outline.
    palette : (P, 4) uint8
        RGBA per index (row 0 = fully transparent).

    Raises
    ------
    ConfigError
        Unknown style, opacity outside [0, 1], or mask/colour count or shape mismatch.
    """
    if style not in STYLES:
        raise ConfigError(f"Overlay style must be one of {', '.join(STYLES)}; got {style!r}.")
    if not 0.0 <= float(opacity) <= 1.0:
        raise ConfigError(f"opacity must lie in [0, 1]; got {opacity!r}.")
    if len(masks) != len(colors):
        raise ConfigError(f"compose_overlay got {len(masks)} masks but {len(colors)} colours.")
    n = len(masks)
    dtype = np.uint8 if 2 * n < 256 else np.uint16
    index = np.zeros(shape, dtype)
    for k, m in enumerate(masks, start=1):
        if m.shape != tuple(shape):
            raise ConfigError(f"mask {k - 1} has shape {m.shape}, expected {tuple(shape)}.")
        index[m] = k
    palette = np.zeros((2 * n + 1, 4), np.uint8)
    rgb = np.asarray(colors, np.uint8).reshape(n, 3)
    palette[1 : n + 1, :3] = rgb
    palette[1 : n + 1, 3] = round(float(opacity) * 255)
    palette[n + 1 :, :3] = rgb
    palette[n + 1 :, 3] = 255
    if style != "fill" and n:
        edge = boundary_of_labels(index, outline_px)
        if style == "outline":
            index[~edge] = 0
        index[edge] += n
    return index, palette


def encode_index_png(index: np.ndarray, palette: np.ndarray) -> bytes:
    """Losslessly encode a palette image (:func:`compose_overlay`) as PNG bytes: an 8-bit
    palette PNG with a ``tRNS`` alpha chunk when at most 256 entries, else RGBA."""
    buf = io.BytesIO()
    if palette.shape[0] <= 256 and index.dtype == np.uint8:
        im = Image.fromarray(index, "P")
        im.putpalette(palette[:, :3].ravel().tobytes(), rawmode="RGB")
        im.save(buf, "PNG", compress_level=1, transparency=palette[:, 3].tobytes())
    else:
        Image.fromarray(palette[index]).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def encode_image(image: np.ndarray, fmt: str = "jpeg", quality: int = 92) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> JPEG (fast, lossy) or PNG (lossless, slower) bytes.

    Raises
    ------
    ConfigError
        ``fmt`` not "jpeg" or "png".
    """
    bgr = np.ascontiguousarray(image[..., ::-1])
    if fmt == "jpeg":
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif fmt == "png":
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        raise ConfigError(f"image_format must be 'jpeg' or 'png'; got {fmt!r}.")
    if not ok:
        raise ConfigError(f"OpenCV could not encode a {image.shape} image as {fmt}.")
    return data.tobytes()


def put_encoded(layer, data: bytes, x: float = 0, y: float = 0) -> None:
    """Send already-encoded image bytes (PNG / JPEG) to ``layer`` with ipycanvas'
    ``putImageData`` command (what ``Canvas.put_image_data`` sends after its own encoding).
    The frontend draws it with ``drawImage``, i.e. composited over the layer: clear first."""
    layer._canvas_manager.send_draw_command(layer, COMMANDS["putImageData"], [x, y], [data])


def draw_prompts(layer, prompts: Sequence[dict], radius: float, line_width: float, drag_box=None) -> None:
    """Redraw the prompt layer (call inside ``hold_canvas`` and :data:`DRAW_LOCK`).

    Parameters
    ----------
    layer : ipycanvas.Canvas
    prompts : sequence of dict
        Per object: ``point_coords`` (N, 2) x, y image pixels, ``point_labels`` (N,) 1/0,
        ``box`` (4,) XYXY pixels or None, ``color`` (R, G, B), ``active`` bool. Points are drawn
        at pixel centres (x + 0.5, y + 0.5): positive green, negative red, white rim; the active
        object's markers are larger. Boxes are drawn in the object colour.
    radius, line_width : float
        Marker radius and rim width in canvas (= image) pixels.
    drag_box : (x0, y0, x1, y1) or None
        A box being dragged (dashed, white).
    """
    layer.clear()
    for p in prompts:
        r = radius if p.get("active") else radius * 0.7
        coords = np.asarray(p["point_coords"], np.float64).reshape(-1, 2)
        labels = np.asarray(p["point_labels"]).reshape(-1)
        box = p.get("box")
        if box is not None:
            x0, y0, x1, y1 = (float(v) for v in box)
            layer.line_width = line_width * (1.5 if p.get("active") else 1.0)
            layer.stroke_style = rgb_hex(p["color"])
            layer.stroke_rect(x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0)
        for lab, color in ((1, POSITIVE), (0, NEGATIVE)):
            sel = coords[labels == lab]
            if not len(sel):
                continue
            xs, ys = sel[:, 0] + 0.5, sel[:, 1] + 0.5
            layer.fill_style = color
            layer.fill_circles(xs, ys, r)
            layer.line_width = line_width
            layer.stroke_style = "white"
            layer.stroke_circles(xs, ys, r)
    if drag_box is not None:
        x0, y0, x1, y1 = (float(v) for v in drag_box)
        layer.line_width = line_width
        layer.stroke_style = "white"
        layer.set_line_dash([4 * line_width, 3 * line_width])
        layer.stroke_rect(min(x0, x1) + 0.5, min(y0, y1) + 0.5, abs(x1 - x0), abs(y1 - y0))
        layer.set_line_dash([])


def thumbnail_jpeg(small_image: np.ndarray, mask: np.ndarray, rgb: Sequence[int], alpha: float = 0.55) -> bytes:
    """A small JPEG (quality 90) of ``small_image`` ((h, w, 3) uint8, already downscaled) with ``mask``
    ((H, W) bool, full size; resized nearest) blended in colour ``rgb`` and outlined."""
    h, w = small_image.shape[:2]
    m = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    out = small_image.astype(np.float32)
    out[m] = (1 - alpha) * out[m] + alpha * np.asarray(rgb, np.float32)
    out = out.astype(np.uint8)
    out[boundary_of_labels(m.astype(np.uint8))] = np.asarray(rgb, np.uint8)
    _ok, data = cv2.imencode(".jpg", np.ascontiguousarray(out[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return data.tobytes()


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    """Downscale ``image`` (H, W, 3) to ``width`` pixels wide (area interpolation, aspect kept)."""
    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (int(width), max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


__all__ = [
    "DRAW_LOCK",
    "NEGATIVE",
    "POSITIVE",
    "STYLES",
    "boundary_of_labels",
    "compose_overlay",
    "draw_prompts",
    "encode_image",
    "encode_index_png",
    "hold_canvas",
    "instance_colors",
    "put_encoded",
    "rgb_hex",
    "shrink",
    "thumbnail_jpeg",
]
