"""Per-object timeline of a video session: presence, object score and J per frame.

:func:`timeline_data` reads a :class:`~workbench.sessions.VideoSession` (and optional ground
truth) into a :class:`TimelineData` of ``(K, T)`` arrays (K objects in creation order, T
frames). :class:`TimelineStrip` draws it as an ``ipycanvas`` strip, one row per object:

* a thin tick above the band on every frame holding a prompt of the object;
* the presence band: object colour where the mask is non-empty, mid grey where the object was
  tracked but its mask is empty, light grey where the frame was never tracked;
* below it, a plot area (0 at the bottom, 1 at the top) with J (black, when ground truth is
  given) and ``sigmoid(object score)`` (orange, when the backend reports scores, e.g. SAM 2).

The strip is one RGB image composed with numpy / OpenCV and sent as one PNG (layer 0); the
frame cursor is a rectangle on layer 1, so scrubbing redraws only the cursor. Clicking (or
dragging on) the strip calls the ``on_select`` callbacks with the frame under the pointer.

J is DAVIS region similarity, :func:`workbench.metrics.image.iou` of the object's mask and
``gt == obj_id`` with ``gt == 255`` (void) ignored (Perazzi et al., CVPR 2016). It is NaN on
frames the object was not tracked on and for objects whose id never occurs in the ground truth.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import cv2
import ipywidgets as W
import numpy as np
from ipycanvas import MultiCanvas

from ...errors import ConfigError
from ...metrics.image import iou
from ..canvas.draw import DRAW_LOCK, hold_canvas, put_encoded

ROW_H = 36
"""Height of one object row, canvas pixels."""
TICK = (0, 3)
"""Rows (y0, y1) inside an object row of the prompt ticks."""
BAND = (4, 14)
"""Rows (y0, y1) inside an object row of the presence band."""
PLOT = (16, 34)
"""Rows (y0, y1) inside an object row of the J / score plot (y1 = value 0, y0 = value 1)."""
AXIS_H = 16
"""Height of the frame-number axis under the rows."""
GUTTER = 110
"""Width of the left column holding the object names."""
LABEL_FONT = cv2.FONT_HERSHEY_SIMPLEX
NAME_SCALE, NAME_BASELINE = 0.36, 15
"""Object label ("<obj_id>: <name>"): font scale and baseline row inside an object row."""
JMEAN_SCALE, JMEAN_BASELINE = 0.33, 31
"""The "mean J" line under the label: font scale and baseline row inside an object row."""
LABEL_GAP = 2
"""Blank pixel rows kept between the label's lowest descender and the "mean J" line's top."""
UNTRACKED = (232, 232, 232)
ABSENT = (160, 160, 160)
J_COLOR = (20, 20, 20)
SCORE_COLOR = (230, 130, 0)
VOID = 255


@dataclass
class TimelineData:
    """Per-frame facts of every object of a video session (rows follow ``obj_ids``).

    Attributes
    ----------
    obj_ids : list of int
    names : list of str
    colors : list of (R, G, B)
    tracked : (K, T) bool
        The object has a mask (possibly empty) on the frame.
    present : (K, T) bool
        Its mask is non-empty.
    area : (K, T) int64
        Mask area in pixels (0 where not tracked).
    score : (K, T) float64
        The backend's object score (logit, > 0 = present); NaN when not reported.
    j : (K, T) float64 or None
        J (IoU with the ground truth of the same id, void ignored); NaN where not tracked or
        when the id is not in the ground truth; None without ground truth.
    prompted : (K, T) bool
        The object has a prompt on the frame.
    """

    obj_ids: list[int]
    names: list[str]
    colors: list[tuple[int, int, int]]
    tracked: np.ndarray
    present: np.ndarray
    area: np.ndarray
    score: np.ndarray
    j: np.ndarray | None
    prompted: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.tracked.shape[1])

    def row(self, obj_id: int) -> int:
        """Row index of ``obj_id``. Raises ``KeyError`` for an unknown id."""
        if obj_id not in self.obj_ids:
            raise KeyError(f"obj_id {obj_id} is not in the timeline; ids: {self.obj_ids}")
        return self.obj_ids.index(obj_id)

    def mean_j(self, obj_id: int) -> float:
        """Mean J of ``obj_id`` over the frames it was tracked on (NaN without any)."""
        if self.j is None:
            return float("nan")
        v = self.j[self.row(obj_id)]
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def to_dataframe(self):
        """One row per (object, frame): ``obj_id``, ``name``, ``frame_idx``, ``tracked``,
        ``present``, ``area``, ``score``, ``J`` (a ``pandas.DataFrame``)."""
        import pandas as pd

        k, t = self.tracked.shape
        return pd.DataFrame(
            {
                "obj_id": np.repeat(self.obj_ids, t).astype(int),
                "name": np.repeat(self.names, t),
                "frame_idx": np.tile(np.arange(t), k),
                "tracked": self.tracked.ravel(),
                "present": self.present.ravel(),
                "area": self.area.ravel(),
                "score": self.score.ravel(),
                "J": (self.j if self.j is not None else np.full((k, t), np.nan)).ravel(),
            }
        )


def _packed_masks(session, frame_idx: int) -> dict:
    """``obj_id -> PackedMask`` of a frame (the session's immutable values, read under its lock)."""
    with session._lock:
        return dict(session._state.masks.get(int(frame_idx), {}))


def timeline_data(session, gt: np.ndarray | None = None, cache: dict | None = None) -> TimelineData:
    """Collect :class:`TimelineData` from a video session.

    Parameters
    ----------
    session : VideoSession
    gt : (T, H, W) integer array of object ids, optional
        Ground truth (0 background, 255 void), frame ``t`` = ``gt[t]``.
    cache : dict, optional
        Reused between calls: J of a (frame, object) is recomputed only when its mask changed.

    Returns
    -------
    TimelineData
    """
    objects = session.objects
    ids = list(objects)
    k, t = len(ids), int(session.num_frames)
    row = {oid: i for i, oid in enumerate(ids)}
    tracked = np.zeros((k, t), bool)
    area = np.zeros((k, t), np.int64)
    score = np.full((k, t), np.nan)
    prompted = np.zeros((k, t), bool)
    j = None if gt is None else np.full((k, t), np.nan)
    gt_ids = set() if gt is None else {int(v) for v in np.unique(gt)} - {0, VOID}
    cache = {} if cache is None else cache
    for (f, oid), p in session.prompts.items():
        if oid in row and 0 <= f < t and not p.is_empty:
            prompted[row[oid], f] = True
    for f in range(t):
        packed = _packed_masks(session, f)
        for oid, pm in packed.items():
            if oid not in row:
                continue
            r = row[oid]
            tracked[r, f], area[r, f] = True, pm.area
            if pm.score is not None:
                score[r, f] = pm.score
            if j is not None and gt is not None and oid in gt_ids:
                hit = cache.get((f, oid))
                if hit is None or hit[0] is not pm:
                    g = gt[f]
                    hit = (pm, iou(pm.unpack(), g == oid, g == VOID))
                    cache[(f, oid)] = hit
                j[r, f] = hit[1]
    return TimelineData(
        ids,
        [objects[o].name for o in ids],
        [tuple(objects[o].color) for o in ids],
        tracked,
        area > 0,
        area,
        score,
        j,
        prompted,
    )


def text_box(text: str, x: int, baseline_y: int, scale: float) -> tuple[int, int, int, int]:
    """Ink box ``(x0, y0, x1, y1)`` (pixels, exclusive end) of ``text`` drawn by ``cv2.putText``
    at ``(x, baseline_y)`` with :data:`LABEL_FONT`, thickness 1 (descenders included)."""
    (w, h), base = cv2.getTextSize(text, LABEL_FONT, scale, 1)
    return x, baseline_y - h, x + w, baseline_y + base


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


class TimelineStrip(W.VBox):
    """The timeline widget (an ``ipywidgets.VBox``: the strip and a one-line readout).

    Parameters
    ----------
    session : VideoSession
    gt : (T, H, W) integer ids, optional
    width : int
        Strip width, canvas (= CSS) pixels; frames share ``width - GUTTER - 4`` pixels.
    handler : callable, optional
        Wraps the mouse handlers (the annotator passes its status-line error handler).

    Attributes
    ----------
    canvas : ipycanvas.MultiCanvas (CSS class ``wb-timeline``); layer 0 the strip, layer 1 the cursor
    readout : ipywidgets.HTML (``wb-timeline-readout``): the current frame's facts
    data : TimelineData, the last data drawn
    rgb : (H, W, 3) uint8, the last strip image sent
    frame_idx : int, where the cursor is
    """

    def __init__(self, session, gt: np.ndarray | None = None, width: int = 854, handler=None):
        self.session = session
        self.gt = gt
        self.num_frames = int(session.num_frames)
        self.frame_idx = 0
        self._cache: dict = {}
        self._lock = threading.RLock()
        self._callbacks: list = []
        self._dragging = False
        self.width_px = max(int(width), GUTTER + 4 + self.num_frames)
        self.cell = (self.width_px - GUTTER - 4) / self.num_frames
        self.canvas = MultiCanvas(2, width=self.width_px, height=ROW_H + AXIS_H)
        self.canvas.add_class("wb-timeline")
        self.readout = W.HTML()
        self.readout.add_class("wb-timeline-readout")
        wrap = handler if handler is not None else (lambda fn: fn)
        self.canvas.on_mouse_down(wrap(self._on_down))
        self.canvas.on_mouse_move(wrap(self._on_move))
        self.canvas.on_mouse_up(wrap(self._on_up))
        self.canvas.on_mouse_out(wrap(self._on_up))
        self.canvas.on_client_ready(wrap(self.refresh))
        self.data: TimelineData | None = None
        self.rgb: np.ndarray | None = None
        legend = (
            "<span style='font-size:11px;color:#555'>click or drag to jump · band: present (object colour) / "
            "empty (grey) / not tracked (light) · ticks: prompts · black: J vs ground truth · orange: "
            "sigmoid(object score)</span>"
        )
        super().__init__([W.HTML(legend), self.canvas, self.readout])
        self.add_class("wb-timeline-panel")
        self.refresh()

    # -- geometry ---------------------------------------------------------------------------------
    def x_of(self, frame_idx: int) -> float:
        """Left edge of frame ``frame_idx``'s cell, canvas pixels."""
        return GUTTER + frame_idx * self.cell

    def cell_center(self, frame_idx: int) -> float:
        """Centre of frame ``frame_idx``'s cell, canvas pixels."""
        return self.x_of(frame_idx) + self.cell / 2

    def frame_at(self, x: float) -> int:
        """Frame under canvas x (clamped to ``[0, T - 1]``; the name column maps to frame 0)."""
        return int(np.clip(np.floor((float(x) - GUTTER) / self.cell), 0, self.num_frames - 1))

    @staticmethod
    def row_y(row: int) -> int:
        """Top of object row ``row``, canvas pixels."""
        return row * ROW_H

    # -- events -----------------------------------------------------------------------------------
    def on_select(self, callback, remove: bool = False) -> None:
        """Call ``callback(frame_idx)`` when the user clicks or drags on the strip."""
        if remove:
            self._callbacks = [c for c in self._callbacks if c is not callback]
        else:
            self._callbacks.append(callback)

    def _select(self, x: float) -> None:
        f = self.frame_at(x)
        for fn in list(self._callbacks):
            fn(f)

    def _on_down(self, x, y) -> None:
        self._dragging = True
        self._select(x)

    def _on_move(self, x, y) -> None:
        if self._dragging and self.frame_at(x) != self.frame_idx:
            self._select(x)

    def _on_up(self, x, y) -> None:
        self._dragging = False

    # -- drawing ------------------------------------------------------------------------------------
    def refresh(self) -> TimelineData:
        """Re-read the session, redraw the strip and the cursor; returns the new data."""
        with self._lock:
            data = timeline_data(self.session, self.gt, self._cache)
            rgb = self.render(data)
            buf = io.BytesIO()
            from PIL import Image

            Image.fromarray(rgb).save(buf, "PNG", compress_level=1)
            self.data, self.rgb = data, rgb
            h = rgb.shape[0]
            with DRAW_LOCK, hold_canvas():
                if self.canvas.height != h:
                    self.canvas.height = h
                    self.canvas.layout.height = f"{h}px"
                self.canvas.layout.width = f"{self.width_px}px"
                self.canvas[0].clear()
                put_encoded(self.canvas[0], buf.getvalue())
                self._draw_cursor()
            self._update_readout()
            return data

    def gutter_texts(self, data: TimelineData, r: int) -> list[tuple[str, tuple[int, int, int, int], float, tuple]]:
        """The texts in the name column of row ``r``: ``(text, (x, baseline_y, x1, y1), scale, rgb)``
        where ``(x, top, x1, y1)`` of :func:`text_box` is the ink box in image pixels.

        The label ("<obj_id>: <name>", cut to fit the column) and, when J is known, the
        "mean J" line; their boxes never intersect (tested in the browser)."""
        y0 = self.row_y(r)
        name = f"{data.obj_ids[r]}: {data.names[r]}"
        while len(name) > 1 and text_box(name, 17, y0 + NAME_BASELINE, NAME_SCALE)[2] > GUTTER - 4:
            name = name[:-1]
        out = [(name, (17, y0 + NAME_BASELINE, 0, 0), NAME_SCALE, (30, 30, 30))]
        if data.j is not None and np.isfinite(data.j[r]).any():
            out.append((f"mean J {np.nanmean(data.j[r]):.3f}", (17, y0 + JMEAN_BASELINE, 0, 0), JMEAN_SCALE, J_COLOR))
        return out

    def render(self, data: TimelineData) -> np.ndarray:
        """The strip of ``data`` as an ``(H, W, 3)`` uint8 RGB image (no cursor)."""
        k, t = data.tracked.shape
        h = max(k, 1) * ROW_H + AXIS_H
        img = np.full((h, self.width_px, 3), 255, np.uint8)
        edges = np.round(GUTTER + np.arange(t + 1) * self.cell).astype(int)
        font = cv2.FONT_HERSHEY_SIMPLEX
        if k == 0:
            cv2.putText(
                img, "no objects: add one and click on the frame", (8, 22), font, 0.4, (90, 90, 90), 1, cv2.LINE_AA
            )
        for r in range(k):
            y0 = self.row_y(r)
            color = np.array(data.colors[r], np.uint8)
            img[y0 + 6 : y0 + 16, 4:14] = color
            for text, (x, y, _, _), scale, rgb in self.gutter_texts(data, r):
                cv2.putText(img, text, (x, y), font, scale, rgb, 1, cv2.LINE_AA)
            img[y0 + PLOT[0] : y0 + PLOT[1], GUTTER : edges[-1]] = (248, 248, 248)
            for f in range(t):
                x0, x1 = edges[f], max(edges[f + 1] - (1 if self.cell >= 4 else 0), edges[f] + 1)
                fill = color if data.present[r, f] else (ABSENT if data.tracked[r, f] else UNTRACKED)
                img[y0 + BAND[0] : y0 + BAND[1], x0:x1] = fill
                if data.prompted[r, f]:
                    img[y0 + TICK[0] : y0 + TICK[1], x0:x1] = (0, 0, 0)
            centers = (edges[:-1] + edges[1:]) / 2.0
            for values, rgb in (
                (data.j[r] if data.j is not None else None, J_COLOR),
                (_sigmoid(data.score[r]), SCORE_COLOR),
            ):
                if values is None:
                    continue
                self._plot(img, centers, values, y0, rgb)
        y_axis = max(k, 1) * ROW_H
        step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 10**9) if s * self.cell >= 28)
        for f in range(0, t, step):
            x = int(edges[f])
            img[y_axis : y_axis + 3, x] = (80, 80, 80)
            cv2.putText(img, str(f), (x + 1, y_axis + 13), font, 0.33, (60, 60, 60), 1, cv2.LINE_AA)
        return img

    @staticmethod
    def _plot(img, centers, values, y0, rgb) -> None:
        ok = np.isfinite(values)
        if not ok.any():
            return
        top, bottom = y0 + PLOT[0] + 1, y0 + PLOT[1] - 2
        ys = bottom - np.clip(values, 0, 1) * (bottom - top)
        pts = np.stack([centers, ys], 1)
        # draw each finite run as one polyline, single frames as a dot
        run: list = []
        for i in range(len(values) + 1):
            if i < len(values) and ok[i]:
                run.append(pts[i])
                continue
            if len(run) == 1:
                cv2.circle(img, (round(float(run[0][0])), round(float(run[0][1]))), 1, rgb, -1, cv2.LINE_AA)
            elif run:
                cv2.polylines(img, [np.round(np.array(run)).astype(np.int32)], False, rgb, 1, cv2.LINE_AA)
            run = []

    def set_frame(self, frame_idx: int) -> None:
        """Move the cursor to ``frame_idx`` and update the readout."""
        with self._lock:
            self.frame_idx = int(np.clip(frame_idx, 0, self.num_frames - 1))
            with DRAW_LOCK, hold_canvas():
                self._draw_cursor()
            self._update_readout()

    def _draw_cursor(self) -> None:
        layer = self.canvas[1]
        layer.clear()
        x = self.x_of(self.frame_idx)
        layer.fill_style = "rgba(229, 57, 53, 0.25)"
        layer.fill_rect(x, 0, max(self.cell, 2.0), self.canvas.height - AXIS_H)
        layer.stroke_style = "#e53935"
        layer.line_width = 1
        layer.stroke_rect(x + 0.5, 0.5, max(self.cell, 2.0) - 1, self.canvas.height - AXIS_H - 1)

    def readout_text(self) -> str:
        """The readout of the current frame as plain text."""
        d, f = self.data, self.frame_idx
        if d is None or not d.obj_ids:
            return f"frame {f}: no objects"
        parts = []
        for r in range(len(d.obj_ids)):
            if not d.tracked[r, f]:
                s = "not tracked"
            else:
                s = f"present, {d.area[r, f]} px" if d.present[r, f] else "empty mask"
                if np.isfinite(d.score[r, f]):
                    s += f", score {d.score[r, f]:+.2f}"
                if d.j is not None and np.isfinite(d.j[r, f]):
                    s += f", J {d.j[r, f]:.3f}"
            parts.append(f"{d.names[r]}: {s}")
        return f"frame {f} · " + " · ".join(parts)

    def _update_readout(self) -> None:
        import html

        self.readout.value = f"<span style='font-size:12px'>{html.escape(self.readout_text())}</span>"

    def image(self):
        """The strip with the cursor as a ``PIL.Image`` (for static notebook output)."""
        from PIL import Image

        if self.rgb is None:  # refresh() (run by __init__) draws it
            raise ConfigError("The timeline has not been drawn yet: call refresh() first.")
        rgb = self.rgb.copy()
        x0 = round(float(self.x_of(self.frame_idx)))
        x1 = max(x0 + 1, round(float(self.x_of(self.frame_idx + 1))))
        h = rgb.shape[0] - AXIS_H
        rgb[:h, x0:x1] = (0.75 * rgb[:h, x0:x1] + 0.25 * np.array([229, 57, 53])).astype(np.uint8)
        return Image.fromarray(rgb)


__all__ = ["AXIS_H", "BAND", "GUTTER", "PLOT", "ROW_H", "TICK", "TimelineData", "TimelineStrip", "timeline_data"]
